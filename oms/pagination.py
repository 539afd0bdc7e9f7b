"""Page-number pagination that refuses bad page sizes instead of silently changing them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

if TYPE_CHECKING:  # DRF's settings import these modules while loading views
    from rest_framework.views import APIView


class QuerySetNotOrdered(ImproperlyConfigured):
    """Pages of an unordered queryset may repeat or skip rows."""


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

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: APIView | None = None):
        if not queryset.ordered:
            raise QuerySetNotOrdered(f"{view.__class__.__name__} must order its queryset.")
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
