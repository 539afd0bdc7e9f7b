"""Cursor pages (``?cursor=``): the same body, ``next`` links that continue after the last
row delivered, settled rows only in ``modified_date`` order, and 400s for bad cursors."""

import csv
import io
import random
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from customers.models import Customer
from oms.db.changes import keeping_given_stamps
from tests.concurrency import postgresql_only, start
from tests.conftest import LIST_URL, utc

pytestmark = pytest.mark.django_db

EXPORT_URL = f"{LIST_URL}export/"
SETTLED = utc(2024, 1, 1)  # long before any settled horizon


def add_customers(count: int, **fields: Any) -> list[int]:
    """``count`` customers keeping the dates given (default: SETTLED); their ids."""
    fields.setdefault("modified_date", SETTLED)
    with keeping_given_stamps():
        Customer.objects.bulk_create(
            Customer(omnitron_id=n, email=f"c{n}@example.com", **fields)
            for n in range(Customer.objects.count(), Customer.objects.count() + count)
        )
    return list(Customer.objects.order_by("id").values_list("id", flat=True))


def get(api_client: APIClient, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api_client.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()


def walk(api_client: APIClient, params: dict[str, Any], max_pages: int = 10_000) -> list[int]:
    """The ids of every page from ``params`` on, following ``next`` to its end."""
    body = get(api_client, LIST_URL, params)
    ids = [row["id"] for row in body["results"]]
    for _ in range(max_pages):
        if body["next"] is None:
            return ids
        body = get(api_client, body["next"])
        ids += [row["id"] for row in body["results"]]
    raise AssertionError("the walk did not end")


def query_of(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query, keep_blank_values=True)


@pytest.mark.parametrize("sort", ["id", "-id", "modified_date"])
def test_a_walk_delivers_every_row_once_in_order(api_client: APIClient, sort: str) -> None:
    ids = add_customers(25, first_name="Ali")
    with keeping_given_stamps():  # other stamps, so that modified_date order is not id order
        for offset, customer in enumerate(Customer.objects.order_by("-id")[:10]):
            Customer.objects.filter(id=customer.id).update(
                modified_date=SETTLED - timedelta(days=offset)
            )
    expected = list(
        Customer.objects.order_by(
            *([sort, "id"] if sort == "modified_date" else [sort])
        ).values_list("id", flat=True)
    )

    first = get(api_client, LIST_URL, {"cursor": "", "sort": sort, "limit": 4, "first_name": "Ali"})

    assert list(first) == ["count", "next", "previous", "results"]
    assert first["count"] == 25
    assert first["previous"] is None
    assert {k: v for k, v in query_of(first["next"]).items() if k != "cursor"} == {
        "sort": [sort],
        "limit": ["4"],
        "first_name": ["Ali"],
    }
    assert walk(api_client, {"cursor": "", "sort": sort, "limit": 4}) == expected
    assert sorted(expected) == ids


def test_without_a_cursor_pages_are_numbered_as_the_specification_shows(
    api_client: APIClient,
) -> None:
    add_customers(3)
    body = get(api_client, LIST_URL, {"limit": 2})
    assert query_of(body["next"]) == {"limit": ["2"], "page": ["2"]}


def test_a_row_saved_between_pages_does_not_push_the_next_one_out_of_the_walk(
    api_client: APIClient,
) -> None:
    """The issue's reproduction: page 1 in modified_date order, save a row of it, page 2.
    With page numbers the row that was first on page 2 is on neither page; with a cursor
    it is on page 2."""
    order = minutes_apart(20)
    numbered = get(api_client, LIST_URL, {"sort": "modified_date", "limit": 10, "page": 1})
    Customer.objects.get(id=order[0]).save()
    numbered_2 = get(api_client, LIST_URL, {"sort": "modified_date", "limit": 10, "page": 2})
    assert order[10] not in [row["id"] for row in numbered["results"] + numbered_2["results"]]

    Customer.objects.all().delete()
    order = minutes_apart(20)
    first = get(api_client, LIST_URL, {"cursor": "", "sort": "modified_date", "limit": 10})
    Customer.objects.get(id=order[0]).save()
    second = get(api_client, first["next"])
    assert [row["id"] for row in second["results"]] == order[10:]


def minutes_apart(count: int) -> list[int]:
    """``count`` customers stamped a minute apart, in reverse id order; the ids in
    modified_date order."""
    add_customers(count)
    with keeping_given_stamps():
        for number, customer in enumerate(Customer.objects.order_by("-id")):
            Customer.objects.filter(id=customer.id).update(
                modified_date=SETTLED + timedelta(minutes=number)
            )
    return list(Customer.objects.order_by("modified_date", "id").values_list("id", flat=True))


@pytest.mark.parametrize("limit", [1000, 7])
def test_five_thousand_ties_cross_page_boundaries_exactly_once(
    api_client: APIClient, limit: int
) -> None:
    add_customers(10, modified_date=SETTLED + timedelta(seconds=1))
    add_customers(5000, modified_date=SETTLED)
    add_customers(10, modified_date=SETTLED - timedelta(microseconds=1))
    params = {"cursor": "", "sort": "modified_date", "limit": limit}
    if limit == 7:  # a subset, to keep the test short: the 5000 tied rows and their edges
        params["modified_date__lte"] = SETTLED.isoformat()

    delivered = walk(api_client, params)

    assert Counter(delivered).most_common(1)[0][1] == 1
    assert len(delivered) == (5010 if limit == 7 else 5020)


@pytest.mark.usefixtures("transactional_db")
def test_rows_not_settled_wait_in_modified_date_order_only(
    api_client: APIClient, short_write_bound: float
) -> None:
    """A row stamped now could still have company committing behind it: pages in
    modified_date order leave it out (and end), until it has settled; id order has it."""
    old = add_customers(3)
    # Stamped now: by PostgreSQL, or by the application (Customer's default) elsewhere.
    (fresh,) = Customer.objects.bulk_create([Customer(omnitron_id=999, email="new@example.com")])

    body = get(api_client, LIST_URL, {"cursor": "", "sort": "modified_date", "limit": 3})
    assert [row["id"] for row in body["results"]] == old
    assert body["next"] is None
    assert body["count"] == 4  # the filters' count, as pages give it
    assert fresh.id in walk(api_client, {"cursor": "", "sort": "id", "limit": 3})

    time.sleep(short_write_bound + 0.1)
    body = get(api_client, LIST_URL, {"cursor": "", "sort": "modified_date", "limit": 10})
    assert [row["id"] for row in body["results"]] == [*old, fresh.id]


def test_previous_links_walk_back_through_the_same_pages(api_client: APIClient) -> None:
    add_customers(10)
    pages = [get(api_client, LIST_URL, {"cursor": "", "sort": "id", "limit": 3})]
    while pages[-1]["next"]:
        pages.append(get(api_client, pages[-1]["next"]))
    assert [len(page["results"]) for page in pages] == [3, 3, 3, 1]

    back = [pages[-1]]
    while back[-1]["previous"]:
        back.append(get(api_client, back[-1]["previous"]))

    assert [page["results"] for page in back] == [page["results"] for page in reversed(pages)]
    forwards_again = get(api_client, back[-1]["next"])
    assert forwards_again["results"] == pages[1]["results"]


def test_the_count_of_a_short_first_page_costs_no_query(
    api_client: APIClient, django_assert_max_num_queries: Any
) -> None:
    add_customers(3)
    get(api_client, LIST_URL)  # the token's first use and permissions, cached after it
    with django_assert_max_num_queries(2):  # the token, the page
        body = get(api_client, LIST_URL, {"cursor": "", "sort": "id", "limit": 10})
    assert body["count"] == 3


def linked(header: str, rel: str) -> str | None:
    """The URL of ``rel`` in a Link header, None without one."""
    for link in filter(None, header.split(", ")):
        url, _, params = link.partition(">; ")
        if params == f'rel="{rel}"':
            return url.lstrip("<")
    return None


def tampered(cursor: str) -> str:
    payload, _, signature = cursor.partition(":")
    return f"{payload[:-2]}x{payload[-1]}:{signature}"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"cursor": "garbage"}, "Not a cursor of this list"),
        ({"cursor": "", "sort": "-modified_date"}, "Cursor pages follow sort=id or sort=-id"),
        ({"cursor": "", "page": "2"}, "Give cursor or page, not both."),
        ({"cursor": ["a", "b"]}, "Give one cursor."),
    ],
)
def test_bad_cursors_are_400s_naming_cursor(
    api_client: APIClient, params: dict[str, Any], message: str
) -> None:
    add_customers(3)
    response = api_client.get(LIST_URL, params)
    assert response.status_code == 400
    (error,) = response.json()["cursor"]
    assert message in error


def test_a_forged_or_moved_cursor_is_refused(api_client: APIClient) -> None:
    add_customers(5)
    first = get(api_client, LIST_URL, {"cursor": "", "sort": "id", "limit": 2})
    cursor = query_of(first["next"])["cursor"][0]
    forged = signing.dumps({"o": "id", "v": [1]}, salt="another salt")

    for bad in (tampered(cursor), forged):
        response = api_client.get(LIST_URL, {"cursor": bad, "sort": "id", "limit": 2})
        assert response.status_code == 400
        assert "Not a cursor of this list" in response.json()["cursor"][0]
    response = api_client.get(LIST_URL, {"cursor": cursor, "sort": "modified_date", "limit": 2})
    assert response.status_code == 400
    assert "continues the order sort=id" in response.json()["cursor"][0]


def test_an_empty_cursor_added_to_a_next_link_continues_from_the_link(
    api_client: APIClient,
) -> None:
    """Connectors that merge their first request's parameters into the next link they
    follow send ``cursor`` twice (Airbyte's declarative requester, for one)."""
    ids = add_customers(5)
    first = get(api_client, LIST_URL, {"cursor": "", "sort": "id", "limit": 2})

    second = get(api_client, f"{first['next']}&cursor=")
    third = get(api_client, f"{second['next']}&cursor=start")

    assert [row["id"] for row in second["results"]] == ids[2:4]
    assert [row["id"] for row in third["results"]] == ids[4:]
    # "start" starts a walk, for clients that drop an empty parameter.
    assert get(api_client, LIST_URL, {"cursor": "start", "sort": "id", "limit": 2}) == first


def test_csv_and_workbook_pages_link_the_next_one(api_client: APIClient) -> None:
    ids = add_customers(5)
    url, rows = f"{LIST_URL}?cursor=&sort=id&limit=2&format=csv", []
    while url:
        response = api_client.get(url)
        assert response.status_code == 200
        rows += list(csv.DictReader(io.StringIO(response.content.decode())))
        url = linked(response.headers.get("Link", ""), "next")
    assert [int(row["id"]) for row in rows] == ids

    response = api_client.get(LIST_URL, {"cursor": "", "sort": "id", "limit": 2, "format": "xls"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ids[:2]
    assert linked(response.headers["Link"], "next")


@pytest.mark.parametrize("export_format", ["csv", "xls"])
def test_an_export_with_a_cursor_continues_where_its_link_says(
    api_client: APIClient, export_format: str
) -> None:
    ids = add_customers(6)

    def exported(url: str) -> tuple[list[int], str]:
        response = api_client.get(url)
        assert response.status_code == 200, response
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if export_format == "csv":
            got = [int(row["id"]) for row in csv.DictReader(io.StringIO(body.decode()))]
        else:
            sheet = openpyxl.load_workbook(io.BytesIO(body)).active
            got = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
        return got, linked(response.headers["Link"], "next")

    first = get(api_client, LIST_URL, {"cursor": "", "sort": "id", "limit": 2})
    cursor = query_of(first["next"])["cursor"][0]
    got, link = exported(f"{EXPORT_URL}?format={export_format}&sort=id&cursor={cursor}")
    assert got == ids[2:]

    assert exported(link)[0] == []  # nothing new
    add_customers(2)
    assert exported(link)[0] == list(
        Customer.objects.filter(id__gt=ids[-1]).values_list("id", flat=True)
    )


def test_an_export_in_modified_date_order_holds_back_unsettled_rows(
    api_client: APIClient,
) -> None:
    ids = add_customers(3)
    Customer.objects.create(omnitron_id=999, email="fresh@example.com")

    response = api_client.get(EXPORT_URL, {"cursor": "", "sort": "modified_date"})

    body = b"".join(response.streaming_content).decode()
    # The fresh row comes with a later export, once it has settled.
    assert [int(row["id"]) for row in csv.DictReader(io.StringIO(body))] == ids


@postgresql_only("needs concurrent write transactions")
@pytest.mark.usefixtures("transactional_db")
@pytest.mark.parametrize("sort", ["id", "modified_date"])
def test_under_concurrent_writes_a_walk_misses_no_row_that_stays(
    api_client: APIClient, short_write_bound: float, sort: str
) -> None:
    """A writer updates, deletes and inserts rows while a walk follows ``next`` (20-row
    pages, a pause between them). In id order every row still there at the end was
    delivered. In modified_date order so was every row the writer did not touch; a row it
    changed waits until its new stamp has settled, and resuming from the last stamp
    delivered brings it."""
    ids = add_customers(400)
    stop = threading.Event()
    deleted: set[int] = set()

    def churn() -> None:
        rng = random.Random(7)
        while not stop.is_set():
            choice, row = rng.random(), rng.choice(ids)
            if choice < 0.6:
                Customer.objects.filter(id=row).update(first_name=f"v{rng.random()}")
            elif choice < 0.8 and row not in deleted:
                Customer.objects.filter(id=row).delete()
                deleted.add(row)
            else:
                Customer.objects.bulk_create(
                    [Customer(omnitron_id=10**6 + rng.randrange(10**6), email="n@example.com")]
                )
            time.sleep(0.002)

    writer = start(churn)
    body = get(api_client, LIST_URL, {"cursor": "", "sort": sort, "limit": 20})
    rows = body["results"]
    while body["next"]:
        time.sleep(0.01)
        body = get(api_client, body["next"])
        rows += body["results"]
    stop.set()
    writer.finish(timeout=10)

    delivered = {row["id"] for row in rows}
    survivors = set(ids) - deleted
    assert deleted  # the writer did delete rows during the walk
    if sort == "id":
        assert survivors <= delivered
        return
    untouched = set(
        Customer.objects.filter(id__in=survivors, modified_date=SETTLED).values_list(
            "id", flat=True
        )
    )
    assert untouched <= delivered
    assert len(untouched) < len(survivors)  # the writer did change rows during the walk
    time.sleep(short_write_bound)
    resumed = walk(
        api_client,
        {"cursor": "", "sort": "modified_date", "modified_date__gte": rows[-1]["modified_date"]},
    )
    assert survivors <= delivered | set(resumed)


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "modified_date", "modified_date__gte": "2023-06-01"},
        {"sort": "id", "id__gt": "3"},
        {"sort": "id", "first_name": "Ali"},
    ],
)
def test_a_cursor_page_costs_no_more_queries_than_a_numbered_one(
    api_client: APIClient, params: dict[str, str]
) -> None:
    """The same count (from the counters where the filters allow it), one page query."""
    add_customers(30, first_name="Ali")
    get(api_client, LIST_URL)  # the token's first use and permissions, cached after it
    numbered = get(api_client, LIST_URL, {**params, "limit": 10})
    cursor = get(api_client, LIST_URL, {**params, "cursor": "", "limit": 10})

    with CaptureQueriesContext(connection) as by_page:
        get(api_client, numbered["next"])
    with CaptureQueriesContext(connection) as by_cursor:
        page = get(api_client, cursor["next"])

    assert len(by_cursor) <= len(by_page)
    assert page["count"] == numbered["count"]
