"""``DATABASES`` as config/databases.py builds it from environment values."""

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connection, connections
from rest_framework.test import APIClient

from config.databases import (
    CONNECT_TIMEOUT,
    POOL_OPTIONS,
    PREPARE_THRESHOLD,
    database,
    databases,
)
from tests.conftest import LIST_URL

PRIMARY = "postgres://oms:secret@primary:5432/oms"
REPLICA_1 = "postgres://oms:secret@replica-a:5432/oms"
REPLICA_2 = "postgres://oms:secret@replica-b:5432/oms"
SQLITE = "sqlite:////tmp/oms.sqlite3"


def test_a_primary_alone() -> None:
    config = databases(PRIMARY)

    assert list(config) == ["default"]
    default = config["default"]
    assert default["ENGINE"] == "oms.db.backends.postgresql"
    assert (default["HOST"], default["PORT"], default["NAME"]) == ("primary", 5432, "oms")
    assert default["CONN_MAX_AGE"] == 60
    assert default["CONN_HEALTH_CHECKS"] is True
    assert default["OPTIONS"] == {
        "connect_timeout": CONNECT_TIMEOUT,
        "prepare_threshold": PREPARE_THRESHOLD,
    }
    assert "TEST" not in default


# On PostgreSQL, always (the threshold: but behind PgBouncer in transaction mode).
TIMEOUT = {"connect_timeout": CONNECT_TIMEOUT, "prepare_threshold": PREPARE_THRESHOLD}


def test_replicas_are_built_like_the_primary_and_mirror_it_in_tests() -> None:
    config = databases(PRIMARY, [REPLICA_1, REPLICA_2], conn_max_age=30, statement_timeout_ms=5000)

    assert list(config) == ["default", "replica1", "replica2"]
    for alias, host in [("replica1", "replica-a"), ("replica2", "replica-b")]:
        replica = config[alias]
        assert replica["HOST"] == host
        assert replica["TEST"] == {"MIRROR": "default"}
        assert {k: v for k, v in replica.items() if k not in {"HOST", "TEST"}} == {
            k: v for k, v in config["default"].items() if k != "HOST"
        }
    assert config["replica2"]["REQUEST_STATEMENT_TIMEOUT_MS"] == 5000


def test_the_request_statement_timeout_is_postgresqls_only() -> None:
    assert database(PRIMARY, statement_timeout_ms=250)["REQUEST_STATEMENT_TIMEOUT_MS"] == 250
    assert database(PRIMARY)["REQUEST_STATEMENT_TIMEOUT_MS"] == 0
    assert database(SQLITE, statement_timeout_ms=250)["REQUEST_STATEMENT_TIMEOUT_MS"] == 0


def test_pgbouncer_in_transaction_mode() -> None:
    """No server-side prepared statements; no session statement timeout, which would stay
    on a server connection PgBouncer shares. Server-side cursors stay, for the export
    streams inside a transaction."""
    config = database(PRIMARY, pooler="pgbouncer-transaction", statement_timeout_ms=5000)

    assert config["OPTIONS"] == {**TIMEOUT, "prepare_threshold": None}
    assert config["REQUEST_STATEMENT_TIMEOUT_MS"] == 0
    assert "DISABLE_SERVER_SIDE_CURSORS" not in config
    assert config["CONN_MAX_AGE"] == 60  # connections to PgBouncer are cheap to keep


def test_pgbouncer_in_session_mode_changes_nothing() -> None:
    config = database(PRIMARY, pooler="pgbouncer-session", statement_timeout_ms=5000)

    assert config["OPTIONS"] == TIMEOUT
    assert config["REQUEST_STATEMENT_TIMEOUT_MS"] == 5000


def test_djangos_pool_replaces_persistent_connections() -> None:
    config = database(PRIMARY, pool=True, conn_max_age=60, statement_timeout_ms=5000)

    assert config["OPTIONS"] == {**TIMEOUT, "pool": POOL_OPTIONS}
    assert config["OPTIONS"]["pool"] is not POOL_OPTIONS  # each alias its own dict
    assert config["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections


def test_pool_behind_pgbouncer() -> None:
    config = database(PRIMARY, pool=True, pooler="pgbouncer-transaction")

    assert config["OPTIONS"] == {**TIMEOUT, "prepare_threshold": None, "pool": POOL_OPTIONS}
    assert config["CONN_MAX_AGE"] == 0


@pytest.mark.parametrize("options", [{"pooler": "pgbouncer-transaction"}, {"pool": True}])
def test_poolers_need_postgresql(options: dict) -> None:
    with pytest.raises(ImproperlyConfigured, match="need PostgreSQL"):
        database(SQLITE, **options)


def test_an_unknown_pooler_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOLER"):
        database(PRIMARY, pooler="pgpool")


def test_the_settings_use_the_builder() -> None:
    """Replica aliases follow default, and the router is in place."""
    assert list(settings.DATABASES) == ["default", *settings.DATABASE_REPLICAS]
    assert settings.DATABASE_ROUTERS == ["oms.db.routers.ReplicaRouter"]
    assert settings.DATABASES["default"]["ENGINE"] in {
        "oms.db.backends.postgresql",
        "django_prometheus.db.backends.sqlite3",
    }


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="plans are PostgreSQL's")
def test_list_queries_are_planned_with_their_values(api_client: APIClient) -> None:
    """No prepared list queries, hence no generic plans: Django binds parameters on the
    client (psycopg's ClientCursor), so PostgreSQL plans every ``id > ...`` or
    ``modified_date >= ...`` for the values it is given. A generic plan, which prepared
    statements switch to after five runs, assumes a third of the table matches a range
    and can pick a plan (a parallel count) that is several times slower. (The token
    lookup is prepared: tests/test_auth.py.)"""
    for threshold in range(10):
        response = api_client.get(LIST_URL, {"id__gt": threshold, "limit": 1})
        assert response.status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert not [statement for statement in prepared if "customers_customer" in statement]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend's check")
def test_the_health_check_pings_quiet_connections_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Django pings a persistent connection before each request's first query; the
    service's backend skips the ping for one that served a request under a second ago."""
    db = connections.create_connection(DEFAULT_DB_ALIAS)  # outside the test's transaction
    pings: list[bool] = []
    monkeypatch.setattr(db, "is_usable", lambda: pings.append(True) or True)
    try:
        db.ensure_connection()
        assert db.health_check_enabled

        db.close_if_unusable_or_obsolete()  # the end of the request that connected
        db.close_if_health_check_failed()  # the next request, right after: no ping
        assert pings == []
        db.close_if_unusable_or_obsolete()

        db.served_at -= db.busy_for  # quiet for a second
        db.close_if_health_check_failed()
        assert len(pings) == 1
        db.close_if_unusable_or_obsolete()

        db.served_at -= db.busy_for
        db.close_if_unusable_or_obsolete()  # a request that used no connection ends
        db.close_if_health_check_failed()  # quiet still
        assert len(pings) == 2
    finally:
        db.close()
