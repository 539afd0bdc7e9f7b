"""CustomerFilterSet: what each query parameter of list-simple selects, sorts or refuses."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from channels.models import Channel
from customers.filters import CustomerFilterSet
from customers.models import Customer
from tests.conftest import LIST_URL, utc

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]

INT64_MIN, INT64_MAX = "-9223372036854775808", "9223372036854775807"
NOT_WHOLE = "Enter a whole number."
NOT_DATETIME = "Enter a valid date/time."
HUGE = "99999999999999999999"  # beyond 64 bits
ABOVE_INT64 = f"Ensure this value is less than or equal to {INT64_MAX}."
BELOW_INT64 = f"Ensure this value is greater than or equal to {INT64_MIN}."
# (parameter, value, the one message the 400 body gives for it)
INVALID = [
    ("id__gt", "abc", NOT_WHOLE),
    ("id__gt", "1.5", NOT_WHOLE),
    ("id__gt", "1.0", NOT_WHOLE),
    ("id__gt", "1e400", NOT_WHOLE),
    ("id__gt", HUGE, ABOVE_INT64),
    ("id__lte", f"-{HUGE}", BELOW_INT64),
    ("channel_id", "abc", NOT_WHOLE),
    ("channel_id", "0.0", NOT_WHOLE),
    ("channel_id", HUGE, ABOVE_INT64),
    ("modified_date__gte", "not-a-date", NOT_DATETIME),
    ("modified_date__gte", "2023-13-45", NOT_DATETIME),
    ("modified_date", "2024-02-30", NOT_DATETIME),
    ("sort", "bogus", "Select a valid choice. bogus is not one of the available choices."),
]


def filterset(params: dict[str, str]) -> CustomerFilterSet:
    return CustomerFilterSet(params, queryset=Customer.objects.order_by("id"))


def filtered(params: dict[str, str]) -> list[int]:
    """Ids the FilterSet selects for ``params``, in its order; ``params`` must be valid."""
    customers = filterset(params)
    assert customers.is_valid(), customers.errors
    return list(customers.qs.values_list("id", flat=True))


def ids_of(customers: dict[str, Customer], names: list[str]) -> list[int]:
    return [customers[name].id for name in names]


def with_channel_ids(params: dict[str, str]) -> dict[str, str]:
    """``params`` with the channel name given as ``channel_id`` replaced by its id."""
    if "channel_id" not in params:
        return params
    return {**params, "channel_id": str(Channel.objects.get(name=params["channel_id"]).id)}


@pytest.fixture
def five_ids(make_customer: MakeCustomer) -> list[int]:
    """Ids of five customers, ascending."""
    return [make_customer().id for _ in range(5)]


# --- id ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        pytest.param({"id__gt": 2}, [3, 4], id="gt-excludes-bound"),
        pytest.param({"id__gte": 2}, [2, 3, 4], id="gte-includes-bound"),
        pytest.param({"id__lt": 2}, [0, 1], id="lt-excludes-bound"),
        pytest.param({"id__lte": 2}, [0, 1, 2], id="lte-includes-bound"),
        pytest.param({"id__gt": 4}, [], id="gt-last"),
        pytest.param({"id__lt": 0}, [], id="lt-first"),
        pytest.param({"id__gte": 0}, [0, 1, 2, 3, 4], id="gte-first"),
        pytest.param({"id__gt": 0, "id__lt": 3}, [1, 2], id="open-range"),
        pytest.param({"id__gte": 1, "id__lte": 3}, [1, 2, 3], id="closed-range"),
        pytest.param({"id__gte": 2, "id__lte": 2}, [2], id="single-id-range"),
        pytest.param({"id__gt": 2, "id__lt": 3}, [], id="empty-open-range"),
        pytest.param({"id__gt": 3, "id__lt": 1}, [], id="inverted-range"),
    ],
)
def test_id_bounds(five_ids: list[int], bounds: dict[str, int], expected: list[int]) -> None:
    """Bounds are positions in ``five_ids``: gt/lt exclude the bound, gte/lte include it, and
    bounds combine into a range."""
    params = {name: str(five_ids[position]) for name, position in bounds.items()}

    assert filtered(params) == [five_ids[position] for position in expected]


@pytest.mark.parametrize(
    ("params", "selects_all"),
    [
        ({"id__gt": INT64_MIN}, True),
        ({"id__gte": INT64_MIN}, True),
        ({"id__lte": INT64_MAX}, True),
        ({"id__lt": INT64_MAX}, True),
        ({"id__gt": INT64_MAX}, False),
        ({"id__lt": INT64_MIN}, False),
        ({"id__gt": "-1"}, True),
        ({"id__lt": "0"}, False),
        ({"channel_id": INT64_MAX}, False),
    ],
)
def test_ends_of_the_64_bit_range_are_valid(
    five_ids: list[int], params: dict[str, str], selects_all: bool
) -> None:
    """Values up to 64 bits are accepted and reach the database without error."""
    assert filtered(params) == (five_ids if selects_all else [])


# --- exact filters -----------------------------------------------------------------------


@pytest.fixture
def people(make_customer: MakeCustomer, channel: Channel) -> dict[str, Customer]:
    """Customers whose values differ from ``ayse``'s by case, by length, or not at all."""
    marketplace = Channel.objects.create(name="Marketplace", channel_type="n11")
    assert channel.name == "Web"
    fields = ("first_name", "last_name", "email", "phone_number", "erp_code", "channel")
    rows = {
        "ayse": ("Ayşe", "Yılmaz", "ayse@example.com", "0532111", "C001", channel),
        "namesake": ("Ayşe", "Demir", "ayse.demir@example.com", "0532999", "C002", channel),
        "other_case": ("ayşe", "yılmaz", "AYSE@EXAMPLE.COM", None, "c001", marketplace),
        "longer": ("Ayşe Nur", "Yılmazer", "ayse@example.com.tr", "05321110", "C0011", None),
    }
    return {
        name: make_customer(**dict(zip(fields, values, strict=True)))
        for name, values in rows.items()
    }


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        ("first_name", "Ayşe", ["ayse", "namesake"]),
        ("first_name", "ayşe", ["other_case"]),
        ("first_name", "AYŞE", []),
        ("first_name", "Ayş", []),
        ("first_name", "Nur", []),
        ("last_name", "Yılmaz", ["ayse"]),
        ("last_name", "yılmaz", ["other_case"]),
        ("last_name", "Yılmazer", ["longer"]),
        ("last_name", "ılmaz", []),
        ("email", "ayse@example.com", ["ayse"]),
        ("email", "AYSE@EXAMPLE.COM", ["other_case"]),
        ("email", "Ayse@Example.com", []),
        ("email", "example.com", []),
        ("phone_number", "0532111", ["ayse"]),
        ("phone_number", "053211", []),
        ("phone_number", "2111", []),
        ("erp_code", "C001", ["ayse"]),
        ("erp_code", "c001", ["other_case"]),
        ("erp_code", "C00", []),
        ("erp_code", "C0011", ["longer"]),
        ("channel_id", "Web", ["ayse", "namesake"]),
        ("channel_id", "Marketplace", ["other_case"]),
    ],
)
def test_exact_filter_matches_whole_value_case_sensitively(
    people: dict[str, Customer], param: str, value: str, expected: list[str]
) -> None:
    """No partial and no case-insensitive matches (``channel_id`` is given by channel name)."""
    assert filtered(with_channel_ids({param: value})) == ids_of(people, expected)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"first_name": "Ayşe", "last_name": "Yılmaz"}, ["ayse"]),
        ({"first_name": "Ayşe", "last_name": "Demir"}, ["namesake"]),
        ({"first_name": "Ayşe", "channel_id": "Web"}, ["ayse", "namesake"]),
        ({"first_name": "Ayşe", "channel_id": "Marketplace"}, []),
        ({"first_name": "Ayşe", "email": "AYSE@EXAMPLE.COM"}, []),
        ({"last_name": "Yılmaz", "erp_code": "c001"}, []),
        (
            {
                "first_name": "Ayşe",
                "last_name": "Yılmaz",
                "email": "ayse@example.com",
                "phone_number": "0532111",
                "erp_code": "C001",
                "channel_id": "Web",
            },
            ["ayse"],
        ),
    ],
)
def test_exact_filters_combine_with_and(
    people: dict[str, Customer], params: dict[str, str], expected: list[str]
) -> None:
    assert filtered(with_channel_ids(params)) == ids_of(people, expected)


# --- modified_date -----------------------------------------------------------------------


@pytest.fixture
def dated(make_customer: MakeCustomer) -> dict[str, Customer]:
    """Customers around midnight UTC of 2024-01-01, created (so ids ascend) in date order."""
    moments = {
        "eve": utc(2023, 12, 31, 23, 59, 59, 999999),
        "midnight": utc(2024, 1, 1),
        "morning": utc(2024, 1, 1, 9, 30),
        "micro": utc(2024, 1, 1, 9, 30, 0, 123456),
        "next_day": utc(2024, 1, 2),
    }
    return {name: make_customer(modified_date=moment) for name, moment in moments.items()}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # exact: "Z", an offset for the same instant, microseconds, a plain date
        ({"modified_date": "2024-01-01T09:30:00Z"}, ["morning"]),
        ({"modified_date": "2024-01-01T12:30:00+03:00"}, ["morning"]),
        ({"modified_date": "2024-01-01T04:30:00-05:00"}, ["morning"]),
        ({"modified_date": "2024-01-01T09:30:00.123456Z"}, ["micro"]),
        ({"modified_date": "2024-01-01T12:30:00.123456+03:00"}, ["micro"]),
        ({"modified_date": "2023-12-31T23:59:59.999999Z"}, ["eve"]),
        ({"modified_date": "2024-01-01"}, ["midnight"]),
        ({"modified_date": "2024-01-01T09:30:00.5Z"}, []),
        # gt / gte
        ({"modified_date__gt": "2024-01-01T09:30:00Z"}, ["micro", "next_day"]),
        ({"modified_date__gt": "2024-01-01T12:30:00+03:00"}, ["micro", "next_day"]),
        ({"modified_date__gte": "2024-01-01T09:30:00Z"}, ["morning", "micro", "next_day"]),
        ({"modified_date__gte": "2024-01-01T12:30:00+03:00"}, ["morning", "micro", "next_day"]),
        ({"modified_date__gt": "2024-01-01"}, ["morning", "micro", "next_day"]),
        ({"modified_date__gte": "2024-01-01"}, ["midnight", "morning", "micro", "next_day"]),
        (
            {"modified_date__gt": "2023-12-31T23:59:59.999999Z"},
            ["midnight", "morning", "micro", "next_day"],
        ),
        ({"modified_date__gt": "2024-01-01T09:30:00.123455Z"}, ["micro", "next_day"]),
        ({"modified_date__gte": "2024-01-01T09:30:00.123457Z"}, ["next_day"]),
        # lt / lte
        ({"modified_date__lt": "2024-01-01"}, ["eve"]),
        ({"modified_date__lte": "2024-01-01"}, ["eve", "midnight"]),
        ({"modified_date__lt": "2024-01-01T03:00:00+03:00"}, ["eve"]),
        ({"modified_date__lte": "2024-01-01T03:00:00+03:00"}, ["eve", "midnight"]),
        ({"modified_date__lt": "2024-01-01T09:30:00.123456Z"}, ["eve", "midnight", "morning"]),
        (
            {"modified_date__lte": "2024-01-01T09:30:00.123456Z"},
            ["eve", "midnight", "morning", "micro"],
        ),
        ({"modified_date__lte": "2024-01-01T09:30:00.000001Z"}, ["eve", "midnight", "morning"]),
        (
            {"modified_date__lt": "2024-01-01T19:00:00-05:00"},
            ["eve", "midnight", "morning", "micro"],
        ),
        # a range: the day of 2024-01-01 in UTC
        (
            {"modified_date__gte": "2024-01-01", "modified_date__lt": "2024-01-02"},
            ["midnight", "morning", "micro"],
        ),
        (
            {"modified_date__gt": "2024-01-01", "modified_date__lte": "2024-01-01T09:30:00Z"},
            ["morning"],
        ),
    ],
)
def test_modified_date_filters(
    dated: dict[str, Customer], params: dict[str, str], expected: list[str]
) -> None:
    """ISO 8601 with "Z" or an offset means that instant, to the microsecond; a plain date
    means 00:00 UTC of that day."""
    assert filtered(params) == ids_of(dated, expected)


# --- sort --------------------------------------------------------------------------------


@pytest.fixture
def tied_ids(make_customer: MakeCustomer) -> list[int]:
    """Six customers; three share one modified_date and two another, out of id order."""
    days = [2, 1, 1, 3, 1, 2]
    return [make_customer(modified_date=utc(2024, 1, day)).id for day in days]


@pytest.mark.parametrize(
    ("params", "expected", "order_by"),
    [
        ({}, [0, 1, 2, 3, 4, 5], ("id",)),
        ({"sort": "id"}, [0, 1, 2, 3, 4, 5], ("id",)),
        ({"sort": "-id"}, [5, 4, 3, 2, 1, 0], ("-id",)),
        ({"sort": "modified_date"}, [1, 2, 4, 0, 5, 3], ("modified_date", "id")),
        ({"sort": "-modified_date"}, [3, 5, 0, 4, 2, 1], ("-modified_date", "-id")),
    ],
    ids=["default", "id", "-id", "modified_date", "-modified_date"],
)
def test_sort_ends_on_id(
    tied_ids: list[int], params: dict[str, str], expected: list[int], order_by: tuple[str, ...]
) -> None:
    """Default order is id ascending; ties on modified_date go by id in the sort's direction."""
    assert filtered(params) == [tied_ids[position] for position in expected]
    assert filterset(params).qs.query.order_by == order_by


# --- ignored and invalid input -----------------------------------------------------------


@pytest.mark.parametrize("param", list(CustomerFilterSet.base_filters))
def test_empty_value_is_ignored(five_ids: list[int], param: str) -> None:
    assert filtered({param: ""}) == five_ids


def test_unknown_parameter_is_ignored(five_ids: list[int]) -> None:
    assert filtered({"foo": "bar", "id__gt": str(five_ids[2])}) == five_ids[3:]


@pytest.mark.parametrize(("param", "value", "message"), INVALID)
def test_invalid_value_fails_validation(param: str, value: str, message: str) -> None:
    customers = filterset({param: value})

    assert not customers.is_valid()
    assert customers.errors == {param: [message]}


@pytest.mark.parametrize(("param", "value", "message"), INVALID)
def test_invalid_value_is_400_naming_the_parameter(
    api_client: APIClient, five_ids: list[int], param: str, value: str, message: str
) -> None:
    response = api_client.get(LIST_URL, {param: value})

    assert response.status_code == 400
    assert response.json() == {param: [message]}


@pytest.mark.parametrize("param", ["modified_date", "modified_date__gt"])
@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_datetime_beyond_the_utc_range_is_a_400(
    api_client: APIClient, five_ids: list[int], param: str, value: str
) -> None:
    """Valid ISO 8601 whose UTC instant is after 9999-12-31 or before 0001-01-01: a client
    error naming the parameter, never a server error (like the 64-bit bound of integers)."""
    api_client.raise_request_exception = False

    response = api_client.get(LIST_URL, {param: value})

    assert response.status_code == 400
    assert response.json() == {param: ["Enter a valid date/time."]}


def test_every_invalid_parameter_is_named_in_the_400(api_client: APIClient) -> None:
    response = api_client.get(LIST_URL, {"id__gt": "abc", "sort": "bogus", "email": "x"})

    assert response.status_code == 400
    assert response.json() == {
        "id__gt": [NOT_WHOLE],
        "sort": ["Select a valid choice. bogus is not one of the available choices."],
    }


def results(api_client: APIClient, params: dict[str, Any]) -> list[int]:
    """Ids on the first page of list-simple for ``params``."""
    response = api_client.get(LIST_URL, params)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_filters_and_sort_apply_over_http(api_client: APIClient, five_ids: list[int]) -> None:
    params = {"id__gt": five_ids[0], "id__lte": five_ids[3], "sort": "-id"}

    assert results(api_client, params) == five_ids[3:0:-1]


@pytest.mark.parametrize(
    "extra",
    [
        {"foo": "bar"},
        {"id": "1", "id__in": "1,2", "email__icontains": "x", "ordering": "-id"},
        {"email": "", "first_name": "", "channel_id": "", "modified_date__gte": "", "sort": ""},
    ],
    ids=["unknown", "lookalikes", "empty"],
)
def test_unknown_and_empty_parameters_are_ignored_over_http(
    api_client: APIClient, five_ids: list[int], extra: dict[str, str]
) -> None:
    """200 and the same rows as without them."""
    params = {"id__gt": five_ids[1]}

    assert results(api_client, {**params, **extra}) == results(api_client, params) == five_ids[2:]


def test_filtersets_share_no_filter_and_their_forms_no_state() -> None:
    """oms.api.filters.FilterSet copies filters one level deep, and its forms share the
    form class's fields, which cleaning does not change: no two FilterSets (requests)
    share a filter, nor their forms a field dict or cleaned data."""
    first = filterset({"email": "a@example.com", "sort": "-id"})
    second = filterset({"email": "b@example.com"})

    assert first.is_valid()
    assert second.is_valid()
    for name in CustomerFilterSet.base_filters:
        assert first.filters[name] is not second.filters[name]
        assert first.filters[name].parent is first
        assert second.filters[name].parent is second
    assert first.form.fields is not second.form.fields
    assert first.form.cleaned_data["email"] == "a@example.com"
    assert second.form.cleaned_data["email"] == "b@example.com"
    assert first.form.cleaned_data["sort"] == ["-id"]
    assert "sort" not in second.form.cleaned_data


def test_only_the_given_filters_are_cleaned_and_every_one_is_rendered() -> None:
    """oms.api.filters.FilterForm: absent filters are not cleaned (they would only be empty),
    given ones are, errors included; the form still has every field, for the browsable
    API's filter form."""
    given = filterset({"email": "a@example.com", "id__gt": "5"})
    invalid = filterset({"id__gt": "x"})

    assert given.is_valid()
    assert given.form.cleaned_data == {"email": "a@example.com", "id__gt": 5}
    assert list(given.form.fields) == list(CustomerFilterSet.base_filters)
    assert all(f'name="{name}"' in str(given.form) for name in CustomerFilterSet.base_filters)
    assert not invalid.is_valid()
    assert invalid.errors == {"id__gt": [NOT_WHOLE]}
    assert filtered({"email": "nobody@example.com"}) == []
