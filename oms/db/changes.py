"""Change capture: the guarantees that let BI tools copy a table by ``modified_date``.

On PostgreSQL the database itself (``oms/migrations/0001_write_guard.py``):

- stamps ``modified_date`` of every inserted and updated row with its own clock, a
  microsecond at least after the row's previous stamp: a row's stamps only grow, whatever
  the clocks of the hosts that write;
- refuses to commit a transaction that has been writing stamped rows for longer than the
  write bound (``WRITE_TRANSACTION_TIMEOUT``), whatever the client (the service, psql, a
  script);
- so a row version that is not visible now carries a stamp no earlier than now less the
  bound: :func:`settled_before` is the instant before which nothing new can appear, and
  cursor pages never hand out a position past it (``oms.api.keyset``).

``COMMIT_MARGIN`` covers the time a commit takes to become visible once checked (the WAL
flush; a synchronous standby's answer). On other databases (SQLite, for development) the
application stamps rows and the horizon is taken from its clock.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import DateTimeField, Expression, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone

# The setting a transaction sets (SET LOCAL) to keep the stamps it writes.
GIVEN_STAMPS = "oms.given_stamps"


def write_bound() -> timedelta:
    return timedelta(seconds=settings.WRITE_TRANSACTION_TIMEOUT)


def commit_margin() -> timedelta:
    return timedelta(seconds=settings.COMMIT_MARGIN)


def settled_before(using: str) -> Expression:
    """The settled horizon as a query expression: rows stamped before it that are not
    visible to the query never will be. Evaluated by PostgreSQL in the query that reads
    the rows, with the clock that stamped them."""
    if connections[using].vendor == "postgresql":
        return RawSQL("oms_settled_before()", [], output_field=DateTimeField())
    return Value(local_settled_before(), output_field=DateTimeField())


def local_settled_before() -> datetime:
    """The settled horizon by the application's clock (databases without the triggers)."""
    return timezone.now() - write_bound() - commit_margin()


@contextmanager
def keeping_given_stamps(using: str = "default") -> Iterator[None]:
    """A transaction in which rows keep the ``modified_date`` they are written with: for
    loading historical data (demo data, fixtures), which BI tools syncing the table would
    see as long settled. Never for ordinary writes."""
    connection = connections[using]
    with transaction.atomic(using=using, savepoint=False):
        if connection.vendor != "postgresql":
            yield
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'keep', true)", [GIVEN_STAMPS])
        try:
            yield
        finally:  # inside an outer transaction, SET LOCAL would outlast this block
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, '', true)", [GIVEN_STAMPS])


def install_write_bound(using: str) -> None:
    """Give the database's bound and margin the values of the settings (after every
    ``migrate``: they are functions the triggers and cursor pages call)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('oms_write_guard') IS NOT NULL")
        if not cursor.fetchone()[0]:  # the toolkit's migrations are not applied
            return
        for name, value in (
            ("oms_write_bound", write_bound()),
            ("oms_commit_margin", commit_margin()),
        ):
            milliseconds = round(value.total_seconds() * 1000)
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS interval LANGUAGE sql STABLE "
                f"PARALLEL SAFE AS $$ SELECT interval '{milliseconds} milliseconds' $$"
            )
