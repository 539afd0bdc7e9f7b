"""Content negotiation that knows a renderer's media type by more than one name."""

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request

from oms.tabular.renderers import XLSX_MEDIA_TYPE, XLSRenderer

# Accept-header names that stand for another renderer's media type.
MEDIA_TYPE_ALIASES = {XLSX_MEDIA_TYPE: XLSRenderer.media_type}


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, plus :data:`MEDIA_TYPE_ALIASES`.

    OMS clients ask for workbooks as ``application/xls``; spreadsheet tools ask by the
    registered XLSX type. One renderer serves both, and OPTIONS lists it once.
    """

    def get_accept_list(self, request: Request) -> list[str]:
        return [self.resolve_alias(token) for token in super().get_accept_list(request)]

    @staticmethod
    def resolve_alias(token: str) -> str:
        media_type, separator, params = token.partition(";")
        canonical = MEDIA_TYPE_ALIASES.get(media_type.strip().lower())
        return f"{canonical}{separator}{params}" if canonical else token
