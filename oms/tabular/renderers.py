"""Tabular renderers: a list's rows as CSV or as an Excel workbook (JSON Lines:
``oms.tabular.jsonlines``).

A :class:`TabularRenderer` writes a :class:`oms.tabular.rows.RowBatch`, and nothing else:
a page's rows (``render``, the ``results`` of a page) or a whole export (``write``, into a
file). The view answers errors and OPTIONS in JSON, so neither can pass for an empty
export; the header row is always there, an empty list included.

Both formats neutralise text that a spreadsheet would take for a formula, by one rule
(``oms.tabular.formulas``).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from io import BytesIO, StringIO
from itertools import islice
from typing import Any

from django.http import HttpResponseBase
from openpyxl.styles.numbers import (
    FORMAT_DATE_DATETIME,
    FORMAT_DATE_TIME4,
    FORMAT_DATE_YYYYMMDD2,
    FORMAT_NUMBER,
    FORMAT_NUMBER_00,
)
from rest_framework import renderers, serializers
from rest_framework.request import Request
from rest_framework_csv.renderers import PaginatedCSVRenderer

from oms.internals import drf_excel_setting
from oms.tabular.formulas import neutralise_formula
from oms.tabular.rows import RowBatch
from oms.tabular.xlsx import BinaryTarget, write_xlsx

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# drf-excel's look, which its renderer gives every sheet: the sheet's title and the width
# of each column.
SHEET_TITLE = "Report"
COLUMN_WIDTH = 20

Context = Mapping[str, Any] | None  # a renderer context


class TabularRenderer(renderers.BaseRenderer):
    """A renderer of a list's rows: a page's (:meth:`render`) or an export's (:meth:`write`).

    Subclasses write a :class:`RowBatch` into a binary file in :meth:`write`; a page is
    the same bytes in memory, downloaded as ``<view.download_name>.<extension>``.
    """

    extension = ""

    @property
    def content_type(self) -> str:
        """What a response of this format says its body is."""
        return f"{self.media_type}; charset={self.charset}" if self.charset else self.media_type

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Context = None
    ) -> bytes:
        context = renderer_context or {}
        response = context.get("response")
        if response is not None:
            self.label(response)
            name = getattr(context.get("view"), "download_name", "export")
            response["Content-Disposition"] = f'attachment; filename="{name}.{self.extension}"'
        buffer = BytesIO()
        self.write(data["results"], buffer, context.get("request"))
        body = buffer.getvalue()
        if not body and response is not None:
            # DRF drops the Content-Type of an empty body (a JSON Lines page of no rows),
            # which is still a file of this format: labelled again once rendered.
            response.add_post_render_callback(self.label)
        return body

    def label(self, response: HttpResponseBase) -> None:
        response["Content-Type"] = self.content_type

    def write(self, batch: RowBatch, target: BinaryTarget, request: Request | None) -> None:
        raise NotImplementedError

    def check_params(self, request: Request) -> None:
        """A 400 naming a query parameter of this format whose value it does not take. The
        view asks every format it offers, whichever is asked for, before reading any row
        (a renderer runs too late for a 400): a value the schema refuses never passes."""

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """OpenAPI query parameters of this format, as filter backends and paginators
        declare theirs (``oms.api.schema.AutoSchema`` collects them)."""
        return []


class CSVRenderer(TabularRenderer, PaginatedCSVRenderer):
    """The rows as CSV, header row first (the serializer's field names, as they are):
    djangorestframework-csv's media type, format and ``writer_opts``, written from the
    tuples rather than from flattened dicts.

    Data cells go through :func:`neutralise_formula`. ``?bom=1`` starts the body with a
    UTF-8 byte order mark: without one, Excel reads a CSV file in the computer's legacy
    code page and garbles ``İ``, ``ş`` or ``漢字``; with one, other CSV readers may take it
    for part of the first column's name, hence opt-in.
    """

    extension = "csv"
    bom_query_param = "bom"
    chunk_rows = 2000  # rows per write of an export

    def table(self, batch: RowBatch) -> Iterator[list[Any]]:
        """The header row, then each row's cells, neutralised where they may hold text."""
        yield list(batch.header)
        text_columns = batch.serializer.text_columns  # other columns never hold text
        for row in batch.api_values():
            cells = list(row)
            for index in text_columns:
                cells[index] = neutralise_formula(cells[index])
            yield cells

    def write(
        self,
        batch: RowBatch,
        target: BinaryTarget,
        request: Request | None,
        writer_opts: dict[str, Any] | None = None,
    ) -> None:
        """The CSV file of ``batch``, ``chunk_rows`` rows per write, in Python's ``csv``
        dialect (CRLF, minimal quoting) unless ``writer_opts`` say otherwise."""
        buffer = StringIO()
        writer = csv.writer(buffer, **(writer_opts or self.writer_opts or {}))
        if self.wants_bom(request):
            target.write(codecs.BOM_UTF8)
        table = self.table(batch)
        while chunk := list(islice(table, self.chunk_rows)):
            writer.writerows(chunk)
            target.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()

    def wants_bom(self, request: Request | None) -> bool:
        return request is not None and request.query_params.get(self.bom_query_param) == "1"

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.bom_query_param,
                "in": "query",
                "required": False,
                # Any value is taken (only `1` means yes): no enum the server does not keep.
                "schema": {"type": "string"},
                "description": (
                    "`1`: start a CSV body with a UTF-8 byte order mark, which Excel needs "
                    "to read non-ASCII text; any other value does not. Other formats "
                    "ignore it."
                ),
            }
        ]


def xlsx_number_formats(
    fields: Iterable[serializers.Field], *, text_datetimes: bool = False
) -> list[str | None]:
    """The number format drf-excel gives each column's cells (``DRF_EXCEL_*`` settings
    included); None where it keeps General (text), as datetime columns written as text
    (``text_datetimes``) do."""
    formats: list[str | None] = []
    for field in fields:
        if isinstance(field, serializers.DateTimeField) and text_datetimes:
            formats.append(None)
        elif isinstance(field, serializers.IntegerField):
            formats.append(drf_excel_setting("INTEGER_FORMAT") or FORMAT_NUMBER)
        elif isinstance(field, serializers.FloatField | serializers.DecimalField):
            formats.append(drf_excel_setting("DECIMAL_FORMAT") or FORMAT_NUMBER_00)
        elif isinstance(field, serializers.DateTimeField):
            formats.append(drf_excel_setting("DATETIME_FORMAT") or FORMAT_DATE_DATETIME)
        elif isinstance(field, serializers.DateField):
            formats.append(drf_excel_setting("DATE_FORMAT") or FORMAT_DATE_YYYYMMDD2)
        elif isinstance(field, serializers.TimeField):
            formats.append(drf_excel_setting("TIME_FORMAT") or FORMAT_DATE_TIME4)
        else:
            formats.append(None)
    return formats


class XLSRenderer(TabularRenderer):
    """The rows as an Excel workbook, with drf-excel's cells, sheet title and column widths
    (``oms.tabular.xlsx`` writes it, streaming, ten times faster than openpyxl).

    Cells: text neutralised, numbers as numbers, datetimes as Excel datetimes in UTC, or
    with ``?xlsx_datetimes=text`` as the API's text: an Excel datetime is a day count in a
    double, which Excel keeps to 15 digits (some microseconds) and openpyxl and pandas
    read back to the millisecond; the text is exact.

    Advertised and negotiated as ``application/xls``, the name OMS clients use (the
    registered XLSX type is an alias, see ``oms.api.negotiation``); the response says what
    the bytes are, an Office Open XML workbook, so spreadsheet tools open it.
    """

    media_type = "application/xls"
    format = "xls"
    charset = None  # binary: no "; charset=utf-8" suffix
    extension = "xlsx"
    datetimes_query_param = "xlsx_datetimes"
    datetimes_choices = ["serial", "text"]  # the first is the default

    @property
    def content_type(self) -> str:
        return XLSX_MEDIA_TYPE

    def write(self, batch: RowBatch, target: BinaryTarget, request: Request | None) -> None:
        text = self.text_datetimes(request)
        write_workbook(
            batch.header,
            batch.api_values() if text else batch.native_values(),
            target,
            xlsx_number_formats(batch.serializer.fields, text_datetimes=text),
            zip64=not isinstance(batch.rows, Sized),  # an export may pass 2 GiB
        )

    def check_params(self, request: Request) -> None:
        self.text_datetimes(request)

    def text_datetimes(self, request: Request | None) -> bool:
        """Whether the request asks for datetimes as text; a 400 naming the parameter for
        a value that is not a choice (empty: the default)."""
        value = request.query_params.get(self.datetimes_query_param, "") if request else ""
        if value == "":
            return False
        field = serializers.ChoiceField(choices=self.datetimes_choices)
        try:
            return field.run_validation(value) == "text"
        except serializers.ValidationError as error:
            raise serializers.ValidationError({self.datetimes_query_param: error.detail}) from None

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.datetimes_query_param,
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": self.datetimes_choices},
                "description": (
                    "Datetime cells of a workbook: `serial` (default), Excel datetimes in "
                    "UTC, shown to the second and read back to the millisecond; `text`, the "
                    "API's text (`2023-10-06T08:42:53.427050Z`), exact. Another value is a "
                    "400, whatever the format."
                ),
            }
        ]


def write_workbook(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    target: BinaryTarget,
    number_formats: Sequence[str | None] = (),
    *,
    zip64: bool = False,
) -> None:
    """A workbook of ``header`` then ``rows`` with drf-excel's sheet title and column
    widths, text neutralised, numbers in ``number_formats`` (per column, see
    :func:`xlsx_number_formats`), datetimes as Excel datetimes in UTC."""
    write_xlsx(
        target,
        header,
        rows,
        number_formats=number_formats,
        title=SHEET_TITLE,
        column_width=COLUMN_WIDTH,
        text=neutralise_formula,
        zip64=zip64,
    )
