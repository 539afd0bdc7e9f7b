"""Exact counts without count(*): per-channel counters kept by PostgreSQL triggers
(customers.counts), and deep pages fetched by id first (oms.pagination).

Counter tests need the triggers, hence PostgreSQL; the API's counts are checked against
``count(*)`` on every database (SQLite counts rows).
"""

import random
import threading
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from channels.models import Channel
from customers.counts import COUNTER_TABLE, counted_customers
from customers.models import Customer
from tests.conftest import LIST_URL
from tokens.issuing import issue

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the counters are kept by PostgreSQL triggers; other databases count rows",
)

Counts = dict[int | None, int]


def counters() -> Counts:
    """What the counter table says (a channel may have several rows), channels with no
    customers left out."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT channel_id, sum(n) FROM {COUNTER_TABLE} GROUP BY 1 HAVING sum(n) <> 0"
        )
        return dict(cursor.fetchall())


def actual() -> Counts:
    """``SELECT channel_id, count(*) ... GROUP BY channel_id``."""
    rows = Customer.objects.order_by().values_list("channel_id").annotate(n=Count("id"))
    return dict(rows)


def assert_exact() -> None:
    assert counters() == actual()


def add_customers(count: int, channel: Channel | None, first: int = 1) -> list[Customer]:
    return Customer.objects.bulk_create(
        Customer(omnitron_id=n, email=f"customer{n}@example.com", channel=channel)
        for n in range(first, first + count)
    )


@pytest.fixture
def channels(db: None) -> list[Channel]:
    return [Channel.objects.create(name=f"C{n}", channel_type="web") for n in range(3)]


# --- the counters (PostgreSQL) -----------------------------------------------------------


@postgresql_only
def test_single_inserts_saves_and_deletes(channels: list[Channel]) -> None:
    first = Customer.objects.create(omnitron_id=1, email="a@example.com", channel=channels[0])
    Customer.objects.create(omnitron_id=2, email="b@example.com")
    assert counters() == {channels[0].id: 1, None: 1}

    first.first_name = "Ali"
    first.save()  # an update that keeps the channel
    first.channel = channels[1]
    first.save()
    assert counters() == {channels[1].id: 1, None: 1}

    first.delete()
    assert_exact()
    assert counters() == {None: 1}


@postgresql_only
def test_bulk_create_update_and_delete(channels: list[Channel]) -> None:
    a, b, c = channels
    add_customers(3000, a)
    add_customers(2000, b, first=3001)
    add_customers(500, None, first=5001)
    assert counters() == {a.id: 3000, b.id: 2000, None: 500}

    # Between channels, into a new one, to and from NULL, in single statements.
    Customer.objects.filter(channel=a, omnitron_id__lte=1000).update(channel=c)
    Customer.objects.filter(channel=b, omnitron_id__lte=3500).update(channel=None)
    Customer.objects.filter(channel=None, omnitron_id__gt=5400).update(channel=a)
    Customer.objects.filter(channel=c).update(first_name="same channel")
    assert counters() == {a.id: 2100, b.id: 1500, c.id: 1000, None: 900}
    assert_exact()

    Customer.objects.filter(omnitron_id__gt=4000).delete()
    assert_exact()
    Customer.objects.all().delete()
    assert counters() == {}


@postgresql_only
def test_truncate_empties_the_counters(channels: list[Channel]) -> None:
    add_customers(100, channels[0])
    with connection.cursor() as cursor:
        # The test's transaction still holds the deferred foreign key checks of the
        # inserts, and PostgreSQL refuses to TRUNCATE a table with pending ones.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE customers_customer")
    assert counters() == {}

    add_customers(10, channels[1])
    assert counters() == {channels[1].id: 10}


@postgresql_only
def test_a_rolled_back_transaction_leaves_the_counters(channels: list[Channel]) -> None:
    add_customers(10, channels[0])

    def change_then_fail() -> None:
        with transaction.atomic():
            add_customers(5, channels[0], first=100)
            Customer.objects.update(channel=channels[1])
            raise Rollback

    with pytest.raises(Rollback):
        change_then_fail()
    assert counters() == {channels[0].id: 10}


@postgresql_only
def test_counted_customers_sums_the_channels_asked_for(channels: list[Channel]) -> None:
    a, b, c = channels
    add_customers(4, a)
    add_customers(3, b, first=10)
    add_customers(2, None, first=20)

    assert counted_customers(None, using="default") == 9
    assert counted_customers({a.id, b.id}, using="default") == 7
    assert counted_customers({c.id}, using="default") == 0
    assert counted_customers(set(), using="default") == 0


@postgresql_only
@pytest.mark.usefixtures("transactional_db")
def test_concurrent_writers_keep_the_counters_exact() -> None:
    """Threads, each in its own transactions, insert, delete and move customers between
    channels (NULL included) for a few seconds; some transactions roll back."""
    channel_ids: list[int | None] = [
        Channel.objects.create(name=f"C{n}", channel_type="web").id for n in range(3)
    ]
    channel_ids.append(None)
    add_customers(300, None)
    stop = threading.Event()
    done: dict[str, int] = {"committed": 0, "rolled back": 0, "deadlocked": 0}
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        rng = random.Random(seed)
        number = 100_000 * (seed + 1)
        try:
            while not stop.is_set():
                try:
                    with transaction.atomic():
                        for _ in range(rng.randint(1, 3)):
                            number += 50
                            write_once(rng, number)
                        if rng.random() < 0.25:
                            raise Rollback
                    done["committed"] += 1
                except Rollback:
                    done["rolled back"] += 1
                except DatabaseError:  # a deadlock on customer rows: rolled back
                    done["rolled back"] += 1
                    done["deadlocked"] += 1
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()  # this thread's connection

    def write_once(rng: random.Random, number: int) -> None:
        ids = Customer.objects.order_by("?").values_list("id", flat=True)[:20]
        action = rng.choice(["insert", "delete", "move"])
        if action == "insert":
            Customer.objects.bulk_create(
                Customer(
                    omnitron_id=number + n,
                    email="c@example.com",
                    channel_id=rng.choice(channel_ids),
                )
                for n in range(rng.randint(1, 40))
            )
        elif action == "delete":
            Customer.objects.filter(id__in=list(ids)[: rng.randint(1, 5)]).delete()
        else:
            Customer.objects.filter(id__in=list(ids)).update(channel_id=rng.choice(channel_ids))

    threads = [threading.Thread(target=write, args=(n,), daemon=True) for n in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(6)
    stop.set()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    assert done["committed"] >= 20, done
    assert done["rolled back"] >= 5, done
    assert_exact()
    with connection.cursor() as cursor:  # folded as they go: few rows per channel
        cursor.execute(f"SELECT count(*) FROM {COUNTER_TABLE}")
        assert cursor.fetchone()[0] <= (len(threads) + 1) * len(channel_ids)


class Rollback(Exception):
    """Raised to roll a transaction back on purpose."""


# --- the API's count (every database) ----------------------------------------------------


def count_of(client: APIClient, **params: Any) -> int:
    response = client.get(LIST_URL, params)
    assert response.status_code == 200, response.content
    return response.json()["count"]


@pytest.fixture
def populated(channels: list[Channel]) -> list[Channel]:
    a, b, _ = channels
    add_customers(30, a)
    add_customers(20, b, first=100)
    add_customers(5, None, first=200)
    return channels


@pytest.fixture
def scoped_client(reader: User, populated: list[Channel]) -> APIClient:
    """A client whose token reads channels a and c only."""
    a, _, c = populated
    _, key = issue(reader, name="scoped", channels=[a, c])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_count_without_filters(api_client: APIClient, populated: list[Channel]) -> None:
    assert count_of(api_client) == Customer.objects.count() == 55
    assert count_of(api_client, sort="-modified_date", page_size="5") == 55


@pytest.mark.parametrize("index", [0, 1, 2])
def test_count_of_a_channel(api_client: APIClient, populated: list[Channel], index: int) -> None:
    channel = populated[index]
    assert count_of(api_client, channel_id=channel.id) == channel.customers.count()


def test_count_of_a_missing_channel(api_client: APIClient, populated: list[Channel]) -> None:
    assert count_of(api_client, channel_id=10**9) == 0


def test_count_with_a_channel_scoped_token(
    scoped_client: APIClient, populated: list[Channel]
) -> None:
    a, b, c = populated
    assert count_of(scoped_client) == 30
    assert count_of(scoped_client, channel_id=a.id) == 30
    assert count_of(scoped_client, channel_id=b.id) == 0  # outside the token's channels
    assert count_of(scoped_client, channel_id=c.id) == 0


def test_count_with_other_filters_counts_rows(
    api_client: APIClient, scoped_client: APIClient, populated: list[Channel]
) -> None:
    a, b, _ = populated
    threshold = Customer.objects.order_by("id")[10].id
    expected = Customer.objects.filter(id__gt=threshold)
    assert count_of(api_client, id__gt=threshold) == expected.count()
    assert count_of(api_client, id__gt=threshold, channel_id=b.id) == 20
    assert count_of(scoped_client, id__gt=threshold) == expected.filter(channel=a).count()
    assert count_of(api_client, email="customer1@example.com") == 1


@postgresql_only
@pytest.mark.parametrize(
    "params", [{}, {"channel_id": "1"}, {"sort": "modified_date", "page": "2"}]
)
def test_channel_counts_make_no_count_query(
    api_client: APIClient, populated: list[Channel], params: dict[str, str]
) -> None:
    with CaptureQueriesContext(connection) as queries:
        api_client.get(LIST_URL, params)
    counting = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert not [sql for sql in counting if 'customers_customer"' in sql], counting
    assert any(COUNTER_TABLE in q["sql"] for q in queries)


@postgresql_only
def test_other_filters_fall_back_to_count(api_client: APIClient, populated: list[Channel]) -> None:
    with CaptureQueriesContext(connection) as queries:
        api_client.get(LIST_URL, {"email": "customer1@example.com"})
    assert any("COUNT(" in q["sql"].upper() for q in queries)
    assert not any(COUNTER_TABLE in q["sql"] for q in queries)


# --- deep pages --------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["id", "-id", "modified_date", "-modified_date"])
def test_deep_pages_are_the_rows_at_their_offset(
    api_client: APIClient, channels: list[Channel], sort: str
) -> None:
    """Pages past the deferred join's threshold hold what a plain OFFSET would give."""
    add_customers(1300, channels[0])
    key = sort.lstrip("-")
    order = [sort, "-id" if sort.startswith("-") else "id"] if key != "id" else [sort]
    expected = list(Customer.objects.order_by(*order).values_list("id", flat=True))

    for page, limit in [(111, 10), (2, 1000), (44, 30)]:
        response = api_client.get(LIST_URL, {"sort": sort, "page": page, "limit": limit})
        rows = [row["id"] for row in response.json()["results"]]
        assert rows == expected[(page - 1) * limit : page * limit]


def test_deep_pages_select_ids_first(api_client: APIClient, channels: list[Channel]) -> None:
    """Past the threshold the page query is ``pk IN (SELECT pk ... LIMIT ... OFFSET ...)``;
    before it, a plain LIMIT with no subquery (and no extra round trip)."""
    add_customers(1100, channels[0])

    def page_queries(page: str) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            api_client.get(LIST_URL, {"page": page})
        sqls = [q["sql"].upper() for q in captured]
        return [sql for sql in sqls if "LIMIT" in sql and 'FROM "CUSTOMERS_CUSTOMER"' in sql]

    assert [" IN (SELECT" in sql for sql in page_queries("1")] == [False]
    assert [" IN (SELECT" in sql for sql in page_queries("101")] == [True]
