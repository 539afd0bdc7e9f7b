"""Schema-driven fuzzing of list-simple: schemathesis generates requests from the project's
own OpenAPI schema (``/api/schema/?format=json``, loaded in-process from the WSGI
application) and checks every response against it.

Requests that fit the schema (positive) and requests that break it (negative: wrong
types, out-of-range numbers, unknown enum values) are sent with a reader's token. Every
response must be documented (status code and body), none may be a 5xx, and every 4xx
body must be JSON. The run is bounded and derandomized, so CI sends the same requests
on every run; the tally (requests, status codes, 5xx) is printed and recorded as test
properties: ``pytest tests/test_fuzz_schema.py -rP`` shows it.
"""

import json
from collections.abc import Callable, Iterator

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import given
from pytest_django.fixtures import Settings
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from channels.models import Channel
from customers.models import Customer
from tests.conftest import LIST_URL
from tests.fuzzing import RecordProperty, Tally, fuzz_settings

SCHEMA_URL = "/api/schema/?format=json"
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Per generation mode: 200 requests take a few seconds on SQLite or PostgreSQL.
MAX_EXAMPLES = 200


@pytest.fixture
def application() -> Iterator[WSGIHandler]:
    """The WSGI application servers run (``config.wsgi``), made fit for a test: like
    Django's test client, the request signals are kept from closing the database
    connection, which holds the test's transaction (on PostgreSQL).
    """
    from config.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def list_operation(settings: Settings, application: WSGIHandler) -> APIOperation:
    """The GET operation of list-simple, from the schema the application serves."""
    # schemathesis's WSGI client sends "Host: localhost"; tests allow only "testserver".
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, application)
    return schema[LIST_URL]["GET"]


@pytest.fixture
def customers(make_customer: Callable[..., Customer], channel: Channel) -> None:
    """Rows for 200 responses to carry: with and without nulls, awkward text."""
    make_customer(channel=channel, phone_number="+905551234567", erp_code="E-1")
    make_customer(first_name="İpek", last_name='=HYPERLINK("x")')
    make_customer(omnitron_id=-7, first_name="漢字", last_name="한국어")


def asked_for_html(case: Case) -> bool:
    """The browsable API shows errors on its HTML page, for people in a browser."""
    return (case.query or {}).get("format") == "html"


@pytest.mark.usefixtures("customers")
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_list_simple_answers_as_its_schema_says(
    mode: GenerationMode,
    list_operation: APIOperation,
    token: str,
    record_property: RecordProperty,
) -> None:
    tally = Tally()

    @given(case=list_operation.as_strategy(mode))
    @fuzz_settings(MAX_EXAMPLES)
    def call(case: Case) -> None:
        cache.clear()  # rate limits are not under test here
        response = case.call(headers={"Authorization": f"Token {token}"})
        tally.add(response.status_code)
        case.validate_response(response, checks=CHECKS)
        if 400 <= response.status_code < 500 and not asked_for_html(case):
            assert response.headers["content-type"] == ["application/json"], case.query
            assert isinstance(json.loads(response.content), dict), case.query

    with tally.reported(f"schemathesis {mode.value}", record_property):
        call()

    tally.assert_no_server_error(MAX_EXAMPLES)
    # Both kinds of answer were exercised: pages and refusals.
    assert tally["status 200"] > 0
    assert tally["status 400"] + tally["status 404"] > 0
