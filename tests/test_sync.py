"""BI tools' incremental sync (docs/syncing.md) never misses a row.

``SyncClient`` follows the documented recipe as a BI tool would: the first run pulls every
row by id, each later run reads ``modified_date >= watermark - lookback`` in keyset pages
of (modified_date, id), and the watermark is the newest ``modified_date`` the service held
when the previous run began. The tests race it against ties, late commits, updates,
inserts and deletes. Those with concurrent write transactions need PostgreSQL.
"""

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import DatabaseError, connection
from django.db.models.signals import pre_save
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

import oms.admin
import oms.db.models
from channels.models import Channel
from customers import demo, importing
from customers.models import Customer
from customers.serializers import CustomerSimpleSerializer
from oms.db.transactions import TIMEOUT_SETTINGS, TransactionTimeout, bounded_transaction
from tests.concurrency import postgresql_only as postgresql_only_for
from tests.concurrency import sleep_until, start
from tests.conftest import LIST_URL, utc
from tests.recipe import LOOKBACK, Row, SyncClient

LATE_COMMIT_SECONDS = 30
postgresql_only = postgresql_only_for(
    "needs concurrent write transactions and server-side timeouts: PostgreSQL only"
)


def pull_page_numbers(api_client: APIClient, params: dict[str, Any]) -> list[int]:
    """Ids of every page, following ``next`` links (page numbers)."""
    ids: list[int] = []
    url: str | None = LIST_URL
    while url:
        response = api_client.get(url, params if url == LIST_URL else None)
        assert response.status_code == 200, response.content
        ids += [row["id"] for row in response.json()["results"]]
        url = response.json()["next"]
    return ids


def assert_copy_matches_database(client: SyncClient) -> None:
    """Every customer in the database is in the tool's copy as the API shows it now:
    none missing, none stale (deleted ones stay in the copy; the API has no tombstones)."""
    current = {
        row["id"]: dict(row)
        for row in CustomerSimpleSerializer(Customer.objects.all(), many=True).data
    }
    missing = sorted(current.keys() - client.copy.keys())
    stale = sorted(i for i in current.keys() & client.copy.keys() if client.copy[i] != current[i])
    assert (missing, stale) == ([], [])


def new_customers(count: int, first: int = 1, **fields: Any) -> list[Customer]:
    """``count`` customers in one bulk_create (``modified_date`` as given, else now)."""
    return Customer.objects.bulk_create(
        Customer(omnitron_id=n, email=f"customer{n}@example.com", **fields)
        for n in range(first, first + count)
    )


def show(name: str) -> str | None:
    """A PostgreSQL setting as SHOW gives it; None on other databases."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


# Ties and page boundaries (both databases).


@pytest.fixture
def tied(channel: Channel) -> None:
    """5,000 customers with one modified_date between 10 earlier and 10 later ones, ids
    out of modified_date order; every 20th tied one and the 20 others in ``channel``."""
    moment = utc(2024, 5, 1, 12, 0, 0, 123456)
    new_customers(10, first=1, modified_date=moment + timedelta(seconds=1), channel=channel)
    tied = new_customers(5000, first=11, modified_date=moment)
    new_customers(10, first=5011, modified_date=moment - timedelta(microseconds=1), channel=channel)
    Customer.objects.filter(id__in=[c.id for c in tied[::20]]).update(channel=channel)


@pytest.mark.usefixtures("tied")
@pytest.mark.parametrize(("limit", "subset"), [(1000, False), (7, True)])
def test_ties_across_page_boundaries_are_delivered_exactly_once(
    api_client: APIClient, channel: Channel, limit: int, subset: bool
) -> None:
    filters = {"channel_id": str(channel.id)} if subset else {}
    rows = Customer.objects.filter(**filters).order_by("modified_date", "id")
    expected = list(rows.values_list("id", flat=True))
    assert len(expected) == (270 if subset else 5020)

    by_page = pull_page_numbers(api_client, {"sort": "modified_date", "limit": limit, **filters})
    client = SyncClient(api_client, limit=limit, filters=filters)
    client.pull_by_modified_date()

    assert by_page == expected
    assert client.delivered == expected


# Why the recipe pages by keyset, not page number (both databases).


def six_customers() -> list[Customer]:
    """Six customers an hour apart, from 01:00; ids in the same order."""
    Customer.objects.all().delete()
    return [new_customers(1, first=n, modified_date=utc(2024, 1, 1, n))[0] for n in range(1, 7)]


def update_or_delete(customer: Customer, change: str) -> None:
    if change == "update":
        customer.save()  # now the newest: it moves to the end of modified_date order
    else:
        customer.delete()


@pytest.mark.parametrize(("change", "sort"), [("update", "modified_date"), ("delete", "id")])
def test_page_numbers_skip_a_row_when_an_earlier_one_moves_or_goes(
    api_client: APIClient, change: str, sort: str
) -> None:
    customers = six_customers()
    first = api_client.get(LIST_URL, {"sort": sort, "limit": 3}).json()
    update_or_delete(customers[0], change)
    second = api_client.get(first["next"]).json()

    # The fourth row slid onto page 1, already read. Its modified_date is older than the
    # next run's lower bound, so no incremental run brings it back either.
    assert customers[3].id not in [row["id"] for row in first["results"] + second["results"]]
    newest = Customer.objects.order_by("-modified_date").first().modified_date
    assert customers[3].modified_date < newest - LOOKBACK

    # Keyset pages go on after the last row read, wherever the rows before it went.
    customers = six_customers()
    client = SyncClient(api_client, limit=3)
    receive = client.receive

    def receive_then_change(rows: list[Row]) -> None:
        first_page = not client.delivered
        receive(rows)
        if first_page:
            update_or_delete(customers[0], change)

    client.receive = receive_then_change
    if sort == "id":
        client.pull_by_id()
    else:
        client.pull_by_modified_date()
    assert customers[3].id in client.delivered
    assert_copy_matches_database(client)


# Late commits (PostgreSQL).


@postgresql_only
@pytest.mark.usefixtures("transactional_db")
def test_a_row_committed_late_is_delivered_by_the_next_run(api_client: APIClient) -> None:
    """A transaction stamps two rows, then commits 30 s later. Runs in between cannot see
    them, and their watermarks pass the rows' modified_date (other rows change meanwhile);
    the first run after the commit delivers both, thanks to the lookback."""
    customers = new_customers(10, modified_date=utc(2024, 1, 1))
    client = SyncClient(api_client)
    client.run()
    assert set(client.copy) == {c.id for c in customers}

    stamped = threading.Event()
    late: dict[str, Customer] = {}

    def write_late() -> None:
        with bounded_transaction():
            updated = Customer.objects.get(id=customers[0].id)
            updated.first_name = "Late"
            updated.save()
            created = Customer(omnitron_id=1000, email="late@example.com")
            created.save()
            late.update(updated=updated, created=created)
            stamped.set()
            time.sleep(LATE_COMMIT_SECONDS)

    writer = start(write_late)
    assert stamped.wait(10)
    began = time.monotonic()
    stamps = [late["updated"].modified_date, late["created"].modified_date]

    for run_at, other in ((5, customers[1]), (15, customers[2])):
        other.save()  # commits at once, stamped after the late rows
        sleep_until(began + run_at)
        client.run()
        assert late["created"].id not in client.copy
        assert client.copy[customers[0].id]["first_name"] == ""
        assert client.watermark > max(stamps)  # modified_date >= watermark misses them

    writer.finish(timeout=LATE_COMMIT_SECONDS + 10)
    client.run()

    assert client.copy[late["created"].id]["email"] == "late@example.com"
    assert client.copy[customers[0].id]["first_name"] == "Late"
    assert_copy_matches_database(client)


@postgresql_only
@pytest.mark.usefixtures("transactional_db")
def test_an_id_committed_after_the_pull_passed_it_comes_with_the_next_run(
    api_client: APIClient,
) -> None:
    """Ids are taken at INSERT, rows appear at COMMIT: a keyset pull by id can pass an id
    whose row is not committed yet. The next run's lookback delivers it."""
    new_customers(5, modified_date=utc(2024, 1, 1))
    inserted, release = threading.Event(), threading.Event()
    late: list[Customer] = []

    def insert_late() -> None:
        with bounded_transaction():
            late.append(Customer.objects.create(omnitron_id=100, email="late@example.com"))
            inserted.set()
            release.wait(10)

    writer = start(insert_late)
    assert inserted.wait(10)
    later = Customer.objects.create(omnitron_id=101, email="later@example.com")
    client = SyncClient(api_client, limit=2)
    client.run()
    release.set()
    writer.finish(timeout=10)

    assert late[0].id < later.id
    assert later.id in client.copy
    assert late[0].id not in client.copy
    client.run()
    assert late[0].id in client.copy
    assert_copy_matches_database(client)


# The bound the lookback relies on (PostgreSQL).


@postgresql_only
@pytest.mark.usefixtures("transactional_db")
@pytest.mark.parametrize(
    ("overrun", "error"),
    [
        ("idle", "idle-in-transaction timeout"),
        ("statement", "statement timeout"),
        ("in all", "over its bound of 1 s"),
    ],
)
def test_a_write_transaction_open_past_the_bound_is_rolled_back(
    settings: Settings, overrun: str, error: str
) -> None:
    """An idle pause or a statement longer than WRITE_TRANSACTION_TIMEOUT is aborted by
    PostgreSQL; short statements and pauses that add up to more are refused at commit."""
    settings.WRITE_TRANSACTION_TIMEOUT = 1

    def write() -> None:
        with bounded_transaction():
            Customer.objects.create(omnitron_id=1, email="slow@example.com")
            if overrun == "idle":
                time.sleep(2.5)
                Customer.objects.count()
            elif overrun == "statement":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_sleep(2.5)")
            else:
                for _ in range(5):  # 0.4 s pauses, each well within the bound
                    time.sleep(0.4)
                    Customer.objects.count()

    worker = start(write)
    worker.join(10)

    assert not worker.is_alive()
    assert isinstance(worker.error, DatabaseError)
    assert isinstance(worker.error, TransactionTimeout) == (overrun == "in all")
    assert error in str(worker.error)
    assert not Customer.objects.exists()


# Churn (PostgreSQL).


@postgresql_only
@pytest.mark.usefixtures("transactional_db")
def test_under_churn_a_full_pull_then_runs_miss_no_row(api_client: APIClient) -> None:
    """While ~1 % of 2,000 rows change a second and others are inserted (committing up to
    1 s after their stamp) and deleted, a full pull by id and then runs every half second
    leave the tool with every row as it is at the end."""
    ids = [c.id for c in new_customers(2000, modified_date=utc(2024, 1, 1))]
    stop = threading.Event()
    counts: Counter[str] = Counter()

    def update() -> None:
        rng = random.Random(1)
        while not stop.wait(0.05):
            customer = Customer.objects.filter(id=rng.choice(ids)).first()
            if customer is not None:  # else deleted meanwhile
                customer.first_name = f"update {counts['updated']}"
                try:
                    customer.save(update_fields=["first_name"])
                except DatabaseError:  # deleted between the read and the save
                    continue
                counts["updated"] += 1

    def insert_and_delete() -> None:
        rng = random.Random(2)
        while not stop.wait(0.1):
            counts["deleted"] += Customer.objects.filter(id=rng.choice(ids)).delete()[0]
            with bounded_transaction():
                Customer.objects.create(
                    omnitron_id=10_000 + counts["inserted"], email="new@example.com"
                )
                time.sleep(rng.uniform(0, 1))
            counts["inserted"] += 1

    workers = [start(update), start(insert_and_delete)]
    client = SyncClient(api_client, limit=50)
    deadline = time.monotonic() + 10
    client.run()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        client.run()
    stop.set()
    for worker in workers:
        worker.finish(timeout=5)
    client.run()

    assert counts["updated"] >= 50, counts  # the writers did churn
    assert counts["inserted"] >= 3, counts
    assert counts["deleted"] >= 3, counts
    assert len(client.delivered) > len(set(client.delivered))  # repeats, as documented
    assert_copy_matches_database(client)


@postgresql_only
@pytest.mark.usefixtures("transactional_db")
def test_keyset_by_id_neither_skips_nor_repeats_a_surviving_row(api_client: APIClient) -> None:
    """Rows inserted and deleted while a full pull pages by ``id__gt``: every row there
    from start to end comes exactly once, and ids come in increasing order."""
    before = {c.id for c in new_customers(2000, modified_date=utc(2024, 1, 1))}
    stop = threading.Event()
    counts: Counter[str] = Counter()

    def insert_and_delete() -> None:
        rng = random.Random(3)
        candidates = sorted(before)
        while not stop.wait(0.01):
            Customer.objects.create(omnitron_id=10_000 + counts["inserted"], email="n@example.com")
            counts["inserted"] += 1
            counts["deleted"] += Customer.objects.filter(id=rng.choice(candidates)).delete()[0]

    worker = start(insert_and_delete)
    client = SyncClient(api_client, limit=20)
    client.pull_by_id()
    stop.set()
    worker.finish(timeout=5)

    survivors = before & set(Customer.objects.values_list("id", flat=True))
    assert counts["inserted"] >= 10, counts  # the writer did churn
    assert counts["deleted"] >= 10, counts
    assert client.delivered == sorted(set(client.delivered))
    assert survivors <= set(client.delivered)


# The helper and the write paths that use it.


@postgresql_only
@pytest.mark.usefixtures("transactional_db")
def test_bounded_transaction_sets_the_timeouts_for_its_transaction_only() -> None:
    defaults = {name: show(name) for name in TIMEOUT_SETTINGS}

    with bounded_transaction(7):
        assert {name: show(name) for name in TIMEOUT_SETTINGS} == dict.fromkeys(
            TIMEOUT_SETTINGS, "7s"
        )
        with bounded_transaction(3):  # nested: the transaction's bound stands
            assert show("statement_timeout") == "7s"

    assert {name: show(name) for name in TIMEOUT_SETTINGS} == defaults


@postgresql_only
@pytest.mark.usefixtures("transactional_db")
def test_bounded_transaction_keeps_a_lower_timeout() -> None:
    """The web processes' statement timeout (config/settings.py) is lower: it stays."""
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 2000")
        try:
            with bounded_transaction(7):
                assert show("statement_timeout") == "2s"
                assert show("lock_timeout") == "7s"
        finally:
            cursor.execute("RESET statement_timeout")


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite's behaviour")
@pytest.mark.django_db
def test_on_sqlite_bounded_transaction_is_a_plain_atomic() -> None:
    with CaptureQueriesContext(connection) as queries:
        with bounded_transaction(0.001):
            Customer.objects.create(omnitron_id=1, email="kept@example.com")
            time.sleep(0.01)  # past the bound: SQLite has no timeouts, and no check is made
        with pytest.raises(ZeroDivisionError), bounded_transaction(0.001):  # noqa: PT012
            Customer.objects.create(omnitron_id=2, email="rolled-back@example.com")
            1 / 0  # noqa: B018

    assert list(Customer.objects.values_list("omnitron_id", flat=True)) == [1]
    assert not [q for q in queries if "set_config" in q["sql"] or "timeout" in q["sql"]]


@dataclass
class BoundedSpy:
    """Records a module's bounded_transaction blocks: for each, whether it began the
    transaction; and how many are open now."""

    began_transaction: list[bool] = field(default_factory=list)
    open_blocks: int = 0


@pytest.fixture
def spy_bounded(monkeypatch: pytest.MonkeyPatch) -> Callable[[ModuleType], BoundedSpy]:
    def spy_on(module: ModuleType) -> BoundedSpy:
        spy = BoundedSpy()
        real = module.bounded_transaction

        @contextmanager
        def spying(*args: Any, **kwargs: Any) -> Iterator[None]:
            spy.began_transaction.append(not connection.in_atomic_block)
            with real(*args, **kwargs):
                spy.open_blocks += 1
                try:
                    yield
                finally:
                    spy.open_blocks -= 1

        monkeypatch.setattr(module, "bounded_transaction", spying)
        return spy

    return spy_on


@pytest.fixture
def saves_seen() -> Iterator[list[tuple[str, str | None]]]:
    """(model name, statement_timeout) of each TimeStampedModel save, seen from pre_save."""
    seen: list[tuple[str, str | None]] = []

    def record(sender: type, **kwargs: Any) -> None:
        seen.append((sender.__name__, show("statement_timeout")))

    pre_save.connect(record, sender=Customer)
    pre_save.connect(record, sender=Channel)
    yield seen
    pre_save.disconnect(record, sender=Customer)
    pre_save.disconnect(record, sender=Channel)


def bound_shown() -> str | None:
    """statement_timeout inside a bounded transaction: WRITE_TRANSACTION_TIMEOUT = 42."""
    return "42s" if connection.vendor == "postgresql" else None


@pytest.mark.usefixtures("transactional_db")
def test_model_saves_are_bounded_transactions(
    settings: Settings,
    spy_bounded: Callable[[ModuleType], BoundedSpy],
    saves_seen: list[tuple[str, str | None]],
) -> None:
    settings.WRITE_TRANSACTION_TIMEOUT = 42
    spy = spy_bounded(oms.db.models)

    Channel.objects.create(name="Web", channel_type="web")
    customer = Customer.objects.create(omnitron_id=1, email="a@example.com")
    customer.save(update_fields=["email"])

    assert spy.began_transaction == [True, True, True]
    assert saves_seen == [("Channel", bound_shown()), *[("Customer", bound_shown())] * 2]


@pytest.mark.usefixtures("transactional_db")
def test_import_batches_are_bounded_transactions(
    settings: Settings,
    spy_bounded: Callable[[ModuleType], BoundedSpy],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    settings.WRITE_TRANSACTION_TIMEOUT = 42
    spy = spy_bounded(importing)
    batches: list[tuple[int, str | None]] = []
    write_batch = importing.write_batch

    def observed_write_batch(customers: list[dict[str, Any]]) -> importing.BatchResult:
        batches.append((spy.open_blocks, show("statement_timeout")))
        return write_batch(customers)

    monkeypatch.setattr(importing, "write_batch", observed_write_batch)
    source = tmp_path / "customers.csv"
    rows = [f"{n},c{n}@example.com,,,,,1" for n in range(1, 6)]
    header = "omnitron_id,email,first_name,last_name,phone_number,erp_code,channel"
    source.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")

    summary, _ = importing.import_file(str(source), batch_size=2)

    assert summary.created == 5
    assert spy.began_transaction == [True, True, True]
    assert batches == [(1, bound_shown())] * 3


@pytest.mark.usefixtures("transactional_db")
def test_demo_batches_are_bounded_transactions(
    spy_bounded: Callable[[ModuleType], BoundedSpy], monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = spy_bounded(demo)
    monkeypatch.setattr(demo, "BATCH_SIZE", 10)
    bulk_create = Customer.objects.bulk_create
    open_blocks: list[int] = []

    def observed_bulk_create(objs: list[Customer], *args: Any, **kwargs: Any) -> list[Customer]:
        open_blocks.append(spy.open_blocks)
        return bulk_create(objs, *args, **kwargs)

    monkeypatch.setattr(Customer.objects, "bulk_create", observed_bulk_create)

    demo.load_demo_data(30)

    assert spy.began_transaction == [True, True, True]  # the documented ten, then 2 batches
    assert open_blocks == [1, 1, 1]


@pytest.mark.usefixtures("transactional_db")
def test_admin_saves_are_bounded_transactions_of_their_own(
    admin_client: Client,
    settings: Settings,
    spy_bounded: Callable[[ModuleType], BoundedSpy],
    saves_seen: list[tuple[str, str | None]],
) -> None:
    """The admin's save opens the request's transaction with bounded_transaction, so the
    whole transaction, not only the model's save, is bounded."""
    settings.WRITE_TRANSACTION_TIMEOUT = 42
    spy = spy_bounded(oms.admin)
    form = {"omnitron_id": "1", "email": "a@example.com", "first_name": "", "last_name": ""}

    added = admin_client.post(reverse("admin:customers_customer_add"), form)
    customer = Customer.objects.get()
    changed = admin_client.post(
        reverse("admin:customers_customer_change", args=[customer.id]),
        {**form, "first_name": "Ayşe"},
    )
    admin_client.get(reverse("admin:customers_customer_change", args=[customer.id]))

    assert (added.status_code, changed.status_code) == (302, 302)
    assert Customer.objects.get().first_name == "Ayşe"
    assert spy.began_transaction == [True, True]  # the two POSTs; the GET opens none
    assert saves_seen == [("Customer", bound_shown())] * 2


@pytest.mark.parametrize(("value", "accepted"), [("120", True), ("121", False), ("0", False)])
def test_a_bound_the_lookback_cannot_cover_is_refused(value: str, accepted: bool) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "WRITE_TRANSACTION_TIMEOUT": value},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode == 0) == accepted, result.stderr
    assert ("WRITE_TRANSACTION_TIMEOUT must be" in result.stderr) != accepted
