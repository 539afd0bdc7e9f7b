"""The oms.http.security log: failed authentication and rate limiting, with the token named by
its prefix, the reason, the path and the client address, and never a key."""

import json
import logging
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.test import APIClient

from oms.api.authentication import TokenAuthentication
from oms.http.logging import JSONFormatter
from tests.conftest import LIST_URL
from tokens.issuing import issue
from tokens.models import APIToken

pytestmark = pytest.mark.django_db

UNKNOWN_KEY = "5f2b9c0e" + "0" * 56


@pytest.fixture
def security_log(caplog: pytest.LogCaptureFixture) -> Callable[[], list[dict]]:
    """The oms.http.security lines so far, as the production formatter writes them."""
    caplog.set_level(logging.INFO)
    formatter = JSONFormatter()

    def lines() -> list[dict]:
        written = [formatter.format(r) for r in caplog.records if r.name == "oms.security"]
        return [json.loads(line) for line in written]

    return lines


def get(authorization: str | None = None, **extra: str):
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get(LIST_URL, {"email": "ali@example.com"}, **extra)


def test_an_unknown_key_is_logged_by_its_prefix(
    security_log, caplog: pytest.LogCaptureFixture
) -> None:
    response = get(f"Token {UNKNOWN_KEY}", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 401
    (line,) = security_log()
    assert line["level"] == "WARNING"
    assert line["event"] == "authentication_failed"
    assert line["token"] == UNKNOWN_KEY[:8]
    assert line["reason"] == "Invalid token."
    assert line["path"] == LIST_URL  # without the query string
    assert line["client_ip"] == "203.0.113.9"
    assert line["request_id"] == response["X-Request-ID"]
    assert UNKNOWN_KEY not in caplog.text
    assert "ali@example.com" not in caplog.text


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "Authentication credentials were not provided."),
        ("Token", "Invalid token header. No credentials provided."),
        ("Bearer short-secret", "Invalid token."),
        ("Token a b", "Invalid token header. Token string should not contain spaces."),
    ],
)
def test_without_a_key_worth_naming_the_token_is_none(
    security_log, caplog: pytest.LogCaptureFixture, authorization: str | None, reason: str
) -> None:
    get(authorization)

    (line,) = security_log()
    assert (line["token"], line["reason"]) == ("none", reason)
    assert "short-secret" not in caplog.text


def test_a_revoked_token_is_logged_by_its_prefix(
    reader: User, security_log, caplog: pytest.LogCaptureFixture
) -> None:
    token, key = issue(reader, name="revoked")
    APIToken.objects.filter(pk=token.pk).revoke()

    get(f"Bearer {key}")

    (line,) = security_log()
    assert (line["token"], line["reason"]) == (token.prefix, "Token revoked.")
    assert key not in caplog.text


def test_a_key_repeated_in_a_failure_message_is_redacted(
    security_log, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: TokenAuthentication, request: object) -> None:
        raise AuthenticationFailed(f"No token {UNKNOWN_KEY}.")

    monkeypatch.setattr(TokenAuthentication, "authenticate", fail)

    get(f"Token {UNKNOWN_KEY}")

    assert security_log()[0]["reason"] == "No token [redacted]."
    assert UNKNOWN_KEY not in caplog.text


def test_reaching_the_rate_limit_is_logged_once_per_window(
    api_client: APIClient, token: str, settings, security_log, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"list": "1/hour"},
    }

    statuses = [api_client.get(LIST_URL).status_code for _ in range(3)]

    assert statuses == [200, 429, 429]
    (line,) = security_log()
    assert line["event"] == "rate_limited"
    assert line["token"] == APIToken.objects.get().prefix
    assert line["scope"] == "list"
    assert line["reason"] == "more than 1 requests in the 'list' window"
    assert line["path"] == LIST_URL
    assert line["client_ip"] == "127.0.0.1"
    assert 0 < line["retry_after"] <= 3600
    assert token not in caplog.text
