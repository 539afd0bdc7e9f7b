"""Who may read list-simple, and which methods exist at all."""

import json
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpResponse
from rest_framework.test import APIClient

from customers.models import Customer
from tests.conftest import LIST_URL
from tokens.issuing import issue

pytestmark = pytest.mark.django_db

READ_METHODS = ["GET", "HEAD", "OPTIONS"]
UNSAFE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


def client_with(authorization: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


def token_client(user: User) -> APIClient:
    return client_with(f"Token {issue(user)[1]}")


def session_client(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def send(client: APIClient, method: str) -> HttpResponse:
    return client.generic(method, LIST_URL)


def assert_challenges(response: HttpResponse) -> None:
    """401 with a WWW-Authenticate header naming a scheme the API accepts."""
    assert response.status_code == 401
    assert response["WWW-Authenticate"].split()[0].lower() in {"token", "bearer"}


@pytest.fixture
def unprivileged(db: None) -> User:
    """A user without customers.view_customer."""
    return User.objects.create_user("unprivileged")


@pytest.fixture
def superuser_client(db: None) -> APIClient:
    return token_client(User.objects.create_superuser("admin"))


@pytest.fixture
def session_reader_client(reader: User) -> APIClient:
    return session_client(reader)


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "bearer", "TOKEN", "BeArEr"])
def test_token_is_accepted_under_either_scheme_in_any_case(scheme: str, token: str) -> None:
    response = client_with(f"{scheme} {token}").get(LIST_URL)

    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no header"),
        pytest.param("Token 0123456789abcdef0123456789abcdef01234567", id="unknown key"),
        pytest.param("Bearer 0123456789abcdef0123456789abcdef01234567", id="unknown bearer"),
        pytest.param("Token", id="no key"),
        pytest.param("Bearer", id="no bearer key"),
        pytest.param("Token a b", id="two words"),
        pytest.param("Token {key} b", id="valid key plus a word"),
        pytest.param("Basic {key}", id="other scheme"),
    ],
)
def test_missing_or_bad_credentials_are_401_with_a_challenge(
    authorization: str | None, token: str
) -> None:
    client = APIClient() if authorization is None else client_with(authorization.format(key=token))

    assert_challenges(client.get(LIST_URL))


@pytest.mark.parametrize("param", ["token", "access_token", "auth_token", "key"])
def test_key_in_the_query_string_is_ignored(
    param: str, token: str, anonymous_client: APIClient
) -> None:
    assert_challenges(anonymous_client.get(LIST_URL, {param: token}))


def test_token_of_an_inactive_user_is_401(reader: User, token: str) -> None:
    reader.is_active = False
    reader.save()

    assert_challenges(client_with(f"Token {token}").get(LIST_URL))


@pytest.mark.parametrize("method", READ_METHODS)
@pytest.mark.parametrize("client_name", ["api_client", "superuser_client", "session_reader_client"])
def test_users_with_view_permission_may_read(
    client_name: str, method: str, request: pytest.FixtureRequest
) -> None:
    """Token reader, superuser (all permissions) and a logged-in reader: GET, HEAD, OPTIONS."""
    response = send(request.getfixturevalue(client_name), method)

    assert response.status_code == 200


@pytest.mark.parametrize("method", READ_METHODS)
@pytest.mark.parametrize("login", [token_client, session_client], ids=["token", "session"])
def test_users_without_view_permission_are_403(
    login: Callable[[User], APIClient], method: str, unprivileged: User
) -> None:
    response = send(login(unprivileged), method)

    assert response.status_code == 403


@pytest.mark.parametrize("method", READ_METHODS)
def test_reading_without_credentials_is_401(method: str, anonymous_client: APIClient) -> None:
    assert_challenges(send(anonymous_client, method))


def test_head_is_get_without_a_body(api_client: APIClient, make_customer: Callable) -> None:
    """Same status and headers as GET (Content-Length included), and no body."""
    make_customer()
    get = api_client.get(LIST_URL)

    head = api_client.head(LIST_URL)

    assert head.status_code == 200
    assert head.content == b""
    assert head["Content-Type"] == get["Content-Type"] == "application/json"
    assert head["Content-Length"] == get["Content-Length"] == str(len(get.content))


@pytest.mark.parametrize("method", UNSAFE_METHODS)
@pytest.mark.parametrize(
    "client_name", ["api_client", "superuser_client", "session_reader_client", "anonymous_client"]
)
def test_unsafe_methods_are_405_for_everyone_and_change_nothing(
    client_name: str, method: str, request: pytest.FixtureRequest, make_customer: Callable
) -> None:
    """405 is decided before authentication: never 401 or 403, never a write."""
    customer = make_customer(first_name="Ada")
    before = list(Customer.objects.values())
    body = {"id": customer.id, "omnitron_id": 999, "email": "new@example.com", "first_name": "X"}
    client = request.getfixturevalue(client_name)

    response = client.generic(method, LIST_URL, json.dumps(body), "application/json")

    assert response.status_code == 405
    assert {name.strip() for name in response["Allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}
    assert list(Customer.objects.values()) == before


def test_too_many_requests_is_429_with_retry_after(api_client: APIClient, settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"list": "2/minute"},
    }

    statuses = [api_client.get(LIST_URL).status_code for _ in range(3)]
    response = api_client.get(LIST_URL)

    assert statuses == [200, 200, 429]
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL's")
def test_the_token_lookup_is_prepared_once_per_connection(api_client: APIClient) -> None:
    """The token lookup runs on every request with the same plan: PostgreSQL keeps it
    prepared (oms.db.prepared) after psycopg's threshold of runs; list queries are not."""
    for _ in range(6):
        assert api_client.get(LIST_URL).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]

    assert len(prepared) == 1
    assert '"digest" = $1' in prepared[0]
