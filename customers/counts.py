"""Exact customer counts, and where deep pages in id order start, from the counters that
PostgreSQL triggers keep (migrations 0002 and 0003): rows of customers per channel and id
block, and per channel and UTC day of modified_date. Neither a count nor a deep offset then
scans the rows it covers, only the rows of the at most two blocks or days a range cuts.

As exact as ``count(*)``: the triggers change the counters in the transaction that changes
the customers, so a reader sees both or neither. A key (channel, block or day) may have a
few rows, one per transaction that wrote it concurrently; readers sum them.
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connections
from django_filters import FilterSet, OrderingFilter

from oms.api.views import RequestScope

# Block b holds the ids [b << BLOCK_SHIFT, (b + 1) << BLOCK_SHIFT). Frozen in migration
# 0003 (the triggers compute it): changing it needs a migration that refills the counters.
BLOCK_SHIFT = 14
COUNTER_TABLE = "customers_customercount"  # channel_id, block, n
DAY_COUNTER_TABLE = "customers_customerdaycount"  # channel_id, day, n
CUSTOMER_TABLE = "customers_customer"
# Offsets below this are walked in an index; locate_offset answers from here on.
LOCATE_FROM = 10_000


@dataclass(frozen=True)
class IdRange:
    """Ids from ``low`` to ``high``, both included; None: unbounded on that side."""

    low: int | None = None
    high: int | None = None

    @classmethod
    def from_lookups(
        cls,
        *,
        gt: int | None = None,
        gte: int | None = None,
        lt: int | None = None,
        lte: int | None = None,
    ) -> "IdRange | None":
        """The range the filters ``id__gt`` ... ``id__lte`` leave (the tightest where
        several bound one side); None when none is given."""
        lows = [value for value in (gte, None if gt is None else gt + 1) if value is not None]
        highs = [value for value in (lte, None if lt is None else lt - 1) if value is not None]
        if not lows and not highs:
            return None
        return cls(max(lows, default=None), min(highs, default=None))


@dataclass(frozen=True)
class DateTimeRange:
    """Aware datetimes from ``low`` to ``high``, each bound included or not; None:
    unbounded on that side."""

    low: datetime | None = None
    high: datetime | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def __post_init__(self) -> None:
        if any(bound is not None and bound.utcoffset() is None for bound in (self.low, self.high)):
            raise ValueError("DateTimeRange needs aware datetimes")

    @classmethod
    def from_lookups(
        cls,
        *,
        exact: datetime | None = None,
        gt: datetime | None = None,
        gte: datetime | None = None,
        lt: datetime | None = None,
        lte: datetime | None = None,
    ) -> "DateTimeRange | None":
        """The range the filters ``modified_date`` (exact) ... ``modified_date__lte``
        leave (the tightest where several bound one side; at equal values the exclusive
        one); None when none is given."""
        lows = [
            (v, inclusive)
            for v, inclusive in ((exact, True), (gte, True), (gt, False))
            if v is not None
        ]
        highs = [
            (v, inclusive)
            for v, inclusive in ((exact, True), (lte, True), (lt, False))
            if v is not None
        ]
        if not lows and not highs:
            return None
        low, low_inclusive = max(lows, key=lambda b: (b[0], not b[1]), default=(None, True))
        high, high_inclusive = min(highs, key=lambda b: (b[0], b[1]), default=(None, True))
        return cls(low, high, low_inclusive, high_inclusive)


# The lookups of each range the counters count, by the field the FilterSet filters.
RANGE_LOOKUPS = {
    "id": {"gt", "gte", "lt", "lte"},
    "modified_date": {"exact", "gt", "gte", "lt", "lte"},
}


@dataclass(frozen=True)
class CounterScope:
    """A request's filters as the counters see them: channels (None: every customer), an
    id range, a modified_date range, and the sort."""

    channels: frozenset[int] | None
    ids: IdRange | None
    modified: DateTimeRange | None
    sort: list[str]

    @classmethod
    def of(cls, scope: RequestScope, filterset_class: type[FilterSet]) -> "CounterScope | None":
        """What the counters need of ``scope`` (a request to a view of ``filterset_class``),
        read from the FilterSet's own filters: the field and lookup each one filters by.
        None when a filter the counters do not cover (an exact field) narrows the list."""
        channels = scope.channels
        ranges: dict[str, dict[str, Any]] = {field: {} for field in RANGE_LOOKUPS}
        sort = ["id"]  # the queryset's own order
        for name, value in scope.filters.items():
            filter_ = filterset_class.base_filters[name]
            field, lookup = filter_.field_name, filter_.lookup_expr
            if isinstance(filter_, OrderingFilter):
                sort = list(value)
            elif field == "channel_id" and lookup == "exact":
                channels = frozenset({value}) & (channels or {value})
            elif lookup in RANGE_LOOKUPS.get(field, ()):
                ranges[field][lookup] = value
            else:
                return None
        return cls(
            channels,
            IdRange.from_lookups(**ranges["id"]),
            DateTimeRange.from_lookups(**ranges["modified_date"]),
            sort,
        )


def counted_customers(
    channel_ids: Collection[int] | None,
    *,
    using: str,
    ids: IdRange | None = None,
    modified: DateTimeRange | None = None,
) -> int | None:
    """How many customers the channels ``channel_ids`` hold (None: every customer, with or
    without a channel), inside ``ids`` or ``modified`` if given, in one query.

    None where there are no counters (not PostgreSQL), for both ranges at once (no
    counter covers both) and for dates on the calendar's last or first day (no bucket
    after or before them): the caller counts rows then.
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or (ids is not None and modified is not None):
        return None
    if channel_ids is not None and not channel_ids:
        return 0
    try:
        if modified is not None:
            plan = _Plan.of(DAYS, channel_ids, *_datetime_bounds(modified))
        else:
            plan = _Plan.of(BLOCKS, channel_ids, *_id_bounds(ids))
    except OverflowError:  # a bound on the calendar's first or last day: count rows
        return None
    if plan is None:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(*plan.total())
        return int(cursor.fetchone()[0])


def locate_offset(
    channel_ids: Collection[int] | None,
    *,
    using: str,
    ids: IdRange | None,
    offset: int,
    descending: bool,
) -> tuple[int, int] | None:
    """Where the row ``offset`` rows into the customers of ``channel_ids`` (None: every
    customer) inside ``ids``, in id order, lies: ``(bound_id, remaining_offset)``, in one
    query.

    The page is then the same filters with ``id >= bound_id ORDER BY id OFFSET
    remaining_offset`` (descending: ``id <= bound_id ORDER BY id DESC``): the offset left
    to walk is under one block of ids (16,384) instead of ``offset``. None on other
    databases than PostgreSQL, below ``LOCATE_FROM`` (walking is as cheap) and from the
    count of rows on (no such row).
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or offset < LOCATE_FROM:
        return None
    if channel_ids is not None and not channel_ids:
        return None
    plan = _Plan.of(BLOCKS, channel_ids, *_id_bounds(ids))
    if plan is None:
        return None
    sql, params = plan.per_bucket()
    order = "DESC" if descending else "ASC"
    # The block holding the row: the one whose rows start at or before the offset and end
    # after it, counting blocks in page order.
    query = f"""
        WITH blocks AS (
            SELECT bucket, sum(n) AS n FROM ({sql}) AS terms (bucket, n) GROUP BY bucket
        ), placed AS (
            SELECT bucket, n, sum(n) OVER (ORDER BY bucket {order}) - n AS before FROM blocks
        )
        SELECT bucket, before FROM placed WHERE before <= %s AND before + n > %s
    """
    with connection.cursor() as cursor:
        cursor.execute(query, [*params, offset, offset])
        row = cursor.fetchone()
    if row is None:
        return None
    block, before = int(row[0]), int(row[1])
    bound = BLOCKS.start(block + 1) - 1 if descending else BLOCKS.start(block)
    return bound, offset - before


# --- ranges as counter rows plus the edges ------------------------------------------------


@dataclass(frozen=True)
class _Buckets:
    """A counter table: customers per channel and bucket of one of their columns, each
    bucket a half-open interval of that column's values."""

    table: str
    key: str  # the table's bucket column
    key_type: str
    column: str  # the customers' column that key buckets
    of: Callable[[Any], Any]  # the bucket of a column value
    start: Callable[[Any], Any]  # the first column value of a bucket
    following: Callable[[Any], Any]  # the next bucket

    def share(self, value: Any) -> float:
        """How far into its bucket ``value`` lies, from 0 (its start) to 1."""
        bucket = self.of(value)
        start = self.start(bucket)
        return (value - start) / (self.start(self.following(bucket)) - start)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


BLOCKS = _Buckets(
    COUNTER_TABLE,
    "block",
    "bigint",
    "id",
    of=lambda id_: id_ >> BLOCK_SHIFT,
    start=lambda block: block << BLOCK_SHIFT,
    following=lambda block: block + 1,
)
DAYS = _Buckets(
    DAY_COUNTER_TABLE,
    "day",
    "date",
    "modified_date",
    of=lambda moment: moment.astimezone(UTC).date(),
    start=_day_start,
    following=lambda day: day + timedelta(days=1),
)


@dataclass(frozen=True)
class _Bound:
    value: Any
    inclusive: bool

    def flipped(self) -> "_Bound":
        """The same value as the other side's bound: the complement of this one."""
        return _Bound(self.value, not self.inclusive)


Condition = tuple[str, Any]  # SQL with one placeholder, and its parameter


def _at_least(column: str, bound: _Bound) -> Condition:
    return (f"{column} {'>=' if bound.inclusive else '>'} %s", bound.value)


def _at_most(column: str, bound: _Bound) -> Condition:
    return (f"{column} {'<=' if bound.inclusive else '<'} %s", bound.value)


def _id_bounds(ids: IdRange | None) -> tuple[_Bound | None, _Bound | None]:
    # The upper bound as "id < high + 1", so that a range ending with a block takes it whole.
    if ids is None:
        return None, None
    return (
        None if ids.low is None else _Bound(ids.low, True),
        None if ids.high is None else _Bound(ids.high + 1, False),
    )


def _datetime_bounds(moments: DateTimeRange) -> tuple[_Bound | None, _Bound | None]:
    return (
        None if moments.low is None else _Bound(moments.low, moments.low_inclusive),
        None if moments.high is None else _Bound(moments.high, moments.high_inclusive),
    )


def _empty(low: _Bound, high: _Bound) -> bool:
    """Whether no value lies between a lower and an upper bound (as in 5 <= x < 5)."""
    return (low.value, not low.inclusive) >= (high.value, high.inclusive)


@dataclass(frozen=True)
class _Edge:
    """``sign * count(*)`` of the customers of ``bucket`` meeting ``conditions``."""

    sign: int
    bucket: Any
    conditions: list[Condition]


@dataclass(frozen=True)
class _Plan:
    """The customers of some channels in a range of a bucketed column: the counter rows
    of the buckets the range holds whole (``whole``: conditions on the counter table), and
    for each bucket it cuts either ``+count(*)`` of its rows inside the range, or its
    counter rows and ``-count(*)`` of its rows outside, whichever is the smaller share of
    the bucket: at most half a bucket of rows is read at each edge, through the customers'
    index on the column."""

    buckets: _Buckets
    whole: list[Condition]
    edges: list[_Edge]
    channels: list[Condition]

    @classmethod
    def of(
        cls,
        buckets: _Buckets,
        channel_ids: Collection[int] | None,
        lower: _Bound | None,
        upper: _Bound | None,
    ) -> "_Plan | None":
        """The plan for the channels (None: every customer) between the bounds (None:
        unbounded); None for an empty range."""
        if lower and upper and _empty(lower, upper):
            return None
        edges: list[_Edge] = []

        def cut(sign: int, bucket: Any, low: _Bound, high: _Bound) -> None:
            if not _empty(low, high):
                conditions = [_at_least(buckets.column, low), _at_most(buckets.column, high)]
                edges.append(_Edge(sign, bucket, conditions))

        def bucket_start(bucket: Any) -> _Bound:
            return _Bound(buckets.start(bucket), True)

        def bucket_end(bucket: Any) -> _Bound:
            return _Bound(buckets.start(buckets.following(bucket)), False)

        first = stop = None  # the buckets taken whole: first <= bucket < stop; None: unbounded
        low_bucket = None if lower is None else buckets.of(lower.value)
        high_bucket = None if upper is None else buckets.of(upper.value)
        one_bucket = lower is not None and upper is not None and low_bucket == high_bucket
        narrow = lower and upper and buckets.share(upper.value) - buckets.share(lower.value) <= 0.5
        if one_bucket and lower and upper and narrow:
            first = stop = low_bucket  # a narrow range: its rows are counted
            cut(1, low_bucket, lower, upper)
        else:
            # An edge's bucket either with its counters less its rows outside the range, or
            # without them plus its rows inside, whichever the bound's place in the bucket
            # makes fewer. A wide range inside one bucket: the bucket less both sides.
            if lower:
                if one_bucket or buckets.share(lower.value) <= 0.5:
                    first = low_bucket
                    cut(-1, low_bucket, bucket_start(low_bucket), lower.flipped())
                else:
                    first = buckets.following(low_bucket)
                    cut(1, low_bucket, lower, bucket_end(low_bucket))
            if upper:
                if one_bucket or buckets.share(upper.value) >= 0.5:
                    stop = buckets.following(high_bucket)
                    cut(-1, high_bucket, upper.flipped(), bucket_end(high_bucket))
                else:
                    stop = high_bucket
                    cut(1, high_bucket, bucket_start(high_bucket), upper)
        key = buckets.key
        whole = [
            *([] if first is None else [(f"{key} >= %s", first)]),
            *([] if stop is None else [(f"{key} < %s", stop)]),
        ]
        channels = [] if channel_ids is None else [("channel_id = ANY(%s)", sorted(channel_ids))]
        return cls(buckets, whole, edges, channels)

    def total(self) -> tuple[str, list[Any]]:
        """The count's query: a scalar subquery per part, each summing or counting in an
        index-only scan (cheaper than passing the counter rows through a union)."""
        sql, params = _select("coalesce(sum(n), 0)", self.buckets.table, self.whole + self.channels)
        terms = [f"({sql})"]
        for edge in self.edges:
            edge_sql, edge_params = _select(
                "count(*)", CUSTOMER_TABLE, edge.conditions + self.channels
            )
            terms.append(f"{'+' if edge.sign > 0 else '-'} ({edge_sql})")
            params += edge_params
        return f"SELECT {' '.join(terms)}", params

    def per_bucket(self) -> tuple[str, list[Any]]:
        """SQL rows ``(bucket, n)``: ``n`` summed per bucket is its customers in the range."""
        key, table = self.buckets.key, self.buckets.table
        sql, params = _select(f"{key}, n", table, self.whole + self.channels)
        parts = [sql]
        for edge in self.edges:
            count = "count(*)" if edge.sign > 0 else "-count(*)"
            columns = f"%s::{self.buckets.key_type}, {count}"
            edge_sql, edge_params = _select(
                columns, CUSTOMER_TABLE, edge.conditions + self.channels
            )
            parts.append(edge_sql)
            params += [edge.bucket, *edge_params]
        return " UNION ALL ".join(parts), params


def _select(columns: str, table: str, conditions: list[Condition]) -> tuple[str, list[Any]]:
    where = " AND ".join(sql for sql, _ in conditions) or "TRUE"
    return f"SELECT {columns} FROM {table} WHERE {where}", [p for _, p in conditions]
