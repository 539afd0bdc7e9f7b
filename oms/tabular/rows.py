"""List rows as database tuples, formatted as the serializer would, without the serializer.

A ModelSerializer builds a model instance per row and calls each field's
``to_representation``: most of a page's time in Python. :class:`RowSerializer` reads the
serializer's fields once, fetches ``values_list`` tuples in field order and formats each
column with one function chosen from the field's type. The serializer stays what OPTIONS,
metadata and the OpenAPI schema describe; only plain model fields and primary-key
relations are supported, which is what a flat list endpoint has.

Rows travel as a :class:`RowBatch`: the tuples, their serializer, and what their datetime
columns hold (objects, or the API's text when the database wrote it). Renderers ask the
batch for the values they write (:meth:`RowBatch.api_values`, :meth:`RowBatch.native_values`)
and never guess from the data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import connections
from django.db.models import CharField, F, Func, Model, QuerySet
from django.db.models import Field as ModelField
from rest_framework import serializers
from rest_framework.settings import api_settings

Formatter = Callable[[Any], Any]

# The format the fast path writes; a field with another one keeps DRF's formatting.
FAST_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_datetime(value: datetime | str | None) -> str | None:
    """``value`` in UTC as ``2023-10-06T08:42:53.427023Z`` (what ``FAST_DATETIME_FORMAT``
    gives through DRF), without DRF's per-call field and time zone lookups. Naive
    values are UTC, the current time zone of the API; text is a value the database
    formatted already (``RowSerializer.values``)."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if value.year < 1000:  # strftime writes such years unpadded; isoformat pads them
        return value.strftime(FAST_DATETIME_FORMAT)
    return value.isoformat(timespec="microseconds") + "Z"


def parse_utc_text(value: str | None) -> datetime | None:
    """:func:`format_datetime`'s text as a naive UTC datetime. Years before 1000 come
    unpadded (as DRF writes them): padded again to the 26 characters of the format."""
    if value is None:
        return None
    return datetime.fromisoformat(value.removesuffix("Z").rjust(26, "0"))


def formatter_for(field: serializers.Field) -> Formatter | None:
    """How a column of ``field`` is written in JSON and CSV; None: as the database gives it."""
    if isinstance(field, serializers.DateTimeField):
        output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
        zone = getattr(field, "timezone", None) or field.default_timezone()
        if output_format == FAST_DATETIME_FORMAT and str(zone) in ("None", "UTC"):
            return format_datetime
        return field.to_representation  # another format: DRF's own, still per column
    return None


class Datetimes(Enum):
    """What the datetime columns of a batch of rows hold."""

    OBJECTS = "objects"  # datetimes, as the database driver loads them
    TEXT = "text"  # the API's text (FAST_DATETIME_FORMAT), written by the database


# Serializer fields whose values are never text: spreadsheet safety skips their columns.
NUMBER_FIELDS = (serializers.IntegerField, serializers.PrimaryKeyRelatedField)
NEVER_TEXT = (
    *NUMBER_FIELDS,
    serializers.FloatField,
    serializers.BooleanField,
    serializers.DateTimeField,
)


class RowSerializer:
    """A list serializer's rows as tuples: the columns to fetch and how to format them."""

    def __init__(self, serializer: serializers.ModelSerializer) -> None:
        model = serializer.Meta.model
        fields = serializer.fields
        self.header: list[str] = list(fields)
        self.fields: list[serializers.Field] = list(fields.values())
        self.columns: list[str] = [column_of(model, name, field) for name, field in fields.items()]
        self.formatters: list[Formatter | None] = [formatter_for(f) for f in fields.values()]
        # The columns that may hold text, which spreadsheet safety looks at
        # (oms.tabular.formulas): every one but numbers, booleans and datetimes.
        self.text_columns: list[int] = [
            index for index, field in enumerate(self.fields) if not isinstance(field, NEVER_TEXT)
        ]
        # The datetime columns in the API's own format, which PostgreSQL can write as text.
        self.fast_datetimes: list[int] = [
            index for index, formatter in enumerate(self.formatters) if formatter is format_datetime
        ]
        self.sql_formatted: list[str | Func] = [
            Func(
                F(column), template=SQL_DATETIME.format("%(expressions)s"), output_field=CharField()
            )
            if index in self.fast_datetimes
            else column
            for index, column in enumerate(self.columns)
        ]

    def values(self, queryset: QuerySet, *, text: bool = False) -> tuple[QuerySet, Datetimes]:
        """``queryset`` as tuples in field order, and what its datetime columns hold.

        With ``text``, PostgreSQL writes the datetimes as the API's text: turning a
        timestamp's text into a datetime (psycopg) and back into text was most of the
        Python time of a 1,000-row page. Other databases give datetime objects.
        """
        if text and self.fast_datetimes and connections[queryset.db].vendor == "postgresql":
            return queryset.values_list(*self.sql_formatted), Datetimes.TEXT
        return queryset.values_list(*self.columns), Datetimes.OBJECTS


@dataclass(frozen=True)
class RowBatch:
    """Rows as tuples in the columns of ``serializer``: a page's (a list) or an export's
    (an iterator, read once), saying what their datetime columns hold."""

    serializer: RowSerializer
    rows: Iterable[tuple[Any, ...]]
    datetimes: Datetimes = Datetimes.OBJECTS

    @property
    def header(self) -> list[str]:
        return self.serializer.header

    def api_values(self) -> Iterator[tuple[Any, ...]]:
        """Each row as the serializer would represent it: JSON and CSV values."""
        done = self.serializer.fast_datetimes if self.datetimes is Datetimes.TEXT else ()
        formatters = [
            (index, formatter)
            for index, formatter in enumerate(self.serializer.formatters)
            if formatter is not None and index not in done
        ]
        if not formatters:
            yield from self.rows
            return
        for row in self.rows:
            cells = list(row)
            for index, formatter in formatters:
                cells[index] = formatter(cells[index])
            yield tuple(cells)

    def native_values(self) -> Iterator[tuple[Any, ...]]:
        """Each row with datetimes as datetimes (the database's text parsed again, as naive
        UTC: ``fromisoformat`` is several times cheaper than psycopg's loading of a
        timestamp), for workbooks."""
        if self.datetimes is Datetimes.OBJECTS:
            yield from self.rows
            return
        columns = self.serializer.fast_datetimes
        for row in self.rows:
            cells = list(row)
            for index in columns:
                cells[index] = parse_utc_text(cells[index])
            yield tuple(cells)

    def as_dicts(self) -> list[dict[str, Any]]:
        """The rows as the serializer's dicts (the JSON page's ``results``)."""
        header = self.header
        return [dict(zip(header, row, strict=True)) for row in self.api_values()]


def column_of(model: type[Model], name: str, field: serializers.Field) -> str:
    """The database column behind a flat serializer field (``channel`` -> ``channel_id``)."""
    source = field.source or name
    if "." in source or source == "*":
        raise ImproperlyConfigured(f"RowSerializer cannot fetch the nested field {name!r}.")
    try:
        model_field = model._meta.get_field(source)
    except FieldDoesNotExist:
        model_field = None
    if not isinstance(model_field, ModelField):  # missing, or a reverse relation
        raise ImproperlyConfigured(f"RowSerializer supports model fields only, not {name!r}.")
    return model_field.attname


# to_char pads years to four digits, where strftime (DRF) writes years before 1000
# unpadded: hence ltrim, for those years only (on every row it cost a third of to_char's
# time, a tenth of a full export's).
SQL_UTC_TEXT = "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
SQL_DATETIME = (
    f"CASE WHEN {{0}} >= '1000-01-01T00:00:00Z' THEN {SQL_UTC_TEXT} "
    f"ELSE ltrim({SQL_UTC_TEXT}, '0') END"
)
