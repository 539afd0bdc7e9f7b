"""What the project's writers are checked against: drf-excel's own renderer, given the
serializer's dicts, with the project's rule for text (formula neutralisation) in place of
drf-excel's sanitiser."""

from datetime import UTC, datetime
from typing import Any

from drf_excel.fields import XLSXField
from drf_excel.renderers import XLSXRenderer

from oms.tabular.formulas import neutralise_formula
from oms.tabular.xlsx import legal_text


def naive_utc(value: datetime | None) -> datetime | None:
    """``value`` as a naive UTC datetime: spreadsheets have no time zones."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def xlsx_cell_value(value: Any) -> Any:
    """``value`` for a drf-excel cell: :func:`neutralise_formula`, after removing the
    characters a workbook cannot hold (:func:`oms.tabular.xlsx.legal_text`; tab, CR and LF are
    allowed), as :func:`write_workbook` writes text. Datetimes become naive UTC, as
    drf-excel writes them: Excel has no time zones."""
    if isinstance(value, str):
        value = legal_text(value)
    elif isinstance(value, datetime):
        return naive_utc(value)
    return neutralise_formula(value)


class SafeTextCell(XLSXField):
    """A drf-excel text cell whose value is already safe (:func:`xlsx_cell_value`)."""

    sanitize = False


class DrfExcelRenderer(XLSXRenderer):
    """drf-excel's renderer of a page of dicts, neutralising text as the project does."""

    def _drf_to_xlsx_field(self, key: str, value: Any) -> XLSXField:
        """drf-excel's cell for ``value``, its text neutralised by the CSV's rule.

        drf-excel sanitises text cells itself (``drf_excel.utilities.sanitize_value``):
        the same trigger characters and quote, but it first turns any value of a text
        cell into text, so a channel id (a relation, not an integer field) became the
        text ``"1"``, and a negative one would have been ``"'-5"``. Here the
        value drf-excel would write (mapped, lists joined) goes through
        :func:`xlsx_cell_value` instead, and drf-excel's sanitiser is left out. Numbers,
        dates and booleans get drf-excel's typed cells, which it never sanitises.
        """
        xlsx_field = super()._drf_to_xlsx_field(key, value)
        if not xlsx_field.sanitize:
            return xlsx_field
        written = xlsx_field.custom_mapping() if xlsx_field.mapping else xlsx_field.prep_value()
        return SafeTextCell(
            key=key,
            value=xlsx_cell_value(written),
            field=xlsx_field.drf_field,
            style=xlsx_field.style,
            mapping=None,
            cell_style=xlsx_field.cell_style,
        )
