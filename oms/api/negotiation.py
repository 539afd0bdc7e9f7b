"""Content negotiation that knows a renderer's media type, and its format, by more than one
name."""

from collections.abc import Iterable

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from oms.tabular.renderers import XLSX_MEDIA_TYPE, XLSRenderer

# Accept-header names that stand for another renderer's media type: the registered XLSX
# type, and the legacy Excel type that older tools still send for any workbook.
MEDIA_TYPE_ALIASES = {
    XLSX_MEDIA_TYPE: XLSRenderer.media_type,
    "application/vnd.ms-excel": XLSRenderer.media_type,
}
# ``?format=`` names that stand for another renderer's format: ``xlsx`` is the extension
# of the file the workbook format writes.
FORMAT_ALIASES = {"xlsx": XLSRenderer.format}
ANYTHING = "*/*"


def canonical_format(name: str) -> str:
    """The renderer format ``name`` stands for (itself unless an alias)."""
    return FORMAT_ALIASES.get(name, name)


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, plus :data:`MEDIA_TYPE_ALIASES` and :data:`FORMAT_ALIASES`.

    OMS clients ask for workbooks as ``application/xls`` or ``?format=xls``; spreadsheet
    tools ask by the Excel types, people by the file's extension. One renderer serves
    them all, and OPTIONS lists it once.
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        """DRF's choice, made without parsing and matching for the commonest request: no
        format asked for and anything accepted (no ``Accept`` header, or ``*/*``), which
        DRF answers with the first renderer in its own media type."""
        renderers = list(renderers)
        if (
            renderers
            and not format_suffix
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
            and request.META.get("HTTP_ACCEPT", ANYTHING).strip() == ANYTHING
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)

    def get_accept_list(self, request: Request) -> list[str]:
        return [self.resolve_alias(token) for token in super().get_accept_list(request)]

    def filter_renderers(
        self, renderers: Iterable[BaseRenderer], format: str
    ) -> list[BaseRenderer]:
        """The renderers of the ``?format=`` asked for (or of the format its alias names)."""
        return super().filter_renderers(renderers, canonical_format(format))

    @staticmethod
    def resolve_alias(token: str) -> str:
        media_type, separator, params = token.partition(";")
        canonical = MEDIA_TYPE_ALIASES.get(media_type.strip().lower())
        return f"{canonical}{separator}{params}" if canonical else token
