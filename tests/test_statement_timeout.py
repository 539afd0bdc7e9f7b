"""Web requests run with a bounded statement time (PostgreSQL's statement_timeout);
management commands and migrations do not. A cancelled query is a 503, never a 500."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client
from rest_framework.test import APIClient

from customers.models import Customer
from customers.views import CustomerListSimpleView
from tests.conftest import LIST_URL

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_BODY = {"detail": "The request took too long; narrow it with filters or a smaller page."}

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="statement_timeout is PostgreSQL's"
)


def database_error(sqlstate: str) -> OperationalError:
    """A database error as Django raises it, caused by a driver error with ``sqlstate``."""
    error = OperationalError("canceling statement due to statement timeout")
    error.__cause__ = psycopg.errors.lookup(sqlstate)()
    return error


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{}, {"format": "csv"}])
def test_a_cancelled_query_is_a_503_in_json(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch, params: dict
) -> None:
    def cancelled(self: CustomerListSimpleView) -> None:
        raise database_error("57014")

    monkeypatch.setattr(CustomerListSimpleView, "get_queryset", cancelled)

    response = api_client.get(LIST_URL, params)

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == TIMEOUT_BODY
    assert response["Retry-After"] == "10"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_other_database_errors_stay_server_errors(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deadlocked(self: CustomerListSimpleView) -> None:
        raise database_error("40P01")  # a query failed; the database is there

    monkeypatch.setattr(CustomerListSimpleView, "get_queryset", deadlocked)
    api_client.raise_request_exception = False

    response = api_client.get(LIST_URL)

    assert response.status_code == 500
    assert response.json() == {"detail": "Server error."}


@pytest.fixture
def statement_timeout_50ms() -> Iterator[None]:
    """Connections opened from here on get a 50 ms statement timeout, as web processes get
    theirs (a startup option); the connection is reopened without it afterwards."""
    options = connection.settings_dict.setdefault("OPTIONS", {})
    saved = dict(options)
    options["options"] = "-c statement_timeout=50"
    connection.close()
    yield
    options.clear()
    options.update(saved)
    connection.close()


@postgresql_only
@pytest.mark.django_db(transaction=True)  # the test reconnects: no test transaction to keep
def test_a_slow_query_is_cancelled_and_the_connection_stays_usable(
    statement_timeout_50ms: None,
    api_client: APIClient,
    make_customer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_customer()
    slow = Customer.objects.extra(where=["pg_sleep(1) IS NOT NULL"]).order_by("id")
    monkeypatch.setattr(CustomerListSimpleView, "queryset", slow)

    started = time.perf_counter()
    response = api_client.get(LIST_URL)
    elapsed = time.perf_counter() - started

    assert response.status_code == 503
    assert response.json() == TIMEOUT_BODY
    assert elapsed < 0.5
    monkeypatch.undo()
    assert api_client.get(LIST_URL).json()["count"] == 1


@postgresql_only
@pytest.mark.django_db
def test_tests_and_commands_run_without_a_statement_timeout() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("0",)


SHOW_TIMEOUT = (
    "from django.db import connection\n"
    "with connection.cursor() as cursor:\n"
    "    cursor.execute('SHOW statement_timeout')\n"
    "    print(cursor.fetchone()[0])\n"
)


def show_timeout(command: list[str], **env: str) -> str:
    """``SHOW statement_timeout`` as a new process sees it, on the test database."""
    settings = connection.settings_dict
    credentials = quote(settings["USER"] or "", safe="")
    if settings["PASSWORD"]:
        credentials += ":" + quote(settings["PASSWORD"], safe="")
    url = f"postgres://{credentials}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    inherited = {k: v for k, v in os.environ.items() if k != "OMS_WEB_PROCESS"}
    result = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env={**inherited, "DATABASE_URL": url, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


@postgresql_only
@pytest.mark.django_db
def test_the_web_entry_points_bound_statements_and_manage_py_does_not() -> None:
    web = ["-c", f"import config.wsgi\n{SHOW_TIMEOUT}"]
    asgi = ["-c", f"import config.asgi\n{SHOW_TIMEOUT}"]

    assert show_timeout(web) == "5s"  # the default
    assert show_timeout(asgi, REQUEST_STATEMENT_TIMEOUT_MS="1234") == "1234ms"
    assert show_timeout(web, REQUEST_STATEMENT_TIMEOUT_MS="0") == "0"
    assert show_timeout(["manage.py", "shell", "-v0", "-c", SHOW_TIMEOUT]) == "0"


def test_the_schema_documents_the_503(client: Client) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()

    responses = schema["paths"][LIST_URL]["get"]["responses"]

    assert responses["503"]["description"] == "A query ran past the statement timeout."
    assert list(responses["503"]["content"]) == ["application/json"]
