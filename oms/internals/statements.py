"""SQL compiled once per shape of query and reused with each request's values.

Building a list query's SQL (Django's ``SQLCompiler.as_sql``: the select list, the
ordering, the joins, the WHERE clause) cost a small request, one customer by e-mail,
about a sixth of its Python. The same few shapes come back on every request, only the
filter values differ: ``ReusedStatementQuery`` compiles through ``ReusingCompiler``,
which keeps the SQL of a shape and puts each new request's values in its parameters.

What may be reused is decided conservatively, and checked, never assumed:

- A shape is everything about the query but its filter values (``shape``): model,
  selected columns and annotations, joins, ordering, slice, and the WHERE tree with
  each condition's lookup, column and type of value (a boolean's value too). A query
  with anything else (subqueries, ``extra``, DISTINCT, locks, unions, a lookup not
  Django's own or on a transform, a value that is not a plain scalar, such as a list
  for ``__in``, or None) has no shape and is compiled every time.
- A value must appear in the parameters as the very object given (``is``), exactly once:
  a value Django rewrites (``icontains`` wraps it in ``%``, a field converts it) is not
  found, and the shape is compiled every time.
- Before a template is kept, a probe of the same shape with other values (``probes``) is
  compiled too, and the template must give exactly its SQL and parameters.
- A template is made the second time a shape is seen: shapes seen once (each page of
  an export read page by page) cost no probe.

``tests/test_statements.py`` checks the rows and counts of every kind of shape against
Django's own, so that a Django upgrade that changes the compiler fails there.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.db import connections
from django.db.models.expressions import Col
from django.db.models.lookups import Lookup
from django.db.models.sql import Query
from django.db.models.sql.compiler import SQLCompiler
from django.db.models.sql.where import WhereNode

# The types whose values become one parameter each, and a different value of each (the
# probe): never equal to the given one, and a new object.
PROBES = {
    str: lambda value: f"{value}\x1fprobe",
    int: lambda value: value + 7919,
    Decimal: lambda value: value + 1,
    datetime.datetime: lambda value: value + datetime.timedelta(microseconds=1),
    datetime.date: lambda value: value + datetime.timedelta(days=1),
    uuid.UUID: lambda value: uuid.uuid4(),
}
# Django's own lookups: none writes its SQL by the value (None, booleans and "" aside).
BUILT_IN_LOOKUPS = Lookup.__module__
MAX_TEMPLATES = 1000  # shapes kept per process; the cache starts again when full


class NoShape(Exception):
    """The query holds something that is not reused (see the module's docstring)."""


def where_shape(node: Any, values: list[Any]) -> tuple[Any, ...]:
    """The shape of a WHERE tree; its values appended to ``values`` in tree order. A
    boolean is part of the shape (``isnull=True`` and ``=False`` are different SQL)."""
    if isinstance(node, WhereNode):
        children = tuple(where_shape(child, values) for child in node.children)
        return (node.connector, node.negated, children)
    if (
        not isinstance(node, Lookup)
        or type(node).__module__ != BUILT_IN_LOOKUPS  # others may write SQL by the value
        or type(node.lhs) is not Col
        or node.rhs == ""  # Oracle writes IS NULL for it: SQL that depends on the value
    ):
        raise NoShape
    column = (type(node), node.lhs.alias, node.lhs.target, node.lhs.output_field)
    if type(node.rhs) is bool:
        return (*column, node.rhs)
    if type(node.rhs) not in PROBES:
        raise NoShape
    values.append(node.rhs)
    return (*column, type(node.rhs))


def shape(query: Query, values: list[Any]) -> tuple[Any, ...]:
    """Everything that makes the SQL of ``query`` but its filter values, which are
    appended to ``values``."""
    if (
        query.subquery
        or query.combinator
        or query.distinct
        or query.extra
        or query.select_for_update
        or query.select_related
        or query.group_by is not None
        or query.extra_order_by
        or query.deferred_loading != (frozenset(), True)
    ):
        raise NoShape
    return (
        query.model,
        query.default_cols,
        query.values_select,
        tuple(query.select),
        tuple(query.annotation_select.items()),
        tuple(query.alias_map.items()),
        tuple(query.alias_refcount.items()),
        query.order_by,
        query.default_ordering,
        query.standard_ordering,
        query.low_mark,
        query.high_mark,
        where_shape(query.where, values),
    )


def probe_where(node: Any, probes: Iterator[Any]) -> Any:
    """A copy of a WHERE tree with the next of ``probes`` in place of each value."""
    if isinstance(node, WhereNode):
        children = [probe_where(child, probes) for child in node.children]
        return WhereNode(children, node.connector, node.negated)
    if type(node.rhs) is bool:
        return node
    return type(node)(node.lhs, next(probes))


# The compiler's state that executing and reading rows use after ``as_sql``.
STATE = ("select", "klass_info", "annotation_col_map", "col_count", "has_extra_select")


class Template:
    """A shape's SQL, its parameters (an int: the index of a value; otherwise a
    constant) and the compiler's state after compiling it."""

    def __init__(self, sql: str, params: list[Any], state: dict[str, Any]) -> None:
        self.sql = sql
        self.params = params
        self.state = state

    @classmethod
    def derive(
        cls, sql: str, params: Sequence[Any], values: list[Any], state: dict[str, Any]
    ) -> Template | None:
        """The template of ``sql`` and ``params`` compiled from ``values``; None when a
        value is not one of the parameters, exactly once and as the object given."""
        template: list[Any] = []
        found = [0] * len(values)
        for param in params:
            index = next((i for i, value in enumerate(values) if param is value), None)
            if index is None:
                template.append(Constant(param))
            else:
                found[index] += 1
                template.append(index)
        if any(count != 1 for count in found):
            return None
        return cls(sql, template, state)

    def fill(self, values: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(values[param] if type(param) is int else param.value for param in self.params)

    def matches(self, sql: str, params: Sequence[Any], values: Sequence[Any]) -> bool:
        """Whether this template gives exactly ``sql`` and ``params`` for ``values``."""
        if sql != self.sql or len(params) != len(self.params):
            return False
        for param, expected in zip(params, self.params, strict=True):
            if type(expected) is int:
                if param is not values[expected]:
                    return False
            elif type(param) is not type(expected.value) or param != expected.value:
                return False
        return True


class Constant:
    """A parameter that is the same in every query of a shape."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


UNUSABLE = object()  # a shape whose value or probe did not fit a template
templates: dict[tuple[Any, ...], Any] = {}  # shape key: Template or UNUSABLE
seen: dict[tuple[Any, ...], None] = {}  # shapes compiled once, without a template yet


def remember(store: dict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    """``store[key] = value`` in a dict of at most MAX_TEMPLATES, emptied when full: a
    process that meets ever new shapes (every page of a long export) stays small."""
    if len(store) >= MAX_TEMPLATES:
        store.clear()
    store[key] = value


class ReusingCompiler:
    """Mixed into the database's SELECT compiler (``reusing_compiler``): ``as_sql`` from
    the template of the query's shape when there is one."""

    def as_sql(self, with_limits: bool = True, with_col_aliases: bool = False) -> Any:
        compiler: Any = self
        values: list[Any] = []
        try:
            key = (
                compiler.connection.alias,
                type(compiler),
                with_limits,
                with_col_aliases,
                compiler.elide_empty,
                shape(compiler.query, values),
            )
            template = templates.get(key)
        except (NoShape, TypeError):  # TypeError: something in the query is not hashable
            return super().as_sql(with_limits, with_col_aliases)  # type: ignore[misc]
        if type(template) is Template:
            compiler.__dict__.update(template.state)
            return template.sql, template.fill(values)
        sql, params = super().as_sql(with_limits, with_col_aliases)  # type: ignore[misc]
        if template is None and key in seen:  # the second time: try a template
            state = {name: getattr(compiler, name) for name in STATE}
            made = Template.derive(sql, params, values, state)
            probed = made is not None and self.probe(made, values, with_limits, with_col_aliases)
            remember(templates, key, made if probed else UNUSABLE)
            del seen[key]
        elif template is None:
            remember(seen, key, None)
        return sql, params

    def probe(
        self, template: Template, values: list[Any], with_limits: bool, with_col_aliases: bool
    ) -> bool:
        """Whether the query with other values compiles to what ``template`` gives."""
        compiler: Any = self
        try:
            probes = [PROBES[type(value)](value) for value in values]
        except (OverflowError, ValueError):  # e.g. a date at the end of the calendar
            return False
        query = compiler.query.clone()
        query.where = probe_where(compiler.query.where, iter(probes))
        probe = plain_compiler(type(compiler))(
            query, compiler.connection, compiler.using, compiler.elide_empty
        )
        sql, params = probe.as_sql(with_limits, with_col_aliases)
        return template.matches(sql, params, probes)


REUSING: dict[type, type] = {}


def reusing_compiler(compiler_class: type[SQLCompiler]) -> type[SQLCompiler]:
    """``compiler_class`` with ``ReusingCompiler`` in front, made once per class."""
    reusing = REUSING.get(compiler_class)
    if reusing is None:
        name = f"Reusing{compiler_class.__name__}"
        reusing = REUSING[compiler_class] = type(name, (ReusingCompiler, compiler_class), {})
    return reusing


def plain_compiler(reusing: type) -> type[SQLCompiler]:
    """The compiler class that ``reusing`` was made from."""
    return reusing.__mro__[2]


class ReusedStatementQuery(Query):
    """A Query whose SELECTs (rows, counts) compile through ``ReusingCompiler``; updates
    and deletes, which have compilers of their own, as Django's."""

    def get_compiler(
        self, using: str | None = None, connection: Any = None, elide_empty: bool = True
    ) -> Any:
        if self.compiler != "SQLCompiler":
            return super().get_compiler(using, connection, elide_empty)
        if using is None and connection is None:
            raise ValueError("Need either using or connection")
        if using:
            connection = connections[using]
        compiler_class = reusing_compiler(connection.ops.compiler(self.compiler))
        return compiler_class(self, connection, using, elide_empty)


def reusing_statements(queryset: Any) -> Any:
    """``queryset`` (a clone) compiling its SELECTs through ``ReusingCompiler``."""
    clone = queryset.all()
    # Its own copy of the query, given the class in place as Query.chain(klass) does:
    # assigning QuerySet.query would reset a values_list() queryset's rows to dicts.
    clone.query.__class__ = ReusedStatementQuery
    return clone
