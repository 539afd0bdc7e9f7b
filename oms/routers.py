"""Read replicas: which database alias each query uses.

Reads of the models in ``settings.REPLICA_READ_MODELS`` (``"app_label.ModelName"``) go to a
replica while a GET, HEAD or OPTIONS request is being handled; everything else goes to the
primary (``default``): writes, migrations, reads in other requests, commands and write
transactions, and reads of every other model, tokens, users, permissions and sessions
among them, so that a token issued or revoked a moment ago takes effect at once.

The replica is chosen at random once per request (``ReplicaReadsMiddleware``) and kept
until the response is closed, so that a page and its count come from the same replica.
With no replicas (``DATABASE_REPLICAS`` empty) the middleware removes itself and every
query goes to the primary.
"""

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.signals import request_finished
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

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


def forget_replica(**kwargs: Any) -> None:
    """Back to the primary once a response has been sent (``request_finished``)."""
    _replica.set(None)


class ReplicaReadsMiddleware:
    """Read from one replica, chosen at random, during each GET, HEAD or OPTIONS request.

    Requests that write (admin saves, logins) read from the primary too, so that they
    see their own writes and the rows they are about to change.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.DATABASE_REPLICAS:
            raise MiddlewareNotUsed
        self.get_response = get_response
        # A streamed response (the CSV export) reads while it is sent, after __call__
        # has returned: the choice lasts until the response is closed.
        request_finished.connect(forget_replica, dispatch_uid="oms.routers.forget_replica")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        safe = request.method in SAFE_METHODS
        _replica.set(random.choice(settings.DATABASE_REPLICAS) if safe else None)
        return self.get_response(request)


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
