"""Request ids, JSON access logs, health probes and Prometheus metrics."""

import json
import logging

import pytest
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from oms.http.logging import JSONFormatter
from tests.conftest import LIST_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    """Access log lines as the production formatter writes them, parsed back."""
    caplog.set_level(logging.INFO, logger="oms.access")
    formatter = JSONFormatter()

    class Lines(list):
        def read(self) -> list[dict]:
            return [
                json.loads(formatter.format(r)) for r in caplog.records if r.name == "oms.access"
            ]

    return Lines()


def test_a_request_gets_an_id_echoed_and_logged(api_client: APIClient, access_lines, token) -> None:
    response = api_client.get(LIST_URL, {"email": "ali@example.com"})

    (line,) = access_lines.read()
    assert response["X-Request-ID"] == line["request_id"]
    assert len(line["request_id"]) == 32
    assert line["method"] == "GET"
    assert line["path"] == LIST_URL
    assert line["status"] == 200
    assert line["user"] == "reader"
    assert line["duration_ms"] >= 0
    text = json.dumps(line)
    assert token not in text
    assert "ali@example.com" not in text  # query strings are not logged


def test_a_request_below_the_access_log_level_keeps_its_id_and_writes_nothing(
    api_client: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="oms.access")

    response = api_client.get(LIST_URL)

    assert len(response["X-Request-ID"]) == 32
    assert [r for r in caplog.records if r.name == "oms.access"] == []


def test_a_client_request_id_is_kept(api_client: APIClient, access_lines) -> None:
    response = api_client.get(LIST_URL, HTTP_X_REQUEST_ID="bi-sync-42")

    assert response["X-Request-ID"] == "bi-sync-42"
    assert access_lines.read()[0]["request_id"] == "bi-sync-42"


@pytest.mark.parametrize("forged", ['a" "status": 200', "x" * 200, "ünïcode"])
def test_a_malformed_client_request_id_is_replaced(
    anonymous_client: APIClient, access_lines, forged: str
) -> None:
    response = anonymous_client.get(LIST_URL, HTTP_X_REQUEST_ID=forged)

    assert response["X-Request-ID"] != forged
    assert len(response["X-Request-ID"]) == 32


def test_failed_authentication_is_logged_without_the_token(
    anonymous_client: APIClient, access_lines
) -> None:
    anonymous_client.get(LIST_URL, HTTP_AUTHORIZATION="Token not-a-real-key-123")

    (line,) = access_lines.read()
    assert line["status"] == 401
    assert line["user"] is None
    assert "not-a-real-key-123" not in json.dumps(line)


def test_healthz_answers_without_host_check_or_database(
    client: Client, django_assert_num_queries
) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="10.1.2.3")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_with_a_migrated_database(client: Client) -> None:
    response = client.get("/readyz", HTTP_HOST="10.1.2.3")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_503_while_migrations_are_pending(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: ["pending"])
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "migrations": "pending"}


def test_readyz_is_503_when_the_database_is_unreachable(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError, connection

    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused to secret-host:5432")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "OperationalError"}


def test_metrics_count_requests_by_view_and_status_and_time_queries(
    api_client: APIClient, client: Client
) -> None:
    api_client.get(LIST_URL)
    api_client.get(LIST_URL, {"limit": 0})

    body = client.get("/metrics").content.decode()

    assert 'django_http_responses_total_by_status_view_method_total{method="GET",' in body
    assert 'status="200",view="customers:list-simple"' in body
    assert 'status="400",view="customers:list-simple"' in body
    assert "django_http_requests_latency_seconds_by_view_method_bucket" in body
    assert "django_db_query_duration_seconds_bucket" in body


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_and_time_every_request_of_a_series(api_client: APIClient) -> None:
    """Each labelled series is looked up once per process (oms.http.middleware): still
    counted, and timed, once per request."""
    responses = "django_http_responses_total_by_status_view_method_total"
    latency = "django_http_requests_latency_seconds_by_view_method_count"
    view = {"view": "customers:list-simple", "method": "GET"}
    before = sample(responses, status="200", **view), sample(latency, **view)

    for _ in range(3):
        api_client.get(LIST_URL)

    assert sample(responses, status="200", **view) == before[0] + 3
    assert sample(latency, **view) == before[1] + 3


def test_metrics_label_unknown_paths_and_methods_without_new_series(client: Client) -> None:
    """A path no view serves and a method HTTP does not know each land in one series: a
    client cannot grow /metrics without bound."""
    unnamed = {"status": "404", "view": "<unnamed view>", "method": "GET"}
    invalid = {"status": "405", "view": "customers:list-simple", "method": "<invalid method>"}
    responses = "django_http_responses_total_by_status_view_method_total"
    before = sample(responses, **unnamed), sample(responses, **invalid)

    client.get("/no-such-path-1")
    client.get("/no-such-path-2")
    client.generic("BREW", LIST_URL)

    assert sample(responses, **unnamed) == before[0] + 2
    assert sample(responses, **invalid) == before[1] + 1


def test_metrics_hold_only_the_request_series_dashboards_chart(client: Client) -> None:
    """django-prometheus's repeats of the same counts (totals, by transport, by charset,
    body sizes) are not kept."""
    body = client.get("/metrics").content.decode()

    assert "django_http_requests_total_by_method" not in body
    assert "django_http_responses_body_total_bytes" not in body


def db_sample(name: str) -> float:
    """The sum of the database series ``name`` over this connection's labels."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        for sample in metric.samples
        if sample.name == name
        and sample.labels.get("alias") == connection.alias
        and sample.labels.get("vendor") == connection.vendor
    )


def test_metrics_count_and_time_each_statement_and_count_failures() -> None:
    names = (
        "django_db_execute_total",
        "django_db_execute_many_total",
        "django_db_query_duration_seconds_count",
        "django_db_errors_total",
    )
    before = {name: db_sample(name) for name in names}

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.executemany("UPDATE django_migrations SET app = app WHERE id = %s", [(1,), (2,)])
        with pytest.raises(DatabaseError):  # last: PostgreSQL refuses more in this transaction
            cursor.execute("SELECT * FROM no_such_table")

    after = {name: db_sample(name) - before[name] for name in names}
    assert after == {
        "django_db_execute_total": 4,  # each statement of executemany counts
        "django_db_execute_many_total": 2,
        "django_db_query_duration_seconds_count": 3,  # one per call
        "django_db_errors_total": 1,
    }
