"""A dependency that is down (the database, Redis): told apart from other errors, and
logged once per interval rather than once per request.

During an outage every request fails the same way; a traceback per request would flood
the logs (and the disk) with one fact. :class:`Outage` writes one line when the
dependency first fails, then at most one per ``interval`` saying how many failures it
saw meanwhile, and one when it works again.
"""

import logging
import threading
import time
from typing import Any

from django.db import InterfaceError, OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger("oms.outages")

# SQLSTATEs of a server that is not there for this client: connection exceptions (class
# 08), shutting down or starting up (57P01-57P03), out of connection slots (53300).
UNAVAILABLE_STATES = ("57P01", "57P02", "57P03", "53300")


class Outage:
    """Failures of one dependency in this process, reported as lines of ``oms.db.outages``."""

    def __init__(self, dependency: str, interval: float = 10.0) -> None:
        self.dependency = dependency
        self.interval = interval
        self.failures = 0  # since the last line
        self.logged_at: float | None = None  # None: no outage
        self.lock = threading.Lock()

    def failed(self, error: BaseException) -> None:
        with self.lock:
            self.failures += 1
            now = time.monotonic()
            if self.logged_at is not None and now - self.logged_at < self.interval:
                return
            first = self.logged_at is None
            failures, self.failures, self.logged_at = self.failures, 0, now
        logger.error(
            "%s unavailable: %s (%s)",
            self.dependency,
            type(error).__name__,
            "first failure" if first else f"{failures} failures in the last {self.interval:g} s",
            extra={"dependency": self.dependency, "failures": failures},
        )

    def recovered(self) -> None:
        if self.logged_at is None:  # the common case: no outage, no lock
            return
        with self.lock:
            if self.logged_at is None:
                return
            failures, self.failures, self.logged_at = self.failures, 0, None
        logger.warning(
            "%s available again (%d more failures)",
            self.dependency,
            failures,
            extra={"dependency": self.dependency, "failures": failures},
        )


database_outage = Outage("database")


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached (down, restarting, refusing
    connections, the connection lost), rather than that a query failed."""
    if isinstance(exc, InterfaceError):  # the connection is gone
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if state is None:  # no answer from a server at all: refused, reset, timed out
        return type(cause).__module__.split(".")[0] in ("psycopg", "psycopg2")
    return state.startswith("08") or state in UNAVAILABLE_STATES


def database_reconnected(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created``: a new connection after an outage ends it."""
    database_outage.recovered()
