"""A token limited to channels reads only their customers: results, count, CSV and XLS.
Unscoped tokens and sessions read every channel."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient, APIRequestFactory

from channels.models import Channel
from customers.views import CustomerListSimpleView
from tests.conftest import LIST_URL
from tests.test_renderers import csv_rows, sheet_rows
from tokens.issuing import issue

pytestmark = pytest.mark.django_db

CHANNEL_COLUMN = -1  # "channel" is the last column of CSV and XLS rows


@pytest.fixture
def web(db: None) -> Channel:
    return Channel.objects.create(name="Web", channel_type="web")


@pytest.fixture
def n11(db: None) -> Channel:
    return Channel.objects.create(name="n11", channel_type="n11")


@pytest.fixture
def empty(db: None) -> Channel:
    """A channel without customers."""
    return Channel.objects.create(name="Empty", channel_type="web")


@pytest.fixture(autouse=True)
def customers(make_customer, web: Channel, n11: Channel) -> None:
    """Two customers in web, one in n11, one without a channel."""
    for channel in (web, web, n11, None):
        make_customer(channel=channel)


def token_client(user: User, *channels: Channel) -> APIClient:
    _, key = issue(user, channels=channels)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def web_client(reader: User, web: Channel, empty: Channel) -> APIClient:
    """A token limited to web and to the empty channel."""
    return token_client(reader, web, empty)


def listed_channels(client: APIClient, **params: Any) -> tuple[int, list[int | None]]:
    body = client.get(LIST_URL, params).json()
    return body["count"], [row["channel"] for row in body["results"]]


def test_a_scoped_token_reads_only_its_channels(web_client: APIClient, web: Channel) -> None:
    assert listed_channels(web_client) == (2, [web.id, web.id])
    assert listed_channels(web_client, limit=1) == (2, [web.id])


@pytest.mark.parametrize(
    ("data_format", "rows"), [("csv", csv_rows), ("xls", sheet_rows)], ids=["csv", "xls"]
)
def test_spreadsheets_of_a_scoped_token_hold_only_its_channels(
    web_client: APIClient, web: Channel, data_format: str, rows: Any
) -> None:
    response = web_client.get(LIST_URL, {"format": data_format})

    header, *customers = rows(response)
    assert header[CHANNEL_COLUMN] == "channel"
    assert [str(row[CHANNEL_COLUMN]) for row in customers] == [str(web.id)] * 2


@pytest.mark.parametrize("data_format", ["json", "csv", "xls"])
def test_another_channel_looks_like_a_channel_without_customers(
    web_client: APIClient, n11: Channel, empty: Channel, data_format: str
) -> None:
    """Nothing tells a channel out of scope from an empty one: no 403, no 404."""
    other = web_client.get(LIST_URL, {"channel_id": n11.id, "format": data_format})
    without_customers = web_client.get(LIST_URL, {"channel_id": empty.id, "format": data_format})

    assert other.status_code == without_customers.status_code == 200
    if data_format == "json":
        assert other.json() == {"count": 0, "next": None, "previous": None, "results": []}
        assert other.content == without_customers.content
    else:  # workbooks carry their creation time: compare their rows
        rows = csv_rows if data_format == "csv" else sheet_rows
        assert rows(other) == rows(without_customers)
        assert len(rows(other)) == 1  # the header row


def test_an_unscoped_token_and_a_session_read_every_channel(
    api_client: APIClient, reader: User, web: Channel, n11: Channel
) -> None:
    session = APIClient()
    session.force_login(reader)
    every_channel = (4, [web.id, web.id, n11.id, None])

    assert listed_channels(api_client) == every_channel
    assert listed_channels(session) == every_channel


def test_scope_costs_no_query(web_client: APIClient, django_assert_num_queries) -> None:
    """As many queries as an unscoped page (test_list_simple): the channel ids come with
    the token. (The page is the last one, so it is counted without a query.)"""
    web_client.get(LIST_URL)  # writes last_used
    with django_assert_num_queries(2):
        assert web_client.get(LIST_URL).json()["count"] == 2


@pytest.mark.parametrize(("scoped", "count"), [(True, 0), (False, 4)], ids=["scoped", "unscoped"])
def test_a_view_without_a_channel_field_shows_a_scoped_token_nothing(
    reader: User, web: Channel, scoped: bool, count: int
) -> None:
    """Fail closed: a view that does not say how its rows belong to channels."""
    _, key = issue(reader, channels=[web] if scoped else [])
    view = CustomerListSimpleView.as_view(channel_field=None)
    request = APIRequestFactory().get(LIST_URL, HTTP_AUTHORIZATION=f"Token {key}")

    response = view(request)

    assert response.status_code == 200
    assert response.data["count"] == count
