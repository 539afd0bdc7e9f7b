"""List rows as database tuples, formatted as the serializer would, without the serializer.

A ModelSerializer builds a model instance per row and calls each field's
``to_representation``: most of a page's time in Python. :class:`RowSerializer` reads the
serializer's fields once, fetches ``values_list`` tuples in field order and formats each
column with one function chosen from the field's type. The serializer stays what OPTIONS,
metadata and the OpenAPI schema describe; only plain model fields and primary-key
relations are supported, which is what a flat list endpoint has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import connections
from django.db.models import CharField, F, Func, QuerySet
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


def naive_utc(value: datetime | None) -> datetime | None:
    """``value`` as a naive UTC datetime: spreadsheets have no time zones."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def formatter_for(field: serializers.Field) -> Formatter | None:
    """How a column of ``field`` is written in JSON and CSV; None: as the database gives it."""
    if isinstance(field, serializers.DateTimeField):
        output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
        zone = getattr(field, "timezone", None) or field.default_timezone()
        if output_format == FAST_DATETIME_FORMAT and str(zone) in ("None", "UTC"):
            return format_datetime
        return field.to_representation  # another format: DRF's own, still per column
    return None


class RowSerializer:
    """A list serializer's rows as tuples: the columns to fetch and how to format them."""

    def __init__(self, serializer: serializers.Serializer) -> None:
        model = serializer.Meta.model
        fields = serializer.fields
        self.header: list[str] = list(fields)
        self.fields: list[serializers.Field] = list(fields.values())
        self.columns: list[str] = [column_of(model, name, field) for name, field in fields.items()]
        self.formatters: list[Formatter | None] = [formatter_for(f) for f in fields.values()]
        # The columns that may hold text, which spreadsheet safety looks at (oms.tabular.renderers):
        # every one but numbers, booleans and datetimes.
        self.text_columns: list[int] = [
            index for index, field in enumerate(self.fields) if not isinstance(field, NEVER_TEXT)
        ]
        # The columns PostgreSQL can give as the API writes them: datetimes as text.
        self.sql_formatted: list[str | Func] = [
            Func(
                F(column), template=SQL_DATETIME.format("%(expressions)s"), output_field=CharField()
            )
            if formatter is format_datetime
            else column
            for column, formatter in zip(self.columns, self.formatters, strict=True)
        ]

    def values(self, queryset: QuerySet, *, formatted: bool = False) -> QuerySet:
        """``queryset`` as tuples in field order.

        With ``formatted``, PostgreSQL writes datetimes as the API's text: turning a
        timestamp's text into a datetime (psycopg) and back into text was most of the
        Python time of a 1,000-row page. Spreadsheets want the datetimes themselves.
        """
        if formatted and connections[queryset.db].vendor == "postgresql":
            return queryset.values_list(*self.sql_formatted)
        return queryset.values_list(*self.columns)

    def format(self, rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        """Each row as the serializer would represent it (JSON and CSV values).

        Columns the database formatted already (``values(formatted=True)``: text where a
        datetime was due) are passed through: a column holds one type in every row.
        """
        rows = iter(rows)
        first = next(rows, None)
        if first is None:
            return
        rows = chain((first,), rows)
        done = self.formatted_columns(first)
        formatters = [(i, f) for i, f in enumerate(self.formatters) if f and i not in done]
        if not formatters:
            yield from rows
            return
        for row in rows:
            cells = list(row)
            for index, formatter in formatters:
                cells[index] = formatter(cells[index])
            yield tuple(cells)

    def formatted_columns(self, row: tuple[Any, ...]) -> list[int]:
        """The datetime columns of ``row`` (and of every row of its query: a column holds
        one type) that the database wrote as text (``values(formatted=True)``)."""
        return [
            index
            for index, formatter in enumerate(self.formatters)
            if formatter is format_datetime and isinstance(row[index], str)
        ]

    def native(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``rows`` with the datetimes the database wrote as text parsed again, as naive
        UTC datetimes, for workbooks: ``fromisoformat`` is several times cheaper than
        psycopg's loading of a timestamp."""
        columns = self.formatted_columns(rows[0]) if rows else []
        if not columns:
            return rows
        native = []
        for row in rows:
            cells = list(row)
            for index in columns:
                cells[index] = parse_utc_text(cells[index])
            native.append(tuple(cells))
        return native

    def as_dicts(self, rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """Formatted rows as the serializer's dicts (the JSON page's ``results``)."""
        header = self.header
        return [dict(zip(header, row, strict=True)) for row in self.format(rows)]


def column_of(model: type, name: str, field: serializers.Field) -> str:
    """The database column behind a flat serializer field (``channel`` -> ``channel_id``)."""
    source = field.source or name
    if "." in source or source == "*":
        raise ImproperlyConfigured(f"RowSerializer cannot fetch the nested field {name!r}.")
    try:
        return model._meta.get_field(source).attname
    except FieldDoesNotExist as error:
        raise ImproperlyConfigured(
            f"RowSerializer supports model fields only, not {name!r}."
        ) from error


class TupleRows:
    """Rows as database tuples with their :class:`RowSerializer`: what tabular renderers
    write from directly, without going through dicts."""

    def __init__(self, row_serializer: RowSerializer, tuples: Iterable[tuple[Any, ...]]) -> None:
        self.row_serializer = row_serializer
        self.tuples = tuples

    @property
    def header(self) -> list[str]:
        return self.row_serializer.header

    def formatted(self) -> Iterator[tuple[Any, ...]]:
        return self.row_serializer.format(self.tuples)


class TabularRows(list, TupleRows):
    """A page's rows as the tuples alone, for CSV and XLS, which write from them: no
    serializer dicts. A list, as djangorestframework-csv renders lists only."""

    def __init__(self, row_serializer: RowSerializer, tuples: list[tuple[Any, ...]]) -> None:
        list.__init__(self, tuples)
        TupleRows.__init__(self, row_serializer, tuples)


class Rows(list, TupleRows):
    """A page's rows: the serializer's dicts (JSON, the browsable API), keeping the
    tuples they were made from for CSV and XLS."""

    def __init__(self, row_serializer: RowSerializer, tuples: list[tuple[Any, ...]]) -> None:
        list.__init__(self, row_serializer.as_dicts(tuples))
        TupleRows.__init__(self, row_serializer, tuples)


# Serializer fields whose database values PostgreSQL's COPY writes as the API does, given
# the SQL below.
TEXT_FIELDS = (serializers.CharField,)  # EmailField, SlugField... included
NUMBER_FIELDS = (serializers.IntegerField, serializers.PrimaryKeyRelatedField)
NEVER_TEXT = (
    *NUMBER_FIELDS,
    serializers.FloatField,
    serializers.BooleanField,
    serializers.DateTimeField,
)
# to_char pads years to four digits, where strftime (DRF) writes years before 1000
# unpadded: hence ltrim, for those years only (on every row it cost a third of to_char's
# time, a tenth of a full export's).
SQL_UTC_TEXT = "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
SQL_DATETIME = (
    f"CASE WHEN {{0}} >= '1000-01-01T00:00:00Z' THEN {SQL_UTC_TEXT} "
    f"ELSE ltrim({SQL_UTC_TEXT}, '0') END"
)
# ascii() of the first character: cheaper than comparing a substring with each trigger.
# Text starting with the mark (39, ') and then a trigger or the mark is marked too, as
# oms.tabular.formulas.neutralise_formula does.
SQL_TEXT = (
    "CASE WHEN ascii({0}) IN ({1}) OR ascii({0}) = 39 AND ascii(substr({0}, 2, 1)) IN ({1}, 39) "
    "THEN '''' || {0} ELSE nullif({0}, '') END"
)


def copy_select(row_serializer: RowSerializer, triggers: tuple[str, ...]) -> str | None:
    """The SELECT list that formats a :class:`RowSerializer`'s columns ``c0``, ``c1``...
    in SQL as the fast path does in Python: datetimes in UTC with six fractional digits,
    text starting with one of the one-character ``triggers``
    neutralised with a leading ``'``, and empty text as NULL (COPY would quote it). None
    when a column is of a type not covered here: the rows are formatted in Python then.
    """
    codes = ", ".join(str(ord(trigger)) for trigger in triggers)
    expressions = []
    for index, field in enumerate(row_serializer.fields):
        column = f"c{index}"
        if isinstance(field, serializers.DateTimeField):
            if row_serializer.formatters[index] is not format_datetime:
                return None
            expressions.append(SQL_DATETIME.format(column))
        elif isinstance(field, TEXT_FIELDS):
            expressions.append(SQL_TEXT.format(column, codes))
        elif isinstance(field, NUMBER_FIELDS):
            expressions.append(column)
        else:
            return None
    return ", ".join(expressions)
