"""The base view of OMS list endpoints."""

from typing import Any

from rest_framework import generics
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.response import Response


class ListAPIView(generics.ListAPIView):
    """A read-only, paginated, filterable list in JSON, CSV, XLS and the browsable API.

    - Only GET, HEAD and OPTIONS: anything else is a 405 (with ``Allow``), decided
      before authentication so that it never turns into a 401 or 403.
    - Tabular renderers get the serializer's field names as their header row.
    - Errors are answered in JSON even when CSV or XLS was asked for: an error must not
      look like an empty export.
    """

    http_method_names = ["get", "head", "options"]
    download_name = "export"  # file name of CSV and XLS downloads, without extension

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method.lower() not in self.http_method_names:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def get_renderer_context(self) -> dict[str, Any]:
        context = super().get_renderer_context()
        context["header"] = list(self.get_serializer().fields)
        return context

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        renderer = getattr(self.request, "accepted_renderer", None)
        if renderer is not None and not getattr(renderer, "renders_errors", True):
            error_renderer = next(
                r for r in self.get_renderers() if getattr(r, "renders_errors", True)
            )
            self.request.accepted_renderer = error_renderer
            self.request.accepted_media_type = error_renderer.media_type
        return response
