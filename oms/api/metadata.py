"""OPTIONS for OMS list endpoints: ``name``, ``renders``, ``parses``, ``actions``, ``filters``.

``actions.GET`` describes the serializer's fields and ``filters`` the view's FilterSet,
so that both follow the code: a filter added to the FilterSet appears here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.utils.encoding import force_str
from django.utils.functional import Promise
from django_filters import Filter, FilterSet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.metadata import SimpleMetadata
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.utils.field_mapping import ClassLookupDict

from oms.api.filters import FilterOptions

if TYPE_CHECKING:  # DRF's settings import these modules while loading views
    from rest_framework.views import APIView

# Filter types by form field class; the most specific class wins.
FILTER_TYPES: ClassLookupDict = ClassLookupDict(
    {
        forms.Field: "string",
        forms.BooleanField: "boolean",
        forms.IntegerField: "integer",
        forms.DecimalField: "decimal",
        forms.DateField: "date",
        forms.DateTimeField: "datetime",
        forms.ChoiceField: "dropdown",
    }
)


class ListMetadata(SimpleMetadata):
    """Metadata of a read-only list view.

    Unlike DRF's ``SimpleMetadata``: ``actions`` describes GET (DRF only describes PUT
    and POST), ``renders`` lists the data formats (not the browsable API), a primary-key
    relation is a ``"pk field"``, and ``filters`` describes the FilterSet.
    """

    label_lookup = ClassLookupDict(
        {
            **SimpleMetadata.label_lookup.mapping,
            serializers.PrimaryKeyRelatedField: "pk field",  # type: ignore[dict-item]
        }
    )

    def determine_metadata(self, request: Request, view: APIView) -> dict[str, Any]:
        if not isinstance(view, GenericAPIView):
            raise ImproperlyConfigured(f"{type(self).__name__} describes list views only.")
        return {
            "name": self.get_name(request, view),
            "renders": [
                renderer.media_type
                for renderer in view.renderer_classes
                if not issubclass(renderer, BrowsableAPIRenderer)
            ],
            "parses": [parser.media_type for parser in view.parser_classes],
            "actions": {"GET": self.get_serializer_info(view.get_serializer())},
            "filters": self.get_filters_info(view),
        }

    @staticmethod
    def get_name(request: Request, view: APIView) -> str:
        """The URL pattern's name (e.g. ``list-simple``), else DRF's view name."""
        url_name = getattr(request.resolver_match, "url_name", None)
        return url_name or view.get_view_name()

    def get_filters_info(self, view: GenericAPIView) -> list[dict[str, Any]]:
        filterset_class = DjangoFilterBackend().get_filterset_class(view, view.get_queryset())
        if filterset_class is None:
            return []
        return describe_filterset(filterset_class)


def describe_filterset(filterset_class: type[FilterSet]) -> list[dict[str, Any]]:
    """One entry per filter, in declaration order, or per field for ``grouped`` fields."""
    options: FilterOptions = getattr(filterset_class, "options", FilterOptions())
    entries: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for filter_ in filterset_class.base_filters.values():
        if filter_.field_name in groups:
            groups[filter_.field_name]["lookup_expr"].append(filter_.lookup_expr)
            continue
        entry = describe_filter(filter_, options)
        entries.append(entry)
        if filter_.field_name in options.grouped:
            groups[filter_.field_name] = entry
    return entries


def describe_filter(filter_: Filter, options: FilterOptions) -> dict[str, Any]:
    return {
        "label": force_str(filter_.label),
        "field_name": filter_.field_name,
        "type": options.types.get(filter_.field_name) or FILTER_TYPES[filter_.field],
        "lookup_expr": [filter_.lookup_expr],
        "extra": {name: value for name, value in filter_.extra.items() if is_data(value)},
    }


def is_data(value: Any) -> bool:
    """Whether a filter's ``extra`` value is data a client can read (text, numbers, choices),
    not a rendering or query detail (a widget class, a queryset) JSON cannot hold."""
    if isinstance(value, list | tuple):
        return all(is_data(item) for item in value)
    if isinstance(value, dict):
        return all(is_data(item) for item in value.values())
    return value is None or isinstance(value, str | int | float | bool | Promise)
