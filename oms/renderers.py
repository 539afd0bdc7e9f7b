"""Renderers for OMS list pages: JSON (DRF's), CSV, an Excel workbook, the browsable API.

CSV and XLS render one page of rows (``data["results"]``) under a header row of the
serializer's field names, in field order, taken from ``renderer_context["header"]``
(set by ``oms.views.ListAPIView``). They are ``tabular``: they render list pages only,
and the view answers anything else (errors, OPTIONS) in JSON.
"""

from io import BytesIO
from typing import Any

from drf_excel.renderers import XLSXRenderer
from openpyxl import Workbook
from rest_framework import renderers
from rest_framework_csv.renderers import PaginatedCSVRenderer

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def set_attachment(renderer_context: dict[str, Any], extension: str) -> None:
    """Name the download after the view (``<download_name>.<extension>``)."""
    name = getattr(renderer_context.get("view"), "download_name", "export")
    renderer_context["response"]["Content-Disposition"] = (
        f'attachment; filename="{name}.{extension}"'
    )


class CSVRenderer(PaginatedCSVRenderer):
    """The page's rows as CSV; an empty page is just the header row."""

    tabular = True

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
        writer_opts: dict[str, Any] | None = None,
    ) -> bytes:
        renderer_context = renderer_context or {}
        set_attachment(renderer_context, "csv")
        return super().render(data, accepted_media_type, renderer_context, writer_opts)


class XLSRenderer(XLSXRenderer):
    """The page's rows as an Excel workbook (drf-excel).

    Advertised and negotiated as ``application/xls``, the name OMS clients use (the
    registered XLSX type is an alias, see ``oms.negotiation``); the response says what
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
        if not data["results"]:
            # drf-excel writes no header row for an empty page.
            return self.header_only_workbook(renderer_context["header"])
        return super().render(data, accepted_media_type, renderer_context)

    @staticmethod
    def header_only_workbook(header: list[str]) -> bytes:
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "Report"  # drf-excel's sheet title
        sheet.append(header)
        buffer = BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API, also reachable as ``?format=html`` (DRF calls it ``api``)."""

    format = "html"
