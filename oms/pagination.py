"""Page-number pagination that refuses bad page sizes instead of silently changing them,
counts from the view's counters where it has them and fetches deep pages by id first."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

if TYPE_CHECKING:  # DRF's settings import these modules while loading views
    from rest_framework.views import APIView


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

    def validate_number_format(self, number: int | str) -> int:
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
        rows = self.object_list
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
    """``?page=N`` (1-based) and ``?limit=N`` (alias ``page_size``; ``limit`` wins).

    DRF clamps an oversized page size and falls back to the default for ``0``, negatives
    and text; a client that stops at the first short page would then lose rows without
    noticing. Here each of those is a 400 naming the parameter.
    """

    page_size_query_param = "limit"
    page_size_query_aliases = ("page_size",)
    min_page_size = 1
    max_page_size = 1000
    last_page_strings = ()  # pages are numbers only
    deferred_join_from = 1000  # see DeferredJoinPaginator

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: APIView | None = None):
        """A page of ``queryset``, which the view has filtered and ordered.

        The count comes from the view's ``count_source(queryset)`` (a CountSource) when it
        has one and it answers, from ``count(*)`` otherwise. Likewise a deep page starts
        where the view's ``offset_source`` (an OffsetSource) says.
        """
        if not queryset.ordered:
            raise QuerySetNotOrdered(f"{view.__class__.__name__} must order its queryset.")
        self.django_paginator_class = partial(
            DeferredJoinPaginator,
            count_source=getattr(view, "count_source", None),
            offset_source=getattr(view, "offset_source", None),
            deferred_join_from=self.deferred_join_from,
        )
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int:
        for param in (self.page_size_query_param, *self.page_size_query_aliases):
            value = request.query_params.get(param, "")
            if value != "":
                return self.parse_page_size(param, value)
        return self.page_size

    def parse_page_size(self, param: str, value: str) -> int:
        field = serializers.IntegerField(min_value=self.min_page_size, max_value=self.max_page_size)
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
            # Django's paginator counts pages from 1.
            query_parameter(self.page_query_param, "Page number.", minimum=1),
            *(query_parameter(name, text, **bounds) for name, text in sizes.items()),
        ]


def query_parameter(name: str, description: str, **bounds: int) -> dict[str, Any]:
    """An optional integer query parameter, for ``get_schema_operation_parameters``."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "integer", **bounds},
        "description": description,
    }
