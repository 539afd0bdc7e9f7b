"""JSON Lines (``?format=jsonl``, ``application/x-ndjson``): the export and the deletion feed
as one JSON object per row and line, the JSON page's items exactly, read back by pandas
and line by line; export jobs write the same file. List-simple itself does not offer it."""

import io
import json
from collections.abc import Callable
from typing import Any

import pandas
import pytest
from django.http import HttpResponseBase
from rest_framework.test import APIClient

from channels.models import Channel
from customers.models import Customer
from deleted_items.models import DeletedItem
from exports.running import run_next
from oms.tabular.jsonlines import json_line
from tests.conftest import LIST_URL, utc

pytestmark = pytest.mark.django_db

EXPORT_URL = f"{LIST_URL}export/"
FEED_URL = "/api/v1/oms/deleted-items/"
JOBS_URL = f"{EXPORT_URL}jobs/"
CONTENT_TYPE = "application/x-ndjson; charset=utf-8"


def body(response: HttpResponseBase) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def lines(content: bytes) -> list[dict[str, Any]]:
    """Each line parsed on its own, strictly: UTF-8, LF after every line, one object each."""
    assert content == b"" or content.endswith(b"\n")
    text = content.decode("utf-8")
    assert "\r" not in text
    return [json.loads(line) for line in text.split("\n")[:-1]]


def json_items(client: APIClient, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a JSON list, following its next links."""
    items, page = [], client.get(url, {**params, "limit": 1000}).json()
    items += page["results"]
    while page["next"]:
        page = client.get(page["next"]).json()
        items += page["results"]
    return items


@pytest.fixture
def customers(make_customer: Callable[..., Customer], channel: Channel) -> list[Customer]:
    """Text a spreadsheet would take for a formula, line breaks of every kind, non-ASCII,
    nulls, a datetime with no microseconds."""
    return [
        make_customer(first_name="=1+1", phone_number="+905551234567", channel=channel),
        make_customer(first_name="İpek", last_name="漢字 😀", erp_code=None),
        make_customer(first_name="two\nlines", last_name="a\u2028b\u2029c\x85d"),
        make_customer(modified_date=utc(2024, 1, 2, 3, 4, 5), last_name='"quoted", \\'),
    ]


QUERIES = [{}, {"sort": "-modified_date"}, {"first_name": "İpek"}, {"email": "nobody@example.com"}]


@pytest.mark.usefixtures("customers")
@pytest.mark.parametrize("params", QUERIES)
def test_the_export_is_the_json_items_one_per_line(
    api_client: APIClient, params: dict[str, str]
) -> None:
    expected = json_items(api_client, LIST_URL, **params)

    response = api_client.get(EXPORT_URL, {**params, "format": "jsonl"})

    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE
    assert response["Content-Disposition"] == 'attachment; filename="customers.jsonl"'
    content = body(response)
    assert lines(content) == expected  # keys, their order and values, formulas untouched
    assert response["X-Row-Count"] == str(len(expected))
    assert response["Content-Length"] == str(len(content))


def test_an_empty_export_is_an_empty_body(api_client: APIClient) -> None:
    response = api_client.get(EXPORT_URL, {"format": "jsonl"})

    assert response.status_code == 200
    assert body(response) == b""
    assert (response["X-Row-Count"], response["Content-Length"]) == ("0", "0")


@pytest.mark.usefixtures("customers")
def test_pandas_reads_an_export_of_n_rows_as_n_records(
    api_client: APIClient, make_customer: Callable[..., Customer]
) -> None:
    for number in range(96):
        make_customer(first_name=f"n{number}")
    expected = json_items(api_client, LIST_URL)

    response = api_client.get(EXPORT_URL, {"format": "jsonl"})

    content = body(response)
    assert content.count(b"\n") == len(expected) == 100
    assert response["X-Row-Count"] == "100"
    frame = pandas.read_json(io.BytesIO(content), lines=True, dtype=False, convert_dates=False)
    assert list(frame.columns) == list(expected[0])
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    assert records == expected
    dates = ["created_date", "modified_date"]
    dated = pandas.read_json(io.BytesIO(content), lines=True, convert_dates=dates)
    assert str(dated["modified_date"].dtype) == "datetime64[ns, UTC]"
    # Microseconds and all, as in JSON: nothing lost on the way.
    assert [stamp.to_pydatetime() for stamp in dated["modified_date"]] == [
        customer.modified_date for customer in Customer.objects.order_by("id")
    ]


def test_line_breaks_inside_values_are_escaped(api_client: APIClient, customers: list) -> None:
    """Every line reader sees one object per line, str.splitlines too."""
    content = body(api_client.get(EXPORT_URL, {"format": "jsonl"}))

    assert len(content.decode().splitlines()) == len(customers)
    assert b'"a\\u2028b\\u2029c\\u0085d"' in content
    assert "漢字 😀".encode() in content  # UTF-8 as it is, not escaped


@pytest.mark.usefixtures("customers")
def test_accept_x_ndjson_asks_for_the_same_export(api_client: APIClient) -> None:
    by_format = api_client.get(EXPORT_URL, {"format": "jsonl"})

    by_accept = api_client.get(EXPORT_URL, HTTP_ACCEPT="application/x-ndjson")

    assert by_accept["Content-Type"] == CONTENT_TYPE
    assert body(by_accept) == body(by_format)


@pytest.mark.usefixtures("customers")
def test_a_cursor_export_continues_where_its_link_says(api_client: APIClient) -> None:
    expected = json_items(api_client, LIST_URL, sort="-id")
    first_two = api_client.get(LIST_URL, {"cursor": "", "sort": "-id", "limit": 2})

    rest = api_client.get(first_two.json()["next"].replace(LIST_URL, EXPORT_URL) + "&format=jsonl")

    assert lines(body(rest)) == expected[2:]
    assert rest["Link"].endswith('; rel="next"')


def test_errors_are_json(api_client: APIClient, anonymous_client: APIClient) -> None:
    invalid = api_client.get(EXPORT_URL, {"format": "jsonl", "id__gt": "abc"})
    anonymous = anonymous_client.get(FEED_URL, {"format": "jsonl"})

    assert (invalid.status_code, invalid.json()) == (400, {"id__gt": ["Enter a whole number."]})
    assert anonymous.status_code == 401
    for response in (invalid, anonymous):
        assert response["Content-Type"] == "application/json"
        assert "Content-Disposition" not in response


def test_list_simple_offers_no_json_lines(api_client: APIClient) -> None:
    """Its formats are the specification's three (test_metadata.py)."""
    assert api_client.get(LIST_URL, {"format": "jsonl"}).status_code == 404
    assert api_client.get(LIST_URL, HTTP_ACCEPT="application/x-ndjson").status_code == 406


def test_feed_pages_are_lines_linked_by_the_link_header(api_client: APIClient) -> None:
    DeletedItem.objects.bulk_create(
        DeletedItem(content_type="customer", object_id=n, deleted_date=utc(2024, 1, 1, n))
        for n in range(5)
    )
    expected = json_items(api_client, FEED_URL)

    first = api_client.get(FEED_URL, {"format": "jsonl", "limit": 3})
    following = first["Link"].removeprefix("<").removesuffix('>; rel="next"')
    second = api_client.get(following)

    assert first["Content-Type"] == CONTENT_TYPE
    assert first["Content-Disposition"] == 'attachment; filename="deleted-items.jsonl"'
    assert lines(first.content) + lines(second.content) == expected
    assert len(expected) == 5
    assert 'rel="next"' not in second["Link"]


def test_an_empty_feed_page_is_an_empty_body_of_its_type(api_client: APIClient) -> None:
    """DRF drops the Content-Type of an empty body: the renderer puts it back."""
    response = api_client.get(FEED_URL, {"format": "jsonl"})

    assert (response.status_code, response.content) == (200, b"")
    assert response["Content-Type"] == CONTENT_TYPE


@pytest.mark.usefixtures("customers")
def test_an_export_job_writes_the_export(api_client: APIClient, settings: Any, tmp_path) -> None:
    settings.EXPORT_JOBS_DIR = tmp_path
    job = api_client.post(f"{JOBS_URL}?format=jsonl&sort=-id").json()
    assert run_next()
    done = api_client.get(job["url"]).json()

    file = api_client.get(done["file"])

    direct = api_client.get(EXPORT_URL, {"format": "jsonl", "sort": "-id"})
    assert body(file) == body(direct)
    assert file["Content-Type"] == CONTENT_TYPE
    assert file["Content-Disposition"] == 'attachment; filename="customers.jsonl"'
    assert done["rows"] == 4


@pytest.mark.parametrize(
    ("item", "line"),
    [
        ({"id": 2**70}, b'{"id":1180591620717411303424}\n'),  # beyond orjson's 64 bits
        ({"id": 1, "name": "x\u2028y"}, b'{"id":1,"name":"x\\u2028y"}\n'),
    ],
)
def test_a_line_holds_what_orjson_alone_would_not(item: dict[str, Any], line: bytes) -> None:
    assert json_line(item) == line
