"""``DATABASES`` from environment values: the primary, its read replicas, the pooler.

A plain function of its arguments, so that tests can build the dict for any environment
without reloading the settings. docs/performance.md ("Scale-out") explains each choice.
"""

from collections.abc import Sequence
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

# What sits between the service and PostgreSQL (DATABASE_POOLER).
POOLERS = ("", "pgbouncer-session", "pgbouncer-transaction")
# Django's own psycopg pool (DATABASE_POOL): a sync worker needs one connection at a
# time, so it opens one and grows only for threaded or async workers.
POOL_OPTIONS = {"min_size": 1, "max_size": 4}
CONNECT_TIMEOUT = 2  # seconds; libpq's smallest
PREPARE_THRESHOLD = 5  # psycopg's default, which Django turns off


def database(
    url: str,
    *,
    conn_max_age: int = 60,
    pooler: str = "",
    pool: bool = False,
    statement_timeout_ms: int = 0,
) -> dict[str, Any]:
    """One ``DATABASES`` entry for ``url``.

    ``statement_timeout_ms`` (0: none) bounds the statements of web requests
    (``oms.db.timeouts`` sets it on the connections requests open). Behind PgBouncer in
    transaction mode a session setting would outlive the request's transaction on a
    shared server connection: left out (set it on the role instead).
    """
    config: dict[str, Any] = environ.Env.db_url_config(url)
    postgresql = config["ENGINE"] == "django.db.backends.postgresql"
    # django-prometheus's wrappers of the same backends time every query; PostgreSQL's
    # comes with the service's health check (oms.db.backends.postgresql).
    config["ENGINE"] = (
        "oms.db.backends.postgresql"
        if postgresql
        else config["ENGINE"].replace("django.db.backends.", "django_prometheus.db.backends.")
    )
    config["CONN_MAX_AGE"] = conn_max_age
    config["CONN_HEALTH_CHECKS"] = True
    if pooler not in POOLERS:
        raise ImproperlyConfigured(f"DATABASE_POOLER must be one of {POOLERS}, not {pooler!r}.")
    if (pooler or pool) and not postgresql:
        raise ImproperlyConfigured("DATABASE_POOLER and DATABASE_POOL need PostgreSQL.")
    options = config.setdefault("OPTIONS", {})
    if postgresql:
        # A database host that does not answer fails a connection in seconds, not after
        # the operating system's minutes: a 503 the client can retry (URL may override).
        options.setdefault("connect_timeout", CONNECT_TIMEOUT)
        # Queries bound on the server (oms.db.prepared: the token lookup) are prepared
        # after this many runs on a connection; Django's own are bound on the client
        # and never prepared.
        options["prepare_threshold"] = PREPARE_THRESHOLD
    if pooler == "pgbouncer-transaction":
        # Consecutive transactions may run on different server connections: no
        # server-side prepared statements.
        # Server-side cursors stay: the one user, the streamed export, iterates inside a
        # transaction, as Django's docs on transaction pooling advise; disabling them
        # would load a whole export into memory.
        options["prepare_threshold"] = None
    if pool:
        # Django's pool replaces persistent connections; it refuses CONN_MAX_AGE > 0.
        options["pool"] = dict(POOL_OPTIONS)
        config["CONN_MAX_AGE"] = 0
    bounded = postgresql and pooler != "pgbouncer-transaction"
    config["REQUEST_STATEMENT_TIMEOUT_MS"] = statement_timeout_ms if bounded else 0
    return config


def databases(
    default_url: str, replica_urls: Sequence[str] = (), **options: Any
) -> dict[str, dict[str, Any]]:
    """``default`` for ``default_url`` and ``replica1``, ``replica2``, ... for
    ``replica_urls``, each built by :func:`database` with the same ``options``.

    Replicas are physical copies of the primary: their tests mirror ``default`` rather
    than creating databases of their own.
    """
    result = {"default": database(default_url, **options)}
    for number, url in enumerate(replica_urls, start=1):
        result[f"replica{number}"] = {**database(url, **options), "TEST": {"MIRROR": "default"}}
    return result
