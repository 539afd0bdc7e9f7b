"""Shared fixtures: an authorised API client, demo data, the specification's examples."""

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from channels.models import Channel
from customers.demo import load_demo_data
from customers.models import Customer
from deleted_items.models import DeletedItem
from oms.db.changes import install_write_bound, keeping_given_stamps
from tokens.issuing import issue

LIST_URL = "/api/v1/oms/customers/list-simple/"


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Throttle counts live in the cache: each test starts from none."""
    cache.clear()


@pytest.fixture(autouse=True)
def _no_deletions_left(request: pytest.FixtureRequest) -> None:
    """A transactional test starts with an empty deletion feed. Django empties the tables
    after each such test in no set order: on SQLite, deleting the customers after the feed
    records their deletion again (a trigger), for the next test to find."""
    if "transactional_db" in request.fixturenames:
        request.getfixturevalue("transactional_db")
        DeletedItem.objects.all().delete()


FIXTURES = Path(__file__).with_name("fixtures")


def read_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def spec_get() -> dict[str, Any]:
    """The specification's example GET body."""
    return read_fixture("list-simple.GET.json")


@pytest.fixture
def spec_options() -> dict[str, Any]:
    """The specification's example OPTIONS body."""
    return read_fixture("list-simple.OPTIONS.json")


@pytest.fixture
def reader(db: None) -> User:
    """A user with read access to customers."""
    user = User.objects.create_user("reader")
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    return user


@pytest.fixture
def token(reader: User) -> str:
    """The key of a token of the reader's, for every channel, issued as issue_token does."""
    _, key = issue(reader, name="tests")
    return key


@pytest.fixture
def api_client(token: str) -> APIClient:
    """An API client sending the reader's token."""
    api_client = APIClient()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api_client


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture
def demo_data(db: None) -> None:
    """What ``load_demo_data`` loads by default: 109 customers in channel 1."""
    load_demo_data(109)


@pytest.fixture
def channel(db: None) -> Channel:
    return Channel.objects.create(name="Web", channel_type="web")


@pytest.fixture
def make_customer(db: None) -> Callable[..., Customer]:
    """Create a customer; unique omnitron_id and email unless given.

    Through ``bulk_create`` so that explicit ``created_date``/``modified_date`` stick
    (``save()`` stamps ``modified_date``), in a transaction that keeps the given stamps
    (PostgreSQL stamps rows itself otherwise: ``oms.db.changes``).
    """
    counter = iter(range(1, 10**6))

    def make(**fields: Any) -> Customer:
        number = next(counter)
        fields.setdefault("omnitron_id", number)
        fields.setdefault("email", f"customer{number}@example.com")
        with keeping_given_stamps():
            (customer,) = Customer.objects.bulk_create([Customer(**fields)])
        return customer

    return make


@pytest.fixture
def short_write_bound(settings: Settings) -> Iterator[float]:
    """A write bound of half a second (and a margin of 0.1 s) in the settings and in the
    database; the settings' values again afterwards. For transactional tests: Django's
    TestCase checks deferred constraints, the bound's among them, as each test ends."""
    settings.WRITE_TRANSACTION_TIMEOUT, settings.COMMIT_MARGIN = 0.5, 0.1
    install_write_bound("default")
    yield 0.6
    settings.WRITE_TRANSACTION_TIMEOUT, settings.COMMIT_MARGIN = 60.0, 5.0
    install_write_bound("default")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
