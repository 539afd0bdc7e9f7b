"""PostgreSQL stamps synced rows itself, only forwards, and bounds their transactions at
COMMIT (oms.db.changes), whatever the client: the ORM, bulk updates or raw SQL."""

import random
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from pytest_django.fixtures import Settings

from channels.models import Channel
from customers.models import Customer
from oms.db.changes import install_write_bound, keeping_given_stamps
from tests.concurrency import postgresql_only, start
from tests.conftest import utc

pytestmark = postgresql_only("the database stamps rows on PostgreSQL only")


# modified_date as text in SQL and in Python, to compare stamps exactly.
API_TEXT = "to_char(modified_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"


def api_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        return cursor.fetchone()[0]


def execute(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


@pytest.mark.django_db
def test_inserts_are_stamped_with_the_database_clock_whatever_they_send() -> None:
    before = database_now()
    Customer.objects.bulk_create(
        [Customer(omnitron_id=1, email="a@example.com", created_date=utc(2020, 1, 1))]
    )
    execute(
        "INSERT INTO customers_customer (omnitron_id, email, first_name, last_name, "
        "created_date, modified_date) VALUES (2, 'b@example.com', '', '', %s, %s)",
        [utc(2020, 1, 1), utc(2099, 1, 1)],
    )
    # No dates at all: the columns are NOT NULL, and the trigger fills them first.
    execute(
        "INSERT INTO customers_customer (omnitron_id, email, first_name, last_name) "
        "VALUES (3, 'c@example.com', '', '')"
    )

    for customer in Customer.objects.all():
        assert before <= customer.created_date == customer.modified_date <= database_now()


@pytest.mark.django_db
def test_an_update_moves_the_stamp_forward_whatever_it_sets() -> None:
    with keeping_given_stamps():
        Customer.objects.bulk_create(
            [
                Customer(omnitron_id=n, email=f"{n}@example.com", created_date=d, modified_date=d)
                for n, d in ((1, utc(2099, 1, 1)), (2, utc(2020, 1, 1)))
            ]
        )
    future, past = Customer.objects.order_by("omnitron_id")

    execute("UPDATE customers_customer SET modified_date = %s", [utc(2021, 1, 1)])
    # A bulk update that names no date stamps the rows too.
    Customer.objects.filter(id=past.id).update(first_name="Ali")

    future.refresh_from_db()
    past.refresh_from_db()
    # Never backwards: a microsecond after a stamp ahead of the clock.
    assert future.modified_date == utc(2099, 1, 1) + timedelta(microseconds=1)
    assert past.modified_date > timezone.now() - timedelta(minutes=1)
    assert (future.created_date, past.created_date) == (utc(2099, 1, 1), utc(2020, 1, 1))


@pytest.mark.django_db
def test_save_reads_back_what_the_database_stamped() -> None:
    customer = Customer.objects.create(omnitron_id=1, email="a@example.com")
    stored = Customer.objects.get(id=customer.id)
    assert (customer.created_date, customer.modified_date) == (
        stored.created_date,
        stored.modified_date,
    )

    customer.first_name = "Ali"
    customer.save(update_fields=["first_name"])

    stored = Customer.objects.get(id=customer.id)
    assert customer.modified_date == stored.modified_date > stored.created_date


@pytest.mark.django_db
def test_given_stamps_are_kept_inside_keeping_given_stamps_only() -> None:
    with transaction.atomic():
        with keeping_given_stamps():
            Channel.objects.bulk_create([Channel(name="Old", modified_date=utc(2020, 1, 1))])
        Channel.objects.bulk_create([Channel(name="New", modified_date=utc(2020, 1, 1))])

    old, new = Channel.objects.order_by("id")
    assert old.modified_date == utc(2020, 1, 1)
    assert new.modified_date > timezone.now() - timedelta(minutes=1)


@pytest.mark.usefixtures("transactional_db")
def test_concurrent_writers_commit_strictly_increasing_stamps() -> None:
    """Four writers update the same 10 rows for 4 s, each sending a modified_date from
    its own clock taken before it waits for the row's lock (as an application that
    stamps before saving would), and committing after a pause. Every committed version
    records its predecessor's stamp: each is later than the one before it, and the
    versions of a row form one chain. A reader polling meanwhile never sees a row's stamp
    go back."""
    with keeping_given_stamps():
        Customer.objects.bulk_create(
            Customer(omnitron_id=n, email=f"c{n}@example.com", modified_date=utc(2024, 1, 1))
            for n in range(10)
        )
    ids = list(Customer.objects.values_list("id", flat=True))
    deadline = time.monotonic() + 4
    versions: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    lock = threading.Lock()
    regressions: list[tuple[int, datetime, datetime]] = []

    def write(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            row = rng.choice(ids)
            application_stamp = timezone.now()
            time.sleep(rng.uniform(0, 0.01))
            with transaction.atomic():
                # erp_code keeps the stamp this version replaces (the row as locked).
                ((predecessor, stamp),) = execute(
                    "UPDATE customers_customer SET modified_date = %s, "
                    f"erp_code = {API_TEXT} WHERE id = %s RETURNING erp_code, modified_date",
                    [application_stamp, row],
                )
                time.sleep(rng.uniform(0, 0.02))
            with lock:
                versions[row].append((stamp, predecessor))

    def read() -> None:
        seen: dict[int, datetime] = {}
        while time.monotonic() < deadline:
            for row, stamp in Customer.objects.values_list("id", "modified_date"):
                if row in seen and stamp < seen[row]:
                    regressions.append((row, seen[row], stamp))
                seen[row] = max(stamp, seen.get(row, stamp))

    workers = [start(lambda seed=seed: write(seed)) for seed in range(4)] + [start(read)]
    for worker in workers:
        worker.finish(timeout=20)

    assert sum(map(len, versions.values())) > 100
    assert regressions == []
    for row in ids:
        chain = sorted(versions[row])
        replaced = [predecessor for _, predecessor in chain]
        assert replaced == [api_text(utc(2024, 1, 1)), *(api_text(s) for s, _ in chain[:-1])]


def write_then_wait(sql: str, params: list, seconds: float) -> None:
    """One transaction: ``sql``, then ``seconds`` of nothing before COMMIT."""
    with transaction.atomic():
        execute(sql, params)
        time.sleep(seconds)


@pytest.mark.usefixtures("transactional_db", "short_write_bound")
def test_a_transaction_writing_longer_than_the_bound_cannot_commit() -> None:
    customer = Customer.objects.create(omnitron_id=1, email="a@example.com")
    update = "UPDATE customers_customer SET first_name = 'Late' WHERE id = %s"
    delete = "DELETE FROM customers_customer WHERE id = %s"  # recorded, hence bounded too

    for sql in (update, delete):
        with pytest.raises(DatabaseError, match="must commit within"):
            write_then_wait(sql, [customer.id], 1.2)

    customer.refresh_from_db()
    assert customer.first_name == ""
    assert execute("SELECT count(*) FROM oms_write_guard") == [(0,)]
    write_then_wait(update, [customer.id], 0.1)  # within the bound
    customer.refresh_from_db()
    assert customer.first_name == "Late"


@pytest.mark.usefixtures("transactional_db", "short_write_bound")
def test_the_bound_counts_from_the_first_write_and_forgets_rolled_back_ones() -> None:
    customer = Customer.objects.create(omnitron_id=1, email="a@example.com")
    update = "UPDATE customers_customer SET first_name = %s WHERE id = %s"

    with transaction.atomic():
        time.sleep(1.2)  # reading for a long time is fine
        savepoint = transaction.savepoint()
        execute(update, ["Gone", customer.id])
        time.sleep(0.6)
        transaction.savepoint_rollback(savepoint)
        time.sleep(0.6)
        execute(update, ["Kept", customer.id])

    customer.refresh_from_db()
    assert customer.first_name == "Kept"


@pytest.mark.django_db
def test_the_settled_horizon_is_the_bound_and_margin_before_the_statement(
    settings: Settings,
) -> None:
    settings.WRITE_TRANSACTION_TIMEOUT = 7
    settings.COMMIT_MARGIN = 2.5
    install_write_bound("default")  # in this test's transaction: rolled back after it

    ((settled, now),) = execute("SELECT oms_settled_before(), statement_timestamp()")

    assert now - settled == timedelta(seconds=9.5)
