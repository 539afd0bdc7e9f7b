"""Every place the toolkit relies on what a library does but does not document.

Each piece here leans on a private attribute or an undocumented behaviour of Django,
django-filter, drf-excel or drf-spectacular, chosen for speed or for a hook the library
does not offer. Two are modules of their own: ``oms.internals.spectacular`` (DRF's
settings import this package while DRF itself is loading, which drf-spectacular
imports) and ``oms.internals.statements`` (SQL compiled once per shape of query, checked
by ``tests/test_statements.py``).
Nothing else in the project touches them: an upgrade that changes one breaks this module
alone, and ``tests/test_internals.py`` checks each assumption, so that the break is a
failing test naming it rather than a wrong answer in production.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.db.models import Model, QuerySet
from django_filters import Filter
from drf_excel.utilities import get_setting

# --- Django: the SQL compiler -----------------------------------------------------------


def compiled_sql(queryset: QuerySet) -> tuple[str, list[Any]]:
    """The SQL and parameters Django would run for ``queryset`` (``SQLCompiler.as_sql``)."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return sql, list(params)


class CompiledQuery:
    """A queryset compiled to SQL once, and its rows turned into model instances as the ORM
    turns them: the database's converters, then ``Model.from_db`` with the column layout
    the compiler reports (``klass_info``, ``select``, ``annotation_col_map``).

    Building and compiling a queryset can cost more than running it: a query run on every
    request is compiled once, its parameters swapped for each run.
    """

    def __init__(self, queryset: QuerySet) -> None:
        compiler = queryset.query.get_compiler(using=queryset.db)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        self.using = queryset.db
        self.compiler = compiler
        self.converters = compiler.get_converters([column[0] for column in compiler.select])
        self.layouts: dict[str, tuple[type[Model], list[str], list[int]]] = {}
        self.add_layouts("", compiler.klass_info)

    def add_layouts(self, path: str, klass_info: dict[str, Any]) -> None:
        """The model, field attnames and row columns of ``klass_info`` and of its
        ``select_related`` relations, by relation path ("" for the queryset's model)."""
        columns = klass_info["select_fields"]
        names = [self.compiler.select[index][0].target.attname for index in columns]
        self.layouts[path] = (klass_info["model"], names, columns)
        for related in klass_info.get("related_klass_infos", []):
            name = related["field"].name
            self.add_layouts(f"{path}__{name}" if path else name, related)

    def converted(self, row: Sequence[Any]) -> list[Any]:
        """``row`` as fetched, through the database's converters."""
        (converted,) = self.compiler.apply_converters([row], self.converters)
        return list(converted)

    def instance(self, row: Sequence[Any], path: str = "") -> Model:
        """The instance of the model at ``path`` ("" or a ``select_related`` path) in a
        converted ``row``."""
        model, names, columns = self.layouts[path]
        return model.from_db(self.using, names, [row[index] for index in columns])

    def annotation(self, row: Sequence[Any], name: str) -> Any:
        """The value of the annotation ``name`` in a converted ``row``."""
        return row[self.compiler.annotation_col_map[name]]


# --- Django: caches and permissions -----------------------------------------------------


def use_redis_client(cache: RedisCache, client: Callable[..., RedisCacheClient]) -> None:
    """Make ``cache`` build its client with ``client`` (given the servers and options):
    Django's RedisCache keeps the client class in ``_class``, with no option for it, and
    its client class (``RedisCacheClient``, subclassed by ``oms.db.cache``) is
    undocumented too."""
    cache._class = client  # type: ignore[attr-defined]


def remember_permissions(user: Any, permissions: set[str]) -> None:
    """Give ``user`` its permission set for the rest of the request, where ModelBackend
    keeps it (``_perm_cache``): its ``has_perm`` then runs no query."""
    user._perm_cache = permissions


def remembered_permissions(user: Any) -> set[str] | None:
    """The permission set ModelBackend has kept on ``user`` in this request, if any."""
    return getattr(user, "_perm_cache", None)


# --- django-filter and Django forms: per-request copies ---------------------------------


class FilterCopies(dict[str, Filter]):
    """A FilterSet's filters, which every FilterSet instance copies (``FilterSet.__init__``
    deep-copies ``base_filters``): one level deep, each filter less its cached form field
    (``Filter._field``), instead of a deepcopy of every attribute, which cost more than
    validating the request."""

    def __deepcopy__(self, memo: dict[int, Any]) -> FilterCopies:
        copies = FilterCopies()
        for name, filter_ in self.items():
            # What copy.copy makes of a plain object (a new instance, its __dict__ copied),
            # without copy's protocol lookups, which cost more than the copy.
            copied = object.__new__(type(filter_))
            copied.__dict__.update(filter_.__dict__)
            copied.__dict__.pop("_field", None)  # Filter.field makes a new one
            copies[name] = copied
        return copies


class FreshFields(dict[str, forms.Field]):
    """A filter form class's fields, which its forms share rather than deep-copy them as a
    Django form does its class's ``base_fields``: a filter form only cleans and renders
    its fields, which changes none of them (``oms.api.filters.FilterSet.get_form_class``)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, forms.Field]:
        return dict(self)


# --- drf-excel --------------------------------------------------------------------------


def drf_excel_setting(name: str) -> Any:
    """drf-excel's setting ``name`` (``DRF_EXCEL_<name>`` in Django's settings), as its
    renderer reads it (``drf_excel.utilities.get_setting``)."""
    return get_setting(name)
