"""Filter building blocks for OMS FilterSets, and how a FilterSet describes itself in OPTIONS."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters import rest_framework
from django_filters.fields import IsoDateTimeField
from rest_framework.request import Request

from oms.internals import FilterCopies, FreshFields

if TYPE_CHECKING:  # the views import this module
    from oms.api.views import ListAPIView

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Django's and DRF's integer fields drop a ".0" suffix before parsing ("1.0" is 1). Set as
# their ``re_decimal``, this pattern matches nothing: a whole number is written as the
# schema's integers are, and "1.0" is refused like "1.5".
NO_DECIMAL_SUFFIX = re.compile(r"(?!)")


class BoundedIntegerField(forms.IntegerField):
    """A whole number that fits a 64-bit column.

    ``1.5``, ``1.0`` and ``1e400`` are invalid, and so is a number too large for the
    database: SQLite would otherwise raise ``OverflowError`` (a 500) while binding it.
    """

    re_decimal = NO_DECIMAL_SUFFIX

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", INT64_MIN)
        kwargs.setdefault("max_value", INT64_MAX)
        super().__init__(**kwargs)


class IntegerFilter(django_filters.Filter):
    """Integer filter; django-filter's ``NumberFilter`` would accept decimals."""

    field_class = BoundedIntegerField


# A datetime whose offset lost its "+": in a query string an unencoded "+" is a space.
SPACE_FOR_PLUS_OFFSET = re.compile(
    r"(?P<datetime>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)"
    r" (?P<offset>\d{2}(?::?\d{2})?)",
    re.ASCII,
)


def restore_offset_sign(value: str) -> str:
    """``2023-09-01T12:00:00 03:00`` becomes ``2023-09-01T12:00:00+03:00``.

    Clients that put an offset in a URL without encoding its ``+`` as ``%2B`` send a
    space instead. Only a single space standing exactly where the sign would be (after
    a complete time, before ``HH:MM``, ``HHMM`` or ``HH``) is taken for a lost ``+``;
    anything else is left to the parser to accept or refuse.
    """
    match = SPACE_FOR_PLUS_OFFSET.fullmatch(value.strip())
    return f"{match['datetime']}+{match['offset']}" if match else value


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 datetime (``Z``, an offset, or a date for 00:00) that exists in UTC,
    given to the query in UTC.

    ``9999-12-31T23:59:59-01:00`` parses, but its UTC instant is past year 9999: the
    conversion to UTC raises ``OverflowError``, and the value is invalid. Offsets up to
    ±23:59 are valid ISO 8601 and Python, but PostgreSQL refuses one beyond ±15:59
    (``time zone displacement out of range``, a 500) when the datetime is sent with it:
    in UTC, every offset is fine.
    An offset whose ``+`` arrived as a space is repaired (:func:`restore_offset_sign`).
    """

    def to_python(self, value: Any) -> datetime | None:
        if isinstance(value, str):
            value = restore_offset_sign(value)
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class SortFilter(django_filters.OrderingFilter):
    """``OrderingFilter`` that ends every ordering on the primary key.

    Rows sharing a sort value (e.g. ``modified_date``) would otherwise come back in any
    order, and consecutive pages could repeat or skip them. The tie-breaker follows the
    direction of the last sort key so that one composite index serves both directions.
    """

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        ordering = [self.get_ordering_value(param) for param in value or () if param]
        if not ordering:
            return qs
        pk = qs.model._meta.pk.name
        if not {pk, "pk"} & {key.lstrip("-") for key in ordering}:
            direction = "-" if ordering[-1].startswith("-") else ""
            ordering.append(f"{direction}{pk}")
        return qs.order_by(*ordering)


@dataclass(frozen=True)
class FilterOptions:
    """Where a FilterSet's OPTIONS entries depart from what its filters imply.

    ``types`` names the type shown for a field (by ``field_name``), instead of the one
    derived from the filter's form field. ``grouped`` lists field names whose lookups
    form a single entry with every lookup in ``lookup_expr``; the entry takes the label
    of the field's first filter.
    """

    types: Mapping[str, str] = field(default_factory=dict)
    grouped: Sequence[str] = ()


class FilterForm(forms.Form):
    """A filter form that cleans only the fields the query string gives (and required
    ones): a request names one or two of a list's dozen or more filters, and cleaning an
    absent one only finds it empty, which every filter ignores. The form keeps all its
    fields for rendering (the browsable API's filter form); ``cleaned_data`` holds the
    given ones."""

    def full_clean(self) -> None:
        fields = self.fields
        self.fields = {
            name: field
            for name, field in fields.items()
            if field.required
            or not field.widget.value_omitted_from_data(
                self.data, self.files, self.add_prefix(name)
            )
        }
        try:
            super().full_clean()
        finally:
            self.fields = fields


# The form class of each FilterSet class: see FilterSet.get_form_class.
FORM_CLASSES: dict[type[rest_framework.FilterSet], type[forms.Form]] = {}


class FilterSet(rest_framework.FilterSet):
    """django-filter's FilterSet without the copies it makes per request (a request builds
    one FilterSet and one form: see FilterCopies, FreshFields and get_form_class), validating the
    filters a request gives (FilterForm). Subclasses that declare ``Meta`` derive it from
    ``FilterSet.Meta``."""

    class Meta:
        form = FilterForm

    @classmethod
    def get_filters(cls) -> FilterCopies:
        return FilterCopies(super().get_filters())

    def get_form_class(self) -> type[forms.Form]:
        """The form class of this FilterSet class, made once: its fields come from the
        class's filters and serve every form (``FreshFields``), so they must not depend
        on the request. Making the class and its fields again cost a fifth of a small
        request's Python."""
        form_class = FORM_CLASSES.get(type(self))
        if form_class is None:
            form_class = super().get_form_class()
            form_class.base_fields = FreshFields(form_class.base_fields)
            FORM_CLASSES[type(self)] = form_class
        return form_class


class FilterBackend(rest_framework.DjangoFilterBackend):
    """django-filter's backend, filtering with the FilterSet the view built for the
    request (``oms.api.views.ListAPIView.filterset``), validated once (``view.scope``):
    the view, its counters and its 410 checks read the cleaned filters again without
    building and validating a second FilterSet, which costs about as much as the rest of
    a small request's Python."""

    def get_filterset(
        self, request: Request, queryset: QuerySet, view: ListAPIView
    ) -> rest_framework.FilterSet | None:
        return view.filterset

    def filter_queryset(self, request: Request, queryset: QuerySet, view: ListAPIView) -> QuerySet:
        view.scope  # noqa: B018 (validates the filters: a 400 naming each invalid one)
        filterset = view.filterset
        return queryset if filterset is None else filterset.filter_queryset(queryset)
