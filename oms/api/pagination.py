"""Page-number pagination that refuses bad page sizes instead of silently changing them,
counts from the view's counters where it has them and fetches deep pages by id first;
and, for a request that carries ``cursor``, cursor pages (``oms.api.keyset``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import ImproperlyConfigured
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.template import loader
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from oms.api.filters import NO_DECIMAL_SUFFIX
from oms.api.keyset import (
    CURSOR_PARAM,
    CursorPage,
    KeysetPaginator,
    Position,
    cursor_error,
    cursor_parameter,
    cursor_url,
    requested_cursor,
)

if TYPE_CHECKING:  # DRF's settings import these modules while loading views
    from rest_framework.pagination import HtmlContextWithPageLinks
    from rest_framework.views import APIView

    from oms.api.views import ListAPIView


class QuerySetNotOrdered(ImproperlyConfigured):
    """Pages of an unordered queryset may repeat or skip rows."""


MAX_OFFSET = 2**63 - 1  # a signed 64-bit OFFSET, the widest databases take

# Where the rows from an offset on start, cheaper than skipping them (such as an id found
# from counters): the queryset narrowed to start near there, and the rows still to skip;
# None when it cannot tell.
OffsetSource = Callable[[QuerySet, int], tuple[QuerySet, int] | None]

# The number of rows of a filtered queryset, from somewhere cheaper than count(*) (such as
# counters kept by triggers); None when it cannot tell, and the rows are counted.
CountSource = Callable[[QuerySet], int | None]


class ListPage(Page):
    """A page whose rows are a list already. Page is a Sequence, which iterates by
    calling ``__getitem__`` once per row (DRF lists the page that way): a list's own
    iterator spares a Python call per row."""

    def __iter__(self) -> Iterator[Any]:
        return iter(self.object_list)


class DeferredJoinPaginator(Paginator):
    """Django's Paginator with a pluggable count, a pluggable start of deep pages (the
    view's ``offset_source``) and a deferred join for deep pages.

    From row ``deferred_join_from`` on, a page is ``WHERE pk IN (SELECT pk ... ORDER BY ...
    LIMIT n OFFSET k)``, ordered again outside: the rows skipped by OFFSET are read from an
    index (on PostgreSQL often without visiting the table) rather than fetched whole and
    thrown away. Earlier pages skip too few rows for the subquery to pay off.
    """

    def __init__(
        self,
        object_list: QuerySet | Sequence[Any],
        per_page: int,
        *,
        count_source: CountSource | None = None,
        offset_source: OffsetSource | None = None,
        deferred_join_from: int = 1000,
    ) -> None:
        super().__init__(object_list, per_page)
        self.count_source = count_source
        self.offset_source = offset_source
        self.deferred_join_from = deferred_join_from

    @cached_property
    def count(self) -> int:
        if self.count_source is not None and isinstance(self.object_list, QuerySet):
            counted = self.count_source(self.object_list)
            if counted is not None:
                return counted
        return super().count

    def page(self, number: int | str) -> Page:
        """Paginator.page, fetching the rows before counting them: a page with fewer rows
        than ``per_page`` is the last one, and the count is known without a query (most
        narrow filters, such as an exact email, fit on one page)."""
        number = self.validate_number_format(number)
        bottom = (number - 1) * self.per_page
        if bottom > MAX_OFFSET:  # past any table; databases refuse such an OFFSET
            raise EmptyPage(self.error_messages["no_results"])
        rows = list(self.slice_rows(bottom, bottom + self.per_page))
        if len(rows) < self.per_page and (rows or bottom == 0):
            self.__dict__["count"] = bottom + len(rows)  # the cached_property's value
        elif not rows:
            raise EmptyPage(self.error_messages["no_results"])
        return ListPage(rows, number, self)

    def validate_number_format(self, number: int | float | str) -> int:
        """Paginator.validate_number without the comparison with the number of pages."""
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    def slice_rows(self, bottom: int, top: int) -> QuerySet | Sequence[Any]:
        """Rows ``bottom`` to ``top`` (exclusive) of the object list, in its order."""
        rows = cast(QuerySet | Sequence[Any], self.object_list)
        if self.offset_source is not None and isinstance(rows, QuerySet):
            located = self.offset_source(rows, bottom)
            if located is not None:
                rows, skip = located
                bottom, top = skip, skip + (top - bottom)
        if (
            bottom < self.deferred_join_from
            or not isinstance(rows, QuerySet)
            or not connections[rows.db].features.allow_sliced_subqueries_with_in
        ):
            return rows[bottom:top]
        return rows.filter(pk__in=rows.values("pk")[bottom:top])


class PageLimitPagination(PageNumberPagination):
    """``?page=N`` (1-based, or ``last``) and ``?limit=N`` (alias ``page_size``; ``limit``
    wins); with ``?cursor=`` (empty to start), cursor pages instead (``oms.api.keyset``), in
    the same body.

    DRF clamps an oversized page size and falls back to the default for ``0``, negatives
    and text; a client that stops at the first short page would then lose rows without
    noticing. Here each of those is a 400 naming the parameter.

    Every page also links its neighbours in a ``Link`` header (RFC 8288), which CSV and
    workbook pages, having no ``next`` of their own, need to be followed.
    """

    page_size_query_param = "limit"
    page_size_query_aliases = ("page_size",)
    min_page_size = 1
    max_page_size = 1000
    # As DRF's: the tail of a list without counting its pages first. An empty list's last
    # page is page 1 (Django's paginator has one page for no rows).
    last_page_strings = ("last",)
    deferred_join_from = 1000  # see DeferredJoinPaginator
    cursor_query_param = CURSOR_PARAM
    cursor_template = "rest_framework/pagination/previous_and_next.html"

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: ListAPIView):  # type: ignore[override]
        """A page of ``queryset``, which the view has filtered and ordered.

        The count comes from the view's ``count_source(queryset)`` when it answers, from
        ``count(*)`` otherwise. Likewise a deep page starts where the view's
        ``offset_source`` says.
        """
        if not queryset.ordered:
            raise QuerySetNotOrdered(f"{view.__class__.__name__} must order its queryset.")
        self.cursor_page: CursorPage | None = None
        if self.cursor_query_param in request.query_params:
            return self.paginate_by_cursor(queryset, request, view)
        # A partial of the class, which DRF calls as it would the class.
        self.django_paginator_class = partial(  # type: ignore[assignment]
            DeferredJoinPaginator,
            count_source=view.count_source,
            offset_source=view.offset_source,
            deferred_join_from=self.deferred_join_from,
        )
        return super().paginate_queryset(queryset, request, view)

    def paginate_by_cursor(
        self, queryset: QuerySet, request: Request, view: ListAPIView
    ) -> list[Any]:
        """The cursor page the request asks for. Its rows are tuples in the columns of the
        view's row serializer (``oms.tabular.rows``); the view's ``settled_field`` is its stamp
        of changes."""
        if request.query_params.get(self.page_query_param, "") != "":
            raise cursor_error(
                f"Give {self.cursor_query_param} or {self.page_query_param}, not both."
            )
        self.cursor_request = request
        self.keyset = KeysetPaginator(
            queryset, view.get_row_serializer().columns, view.settled_field
        )
        cursor = requested_cursor(request)
        page = self.cursor_page = self.keyset.page(cursor, self.get_page_size(request))
        self.counted = partial(self.cursor_count, queryset, view.count_source, page, cursor)
        self.display_page_controls = bool(page.next or page.previous)
        return page.rows

    def cursor_count(
        self, queryset: QuerySet, count_source: CountSource, page: CursorPage, cursor: str
    ) -> int:
        """The rows matching the filters, as a page counts them: a cursor page's position
        and held-back rows aside, from the view's counters where it has them. A first
        page in an order that holds nothing back and has no next page is all of them."""
        first_and_only = not page.previous and not page.next
        if first_and_only and cursor == "" and not self.keyset.holds_back():
            return len(page.rows)
        counted = count_source(queryset)
        return queryset.count() if counted is None else counted

    def get_paginated_response(self, data: Any) -> Response:
        next_link, previous_link = self.get_next_link(), self.get_previous_link()
        count = self.counted() if self.cursor_page is not None else self.paginator_count()
        response = Response(
            {"count": count, "next": next_link, "previous": previous_link, "results": data}
        )
        links = [
            f'<{url}>; rel="{rel}"'
            for url, rel in ((next_link, "next"), (previous_link, "prev"))
            if url
        ]
        if links:
            response["Link"] = ", ".join(links)
        return response

    def paginator_count(self) -> int:
        """The count of the numbered page's paginator."""
        if self.page is None:
            raise ImproperlyConfigured("A page's count before the page was paginated.")
        return self.page.paginator.count

    def get_next_link(self) -> str | None:
        if self.cursor_page is None:
            return super().get_next_link()
        return self.cursor_link(self.cursor_page.next)

    def get_previous_link(self) -> str | None:
        if self.cursor_page is None:
            return super().get_previous_link()
        return self.cursor_link(self.cursor_page.previous)

    def cursor_link(self, position: Position | None) -> str | None:
        """This request's URL with ``position`` as its cursor, every other parameter kept."""
        if position is None:
            return None
        encoded = self.keyset.codec.encode(position)
        return cursor_url(self.cursor_request, encoded, [self.page_query_param])

    def get_html_context(self) -> HtmlContextWithPageLinks:
        if self.cursor_page is None:
            return super().get_html_context()
        # Cursor pages have no numbers: the previous and next links alone.
        return {
            "previous_url": self.get_previous_link() or "",
            "next_url": self.get_next_link() or "",
            "page_links": [],
        }

    def to_html(self) -> str:
        if self.cursor_page is None:
            return super().to_html()
        return loader.get_template(self.cursor_template).render(dict(self.get_html_context()))

    def get_page_size(self, request: Request) -> int:
        for param in (self.page_size_query_param, *self.page_size_query_aliases):
            value = request.query_params.get(param, "")
            if value != "":
                return self.parse_page_size(param, value)
        if self.page_size is None:
            raise ImproperlyConfigured("Set REST_FRAMEWORK['PAGE_SIZE'].")
        return self.page_size

    def parse_page_size(self, param: str, value: str) -> int:
        field = WholeNumberField(min_value=self.min_page_size, max_value=self.max_page_size)
        try:
            return field.run_validation(value)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({param: exc.detail}) from exc

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        """OpenAPI query parameters: the page, the page size and its aliases, with the
        bounds ``parse_page_size`` enforces.

        The default page size is in the description, not a ``default``: client generators
        and Swagger UI send a default with every request, and a ``limit`` always sent
        would override ``page_size``.
        """
        limit = self.page_size_query_param
        alias = f"Alias of `{limit}`; `{limit}` wins when both are given."
        sizes = {
            limit: f"Page size ({self.page_size} if neither `{limit}` nor an alias is given).",
            **dict.fromkeys(self.page_size_query_aliases, alias),
        }
        bounds = {"minimum": self.min_page_size, "maximum": self.max_page_size}
        return [
            self.page_parameter(),
            *(query_parameter(name, text, **bounds) for name, text in sizes.items()),
            cursor_parameter(CURSOR_DESCRIPTION.format(page=self.page_query_param)),
        ]

    def page_parameter(self) -> dict[str, Any]:
        """``page``: a number from 1 (Django's paginator counts so) or a last page string.
        Generated clients take ``oneOf`` as "an int or that string"."""
        parameter = query_parameter(
            self.page_query_param, "Page number, from 1; `last` for the last page.", minimum=1
        )
        last = {"type": "string", "enum": list(self.last_page_strings)}
        parameter["schema"] = {"oneOf": [parameter["schema"], last]}
        return parameter


CURSOR_DESCRIPTION = (
    "Cursor pages instead of page numbers: empty (or `start`) to start, then the cursor of "
    "a page's `next` (or `previous`) link, which keeps every other parameter. Each page continues "
    "after the last row delivered, so writes elsewhere never make a walk skip a row; "
    "pages in `modified_date` order hold only settled rows (stamped long enough ago that "
    "nothing can commit behind them). Orders: `sort=id`, `-id` or `modified_date`. Not "
    "with `{page}`. Opaque and signed: a changed cursor is a 400."
)


class WholeNumberField(serializers.IntegerField):
    """DRF's integer field, refusing ``10.0`` as it does ``10.5``."""

    re_decimal = NO_DECIMAL_SUFFIX


def query_parameter(name: str, description: str, **bounds: int) -> dict[str, Any]:
    """An optional integer query parameter, for ``get_schema_operation_parameters``."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "integer", **bounds},
        "description": description,
    }
