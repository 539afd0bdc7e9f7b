"""The undocumented library behaviour oms.internals relies on, one test per assumption: a
library upgrade that changes one fails here, by name, before it gives a wrong answer."""

import copy
from collections.abc import Callable
from typing import Any

import pytest
from django import forms
from django.contrib.auth.models import Permission, User
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.db.models import Value
from django.test.utils import CaptureQueriesContext
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from pytest_django.fixtures import Settings
from rest_framework import serializers

from channels.models import Channel
from customers.filters import CustomerFilterSet
from customers.models import Customer
from oms import internals
from oms.api.filters import FilterForm
from oms.internals.spectacular import SpectacularAutoSchema
from tests.toolkit.views import GadgetListView

MakeCustomer = Callable[..., Customer]


@pytest.mark.django_db
def test_compiled_sql_is_what_django_runs(make_customer: MakeCustomer) -> None:
    make_customer(first_name="Ali")
    make_customer(first_name="Ayşe")
    queryset = Customer.objects.filter(first_name__startswith="A").values_list("id", "first_name")

    sql, params = internals.compiled_sql(queryset.order_by("-id"))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()

    assert [tuple(row) for row in rows] == list(queryset.order_by("-id"))


@pytest.mark.django_db
def test_a_compiled_query_loads_instances_as_the_orm_does(
    make_customer: MakeCustomer, channel: Channel
) -> None:
    make_customer(first_name="Ali", channel=channel)
    queryset = Customer.objects.select_related("channel").annotate(marker=Value(7))[:1]
    (expected,) = queryset

    query = internals.CompiledQuery(queryset)
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        row = query.converted(cursor.fetchone())
    customer, related = query.instance(row), query.instance(row, "channel")

    assert {f.attname: getattr(customer, f.attname) for f in Customer._meta.fields} == {
        f.attname: getattr(expected, f.attname) for f in Customer._meta.fields
    }
    assert customer.modified_date == expected.modified_date  # converters ran: aware, typed
    assert (type(related), related.pk, related.name) == (Channel, channel.pk, channel.name)
    assert query.annotation(row, "marker") == 7
    assert not customer._state.adding  # from_db: a saved row


def test_a_redis_cache_builds_its_client_with_the_class_given() -> None:
    built: list[tuple[Any, ...]] = []

    class Client:
        def __init__(self, servers: list[str], **options: Any) -> None:
            built.append((servers, options))

    cache = RedisCache("redis://127.0.0.1:6379/0", {"OPTIONS": {"socket_timeout": 0.1}})
    internals.use_redis_client(cache, Client)

    assert isinstance(cache._cache, Client)
    assert built == [(["redis://127.0.0.1:6379/0"], {"socket_timeout": 0.1})]


@pytest.mark.django_db
def test_remembered_permissions_answer_has_perm_without_a_query() -> None:
    user = User.objects.create_user("reader")
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    assert internals.remembered_permissions(user) is None

    internals.remember_permissions(user, {"customers.view_channel"})
    with CaptureQueriesContext(connection) as queries:
        allowed = (
            user.has_perm("customers.view_channel"),
            user.has_perm("customers.view_customer"),
        )

    assert allowed == (True, False)  # the remembered set, not the database's
    assert len(queries) == 0


@pytest.mark.django_db
def test_modelbackend_keeps_the_permission_set_where_it_is_remembered() -> None:
    """ModelBackend's own cache, which the cached backend fills and reads: the same place."""
    user = User.objects.create_user("reader")
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    user = User.objects.get(pk=user.pk)

    assert user.has_perm("customers.view_customer")
    assert internals.remembered_permissions(user) == {"customers.view_customer"}


def test_each_filterset_gets_its_own_filters_without_their_form_fields() -> None:
    """FilterSet.__init__ deep-copies base_filters (FilterCopies makes that one level), and
    a filter's form field is cached in ``_field``, which copies must not share."""
    CustomerFilterSet.base_filters["email"].field  # noqa: B018 (caches the class's field)
    first = CustomerFilterSet({"email": "a@example.com"}, Customer.objects.none())
    second = CustomerFilterSet({"email": "b@example.com"}, Customer.objects.none())

    assert isinstance(CustomerFilterSet.base_filters, internals.FilterCopies)
    assert first.filters["email"] is not second.filters["email"]
    assert first.filters["email"] is not CustomerFilterSet.base_filters["email"]
    assert first.filters["email"].field is not second.filters["email"].field
    assert first.filters["email"].field is not CustomerFilterSet.base_filters["email"].field
    assert first.filters["email"].parent is first  # the copy belongs to its FilterSet


def test_filter_copies_are_what_copy_copy_makes_less_the_cached_field() -> None:
    """FilterCopies copies a filter's __dict__ itself, as copy.copy does for a plain object:
    filters must stay plain objects (no __copy__, no __slots__)."""
    CustomerFilterSet.base_filters["email"].field  # noqa: B018 (caches the class's field)
    copies = copy.deepcopy(CustomerFilterSet.base_filters)

    for name, filter_ in CustomerFilterSet.base_filters.items():
        expected = copy.copy(filter_)
        expected.__dict__.pop("_field", None)
        assert not hasattr(type(filter_), "__copy__")
        assert type(copies[name]) is type(filter_)
        assert vars(copies[name]) == vars(expected)


def test_filter_forms_share_their_class_and_its_fields_without_copying_them() -> None:
    """Django's form deep-copies its class's base_fields; FreshFields hands them over as
    they are, to every form of the FilterSet class, each with its own dict of them."""
    first = CustomerFilterSet({}, Customer.objects.none())
    second = CustomerFilterSet({}, Customer.objects.none())

    assert isinstance(type(first.form).base_fields, internals.FreshFields)
    assert type(first.form) is type(second.form)
    assert first.form.fields["email"] is type(first.form).base_fields["email"]
    assert first.form.fields["email"] is second.form.fields["email"]
    assert first.form.fields is not second.form.fields


def test_a_form_cleans_the_fields_it_holds_when_full_clean_runs() -> None:
    """FilterForm narrows ``fields`` around Form.full_clean: Django must read them then."""

    class Refusing(forms.CharField):
        def clean(self, value: Any) -> Any:
            raise forms.ValidationError("cleaned")

    class Form(FilterForm):
        given = forms.CharField(required=False)
        absent = Refusing(required=False)

    form = Form({"given": "x"})

    assert form.is_valid()
    assert form.cleaned_data == {"given": "x"}
    assert list(form.fields) == ["given", "absent"]  # all of them again, for rendering


def test_drf_excel_reads_its_settings_as_the_project_does(settings: Settings) -> None:
    settings.DRF_EXCEL_INTEGER_FORMAT = "0.0"

    assert internals.drf_excel_setting("INTEGER_FORMAT") == "0.0"
    assert internals.drf_excel_setting("DATE_FORMAT") is None


def test_drf_spectacular_runs_the_steps_the_schema_hooks_into() -> None:
    """Each private step SpectacularAutoSchema renames is still one drf-spectacular runs,
    with the result the hook is given; the private reads still answer."""
    calls: list[str] = []

    class Recording(SpectacularAutoSchema):
        def adjust_parameters(self, parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
            calls.append("parameters")
            assert "name" in {parameter["name"] for parameter in parameters}
            assert self.filter_parameters()
            assert self.pagination_parameters()
            return parameters

        def format_parameters(self) -> list[dict[str, Any]]:
            calls.append("format")
            return super().format_parameters()

        def adjust_response(
            self, response: dict[str, Any], status_code: str, media_types: list[str] | None
        ) -> dict[str, Any]:
            calls.append(f"response {status_code}")
            return response

        def adjust_responses(self, responses: dict[str, Any]) -> dict[str, Any]:
            calls.append("responses")
            return {**responses, "418": {"description": "added by the hook"}}

    class RecordedView(GadgetListView):
        schema = Recording()

    generator = SchemaGenerator(patterns=[path("gadgets/", RecordedView.as_view())])
    operation = generator.get_schema(request=None, public=True)["paths"]["/gadgets/"]["get"]

    assert {"parameters", "format", "response 200", "responses"} <= set(calls)
    assert operation["responses"]["418"] == {"description": "added by the hook"}
    field_schema = Recording().map_serializer_field(
        serializers.IntegerField(max_value=9), "request"
    )
    assert field_schema == {"type": "integer", "maximum": 9}
