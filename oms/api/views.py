"""The base views of OMS list endpoints: a paginated list and its full export."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.db.models import QuerySet
from django.http import HttpResponseBase
from django_filters.constants import EMPTY_VALUES
from django_filters.utils import translate_validation
from rest_framework import generics, status
from rest_framework.exceptions import (
    APIException,
    AuthenticationFailed,
    MethodNotAllowed,
    NotAuthenticated,
)
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import ModelSerializer
from rest_framework.throttling import BaseThrottle

from oms.api.authentication import readable_channels
from oms.api.filters import FilterBackend, FilterSet
from oms.api.keyset import (
    CURSOR_PARAM,
    KeysetPaginator,
    cursor_parameter,
    cursor_url,
    requested_cursor,
)
from oms.api.metadata import ListMetadata
from oms.api.renderers import JSONRenderer
from oms.api.throttling import rate_limit_headers
from oms.http.downloads import Spool, spooled_response
from oms.http.security import log_authentication_failure
from oms.internals.statements import reusing_statements
from oms.tabular.copy import can_copy, copy_csv
from oms.tabular.jsonlines import JSONLinesRenderer
from oms.tabular.renderers import CSVRenderer, TabularRenderer, XLSRenderer
from oms.tabular.rows import Datetimes, RowBatch, RowSerializer

# RowSerializer per (view class, serializer class): see ListAPIView.get_row_serializer.
ROW_SERIALIZERS: dict[tuple[type, type], RowSerializer] = {}
# Tuples of a view's queryset per (its queryset, serializer class, text, database vendor):
# see ListAPIView.row_source.
ROW_SOURCES: dict[tuple[object, type, bool, str], tuple[QuerySet, Datetimes]] = {}


@dataclass(frozen=True)
class RequestScope:
    """What a list request reads: the channels its credentials may read (None: every
    channel) and its filters as the FilterSet cleaned them, those it gives only."""

    channels: frozenset[int] | None
    filters: Mapping[str, Any]


class ListAPIView(generics.ListAPIView):
    """A read-only, paginated, filterable list in JSON, CSV, XLS and the browsable API.

    - Only GET, HEAD and OPTIONS: anything else is a 405 (with ``Allow``), decided
      before authentication so that it never turns into a 401 or 403.
    - OPTIONS describes the list: fields, formats and filters (``oms.api.metadata``).
    - Tabular renderers (CSV, XLS) get the serializer's field names as their header row,
      and render list pages only: errors and the OPTIONS document are answered in JSON,
      so that neither can pass for an empty export.
    - A token limited to channels (``request.auth.channel_ids``, see
      ``oms.api.authentication``) reads only rows whose ``channel_field`` is one of them, in
      every format, counts included. A view without ``channel_field`` has no channel
      dimension: such a token reads nothing there (fail closed), never everything.
    - Requests count against the rate of ``throttle_scope`` per token (``oms.api.throttling``);
      every response after the count says how much is left (``RateLimit-*``).
    - Every response is ``Cache-Control: no-store``: customer data, errors included,
      stays out of browser and proxy caches.
    - Failed authentication is logged to ``oms.http.security``.
    - Rows are fetched as tuples and formatted per column (``oms.tabular.rows``): no model
      instance and no per-field serializer call per row. The serializer still defines the
      fields, their order and what OPTIONS and the schema say.
    - The rows come from ``queryset`` narrowed by ``readable`` (channels; a view that
      narrows further overrides it), then filtered: ``get_queryset`` is the same rows as
      model instances, for DRF's permissions and the schema.
    """

    http_method_names = ["get", "head", "options"]
    queryset: QuerySet  # the view's rows, ordered (DRF's stubs also allow a manager, None)
    metadata_class = ListMetadata
    download_name = "export"  # file name of CSV and XLS downloads, without extension
    channel_field: str | None = None  # the queryset's channel id field, e.g. "channel_id"
    # The field the database stamps with each change (``oms.db.changes``), e.g. "modified_date":
    # cursor pages in its order hold back rows not yet settled (``oms.api.keyset``).
    settled_field: str | None = None
    throttle_scope = "list"  # export endpoints use "export"; rates in DEFAULT_THROTTLE_RATES

    # Hooks of the paginator (oms.api.pagination.PageLimitPagination), for views that know
    # cheaper ways than count(*) and OFFSET: None means "no cheaper way", and the paginator
    # counts and skips rows itself.
    def count_source(self, queryset: QuerySet) -> int | None:
        """The number of rows of ``queryset`` (this request's filtered rows)."""
        return None

    def offset_source(self, queryset: QuerySet, offset: int) -> tuple[QuerySet, int] | None:
        """Where the rows from ``offset`` on start: ``queryset`` narrowed to start near
        there, and the rows still to skip."""
        return None

    @cached_property
    def channels(self) -> frozenset[int] | None:
        """The channels this request may read (``oms.api.authentication.ChannelScope``);
        None: every channel."""
        return readable_channels(self.request.auth)

    @cached_property
    def filterset(self) -> FilterSet | None:
        """This request's FilterSet, built once: ``oms.api.filters.FilterBackend`` filters
        with it, the browsable API renders its form."""
        queryset = super().get_queryset()  # the view's rows: the FilterSet reads the model
        filterset_class = FilterBackend().get_filterset_class(self, queryset)
        if filterset_class is None:
            return None
        return filterset_class(self.request.query_params, queryset, request=self.request)

    @cached_property
    def scope(self) -> RequestScope:
        """What this request reads, validated once: a 400 naming each invalid filter."""
        filters = {}
        if self.filterset is not None:
            if not self.filterset.is_valid():
                raise translate_validation(self.filterset.errors)
            cleaned = self.filterset.form.cleaned_data
            filters = {name: value for name, value in cleaned.items() if value not in EMPTY_VALUES}
        return RequestScope(self.channels, filters)

    def get_queryset(self) -> QuerySet:
        """The view's rows this request may read (``readable``)."""
        return self.readable(super().get_queryset())

    def readable(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` (of the view's rows, or of their tuples) narrowed to the rows this
        request may read: those of its channels. A view that narrows further overrides
        this. (The filters come later, in ``filter_queryset``: validating them here would
        answer a user without the permission, or the browsable API's form, with a 400.)"""
        if self.channels is None:
            return queryset
        if self.channel_field is None:
            return queryset.none()  # no channel dimension: a limited token reads nothing
        return queryset.filter(**{f"{self.channel_field}__in": sorted(self.channels)})

    def get_row_serializer(self) -> RowSerializer:
        """The serializer's fields as columns to fetch and format, built once per view
        class (and serializer class): the fields must not depend on the request."""
        key = (type(self), self.get_serializer_class())
        row_serializer = ROW_SERIALIZERS.get(key)
        if row_serializer is None:
            serializer = self.get_serializer()
            if not isinstance(serializer, ModelSerializer):
                raise ImproperlyConfigured(f"{type(self).__name__} lists a ModelSerializer's rows.")
            row_serializer = ROW_SERIALIZERS[key] = RowSerializer(serializer)
        return row_serializer

    def get_rows(self, *, text: bool = False) -> tuple[QuerySet, Datetimes]:
        """The readable, filtered, sorted rows as tuples in field order, and what their
        datetime columns hold: with ``text``, the API's text where the database can write
        it (``RowSerializer.values``)."""
        rows, datetimes = self.row_source(text=text)
        return self.filter_queryset(self.readable(rows)), datetimes

    def row_source(self, *, text: bool) -> tuple[QuerySet, Datetimes]:
        """The view's queryset as tuples (``RowSerializer.values``), set up once per
        queryset, serializer class and kind of database (a fresh clone each call): setting
        up the tuples' columns cost a tenth of a small request's Python. Its SQL is
        compiled once per shape of query (``oms.internals.statements``)."""
        queryset = super().get_queryset()  # the view's own rows: before readable()
        vendor = connections[queryset.db].vendor
        key = (self.queryset, self.get_serializer_class(), text, vendor)
        source = ROW_SOURCES.get(key)
        if source is None:
            rows, datetimes = self.get_row_serializer().values(queryset, text=text)
            source = ROW_SOURCES[key] = reusing_statements(rows), datetimes
        rows, datetimes = source
        return rows.all(), datetimes

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows, datetimes = self.get_rows(text=True)
        page = self.paginate_queryset(rows)
        batch = RowBatch(self.get_row_serializer(), list(rows if page is None else page), datetimes)
        # Tabular renderers write the tuples; the serializer's dicts are for the others.
        tabular = isinstance(request.accepted_renderer, TabularRenderer)
        results = batch if tabular else batch.as_dicts()
        return Response(results) if page is None else self.get_paginated_response(results)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = request.method or ""
        if method.lower() not in self.http_method_names:
            self.format_kwarg = self.get_format_suffix(**kwargs)  # as super().initial would
            raise MethodNotAllowed(method)
        super().initial(request, *args, **kwargs)
        if request.method != "OPTIONS":
            for renderer in self.get_renderers():
                if isinstance(renderer, TabularRenderer):
                    renderer.check_params(request)

    def get_throttles(self) -> builtins.list[BaseThrottle]:  # list: the view's method
        # Kept so that finalize_response can report what they counted.
        self.throttles = super().get_throttles()
        return self.throttles

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, NotAuthenticated | AuthenticationFailed):
            log_authentication_failure(self.request, exc)
        return super().handle_exception(exc)

    def get_error_renderer(self) -> BaseRenderer:
        """What errors and OPTIONS are rendered with: the first renderer that is not
        tabular, JSON when every one is (an export)."""
        renderers = (r for r in self.get_renderers() if not isinstance(r, TabularRenderer))
        return next(renderers, None) or JSONRenderer()

    def finalize_response(  # type: ignore[override]  # an export's response is a file's
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        renderer = getattr(request, "accepted_renderer", None)
        is_page = request.method != "OPTIONS" and not getattr(response, "exception", False)
        # No renderer yet: negotiation failed, and DRF would fall back to the first one.
        if (renderer is None or isinstance(renderer, TabularRenderer)) and not is_page:
            request.accepted_renderer = self.get_error_renderer()
            request.accepted_media_type = request.accepted_renderer.media_type
        # DRF's stubs say a Response; DRF takes any HttpResponseBase (a file's, an export's).
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[arg-type]
        response["Cache-Control"] = "no-store"
        for name, value in rate_limit_headers(getattr(self, "throttles", ())).items():
            response[name] = value
        return response


class TooManyRows(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "too_many_rows"


class ExportAPIView(ListAPIView):
    """Every matching row of a list, unpaginated, as one CSV, XLSX or JSON Lines download.

    The list's filters, sort, channel scope, authentication and permission apply; only
    the formats differ, and requests count against the ``export`` rate.

    The file is written whole first (``oms.http.downloads.Spool``: in memory while small, then
    on disk), so that the database's work ends at its own speed and the response says
    its length, row count and SHA-256 before the first byte; a byte range of it is sent
    under an ``If-Range`` naming it.

    - CSV comes from PostgreSQL's ``COPY`` (formatted in SQL), elsewhere from a server-side
      cursor ``chunk_size`` rows at a time: memory stays constant whatever the number of
      rows.
    - XLSX is written row by row (``oms.tabular.xlsx``). A workbook cannot hold more than
      ``max_xlsx_rows`` data rows (Excel's limit): a bigger export is a 400 decided from
      the count, before any row is written.
    - JSON Lines (``oms.tabular.jsonlines``) is written ``chunk_size`` rows at a time too.
    """

    pagination_class = None
    renderer_classes = [CSVRenderer, XLSRenderer, JSONLinesRenderer]  # errors, OPTIONS: JSON
    throttle_scope = "export"
    chunk_size = 2000  # rows per fetch from the cursor
    max_xlsx_rows = 1_048_575  # Excel's 1,048,576 rows, less the header
    spool_size = 16 * 1024 * 1024  # bytes of a file kept in memory before going to disk

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        renderer = request.accepted_renderer
        if not isinstance(renderer, TabularRenderer):
            raise ImproperlyConfigured(f"{type(self).__name__} exports in tabular formats only.")
        # Filters are validated here: a 400 comes before any output. COPY formats a CSV
        # file's datetimes itself; other formats take the database's text where it has it.
        rows, datetimes = self.get_rows(text=not isinstance(renderer, CSVRenderer))
        next_link = None
        if CURSOR_PARAM in request.query_params:
            rows, next_link = self.continue_cursor(rows)
        if isinstance(renderer, XLSRenderer):
            self.check_fits_a_workbook(rows)
        spool = Spool(self.spool_size)
        self.write(rows, datetimes, renderer, spool)
        spool.close_writing()
        response = spooled_response(
            request,
            spool,
            content_type=renderer.content_type,
            filename=f"{self.download_name}.{renderer.extension}",
        )
        if next_link is not None:
            response["Link"] = f'<{next_link}>; rel="next"'
        return response

    def get_schema_operation_parameters(self) -> builtins.list[dict[str, Any]]:
        """The export's own query parameter, for the OpenAPI schema (``oms.api.schema``)."""
        return [
            cursor_parameter(
                "Every row after a cursor's position (empty or `start`: from the start; or a list "
                "page's `next` cursor), settled ones only in `modified_date` order. The "
                'response\'s `Link: <...>; rel="next"` header continues after its last row.'
            )
        ]

    def continue_cursor(self, rows: QuerySet) -> tuple[QuerySet, str]:
        """With ``?cursor=`` (empty, or a list page's or an earlier export's): the rows
        after its position up to the last one there is now (settled ones only in the
        stamp's order, as on cursor pages), and the link that continues after them,
        known before the first row is sent (``oms.api.keyset``)."""
        keyset = KeysetPaginator(rows, self.get_row_serializer().columns, self.settled_field)
        rows, last = keyset.span(requested_cursor(self.request))
        return rows, cursor_url(self.request, keyset.codec.encode(last))

    def iterate(self, rows: QuerySet) -> Iterator[tuple[Any, ...]]:
        """``rows`` from a server-side cursor. PostgreSQL keeps one open only inside a
        transaction (outside it would compute the whole result first, WITH HOLD); the
        transaction is read-only work and ends with the iteration."""
        with transaction.atomic(using=rows.db):
            yield from rows.iterator(chunk_size=self.chunk_size)

    def write(
        self, rows: QuerySet, datetimes: Datetimes, renderer: TabularRenderer, spool: Spool
    ) -> None:
        """Every row into ``spool`` in the renderer's format (``datetimes``: what the
        rows' datetime columns hold, see ``get_rows``). A CSV file on PostgreSQL
        comes from ``COPY`` (``oms.tabular.copy``): the header row (and byte order mark)
        from the renderer, the rows from the database, with LF line ends as COPY writes
        them (CSV readers take either)."""
        row_serializer = self.get_row_serializer()
        if isinstance(renderer, CSVRenderer) and can_copy(rows, row_serializer):
            header = RowBatch(row_serializer, ())
            renderer.write(header, spool, self.request, writer_opts={"lineterminator": "\n"})
            spool.rows += copy_csv(rows, row_serializer, spool)
            return
        counted = spool.counted(self.iterate(rows))
        renderer.write(RowBatch(row_serializer, counted, datetimes), spool, self.request)

    def check_fits_a_workbook(self, rows: QuerySet) -> None:
        """A 400 before anything is written when the rows are more than a workbook holds."""
        count = rows.count()
        if count > self.max_xlsx_rows:
            raise TooManyRows(
                f"The export has {count} rows; an Excel workbook holds at most "
                f"{self.max_xlsx_rows}. Narrow it with filters, or export CSV."
            )
