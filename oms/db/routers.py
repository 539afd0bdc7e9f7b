"""Read replicas: which database alias each query uses.

Reads of the models in ``settings.REPLICA_READ_MODELS`` (``"app_label.ModelName"``) go to a
replica while a GET, HEAD or OPTIONS request is being handled; everything else goes to the
primary (``default``): writes, migrations, reads in other requests, commands and write
transactions, and reads of every other model, tokens, users, permissions and sessions
among them, so that a token issued or revoked a moment ago takes effect at once.

The replica is chosen at random once per request
(``oms.http.middleware.ReplicaReadsMiddleware``) and kept until the response is closed,
so that a page and its count come from the same replica. With no replicas
(``DATABASE_REPLICAS`` empty) the middleware removes itself and every query goes to the
primary.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

# The replica the current request reads from; None: the primary.
_replica: ContextVar[str | None] = ContextVar("oms_replica", default=None)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@contextmanager
def replica_reads(alias: str | None) -> Iterator[None]:
    """Route reads of ``REPLICA_READ_MODELS`` to ``alias`` (None: the primary) inside."""
    token = _replica.set(alias)
    try:
        yield
    finally:
        _replica.reset(token)


def read_from(alias: str | None) -> None:
    """Route reads of ``REPLICA_READ_MODELS`` to ``alias`` (None: the primary) from now
    until changed: for the rest of a request (``oms.http.middleware.ReplicaReadsMiddleware``)."""
    _replica.set(alias)


def forget_replica(**kwargs: Any) -> None:
    """Back to the primary once a response has been sent (``request_finished``)."""
    read_from(None)


class ReplicaRouter:
    """Reads of ``REPLICA_READ_MODELS`` go to the replica the current request chose
    (``ReplicaReadsMiddleware``, or :func:`replica_reads`); all else, migrations
    included, to the primary."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        replica = _replica.get()
        if (
            replica is None
            or model._meta.label not in settings.REPLICA_READ_MODELS
            # A transaction on the primary reads what it is about to write: from there.
            or connections[DEFAULT_DB_ALIAS].in_atomic_block
        ):
            return DEFAULT_DB_ALIAS
        return replica

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # Replicas hold the primary's rows: a customer read from one may point to a
        # channel read from another, or be saved to the primary.
        known = {DEFAULT_DB_ALIAS, *settings.DATABASE_REPLICAS}
        return True if {obj1._state.db, obj2._state.db} <= known else None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        # Replicas are physical copies: they get the schema by replication.
        return db == DEFAULT_DB_ALIAS
