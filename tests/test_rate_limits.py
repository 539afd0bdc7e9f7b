"""Rate limits per token and scope: RateLimit-* headers, 429 with Retry-After, windows,
and a count that every client of one Redis shares."""

import threading
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
import redis
from django.contrib.auth.models import User
from django.core.cache import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from customers.views import CustomerListSimpleView
from oms.api import throttling
from oms.api.throttling import Rate, ScopedRateThrottle, count_request, identity, parse_rate
from tests.conftest import LIST_URL
from tokens.issuing import issue

pytestmark = pytest.mark.django_db

REDIS_URL = "redis://127.0.0.1:6379/15"  # a database of its own, keys under a test prefix
WINDOW_START = 1_800_000_000.0  # a whole number of minutes and hours since the epoch


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(WINDOW_START)
    monkeypatch.setattr(ScopedRateThrottle, "timer", clock)
    return clock


@pytest.fixture
def rates(settings) -> Callable[..., None]:
    """Set the rates of some scopes; the others keep their defaults."""

    def set_rates(**scopes: str) -> None:
        current = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**current, **scopes},
        }

    return set_rates


def client_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def statuses(client: APIClient, requests: int) -> list[int]:
    return [client.get(LIST_URL).status_code for _ in range(requests)]


def rate_limit(response: HttpResponse) -> tuple[str, str, str]:
    """RateLimit-Limit, -Remaining and -Reset."""
    return tuple(response[f"RateLimit-{name}"] for name in ("Limit", "Remaining", "Reset"))


def test_beyond_the_limit_is_429_with_retry_after_and_rate_limit_headers(
    api_client: APIClient, rates, clock: Clock
) -> None:
    rates(list="3/minute")
    clock.now += 15  # 45 seconds left in the window

    assert statuses(api_client, 3) == [200, 200, 200]
    response = api_client.get(LIST_URL, {"format": "csv"})

    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Request was throttled. Expected available in 45 seconds."}
    assert response["Retry-After"] == "45"
    assert rate_limit(response) == ("3", "0", "45")


def test_every_response_after_the_count_says_what_is_left(
    api_client: APIClient, rates, clock: Clock
) -> None:
    """Pages in any format and the errors of invalid queries alike."""
    rates(list="5/minute")

    responses = [
        api_client.get(LIST_URL),
        api_client.get(LIST_URL, {"limit": 0}),
        api_client.get(LIST_URL, {"format": "csv"}),
        api_client.get(LIST_URL, {"page": 99}),
        api_client.options(LIST_URL),
    ]

    assert [response.status_code for response in responses] == [200, 400, 200, 404, 200]
    assert [rate_limit(response) for response in responses] == [
        ("5", str(remaining), "60") for remaining in (4, 3, 2, 1, 0)
    ]


def test_the_budget_comes_back_when_the_window_resets(
    api_client: APIClient, rates, clock: Clock
) -> None:
    rates(list="2/minute")
    clock.now += 50
    assert statuses(api_client, 3) == [200, 200, 429]
    assert api_client.get(LIST_URL)["Retry-After"] == "10"

    clock.now += 10
    response = api_client.get(LIST_URL)

    assert response.status_code == 200
    assert rate_limit(response) == ("2", "1", "60")


def test_each_token_of_a_user_has_its_own_budget(reader: User, rates, clock: Clock) -> None:
    rates(list="2/minute")
    first, second = (client_for(issue(reader, name=name)[1]) for name in ("etl", "bi"))

    assert statuses(first, 3) == [200, 200, 429]
    assert statuses(second, 3) == [200, 200, 429]


def test_sessions_of_one_user_share_its_budget(reader: User, rates, clock: Clock) -> None:
    rates(list="2/minute")
    browsers = [APIClient(), APIClient()]
    for browser in browsers:
        browser.force_login(reader)

    first, second = (browser.get(LIST_URL).status_code for browser in browsers)
    third, fourth = (browser.get(LIST_URL).status_code for browser in browsers)

    assert [first, second, third, fourth] == [200, 200, 429, 429]


def test_scopes_have_separate_budgets(
    api_client: APIClient, rates, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rates(list="2/minute", export="1/hour")
    assert statuses(api_client, 3) == [200, 200, 429]

    monkeypatch.setattr(CustomerListSimpleView, "throttle_scope", "export")
    response = api_client.get(LIST_URL)

    assert response.status_code == 200
    assert rate_limit(response) == ("1", "0", "3600")
    assert api_client.get(LIST_URL).status_code == 429


def test_an_unknown_scope_or_rate_is_a_configuration_error(rates) -> None:
    rates(list="1000/fortnight")
    with pytest.raises(ImproperlyConfigured, match="Invalid throttle rate"):
        ScopedRateThrottle().allow_request(Request(APIRequestFactory().get("/")), view())
    with pytest.raises(ImproperlyConfigured, match="No throttle rate for the scope 'bulk'"):
        ScopedRateThrottle().allow_request(Request(APIRequestFactory().get("/")), view("bulk"))


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("1000/minute", Rate(1000, 60)),
        ("60/m", Rate(60, 60)),
        ("5/second", Rate(5, 1)),
        ("2/hour", Rate(2, 3600)),
        (" 1/Day ", Rate(1, 86400)),
    ],
)
def test_rates_are_written_as_in_drf(rate: str, expected: Rate) -> None:
    assert parse_rate(rate) == expected


def view(scope: str = "list") -> SimpleNamespace:
    return SimpleNamespace(throttle_scope=scope)


class Authenticated:
    """An authenticator that finds the given user and token, or nobody."""

    def __init__(self, user: object, auth: object) -> None:
        self.credentials = (user, auth) if user or auth else None

    def authenticate(self, request: Request) -> tuple[object, object] | None:
        return self.credentials


def drf_request(auth: object = None, user: object = None, **meta: str) -> Request:
    return Request(APIRequestFactory().get("/", **meta), authenticators=[Authenticated(user, auth)])


def test_identity_is_the_token_then_the_user_then_the_address(settings) -> None:
    user = SimpleNamespace(is_authenticated=True, pk=7)

    assert identity(drf_request(SimpleNamespace(pk=41), user)) == "token:41"
    assert identity(drf_request(None, user)) == "user:7"
    assert identity(drf_request(REMOTE_ADDR="10.0.0.5")) == "ip:10.0.0.5"


def test_a_forwarded_address_counts_only_behind_a_trusted_proxy(settings) -> None:
    forwarded = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.7"}
    assert identity(drf_request(**forwarded)) == "ip:10.0.0.1"

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert identity(drf_request(**forwarded)) == "ip:198.51.100.7"


def test_a_key_that_is_its_tokens_primary_key_never_reaches_the_cache() -> None:
    key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # DRF authtoken's key is its pk

    ident = identity(drf_request(SimpleNamespace(pk=key)))

    assert ident.startswith("token:sha256:")
    assert key not in ident


def test_a_failing_cache_lets_requests_through(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Unreachable:
        def incr(self, *args: object, **kwargs: object) -> int:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")

    monkeypatch.setattr(throttling, "caches", {"default": Unreachable()})

    response = api_client.get(LIST_URL)

    assert response.status_code == 200
    assert "RateLimit-Limit" not in response
    assert "Rate limit not applied" in caplog.text


@pytest.fixture
def redis_caches() -> Iterator[tuple[BaseCache, BaseCache]]:
    """Two cache clients of one Redis, each with its own connection pool."""
    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        server.ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    prefix = f"tests-rate-limits-{uuid.uuid4().hex}"
    yield (
        RedisCache(REDIS_URL, {"KEY_PREFIX": prefix}),
        RedisCache(REDIS_URL, {"KEY_PREFIX": prefix}),
    )
    for key in server.scan_iter(f"{prefix}:*"):
        server.delete(key)


def test_workers_and_hosts_on_one_redis_share_the_count(
    api_client: APIClient,
    rates,
    clock: Clock,
    redis_caches: tuple[BaseCache, BaseCache],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rates(list="3/minute")
    first, second = redis_caches

    monkeypatch.setattr(throttling, "caches", {"default": first})
    assert statuses(api_client, 2) == [200, 200]
    monkeypatch.setattr(throttling, "caches", {"default": second})
    response = api_client.get(LIST_URL)

    assert response.status_code == 200
    assert rate_limit(response) == ("3", "0", "60")
    assert api_client.get(LIST_URL).status_code == 429


def test_concurrent_counts_are_never_lost(redis_caches: tuple[BaseCache, BaseCache]) -> None:
    """A get-then-set counter loses increments under concurrency; INCR does not."""
    rate, threads_per_client, requests = Rate(10_000, 60), 4, 50
    counts: list[int] = []

    def hammer(counter: BaseCache) -> None:
        for _ in range(requests):
            counts.append(count_request(counter, "race", rate, WINDOW_START).count)

    threads = [
        threading.Thread(target=hammer, args=(counter,))
        for counter in redis_caches
        for _ in range(threads_per_client)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    total = len(redis_caches) * threads_per_client * requests
    assert sorted(counts) == list(range(1, total + 1))
