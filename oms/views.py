"""The base view of OMS list endpoints."""

from typing import Any

from rest_framework import generics
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.response import Response

from oms.metadata import ListMetadata


class ListAPIView(generics.ListAPIView):
    """A read-only, paginated, filterable list in JSON, CSV, XLS and the browsable API.

    - Only GET, HEAD and OPTIONS: anything else is a 405 (with ``Allow``), decided
      before authentication so that it never turns into a 401 or 403.
    - OPTIONS describes the list: fields, formats and filters (``oms.metadata``).
    - Tabular renderers (CSV, XLS) get the serializer's field names as their header row,
      and render list pages only: errors and the OPTIONS document are answered in JSON,
      so that neither can pass for an empty export.
    """

    http_method_names = ["get", "head", "options"]
    metadata_class = ListMetadata
    download_name = "export"  # file name of CSV and XLS downloads, without extension

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method.lower() not in self.http_method_names:
            self.format_kwarg = self.get_format_suffix(**kwargs)  # as super().initial would
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def get_renderer_context(self) -> dict[str, Any]:
        context = super().get_renderer_context()
        context["header"] = list(self.get_serializer().fields)
        return context

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        renderer = getattr(request, "accepted_renderer", None)
        is_page = request.method != "OPTIONS" and not getattr(response, "exception", False)
        if getattr(renderer, "tabular", False) and not is_page:
            request.accepted_renderer = next(
                r for r in self.get_renderers() if not getattr(r, "tabular", False)
            )
            request.accepted_media_type = request.accepted_renderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
