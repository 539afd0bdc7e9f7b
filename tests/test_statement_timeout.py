"""Web requests run with a bounded statement time (PostgreSQL's statement_timeout);
management commands and migrations do not. A cancelled query is a 503, never a 500."""

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
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
    """Connections requests open from here on get a 50 ms statement timeout, as web
    requests get theirs; the connection is reopened without it afterwards."""
    saved = connection.settings_dict.get("REQUEST_STATEMENT_TIMEOUT_MS", 0)
    connection.settings_dict["REQUEST_STATEMENT_TIMEOUT_MS"] = 50
    connection.close()
    yield
    connection.settings_dict["REQUEST_STATEMENT_TIMEOUT_MS"] = saved
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
    connection.close()  # the request opens it, as a web process's first request does
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
    assert current_timeout() == "0"


def current_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@postgresql_only
@pytest.mark.django_db(transaction=True)  # the test reconnects: no test transaction to keep
def test_connections_that_requests_open_are_bounded_and_others_are_not(
    statement_timeout_50ms: None, api_client: APIClient
) -> None:
    """Whatever loaded the settings: a connection opened while a request is handled gets
    the bound; one opened outside any request (a command's) does not."""
    assert current_timeout() == "0"  # opened outside a request
    connection.close()

    assert api_client.get(LIST_URL).status_code == 200  # opens the connection
    assert current_timeout() == "50ms"  # the same connection, kept for later requests


@postgresql_only
def test_web_requests_are_bounded_by_default() -> None:
    assert settings.DATABASES["default"]["REQUEST_STATEMENT_TIMEOUT_MS"] == 5000


def test_the_schema_documents_the_503(client: Client) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()

    responses = schema["paths"][LIST_URL]["get"]["responses"]

    assert responses["503"]["description"] == "A query ran past the statement timeout."
    # JSON, or the browsable API's page for ?format=html.
    assert list(responses["503"]["content"]) == ["application/json", "text/html"]
