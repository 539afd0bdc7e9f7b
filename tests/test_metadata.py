"""OPTIONS list-simple: the specification's document, generated from the view's code."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django_filters import rest_framework as filters
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from customers.filters import CustomerFilterSet
from customers.views import CustomerListSimpleView
from oms.api.filters import FilterOptions, IntegerFilter
from oms.api.metadata import describe_filterset
from tests.conftest import LIST_URL
from tests.test_list_simple import in_order

pytestmark = pytest.mark.django_db


def test_options_is_the_specification_document(
    api_client: APIClient, spec_options: dict[str, Any]
) -> None:
    """Keys, values, value types and order, on whichever database the suite runs."""
    response = api_client.options(LIST_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert in_order(response.json()) == in_order(spec_options)


@pytest.mark.parametrize("data_format", ["csv", "xls"])
def test_options_is_json_even_when_a_spreadsheet_format_is_asked_for(
    api_client: APIClient, spec_options: dict[str, Any], data_format: str
) -> None:
    response = api_client.options(f"{LIST_URL}?format={data_format}")

    assert response["Content-Type"] == "application/json"
    assert "Content-Disposition" not in response
    assert in_order(response.json()) == in_order(spec_options)


def test_options_needs_the_same_authentication(anonymous_client: APIClient) -> None:
    assert anonymous_client.options(LIST_URL).status_code == 401


class ExtendedFilterSet(CustomerFilterSet):
    omnitron_id = IntegerFilter(label="Omnitron Id")
    created_date = filters.IsoDateTimeFilter(label="Created Date")
    created_date__lt = filters.IsoDateTimeFilter(
        field_name="created_date", lookup_expr="lt", label="Created Date Lt"
    )
    options = FilterOptions(
        types=CustomerFilterSet.options.types, grouped=[*CustomerFilterSet.options.grouped]
    )


def test_a_filter_added_to_the_filterset_appears_in_options(reader: User) -> None:
    view = CustomerListSimpleView.as_view(filterset_class=ExtendedFilterSet)
    request = APIRequestFactory().options(LIST_URL)
    force_authenticate(request, user=reader)

    filters_info = view(request).data["filters"]

    assert filters_info[-3:] == [
        {
            "label": "Omnitron Id",
            "field_name": "omnitron_id",
            "type": "integer",
            "lookup_expr": ["exact"],
            "extra": {"required": False},
        },
        {
            "label": "Created Date",
            "field_name": "created_date",
            "type": "datetime",
            "lookup_expr": ["exact"],
            "extra": {"required": False},
        },
        {
            "label": "Created Date Lt",
            "field_name": "created_date",
            "type": "datetime",
            "lookup_expr": ["lt"],
            "extra": {"required": False},
        },
    ]


def test_grouped_lookups_form_one_entry_labelled_by_the_first() -> None:
    class GroupedFilterSet(ExtendedFilterSet):
        options = FilterOptions(grouped=["modified_date", "created_date"])

    entries = {entry["label"]: entry for entry in describe_filterset(GroupedFilterSet)}

    assert entries["Created Date"]["lookup_expr"] == ["exact", "lt"]
    assert "Created Date Lt" not in entries
    # Without the declared type, a datetime filter says so.
    assert entries["Modified Date"]["type"] == "datetime"
    assert entries["Modified Date"]["lookup_expr"] == ["exact", "gt", "gte", "lt", "lte"]


def test_without_options_every_filter_is_its_own_entry() -> None:
    class PlainFilterSet(filters.FilterSet):
        modified_date = filters.IsoDateTimeFilter()
        modified_date__gt = filters.IsoDateTimeFilter(field_name="modified_date", lookup_expr="gt")

        class Meta:
            model = CustomerFilterSet.Meta.model
            fields: list[str] = []

    entries = describe_filterset(PlainFilterSet)

    assert [entry["lookup_expr"] for entry in entries] == [["exact"], ["gt"]]
