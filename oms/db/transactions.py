"""Database helpers: sequences for the bulk loaders, time-bounded write transactions."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.management.color import no_style
from django.db import OperationalError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

# PostgreSQL settings that bounded_transaction lowers to its bound, all in milliseconds.
TIMEOUT_SETTINGS = ["statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"]
# Set on a connection while a bounded_transaction is open on it.
BOUNDED_FLAG = "oms_bounded_transaction"


def reset_sequences(*models: type[Model]) -> None:
    """Move the models' id sequences past explicit ids (PostgreSQL does not do it by itself)."""
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), list(models)):
            cursor.execute(statement)


class TransactionTimeout(OperationalError):
    """A bounded transaction ran past its bound and was rolled back."""


@contextmanager
def bounded_transaction(
    seconds: float | None = None, *, using: str | None = None, savepoint: bool = True
) -> Iterator[None]:
    """``transaction.atomic()`` that cannot stay open much longer than ``seconds``
    (default ``settings.WRITE_TRANSACTION_TIMEOUT``).

    A row becomes visible when its transaction commits, not when ``modified_date`` is
    stamped; BI tools' sync lookback must cover the time in between (README, "Syncing from
    BI tools"). On PostgreSQL this lowers ``statement_timeout``, ``lock_timeout`` and
    ``idle_in_transaction_session_timeout`` to the bound for the rest of the transaction
    (``SET LOCAL``; a lower value, such as the web processes' statement timeout, stays), so
    the server aborts any statement, lock wait or idle pause that outlasts it. The block
    that opens the transaction also refuses to commit once the bound has passed, which
    bounds a long run of short statements too: it raises TransactionTimeout and rolls back.

    Nested in another bounded_transaction, and on other databases (SQLite, for
    development), it is a plain ``atomic()``.
    """
    conn = transaction.get_connection(using)
    if conn.vendor != "postgresql" or getattr(conn, BOUNDED_FLAG, False):
        with transaction.atomic(using=using, savepoint=savepoint):
            yield
        return
    bound = settings.WRITE_TRANSACTION_TIMEOUT if seconds is None else seconds
    opens_transaction = not conn.in_atomic_block
    started = time.monotonic()
    with transaction.atomic(using=using, savepoint=savepoint):
        lower_timeouts(conn, bound)
        setattr(conn, BOUNDED_FLAG, True)
        try:
            yield
            elapsed = time.monotonic() - started
            if opens_transaction and elapsed > bound:
                raise TransactionTimeout(
                    f"write transaction open {elapsed:.1f} s, over its bound of {bound:g} s "
                    "(WRITE_TRANSACTION_TIMEOUT): rolled back"
                )
        finally:
            setattr(conn, BOUNDED_FLAG, False)


def lower_timeouts(conn: BaseDatabaseWrapper, seconds: float) -> None:
    """``SET LOCAL`` each of TIMEOUT_SETTINGS to ``seconds`` unless it is lower already
    (0 means none), in one round trip."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(name, LEAST(NULLIF(setting::bigint, 0), %s)::text, true)"
            " FROM pg_settings WHERE name = ANY(%s)",
            [max(1, round(seconds * 1000)), TIMEOUT_SETTINGS],
        )
