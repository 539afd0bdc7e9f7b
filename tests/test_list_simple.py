"""GET list-simple against the specification's example body."""

import json
import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import LIST_URL

pytestmark = pytest.mark.django_db

DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def in_order(value: Any) -> str:
    """JSON text that keeps key order, so that equal texts mean the same keys, values,
    value types and order."""
    return json.dumps(value, ensure_ascii=False)


@pytest.mark.usefixtures("demo_data")
def test_first_page_is_the_specification_example(
    api_client: APIClient, spec_get: dict[str, Any]
) -> None:
    body = api_client.get(LIST_URL).json()

    assert in_order(body["results"]) == in_order(spec_get["results"])
    assert list(body) == list(spec_get)
    assert body["count"] == spec_get["count"] == 109
    assert body["next"] == "http://testserver/api/v1/oms/customers/list-simple/?page=2"
    assert body["previous"] is None


@pytest.mark.usefixtures("demo_data")
def test_every_row_has_the_specified_fields_and_types(
    api_client: APIClient, spec_get: dict[str, Any]
) -> None:
    """Synthetic rows too: the specification's keys, in order, with its value types."""
    example = spec_get["results"][0]
    results = api_client.get(LIST_URL, {"limit": 1000}).json()["results"]

    assert len(results) == 109
    for row in results:
        assert list(row) == list(example)
        assert isinstance(row["id"], int)
        assert isinstance(row["omnitron_id"], int)
        assert isinstance(row["channel"], int)
        assert DATETIME.match(row["created_date"])
        assert DATETIME.match(row["modified_date"])
        for key in ("email", "first_name", "last_name"):
            assert isinstance(row[key], str)
        for key in ("phone_number", "erp_code"):
            assert row[key] is None or isinstance(row[key], str)


def test_channel_is_the_channel_id(api_client: APIClient, make_customer, channel) -> None:
    make_customer(channel=channel)
    make_customer(channel=None)

    results = api_client.get(LIST_URL).json()["results"]

    assert [row["channel"] for row in results] == [channel.id, None]


@pytest.mark.usefixtures("demo_data")
def test_a_page_costs_a_fixed_number_of_queries(
    api_client: APIClient, django_assert_num_queries
) -> None:
    """Token + user + its channels (1), page, count: none per row. The user's permissions
    come from the cache (oms.api.permission_cache) after the first request. A page shorter than the
    page size is the last one and needs no count (test_pagination).

    The first request also writes the token's last_used, which happens once a minute.
    """
    api_client.get(LIST_URL)
    with django_assert_num_queries(3):
        response = api_client.get(LIST_URL, {"limit": 100})
    assert len(response.json()["results"]) == 100
