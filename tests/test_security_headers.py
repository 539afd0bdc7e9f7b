"""Response headers that keep customer data out of caches and pages out of frames, server
errors that say nothing of their cause, and URLs that match no route answered in JSON."""

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.test import Client
from rest_framework.test import APIClient

from customers.views import CustomerListSimpleView
from oms.http.middleware import DATA_POLICY, SecurityHeadersMiddleware
from tests.conftest import LIST_URL

pytestmark = pytest.mark.django_db

DJANGO_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 200),
        ({"format": "csv"}, 200),
        ({"format": "xls"}, 200),
        ({"limit": 0}, 400),
        ({"format": "csv", "page": 9}, 404),
    ],
)
def test_list_responses_are_not_stored_and_load_nothing(
    api_client: APIClient, params: dict, status: int
) -> None:
    response = api_client.get(LIST_URL, params)

    assert response.status_code == status
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "camera=()" in response["Permissions-Policy"]
    assert {name: response.get(name) for name in DJANGO_HEADERS} == DJANGO_HEADERS


@pytest.mark.parametrize(
    ("method", "status"), [("OPTIONS", 200), ("HEAD", 200), ("POST", 405), ("GET", 401)]
)
def test_every_answer_of_the_list_is_not_stored(
    method: str, status: int, request: pytest.FixtureRequest
) -> None:
    client = APIClient() if status == 401 else request.getfixturevalue("api_client")

    response = client.generic(method, LIST_URL)

    assert response.status_code == status
    assert response["Cache-Control"] == "no-store"


def test_an_unacceptable_format_is_not_stored(api_client: APIClient) -> None:
    response = api_client.get(LIST_URL, HTTP_ACCEPT="image/png")

    assert response.status_code == 406
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", ["/admin/login/", "/api/docs/", "/api/redoc/", "/api-auth/login/"])
def test_html_pages_may_load_their_scripts_and_styles(client: Client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src" not in policy
    assert "script-src" not in policy
    assert "style-src" not in policy


def test_the_browsable_api_is_html_with_the_page_policy(reader: User) -> None:
    browser = APIClient()
    browser.force_login(reader)

    response = browser.get(LIST_URL, HTTP_ACCEPT="text/html")

    assert response["Content-Type"].startswith("text/html")
    assert "default-src" not in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("own", "sent"), [(None, DATA_POLICY), ("sandbox", "sandbox")])
def test_a_policy_set_by_the_view_is_kept(own: str | None, sent: str) -> None:
    def view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse(content_type="text/csv")
        if own is not None:
            response["Content-Security-Policy"] = own
        return response

    response = SecurityHeadersMiddleware(view)(HttpRequest())

    assert response["Content-Security-Policy"] == sent


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("unexpected"),
        DatabaseError(
            'relation "customers_customer" does not exist\n'
            'LINE 1: SELECT "customers_customer"."id" FROM "customers_customer"'
        ),
    ],
    ids=["exception", "database error"],
)
def test_a_server_error_is_json_without_a_trace_or_sql(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def fail(self: CustomerListSimpleView) -> None:
        raise error

    monkeypatch.setattr(CustomerListSimpleView, "get_queryset", fail)
    api_client.raise_request_exception = False

    response = api_client.get(LIST_URL, {"format": "csv"})

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Server error."}
    body = response.content.decode()
    for leak in ("Traceback", "SELECT", "customers_customer", "unexpected", ".py"):
        assert leak not in body


@pytest.mark.parametrize(
    "url", ["/api/v1/oms/export-jobs/not-a-uuid/", "/api/v1/oms/nothing/", "/nothing"]
)
def test_a_url_that_matches_no_route_is_a_json_404(url: str) -> None:
    response = Client().get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
