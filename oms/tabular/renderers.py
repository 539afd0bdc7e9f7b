"""Tabular renderers for OMS list pages: CSV and an Excel workbook.

CSV and XLS render one page of rows (``data["results"]``) under a header row of the
serializer's field names, in field order, taken from ``renderer_context["header"]``
(set by ``oms.api.views.ListAPIView``). They are ``tabular``: they render list pages only,
and the view answers anything else (errors, OPTIONS) in JSON.

Both neutralise text that a spreadsheet would take for a formula, by one rule
(``oms.tabular.formulas``).

Rows from ``oms.api.views.ListAPIView`` arrive as :class:`oms.tabular.rows.Rows`, which keep
the database tuples: CSV and XLS write those directly (no dicts flattened, no per-cell
drf-excel field objects). Other data goes the parent renderers' way.
"""

import codecs
import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from io import BytesIO, StringIO
from itertools import islice
from typing import IO, Any

from drf_excel.fields import XLSXField
from drf_excel.renderers import XLSXRenderer
from drf_excel.utilities import get_setting
from openpyxl.styles.numbers import (
    FORMAT_DATE_DATETIME,
    FORMAT_DATE_TIME4,
    FORMAT_DATE_YYYYMMDD2,
    FORMAT_NUMBER,
    FORMAT_NUMBER_00,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework_csv.renderers import PaginatedCSVRenderer

from oms.tabular.formulas import neutralise_formula
from oms.tabular.rows import TupleRows, naive_utc
from oms.tabular.xlsx import legal_text, write_xlsx

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


# drf-excel's look, which its renderer gives every sheet: the sheet's title and the
# width of each column.
SHEET_TITLE = "Report"
COLUMN_WIDTH = 20


def xlsx_number_formats(fields: Iterable[serializers.Field]) -> list[str | None]:
    """The number format drf-excel gives each column's cells (``DRF_EXCEL_*`` settings
    included); None where it keeps General (text)."""
    formats: list[str | None] = []
    for field in fields:
        if isinstance(field, serializers.IntegerField):
            formats.append(get_setting("INTEGER_FORMAT") or FORMAT_NUMBER)
        elif isinstance(field, serializers.FloatField | serializers.DecimalField):
            formats.append(get_setting("DECIMAL_FORMAT") or FORMAT_NUMBER_00)
        elif isinstance(field, serializers.DateTimeField):
            formats.append(get_setting("DATETIME_FORMAT") or FORMAT_DATE_DATETIME)
        elif isinstance(field, serializers.DateField):
            formats.append(get_setting("DATE_FORMAT") or FORMAT_DATE_YYYYMMDD2)
        elif isinstance(field, serializers.TimeField):
            formats.append(get_setting("TIME_FORMAT") or FORMAT_DATE_TIME4)
        else:
            formats.append(None)
    return formats


def write_workbook(
    header: list[str],
    rows: Iterable[Sequence[Any]],
    target: IO[bytes],
    number_formats: list[str | None] | None = None,
) -> None:
    """A workbook of ``header`` then ``rows`` (database values) into ``target``, with
    drf-excel's sheet title and column widths: :func:`oms.tabular.xlsx.write_xlsx`, which streams
    the rows (a full export reaches Excel's row limit in constant memory) over ten times
    faster than openpyxl's write-only mode. Cells are what drf-excel writes: text
    neutralised, numbers as numbers in ``number_formats`` (per column, see
    :func:`xlsx_number_formats`), datetimes as Excel datetimes in UTC.
    """
    write_xlsx(
        target,
        header,
        rows,
        number_formats=number_formats or (),
        title=SHEET_TITLE,
        column_width=COLUMN_WIDTH,
        text=neutralise_formula,
    )


def set_attachment(renderer_context: dict[str, Any], extension: str) -> None:
    """Name the download after the view (``<download_name>.<extension>``)."""
    name = getattr(renderer_context.get("view"), "download_name", "export")
    renderer_context["response"]["Content-Disposition"] = (
        f'attachment; filename="{name}.{extension}"'
    )


class CSVRenderer(PaginatedCSVRenderer):
    """The page's rows as CSV; an empty page is just the header row.

    Data cells go through :func:`neutralise_formula`; the header row is the serializer's
    field names, as they are. ``?bom=1`` starts the body with a UTF-8 byte order mark:
    without one, Excel reads a CSV file in the computer's legacy code page and garbles
    ``İ``, ``ş`` or ``漢字``; with one, other CSV readers may take it for part of the first
    column's name, hence opt-in.
    """

    tabular = True
    bom_query_param = "bom"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
        writer_opts: dict[str, Any] | None = None,
    ) -> bytes:
        renderer_context = renderer_context or {}
        set_attachment(renderer_context, "csv")
        body = super().render(data, accepted_media_type, renderer_context, writer_opts)
        if self.wants_bom(renderer_context.get("request")):
            body = codecs.BOM_UTF8 + body  # the body is UTF-8 (settings.DEFAULT_CHARSET)
        return body

    def tablize(
        self, data: Any, header: list[str] | None = None, labels: dict[str, str] | None = None
    ) -> Iterator[list[Any]]:
        if isinstance(data, TupleRows):  # the view's tuples, in the header's order
            header = data.header
            yield [labels.get(name, name) for name in header] if labels else header
            text_columns = data.row_serializer.text_columns  # other columns are never text
            for row in data.formatted():
                cells = list(row)
                for index in text_columns:
                    cells[index] = neutralise_formula(cells[index])
                yield cells
            return
        rows = super().tablize(data, header=header, labels=labels)
        yield from islice(rows, 1)  # the header row, when there is one, comes first
        for row in rows:
            yield [neutralise_formula(cell) for cell in row]

    def stream(
        self,
        rows: TupleRows,
        request: Request | None,
        batch: int = 1000,
        writer_opts: dict[str, Any] | None = None,
    ) -> Iterator[bytes]:
        """The CSV body of ``rows``, ``batch`` rows per chunk: the same bytes as
        :meth:`render` (with the same ``writer_opts``), for a streaming response."""
        buffer = StringIO()
        writer = csv.writer(buffer, **(writer_opts or self.writer_opts or {}))
        if self.wants_bom(request):
            yield codecs.BOM_UTF8
        table = self.tablize(rows)
        while chunk := list(islice(table, batch)):
            writer.writerows(chunk)
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()

    def wants_bom(self, request: Request | None) -> bool:
        return request is not None and request.query_params.get(self.bom_query_param) == "1"

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """OpenAPI query parameters of this format, as filter backends and paginators
        declare theirs (``oms.api.schema.AutoSchema`` collects them)."""
        return [
            {
                "name": self.bom_query_param,
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "enum": [0, 1]},
                "description": (
                    "`1`: start a CSV body with a UTF-8 byte order mark, which Excel needs "
                    "to read non-ASCII text. Other formats ignore it."
                ),
            }
        ]


class SafeTextCell(XLSXField):
    """A drf-excel text cell whose value is already safe (:func:`xlsx_cell_value`)."""

    sanitize = False


class XLSRenderer(XLSXRenderer):
    """The page's rows as an Excel workbook: drf-excel's cells, sheet title and column
    widths, written by :func:`write_workbook` from the view's tuples.

    Advertised and negotiated as ``application/xls``, the name OMS clients use (the
    registered XLSX type is an alias, see ``oms.api.negotiation``); the response says what
    the bytes are, an Office Open XML workbook, so spreadsheet tools open it.
    """

    media_type = "application/xls"
    format = "xls"
    charset = None  # binary: no "; charset=utf-8" suffix
    tabular = True

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        renderer_context = renderer_context or {}
        renderer_context["response"]["Content-Type"] = XLSX_MEDIA_TYPE
        set_attachment(renderer_context, "xlsx")
        results = data["results"]
        if isinstance(results, TupleRows):
            header, rows = results.header, results.row_serializer.native(list(results.tuples))
            formats = xlsx_number_formats(results.row_serializer.fields)
        elif not results:  # drf-excel would write no header row for an empty page
            header, rows, formats = renderer_context["header"], [], None
        else:  # dicts: drf-excel's own way
            return super().render(data, accepted_media_type, renderer_context)
        buffer = BytesIO()
        write_workbook(header, rows, buffer, formats)
        return buffer.getvalue()

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
