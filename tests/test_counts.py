"""Exact counts without count(*): counters per channel and id block, and per channel and
day, kept by PostgreSQL triggers (customers.counts), and deep pages fetched by id first
(oms.api.pagination).

Counter tests need the triggers, hence PostgreSQL; the API's counts are checked against
``count(*)`` on every database (SQLite counts rows).
"""

import importlib
import random
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.db.models import Count, F, Q
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from channels.models import Channel
from customers import counts
from customers.counts import (
    BLOCK_SHIFT,
    COUNTER_TABLE,
    DAY_COUNTER_TABLE,
    DateTimeRange,
    IdRange,
    counted_customers,
    locate_offset,
)
from customers.models import Customer
from tests.conftest import LIST_URL
from tokens.issuing import issue

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the counters are kept by PostgreSQL triggers; other databases count rows",
)

Counts = dict[Any, int]
KEYS = {COUNTER_TABLE: "block", DAY_COUNTER_TABLE: "day"}  # each counter table's bucket
BLOCK = 1 << BLOCK_SHIFT
DAY = date(2024, 3, 10)


def counters(table: str = COUNTER_TABLE, key: str | None = None) -> Counts:
    """What a counter table says (a key may have several rows), per channel or, with
    ``key``, per (channel, bucket); keys with no customers left out."""
    columns = "channel_id" if key is None else f"channel_id, {key}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns}, sum(n) FROM {table} GROUP BY {columns} HAVING sum(n) <> 0"
        )
        return {row[0] if key is None else row[:-1]: row[-1] for row in cursor.fetchall()}


def actual() -> Counts:
    """``SELECT channel_id, count(*) ... GROUP BY channel_id``."""
    rows = Customer.objects.order_by().values_list("channel_id").annotate(n=Count("id"))
    return dict(rows)


def actual_by(key: str) -> Counts:
    """The customers per (channel, id block) or (channel, UTC day of modified_date)."""
    rows = Customer.objects.values_list("channel_id", "id", "modified_date")
    return Counter(
        (channel_id, id_ >> BLOCK_SHIFT if key == "block" else modified.astimezone(UTC).date())
        for channel_id, id_, modified in rows
    )


def assert_exact() -> None:
    assert counters() == actual()
    for table, key in KEYS.items():
        assert counters(table, key) == actual_by(key), table


def add_customers(
    count: int, channel: Channel | None, first: int = 1, **fields: Any
) -> list[Customer]:
    return Customer.objects.bulk_create(
        Customer(omnitron_id=n, email=f"customer{n}@example.com", channel=channel, **fields)
        for n in range(first, first + count)
    )


def at(day: int, *, hours: float = 0) -> datetime:
    """``hours`` after midnight UTC ``day`` days after DAY."""
    return datetime.combine(DAY, datetime.min.time(), UTC) + timedelta(days=day, hours=hours)


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
    assert counters(DAY_COUNTER_TABLE) == {}

    add_customers(10, channels[1])
    assert counters() == {channels[1].id: 10}
    assert_exact()


@postgresql_only
def test_a_rolled_back_transaction_leaves_the_counters(channels: list[Channel]) -> None:
    add_customers(10, channels[0])

    def change_then_fail() -> None:
        with transaction.atomic():
            add_customers(5, channels[0], first=100)
            Customer.objects.update(channel=channels[1])
            raise Rollback

    def move_then_fail() -> None:
        with transaction.atomic():
            Customer.objects.update(id=F("id") + 5 * BLOCK, modified_date=at(3))
            raise Rollback

    for fail in (change_then_fail, move_then_fail):
        with pytest.raises(Rollback):
            fail()
        assert counters() == {channels[0].id: 10}
        assert_exact()


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


def test_the_migration_blocks_ids_as_counts_does() -> None:
    """Migration 0003 freezes the block size the triggers use; counts reads with its own."""
    migration = importlib.import_module("customers.migrations.0003_customer_count_blocks")
    assert migration.BLOCK_SHIFT == BLOCK_SHIFT


@postgresql_only
def test_blocks_and_days_follow_the_rows(channels: list[Channel]) -> None:
    """Rows on both sides of block edges and of midnight: inserted, renumbered into other
    blocks, moved to other days and channels, deleted."""
    a, b, _ = channels
    edges = [k * BLOCK + d for k in range(1, 4) for d in (-2, -1, 0, 1)]
    Customer.objects.bulk_create(
        Customer(
            id=id_,
            omnitron_id=id_,
            email="e@example.com",
            channel=[a, b, None][id_ % 3],
            modified_date=at(id_ % 3, hours=24 - 0.001 if id_ % 2 else 0.001),
        )
        for id_ in edges
    )
    assert_exact()
    assert counters(COUNTER_TABLE, "block")[(None, 1)] == 1  # 16385 (16382 is in block 0)

    Customer.objects.filter(id__lt=2 * BLOCK).update(id=F("id") + 10 * BLOCK)
    assert_exact()
    # A minute later: the rows at 23:59:56 move to the next day, those at 00:00:03 stay.
    Customer.objects.update(modified_date=F("modified_date") + timedelta(minutes=1))
    assert_exact()
    Customer.objects.filter(Q(channel=a) | Q(channel=None)).update(channel=b)
    assert_exact()
    Customer.objects.filter(id__gte=3 * BLOCK).delete()
    assert_exact()
    customer = Customer.objects.first()
    customer.channel = a
    customer.save()  # modified today
    assert_exact()


@postgresql_only
def test_an_update_within_one_block_day_and_channel_writes_no_counter_rows(
    channels: list[Channel],
) -> None:
    a, b, _ = channels
    add_customers(50, a, modified_date=at(0, hours=10))
    add_customers(50, None, first=100, modified_date=at(1, hours=10))

    def counter_rows() -> list[list[tuple[Any, ...]]]:
        """Both tables' rows with their versions: a new row or version shows."""
        with connection.cursor() as cursor:
            tables = []
            for table in KEYS:
                cursor.execute(f"SELECT xmin::text, * FROM {table} ORDER BY id")
                tables.append(cursor.fetchall())
            return tables

    before = counter_rows()
    Customer.objects.update(first_name="Ali", modified_date=F("modified_date") + timedelta(hours=1))
    Customer.objects.filter(channel=None).update(channel=None, email="x@example.com")
    assert counter_rows() == before

    Customer.objects.filter(id=Customer.objects.first().id).update(channel=b)
    assert counter_rows() != before
    assert_exact()


# --- counts of ranges and offsets in id order (PostgreSQL) ------------------------------


ChannelIds = set[int] | None


@pytest.fixture
def scattered(channels: list[Channel]) -> list[ChannelIds]:
    """Customers on both sides of block edges and mid-block, at, around and between
    midnights (some at the same moment), in channels a, b and none; c has none. Returns the
    channel sets to count: every customer, {a}, {a, b}, {c}, {a, b, c}."""
    rng = random.Random(7)
    a, b, c = channels
    ids = {k * BLOCK + d for k in range(5) for d in range(-40, 40)}
    ids |= {k * BLOCK + BLOCK // 2 + d for k in range(4) for d in range(-20, 20)}
    Customer.objects.bulk_create(
        Customer(
            id=id_,
            omnitron_id=id_,
            email="e@example.com",
            channel=rng.choice([a, a, b, None]),
            modified_date=at(
                rng.randrange(4),
                hours=rng.choice([0, 12, 24]) + rng.choice([-3, -0.01, 0, 0.01, 3, rng.random()]),
            ),
        )
        for id_ in sorted(ids)
        if id_ > 0
    )
    return [None, {a.id}, {a.id, b.id}, {c.id}, {a.id, b.id, c.id}]


def in_channels(channel_ids: ChannelIds) -> Any:
    rows = Customer.objects.all()
    return rows if channel_ids is None else rows.filter(channel_id__in=channel_ids)


def random_id_lookups(rng: random.Random, ids: list[int]) -> dict[str, int]:
    """Up to three of id__gt ... id__lte, at or next to rows, block edges and middles."""
    lookups = {}
    for name in rng.sample(["gt", "gte", "lt", "lte"], rng.randint(0, 3)):
        near = rng.choice([rng.choice(ids), rng.randrange(6) * BLOCK + rng.choice([0, BLOCK // 2])])
        lookups[name] = near + rng.choice([-1, 0, 1])
    return lookups


@postgresql_only
def test_counted_customers_of_id_ranges(scattered: list[ChannelIds]) -> None:
    rng = random.Random(1)
    ids = list(Customer.objects.values_list("id", flat=True))
    for _ in range(300):
        lookups = random_id_lookups(rng, ids)
        channel_ids = rng.choice(scattered)
        expected = in_channels(channel_ids).filter(**{f"id__{k}": v for k, v in lookups.items()})
        counted = counted_customers(
            channel_ids, using="default", ids=IdRange.from_lookups(**lookups)
        )
        assert counted == expected.count(), (lookups, channel_ids)


@postgresql_only
def test_counted_customers_of_modified_date_ranges(scattered: list[ChannelIds]) -> None:
    rng = random.Random(2)
    moments = list(Customer.objects.values_list("modified_date", flat=True))
    istanbul = timezone(timedelta(hours=3))

    def bound() -> datetime:
        near = rng.choice(
            [rng.choice(moments), at(rng.randrange(-1, 5), hours=rng.choice([0, 6, 12, 18]))]
        )
        return (near + rng.choice([-1, 0, 0, 1]) * timedelta(milliseconds=1)).astimezone(
            rng.choice([UTC, istanbul])
        )

    for _ in range(300):
        names = rng.sample(["exact", "gt", "gte", "lt", "lte"], rng.randint(0, 3))
        lookups = {name: bound() for name in names if name != "exact" or rng.random() < 0.3}
        channel_ids = rng.choice(scattered)
        filters = {f"modified_date__{k}".removesuffix("__exact"): v for k, v in lookups.items()}
        expected = in_channels(channel_ids).filter(**filters)
        counted = counted_customers(
            channel_ids, using="default", modified=DateTimeRange.from_lookups(**lookups)
        )
        assert counted == expected.count(), (lookups, channel_ids)


@postgresql_only
def test_counted_customers_of_empty_and_unbounded_ranges(scattered: list[ChannelIds]) -> None:
    def counted(channel_ids: ChannelIds = None, **ranges: Any) -> int | None:
        return counted_customers(channel_ids, using="default", **ranges)

    total = Customer.objects.count()
    assert counted(ids=IdRange(1, 5), modified=DateTimeRange(at(0))) is None  # no counter
    assert counted(ids=IdRange(10, 9)) == 0
    assert counted(ids=IdRange(3, 3)) == Customer.objects.filter(id=3).count()
    assert counted(modified=DateTimeRange(at(1), at(1), high_inclusive=False)) == 0
    assert counted(set(), ids=IdRange(1, None)) == 0
    assert counted(ids=IdRange()) == counted(modified=DateTimeRange()) == total
    assert counted(modified=DateTimeRange(datetime(9999, 12, 31, 12, tzinfo=UTC))) is None


@postgresql_only
@pytest.mark.parametrize("descending", [False, True])
def test_locate_offset_gives_the_rows_of_a_plain_offset(
    scattered: list[ChannelIds], monkeypatch: pytest.MonkeyPatch, descending: bool
) -> None:
    """The page from (bound, remaining offset) is the page at the offset, for every offset
    (from 0 here), with channels and id ranges; the offset left lies within one block."""
    monkeypatch.setattr(counts, "LOCATE_FROM", 0)
    rng = random.Random(3)
    ids = list(Customer.objects.values_list("id", flat=True))
    order = "-id" if descending else "id"
    for _ in range(200):
        lookups = random_id_lookups(rng, ids)
        channel_ids = rng.choice(scattered)
        rows = in_channels(channel_ids).filter(**{f"id__{k}": v for k, v in lookups.items()})
        rows = rows.order_by(order).values_list("id", flat=True)
        total = rows.count()
        offset = rng.randrange(total + 3)
        located = locate_offset(
            channel_ids,
            using="default",
            ids=IdRange.from_lookups(**lookups),
            offset=offset,
            descending=descending,
        )
        if offset >= total:
            assert located is None
            continue
        assert located is not None, (lookups, channel_ids, offset)
        bound, remaining = located
        block = bound >> BLOCK_SHIFT
        after = rows.filter(id__lte=bound) if descending else rows.filter(id__gte=bound)
        assert list(after[remaining : remaining + 7]) == list(rows[offset : offset + 7])
        assert remaining < after.filter(id__range=(block * BLOCK, (block + 1) * BLOCK - 1)).count()


@postgresql_only
def test_locate_offset_leaves_small_offsets_to_the_caller(scattered: list[ChannelIds]) -> None:
    assert locate_offset(None, using="default", ids=None, offset=5, descending=False) is None
    assert locate_offset(set(), using="default", ids=None, offset=10**5, descending=True) is None


@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL has the counters")
@pytest.mark.django_db
def test_other_databases_have_no_counters() -> None:
    assert counted_customers(None, using="default", ids=IdRange(1, 2)) is None
    assert counted_customers(None, using="default", modified=DateTimeRange(at(0))) is None
    assert locate_offset(None, using="default", ids=None, offset=10**6, descending=False) is None


def test_id_ranges_from_lookups_take_the_tightest_bounds() -> None:
    assert IdRange.from_lookups() is None
    assert IdRange.from_lookups(gt=5, gte=5, lt=10, lte=10) == IdRange(6, 9)
    assert IdRange.from_lookups(gte=7) == IdRange(7, None)
    assert IdRange.from_lookups(lt=3) == IdRange(None, 2)


def test_datetime_ranges_from_lookups_take_the_tightest_bounds() -> None:
    t, u = at(0), at(1)
    assert DateTimeRange.from_lookups() is None
    assert DateTimeRange.from_lookups(gte=t, gt=t, lte=u) == DateTimeRange(
        t, u, low_inclusive=False
    )
    assert DateTimeRange.from_lookups(exact=t, lt=u) == DateTimeRange(t, t)
    assert DateTimeRange.from_lookups(exact=t, lt=t) == DateTimeRange(t, t, high_inclusive=False)
    with pytest.raises(ValueError, match="aware"):
        DateTimeRange(datetime(2024, 1, 1))


@postgresql_only
@pytest.mark.usefixtures("transactional_db")
def test_concurrent_writers_keep_the_counters_exact() -> None:
    """Threads, each in its own transactions, insert, delete and move customers between
    channels (NULL included) and days for a few seconds; some transactions roll back.

    All threads write the same keys at once: their ids interleave across block edges
    (thread k's are k + 1 modulo 8), their dates share three days. Each changes only its
    own rows, so no writer waits for another's customers: any error, a deadlock included,
    would come from the counters and fails the test.
    """
    channel_ids: list[int | None] = [
        Channel.objects.create(name=f"C{n}", channel_type="web").id for n in range(3)
    ]
    channel_ids.append(None)
    add_customers(300, None)
    stop = threading.Event()
    done: dict[str, int] = {"committed": 0, "rolled back": 0}
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        rng = random.Random(seed)
        number = 100_000 * (seed + 1)  # omnitron_ids: each thread's own
        try:
            while not stop.is_set():
                try:
                    with transaction.atomic():
                        for _ in range(rng.randint(1, 3)):
                            number += 50
                            write_once(rng, seed + 1, number)
                        if rng.random() < 0.25:
                            raise Rollback
                    done["committed"] += 1
                except Rollback:
                    done["rolled back"] += 1
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()  # this thread's connection

    def write_once(rng: random.Random, residue: int, number: int) -> None:
        own = Customer.objects.alias(residue=F("id") % 8).filter(residue=residue)
        ids = list(own.order_by("?").values_list("id", flat=True)[:20])
        action = rng.choice(["insert", "delete", "move", "touch"])
        if action == "insert":
            Customer.objects.bulk_create(
                Customer(
                    id=2 * BLOCK + 8 * ((number + n) % 100_000) + residue,
                    omnitron_id=number + n,
                    email="c@example.com",
                    channel_id=rng.choice(channel_ids),
                    modified_date=at(rng.randrange(3), hours=rng.uniform(0, 24)),
                )
                for n in range(rng.randint(1, 40))
            )
        elif action == "delete":
            Customer.objects.filter(id__in=ids[: rng.randint(1, 5)]).delete()
        elif action == "move":
            Customer.objects.filter(id__in=ids).update(channel_id=rng.choice(channel_ids))
        else:
            Customer.objects.filter(id__in=ids).update(
                modified_date=at(rng.randrange(3), hours=rng.uniform(0, 24))
            )

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
    assert len({block for _, block in counters(COUNTER_TABLE, "block")}) >= 3  # edges crossed
    with connection.cursor() as cursor:  # folded as they go: few rows per key
        for table, key in KEYS.items():
            cursor.execute(f"SELECT count(*), count(DISTINCT (channel_id, {key})) FROM {table}")
            rows, keys = cursor.fetchone()
            assert rows <= (len(threads) + 1) * keys, table


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
    "params", [{}, {"channel_id": "a"}, {"sort": "modified_date", "page": "2"}]
)
def test_channel_counts_make_no_count_query(
    api_client: APIClient, populated: list[Channel], params: dict[str, str]
) -> None:
    if "channel_id" in params:
        params = {**params, "channel_id": str(populated[0].id)}
    with CaptureQueriesContext(connection) as queries:  # full pages: the count is unknown
        api_client.get(LIST_URL, {**params, "limit": "5"})
    counting = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert not [sql for sql in counting if 'customers_customer"' in sql], counting
    assert any(COUNTER_TABLE in q["sql"] for q in queries)


@postgresql_only
def test_other_filters_fall_back_to_count(api_client: APIClient, populated: list[Channel]) -> None:
    Customer.objects.filter(channel=populated[0]).update(last_name="Same")
    with CaptureQueriesContext(connection) as queries:  # a full page: the count is unknown
        api_client.get(LIST_URL, {"last_name": "Same", "limit": "5"})
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


# --- the API over the counters -------------------------------------------------------------


def random_api_filters(rng: random.Random, channels: list[Channel], ids: list[int]) -> dict:
    """A channel or none, and id lookups or modified_date lookups (or both, or neither)."""
    params: dict[str, Any] = {}
    if rng.random() < 0.5:
        params["channel_id"] = rng.choice(channels).id
    if rng.random() < 0.6:
        params.update({f"id__{k}": v for k, v in random_id_lookups(rng, ids).items()})
    if rng.random() < 0.6:
        for name in rng.sample(["", "__gt", "__gte", "__lt", "__lte"], rng.randint(1, 2)):
            moment = at(rng.randrange(-1, 5), hours=rng.choice([0, 3, 12, rng.random() * 24]))
            params[f"modified_date{name}"] = moment.isoformat()
    return params


def test_api_counts_of_ranges_are_exact(
    api_client: APIClient, channels: list[Channel], scattered: list[ChannelIds]
) -> None:
    """Channels with id or modified_date ranges, as the list's count: from the counters on
    PostgreSQL (both ranges at once: count(*)), always what the filters select."""
    rng = random.Random(3)
    ids = list(Customer.objects.values_list("id", flat=True))
    for _ in range(60):
        params = random_api_filters(rng, channels, ids)
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get(LIST_URL, {**params, "limit": 1})
        assert response.status_code == 200, (params, response.content)
        filters = {k.replace("channel_id", "channel"): v for k, v in params.items()}
        expected = Customer.objects.filter(**filters).count()
        assert response.json()["count"] == expected, params
        ranges = {name.split("__")[0] for name in params} & {"id", "modified_date"}
        if connection.vendor == "postgresql" and expected > 1 and len(ranges) < 2:
            used = [
                t for t in (COUNTER_TABLE, DAY_COUNTER_TABLE) if any(t in q["sql"] for q in queries)
            ]
            assert used == [DAY_COUNTER_TABLE if "modified_date" in ranges else COUNTER_TABLE]


@pytest.mark.parametrize("sort", ["id", "-id"])
def test_api_deep_pages_located_by_the_counters_hold_the_rows_at_their_offset(
    api_client: APIClient,
    channels: list[Channel],
    scattered: list[ChannelIds],
    monkeypatch: pytest.MonkeyPatch,
    sort: str,
) -> None:
    """Pages in id order whose start the counters locate (from any offset here, instead of
    from counts.LOCATE_FROM) are what a plain OFFSET gives, with channels and id ranges."""
    monkeypatch.setattr(counts, "LOCATE_FROM", 0)
    rng = random.Random(4)
    ids = list(Customer.objects.values_list("id", flat=True))
    located = 0
    for _ in range(40):
        params = {
            k: v
            for k, v in random_api_filters(rng, channels, ids).items()
            if not k.startswith("modified_date")
        }
        limit = rng.choice([1, 7, 50])
        filters = {k.replace("channel_id", "channel"): v for k, v in params.items()}
        expected = list(
            Customer.objects.filter(**filters).order_by(sort).values_list("id", flat=True)
        )
        page = rng.randint(1, max(1, -(-len(expected) // limit)))
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get(
                LIST_URL, {**params, "sort": sort, "page": page, "limit": limit}
            )
        assert response.status_code == 200, (params, response.content)
        rows = [row["id"] for row in response.json()["results"]]
        assert rows == expected[(page - 1) * limit : page * limit], (params, page, limit)
        located += any("OVER (" in q["sql"] for q in queries)
    assert located > 10 or connection.vendor != "postgresql"
