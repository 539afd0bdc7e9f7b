"""The base view of OMS list endpoints."""

from typing import Any

from django.db.models import QuerySet
from rest_framework import generics
from rest_framework.exceptions import AuthenticationFailed, MethodNotAllowed, NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from oms.metadata import ListMetadata
from oms.security import log_authentication_failure
from oms.throttling import rate_limit_headers


class ListAPIView(generics.ListAPIView):
    """A read-only, paginated, filterable list in JSON, CSV, XLS and the browsable API.

    - Only GET, HEAD and OPTIONS: anything else is a 405 (with ``Allow``), decided
      before authentication so that it never turns into a 401 or 403.
    - OPTIONS describes the list: fields, formats and filters (``oms.metadata``).
    - Tabular renderers (CSV, XLS) get the serializer's field names as their header row,
      and render list pages only: errors and the OPTIONS document are answered in JSON,
      so that neither can pass for an empty export.
    - A token limited to channels (``request.auth.channel_ids``, see
      ``oms.authentication``) reads only rows whose ``channel_field`` is one of them, in
      every format, counts included. A view without ``channel_field`` has no channel
      dimension: such a token reads nothing there (fail closed), never everything.
    - Requests count against the rate of ``throttle_scope`` per token (``oms.throttling``);
      every response after the count says how much is left (``RateLimit-*``).
    - Every response is ``Cache-Control: no-store``: customer data, errors included,
      stays out of browser and proxy caches.
    - Failed authentication is logged to ``oms.security``.
    """

    http_method_names = ["get", "head", "options"]
    metadata_class = ListMetadata
    download_name = "export"  # file name of CSV and XLS downloads, without extension
    channel_field: str | None = None  # the queryset's channel id field, e.g. "channel_id"
    throttle_scope = "list"  # export endpoints use "export"; rates in DEFAULT_THROTTLE_RATES

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        channel_ids = getattr(getattr(self.request, "auth", None), "channel_ids", None)
        if not channel_ids:  # a session, or a token for every channel
            return queryset
        if self.channel_field is None:
            return queryset.none()
        return queryset.filter(**{f"{self.channel_field}__in": sorted(channel_ids)})

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method.lower() not in self.http_method_names:
            self.format_kwarg = self.get_format_suffix(**kwargs)  # as super().initial would
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def get_throttles(self) -> list[BaseThrottle]:
        # Kept so that finalize_response can report what they counted.
        self.throttles = super().get_throttles()
        return self.throttles

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, NotAuthenticated | AuthenticationFailed):
            log_authentication_failure(self.request, exc)
        return super().handle_exception(exc)

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
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        for name, value in rate_limit_headers(getattr(self, "throttles", ())).items():
            response[name] = value
        return response
