"""Exact customer counts from the per-channel counters that PostgreSQL triggers keep
(migration 0002_customer_counts), so that counting pages costs no scan of the table."""

from collections.abc import Collection

from django.db import connections

COUNTER_TABLE = "customers_customercount"


def counted_customers(channel_ids: Collection[int] | None, *, using: str) -> int | None:
    """How many customers the channels ``channel_ids`` (None: every customer, with or
    without a channel) hold, in one query; None where there are no counters (not
    PostgreSQL), for the caller to count rows instead.

    As exact as ``count(*)``: the triggers change the counters in the transaction that
    changes the customers, so a reader sees both or neither. A channel's count is the sum
    of its rows (a few, one per transaction that wrote it concurrently).
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    if channel_ids is not None and not channel_ids:
        return 0
    query = f"SELECT coalesce(sum(n), 0) FROM {COUNTER_TABLE}"
    params: list[object] = []
    if channel_ids is not None:
        query += " WHERE channel_id = ANY(%s)"
        params.append(sorted(channel_ids))
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return int(cursor.fetchone()[0])
