"""Cursor pages: positions in a list's total order, carried by signed, opaque cursors.

A cursor names the last row a page delivered (its sort key values, the sort itself and a
direction), signed with ``SECRET_KEY``: a client cannot forge or alter one, and one made
for another sort is refused. The next page is the rows *after* that row in the order,
whatever happened to the rows before it, so following ``next`` under concurrent inserts,
updates and deletes never skips a row that exists throughout. Page numbers cannot promise
that: a row changed or deleted on a page already read moves every later row up a place.

Two rules make the walk safe:

- The order starts with the primary key, which never changes, or with the list's
  ``settled_field`` (the stamp of changes, ``modified_date``) ascending: a row that
  changes gets a later stamp and moves *ahead* of the cursor, never behind it. Any other
  order could move a row behind the cursor unseen, and is refused.
- Ordered by the stamp, a page holds only rows stamped before the settled horizon
  (``oms.db.changes.settled_before``): a row stamped before it that is not visible yet never
  will be, so no position handed out can be passed by a late commit. A tool resuming
  from the last ``modified_date`` it received needs no lookback of its own.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any

from django.core import signing
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field, Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

from oms.db.changes import settled_before

CURSOR_PARAM = "cursor"
# What a request that starts a walk gives as its cursor: nothing, or this word, for clients
# that drop a parameter with an empty value (Airbyte's declarative requester does).
CURSOR_STARTS = ("", "start")


def cursor_error(message: str) -> ValidationError:
    return ValidationError({CURSOR_PARAM: [message]})


@dataclass(frozen=True)
class OrderKey:
    """One column of an order: a model field's name and its direction."""

    name: str
    descending: bool

    @property
    def spelled(self) -> str:
        return f"-{self.name}" if self.descending else self.name


def order_keys(queryset: QuerySet) -> list[OrderKey]:
    """The queryset's order up to its first primary key column (which makes it total)."""
    meta = queryset.model._meta
    ordering = queryset.query.order_by or meta.ordering
    keys = []
    for item in ordering:
        if not isinstance(item, str):
            raise ImproperlyConfigured("Cursor pages need an order of field names.")
        descending = item.startswith("-")
        name = item.lstrip("-")
        name = meta.pk.name if name == "pk" else name
        field = model_field(queryset, name)
        if field.null:
            raise ImproperlyConfigured(f"Cursor pages cannot order by the nullable {name!r}.")
        keys.append(OrderKey(name, descending))
        if field.primary_key:
            return keys
    raise ImproperlyConfigured("Cursor pages need an order that ends on the primary key.")


def model_field(queryset: QuerySet, name: str) -> Field:
    try:
        return queryset.model._meta.get_field(name)
    except FieldDoesNotExist as error:
        raise ImproperlyConfigured(f"Cursor pages cannot order by {name!r}.") from error


@dataclass(frozen=True)
class Position:
    """Where a cursor page starts: after (or, ``backwards``, before) the row whose sort
    key values are ``values``; no values: the start of the list."""

    keys: tuple[OrderKey, ...]
    values: tuple[Any, ...] = ()
    backwards: bool = False

    @property
    def sort(self) -> str:
        return ",".join(key.spelled for key in self.keys)


class CursorCodec:
    """Positions to cursors and back, signed for one model's lists."""

    def __init__(self, queryset: QuerySet) -> None:
        self.queryset = queryset
        self.salt = f"oms.cursor:{queryset.model._meta.label_lower}"

    def encode(self, position: Position) -> str:
        if not position.values:
            return ""  # the start
        payload: dict[str, Any] = {
            "o": position.sort,
            "v": [
                value.isoformat() if isinstance(value, datetime) else value
                for value in position.values
            ],
        }
        if position.backwards:
            payload["b"] = 1
        return signing.dumps(payload, salt=self.salt, compress=True)

    def decode(self, cursor: str, keys: Sequence[OrderKey]) -> Position:
        """The position of ``cursor`` in a list ordered by ``keys``; "" is the start."""
        start = Position(tuple(keys))
        if cursor == "":
            return start
        try:
            payload = signing.loads(cursor, salt=self.salt)
            sort, raw_values, backwards = payload["o"], payload["v"], bool(payload.get("b"))
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            raise cursor_error(
                "Not a cursor of this list: pass on the one a page's next or previous link "
                "gives, or an empty cursor to start."
            ) from None
        if sort != start.sort:
            raise cursor_error(
                f"This cursor continues the order sort={sort}; the request asks "
                f"sort={start.sort}. Keep the other parameters of the link it came with."
            )
        if not raw_values:
            return start
        try:
            values = tuple(
                model_field(self.queryset, key.name).to_python(value)
                for key, value in zip(start.keys, raw_values, strict=True)
            )
        except (DjangoValidationError, ValueError):  # signed by another version of the list
            raise cursor_error("This cursor is no longer valid: start again.") from None
        return Position(start.keys, values, backwards)


def cursor_parameter(description: str) -> dict[str, Any]:
    """The OpenAPI query parameter ``cursor``: empty is a value of its own (the start)."""
    return {
        "name": CURSOR_PARAM,
        "in": "query",
        "required": False,
        "allowEmptyValue": True,
        "schema": {"type": "string"},
        "description": description,
    }


def cursor_url(request: Request, cursor: str, drop: Sequence[str] = ()) -> str:
    """The request's URL with ``cursor`` as its cursor, without the parameters ``drop``,
    every other parameter kept."""
    url = request.build_absolute_uri()
    for name in drop:
        url = remove_query_param(url, name)
    return replace_query_param(url, CURSOR_PARAM, cursor)


def requested_cursor(request: Request) -> str:
    """The request's cursor: "" (the start) unless it gives one. A client that adds its
    first request's ``cursor=`` to a next link it follows (some connectors merge their
    parameters into it) continues from the link's cursor."""
    given = {
        value for value in request.query_params.getlist(CURSOR_PARAM) if value not in CURSOR_STARTS
    }
    if len(given) > 1:
        raise cursor_error("Give one cursor.")
    return given.pop() if given else ""


def request_position(queryset: QuerySet, request: Request) -> Position:
    """Where the request's cursor puts it in ``queryset``'s order (the start without one)."""
    return CursorCodec(queryset).decode(requested_cursor(request), order_keys(queryset))


def after(position: Position, *, reverse: bool = False) -> Q:
    """Rows strictly after ``position`` in its order (before it, ``reverse``).

    ``(a, b) > (x, y)`` as ``a >= x AND (a > x OR (a = x AND b > y))``: the leading bound
    lets the database start an index scan at the position, portably.
    """
    steps = []
    equal = Q()
    for key, value in zip(position.keys, position.values, strict=True):
        lookup = "lt" if key.descending != reverse else "gt"
        steps.append(equal & Q(**{f"{key.name}__{lookup}": value}))
        equal &= Q(**{key.name: value})
    first = position.keys[0]
    bound = "lte" if first.descending != reverse else "gte"
    return Q(**{f"{first.name}__{bound}": position.values[0]}) & reduce(operator.or_, steps)


@dataclass
class CursorPage:
    """A cursor page's rows and the positions of its neighbours (None: no such page)."""

    rows: list[Any]
    next: Position | None
    previous: Position | None


class KeysetPaginator:
    """Cursor pages of a filtered, ordered queryset of row tuples.

    ``columns`` names the model field behind each column of a row, so that a row's
    sort key values can be read from it; ``settled_field`` is the list's stamp of changes
    (None: the list has none, and an order by the primary key is the only safe one).
    """

    def __init__(
        self,
        queryset: QuerySet,
        columns: Sequence[str],
        settled_field: str | None,
    ) -> None:
        self.queryset = queryset
        self.keys = order_keys(queryset)
        self.settled_field = settled_field
        self.codec = CursorCodec(queryset)
        meta = queryset.model._meta
        self.key_columns = [
            list(columns).index(meta.get_field(key.name).attname) for key in self.keys
        ]

    def holds_back(self) -> bool:
        """Whether pages hold settled rows only (the order starts with the stamp). An
        order a cursor cannot follow safely is a 400."""
        first = self.keys[0]
        pk = self.queryset.model._meta.pk.name
        if first.name == pk:
            return False
        if first.name == self.settled_field and not first.descending:
            return True
        safe = [pk, f"-{pk}", *([self.settled_field] if self.settled_field else [])]
        raise cursor_error(
            f"Cursor pages follow sort={' or sort='.join(safe)}: in the order "
            f"sort={Position(tuple(self.keys)).sort} a row that changes during the walk "
            "could move behind the cursor unseen."
        )

    def settled(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` without the rows stamped after the settled horizon, if the order
        needs it (``holds_back``)."""
        if not self.holds_back():
            return queryset
        return queryset.filter(**{f"{self.settled_field}__lt": settled_before(queryset.db)})

    def page(self, cursor: str, size: int) -> CursorPage:
        position = self.codec.decode(cursor, self.keys)  # decoded first: a bad one is a 400
        rows = self.settled(self.queryset)
        if position.values:
            rows = rows.filter(after(position, reverse=position.backwards))
        if position.backwards:
            rows = rows.reverse()
        fetched = list(rows[: size + 1])
        more = len(fetched) > size
        del fetched[size:]
        if position.backwards:
            fetched.reverse()
        if not fetched:
            # Nothing after the position (the end: no next page), or nothing before it
            # (back to the start).
            start = Position(position.keys)
            return CursorPage(fetched, start if position.backwards else None, None)
        first, last = self.position_of(fetched[0]), self.position_of(fetched[-1])
        before_first = Position(first.keys, first.values, backwards=True)
        if position.backwards:
            return CursorPage(fetched, last, before_first if more else None)
        return CursorPage(
            fetched, last if more else None, before_first if position.values else None
        )

    def position_of(self, row: Sequence[Any]) -> Position:
        return Position(tuple(self.keys), tuple(row[index] for index in self.key_columns))

    def span(self, cursor: str) -> tuple[QuerySet, Position]:
        """Every row after ``cursor``'s position, up to the last row there is now (settled
        ones only, in the stamp's order), and where to continue after them: a download of
        the rest of the list that says, before its first byte, where it will end."""
        position = self.codec.decode(cursor, self.keys)
        if position.backwards:
            raise cursor_error("A download goes forwards: use a next link's cursor.")
        rows = self.settled(self.queryset)
        if position.values:
            rows = rows.filter(after(position))
        last_row = rows.reverse().first()  # one indexed probe
        if last_row is None:  # none yet; any arriving meanwhile the next download repeats
            return rows, position
        last = self.position_of(last_row)
        return rows.exclude(after(last)), last
