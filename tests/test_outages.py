"""A database that cannot be reached is a JSON 503 with Retry-After, told apart from other
database errors, and logged once per interval, not once per request (oms.db.outages)."""

import logging

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from django.test import Client
from rest_framework.test import APIClient

from customers.views import CustomerListSimpleView
from oms.db import outages
from oms.db.outages import Outage, is_database_unavailable
from tests.conftest import LIST_URL


def caused_by(error_class: type[Exception], cause: BaseException | None) -> Exception:
    """A database error as Django raises it, with the driver's error as its cause."""
    error = error_class("database error")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (caused_by(OperationalError, psycopg.OperationalError("connection refused")), True),
        (caused_by(OperationalError, psycopg.errors.lookup("57P01")()), True),  # shutdown
        (caused_by(OperationalError, psycopg.errors.lookup("57P03")()), True),  # starting up
        (caused_by(OperationalError, psycopg.errors.lookup("08006")()), True),
        (caused_by(OperationalError, psycopg.errors.lookup("53300")()), True),  # no slots
        (caused_by(InterfaceError, psycopg.InterfaceError("connection already closed")), True),
        (caused_by(OperationalError, psycopg.errors.lookup("57014")()), False),  # cancelled
        (caused_by(OperationalError, psycopg.errors.lookup("40P01")()), False),  # deadlock
        (caused_by(IntegrityError, psycopg.errors.lookup("23505")()), False),
        (caused_by(DatabaseError, None), False),
        (caused_by(OperationalError, None), False),  # SQLite's "database is locked" and such
    ],
)
def test_unavailable_is_told_apart_from_failed_queries(error: Exception, unavailable: bool) -> None:
    assert is_database_unavailable(error) is unavailable


@pytest.fixture
def fresh_outage(monkeypatch: pytest.MonkeyPatch) -> Outage:
    outage = Outage("database", interval=3600)
    monkeypatch.setattr(outages, "database_outage", outage)
    monkeypatch.setattr("oms.api.exceptions.database_outage", outage)
    return outage


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_outage")
def test_an_unreachable_database_is_a_503_logged_once(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refused(self: CustomerListSimpleView) -> None:
        raise caused_by(OperationalError, psycopg.OperationalError("connection refused"))

    monkeypatch.setattr(CustomerListSimpleView, "get_queryset", refused)
    caplog.set_level(logging.INFO)

    responses = [
        api_client.get(LIST_URL, {"format": data_format}) for data_format in ("json", "csv") * 10
    ]

    assert {response.status_code for response in responses} == {503}
    assert responses[1]["Content-Type"] == "application/json"
    assert responses[0].json() == {"detail": "The database is unavailable; retry shortly."}
    assert responses[0]["Retry-After"] == "1"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.name for r in errors] == ["oms.outages"]  # one line, no traceback, no 503 lines
    assert errors[0].exc_info is None


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_outage")
def test_the_admin_answers_an_unreachable_database_with_the_same_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("admin", password="x"))

    def refused(*args: object, **kwargs: object) -> None:
        raise caused_by(OperationalError, psycopg.OperationalError("connection refused"))

    monkeypatch.setattr("django.contrib.admin.options.ModelAdmin.get_queryset", refused)
    client.raise_request_exception = False

    response = client.get("/admin/customers/customer/", secure=True)

    assert response.status_code == 503
    assert response.json()["detail"] == "The database is unavailable; retry shortly."


def test_an_outage_is_logged_once_per_interval_and_when_it_ends(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(outages.time, "monotonic", lambda: clock[0])
    outage = Outage("redis", interval=10)
    caplog.set_level(logging.INFO, logger="oms.outages")

    for second in range(25):  # a failure every second for 25 s
        clock[0] = 1000.0 + second
        outage.failed(TimeoutError())
    outage.recovered()
    outage.recovered()

    assert [r.getMessage() for r in caplog.records] == [
        "redis unavailable: TimeoutError (first failure)",
        "redis unavailable: TimeoutError (10 failures in the last 10 s)",
        "redis unavailable: TimeoutError (10 failures in the last 10 s)",
        "redis available again (4 more failures)",
    ]
