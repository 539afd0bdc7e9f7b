"""GET /api/v1/oms/deleted-items/: every deleted customer, however it was deleted, with
the list's auth, scope, filters, formats, cursor pages and a 410 past the retention."""

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import openpyxl
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from channels.models import Channel
from customers.models import Customer
from deleted_items.models import DeletedItem, RetainedSince
from tests.concurrency import postgresql_only
from tests.conftest import utc
from tokens.issuing import issue

pytestmark = pytest.mark.django_db

URL = "/api/v1/oms/deleted-items/"
FIELDS = ["id", "content_type", "object_id", "deleted_date", "channel"]


def record(object_id: int) -> dict[str, Any]:
    """The deletion record of a customer as the database wrote it."""
    return DeletedItem.objects.values("content_type", "object_id", "channel_id").get(
        object_id=object_id
    )


def deleted_by_orm(customer: Customer) -> None:
    customer.delete()


def deleted_in_bulk(customer: Customer) -> None:
    Customer.objects.filter(id__in=[customer.id]).delete()


def deleted_by_sql(customer: Customer) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM customers_customer WHERE id = %s", [customer.id])


def deleted_in_the_admin(customer: Customer) -> None:
    admin = User.objects.create_superuser("admin", password="x")
    client = Client()
    client.force_login(admin)
    response = client.post(
        "/admin/customers/customer/",
        {"action": "delete_selected", "_selected_action": [customer.id], "post": "yes"},
        secure=True,
    )
    assert response.status_code == 302, response.content


@pytest.mark.parametrize(
    "delete", [deleted_by_orm, deleted_in_bulk, deleted_by_sql, deleted_in_the_admin]
)
def test_every_delete_path_records_the_deletion(
    make_customer: Callable[..., Customer], channel: Channel, delete: Callable[[Customer], None]
) -> None:
    kept = make_customer(channel=channel)
    gone = make_customer(channel=channel)
    before = timezone.now() - timedelta(seconds=1)  # SQLite's stamp has milliseconds only
    gone_id = gone.id

    delete(gone)

    assert record(gone_id) == {
        "content_type": "customer",
        "object_id": gone_id,
        "channel_id": channel.id,
    }
    assert before <= DeletedItem.objects.get().deleted_date <= timezone.now()
    assert not DeletedItem.objects.filter(object_id=kept.id).exists()


def test_a_delete_rolled_back_leaves_no_record(make_customer: Callable[..., Customer]) -> None:
    customer = make_customer()
    with transaction.atomic():
        Customer.objects.filter(id=customer.id).delete()
        transaction.set_rollback(True)
    assert not DeletedItem.objects.exists()
    assert Customer.objects.filter(id=customer.id).exists()


def add_deletions(*dates: Any, channel_id: int | None = None) -> list[DeletedItem]:
    return DeletedItem.objects.bulk_create(
        DeletedItem(
            content_type="customer", object_id=100 + n, channel_id=channel_id, deleted_date=d
        )
        for n, d in enumerate(dates)
    )


def keep_since(date: datetime, first_id: int = 1) -> None:
    """Move the feed's horizon (whether a flush of the database removed its row or not)."""
    RetainedSince.objects.update_or_create(
        pk=RetainedSince.ROW, defaults={"date": date, "first_id": first_id}
    )


def test_the_list_is_shaped_like_the_other_lists(api_client: APIClient) -> None:
    (item,) = add_deletions(utc(2024, 1, 2, 3, 4, 5), channel_id=7)

    body = api_client.get(URL).json()

    assert list(body) == ["count", "next", "previous", "results"]
    assert body["count"] == 1
    (row,) = body["results"]
    assert list(row) == FIELDS
    assert row == {
        "id": item.id,
        "content_type": "customer",
        "object_id": 100,
        "deleted_date": "2024-01-02T03:04:05.000000Z",
        "channel": 7,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"deleted_date__gte": "2024-01-02"}, [1, 2]),
        ({"deleted_date__gt": "2024-01-02T00:00:00Z"}, [2]),
        ({"deleted_date__lt": "2024-01-02"}, [0]),
        ({"deleted_date__lte": "2024-01-02T00:00:00Z"}, [0, 1]),
        ({"deleted_date": "2024-01-03"}, [2]),
        ({"object_id": "101"}, [1]),
        ({"content_type": "customer", "sort": "-deleted_date"}, [2, 1, 0]),
        ({"content_type": "channel"}, []),
    ],
)
def test_filters(api_client: APIClient, params: dict[str, str], expected: list[int]) -> None:
    items = add_deletions(utc(2024, 1, 1), utc(2024, 1, 2), utc(2024, 1, 3))
    ids = [items[n].id for n in expected]

    body = api_client.get(URL, params).json()

    assert [row["id"] for row in body["results"]] == ids


def test_id_filters(api_client: APIClient) -> None:
    items = add_deletions(utc(2024, 1, 1), utc(2024, 1, 2), utc(2024, 1, 3))
    middle = items[1].id
    for lookup, expected in (
        ("gt", items[2:]),
        ("gte", items[1:]),
        ("lt", items[:1]),
        ("lte", items[:2]),
    ):
        body = api_client.get(URL, {f"id__{lookup}": middle}).json()
        assert [row["id"] for row in body["results"]] == [item.id for item in expected]


def test_csv_and_workbook(api_client: APIClient) -> None:
    add_deletions(utc(2024, 1, 1), channel_id=3)

    response = api_client.get(URL, {"format": "csv"})
    assert response["Content-Disposition"] == 'attachment; filename="deleted-items.csv"'
    (row,) = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(row) == FIELDS
    assert row["deleted_date"] == "2024-01-01T00:00:00.000000Z"

    for name in ("xls", "xlsx"):  # the format, and its file's extension
        response = api_client.get(URL, {"format": name})
        rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.values)
        assert list(rows[0]) == FIELDS
        assert rows[1][1:3] == ("customer", 100)


def test_options_describe_fields_and_filters(api_client: APIClient) -> None:
    body = api_client.options(URL).json()

    assert body["name"] == "list"
    assert body["renders"] == [
        "application/json",
        "text/csv",
        "application/xls",
        "application/x-ndjson",
    ]
    assert list(body["actions"]["GET"]) == FIELDS
    filters = {entry["field_name"]: entry for entry in body["filters"]}
    assert filters["deleted_date"]["lookup_expr"] == ["exact", "gt", "gte", "lt", "lte"]
    assert {"sort", "id", "content_type", "object_id", "channel_id"} <= set(filters)


def test_reading_deletions_needs_the_customers_view_permission(
    api_client: APIClient, anonymous_client: APIClient
) -> None:
    assert anonymous_client.get(URL).status_code == 401
    stranger = User.objects.create_user("stranger")
    _, key = issue(stranger)
    stranger_client = APIClient()
    stranger_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert stranger_client.get(URL).status_code == 403
    assert api_client.get(URL).status_code == 200


def test_a_channel_scoped_token_sees_its_channels_deletions_only(reader: User) -> None:
    web, shop = Channel.objects.create(name="Web"), Channel.objects.create(name="Shop")
    mine = add_deletions(utc(2024, 1, 1), channel_id=web.id)
    add_deletions(utc(2024, 1, 1), channel_id=shop.id)
    add_deletions(utc(2024, 1, 1))
    _, key = issue(reader, name="web", channels=[web])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    body = client.get(URL).json()

    assert [row["id"] for row in body["results"]] == [item.id for item in mine]
    assert client.get(URL, {"channel_id": shop.id}).json()["count"] == 0


def test_cursor_pages_hold_back_deletions_not_yet_settled(api_client: APIClient) -> None:
    old = add_deletions(*(utc(2024, 1, 1) + timedelta(minutes=n) for n in range(5)))
    add_deletions(timezone.now())

    ids, url = [], f"{URL}?cursor=&sort=deleted_date&limit=2"
    while url:
        body = api_client.get(url).json()
        ids += [row["id"] for row in body["results"]]
        url = body["next"]

    assert ids == [item.id for item in old]


def test_prune_removes_records_past_the_retention_and_moves_the_horizon() -> None:
    now = timezone.now()
    keep_since(now - timedelta(days=365))
    old = add_deletions(now - timedelta(days=91), now - timedelta(days=90, minutes=1))
    kept = add_deletions(now - timedelta(days=89))
    out = io.StringIO()

    call_command("prune_deleted_items", stdout=out)

    assert list(DeletedItem.objects.values_list("id", flat=True)) == [kept[0].id]
    retained = RetainedSince.current()
    assert retained.first_id == old[-1].id + 1
    assert now - timedelta(days=90, seconds=5) < retained.date <= now - timedelta(days=89)
    assert "Pruned 2 deletion records" in out.getvalue()


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"deleted_date__gte": "2024-01-01T00:00:00Z"}, "deleted_date__gte"),
        ({"deleted_date__gt": "2023-12-31"}, "deleted_date__gt"),
        ({"deleted_date": "2024-01-01"}, "deleted_date"),
        ({"id__gt": "1"}, "id__gt"),
        ({"id__gte": "2"}, "id__gte"),
    ],
)
def test_asking_for_deletions_older_than_kept_is_a_410(
    api_client: APIClient, params: dict[str, str], param: str
) -> None:
    keep_since(utc(2024, 1, 2), first_id=3)

    response = api_client.get(URL, params)

    assert response.status_code == 410
    (message,) = response.json()[param]
    assert "load every object again" in message


def test_requests_within_what_is_kept_are_answered(api_client: APIClient) -> None:
    keep_since(utc(2024, 1, 2), first_id=3)
    for params in (
        {},
        {"deleted_date__gte": "2024-01-02"},
        {"id__gt": "2"},
        {"id__gte": "3"},
        {"deleted_date__lt": "2020-01-01"},
    ):
        assert api_client.get(URL, params).status_code == 200, params


def test_a_cursor_from_before_the_horizon_is_a_410(api_client: APIClient) -> None:
    items = add_deletions(*(utc(2024, 1, 1, n) for n in range(4)))
    by_date = api_client.get(URL, {"cursor": "", "sort": "deleted_date", "limit": 1}).json()["next"]
    by_id = api_client.get(URL, {"cursor": "", "sort": "id", "limit": 1}).json()["next"]

    keep_since(utc(2024, 1, 1, 2), first_id=items[2].id)

    for link in (by_date, by_id):
        response = api_client.get(link)
        assert response.status_code == 410
        assert "cursor" in response.json()


@postgresql_only("TRUNCATE triggers are PostgreSQL's")
def test_a_truncate_makes_earlier_positions_resync(api_client: APIClient) -> None:
    add_deletions(utc(2024, 1, 1))
    last_id = DeletedItem.objects.get().id
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE customers_customer")

    assert api_client.get(URL, {"id__gt": last_id}).status_code == 410
    assert api_client.get(URL, {"deleted_date__gte": "2024-06-01"}).status_code == 410
    assert api_client.get(URL).status_code == 200


def test_a_first_run_naming_an_old_start_date_is_answered(api_client: APIClient) -> None:
    """Nothing pruned yet: a connector's first request from its configured start date
    gets the deletions, not a 410 it would meet again on every retry."""
    add_deletions(utc(2024, 1, 1))
    response = api_client.get(URL, {"deleted_date__gte": "2000-01-01", "id__gt": "0"})
    assert response.status_code == 200
    assert response.json()["count"] == 1


@postgresql_only("TRUNCATE triggers are PostgreSQL's")
def test_without_a_horizon_row_nothing_is_pruned_and_a_truncate_sets_one(
    api_client: APIClient,
) -> None:
    RetainedSince.objects.all().delete()  # as a flushed database has it
    assert api_client.get(URL, {"deleted_date__gte": "2000-01-01"}).status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE customers_customer")

    assert RetainedSince.current().date > timezone.now() - timedelta(minutes=1)
    assert api_client.get(URL, {"deleted_date__gte": "2000-01-01"}).status_code == 410
