"""Bad input in list-simple's query string.

Hypothesis generates query strings over every parameter (each filter, ``page``,
``limit``, ``page_size``, ``format``, ``bom``, ``xlsx_datetimes``, unknown names) with
valid-looking values, junk, huge numbers, NUL, 10,000-character values, bytes that are not
UTF-8 (raw and percent-encoded) and repeated parameters, sent as a raw ``QUERY_STRING`` so
that every byte reaches the application. Nothing may be a 5xx; an error is JSON (the
browsable API, ``format=html``, shows it on its page) whose keys name a parameter that was
sent, or are ``detail``. Explicit cases then pin the outcome of each kind of bad input.
(Malformed ``Authorization`` headers and keys in the query string: ``test_auth.py``,
``test_tokens.py``.)

The run is bounded and derandomized (the same examples on every run); the tally is
printed (``pytest tests/test_fuzz_params.py -rP``) and recorded as test properties.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from channels.models import Channel
from customers.filters import CustomerFilterSet
from customers.models import Customer
from oms.api.filters import restore_offset_sign
from oms.tabular.renderers import XLSX_MEDIA_TYPE
from tests.conftest import LIST_URL, utc
from tests.fuzzing import RecordProperty, Tally, fuzz_settings

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]

MAX_EXAMPLES = 300  # a few seconds on SQLite or PostgreSQL
PARAMETERS = [*CustomerFilterSet.base_filters, "page", "limit", "page_size", "format", "bom"]
PARAMETERS += ["xlsx_datetimes"]
UNKNOWN = ["token", "id", "id__in", "ordering", "search", "email__icontains", "q", "page[size]"]
EXACT_FILTERS = ["first_name", "last_name", "email", "phone_number", "erp_code"]
SORT_KEYS = ["id", "-id", "modified_date", "-modified_date"]
FORMATS = ["json", "csv", "xls", "xlsx", "html", "api", "xml", "CSV", "XLSX", "jsonl", ""]
# What a 200 is, by the format asked for (the last `format` given; none means JSON).
CONTENT_TYPES = {
    None: "application/json",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xls": XLSX_MEDIA_TYPE,
    "xlsx": XLSX_MEDIA_TYPE,
    "html": "text/html; charset=utf-8",
}
NOT_WHOLE = ["Enter a whole number."]
INVALID_DATETIME = ["Enter a valid date/time."]
NUL_REFUSED = ["Null characters are not allowed."]


# --- requests ----------------------------------------------------------------------------


def get(client: Client, query: str) -> HttpResponse:
    """GET list-simple with ``query`` as the raw QUERY_STRING: WSGI's latin-1 text, one
    character per byte, so that ``+``, ``%FF`` or a raw ``\\xff`` arrive as sent."""
    return client.get(LIST_URL, QUERY_STRING=query)


def raw(data: bytes) -> str:
    """Bytes as WSGI carries them in QUERY_STRING."""
    return data.decode("latin-1")


@pytest.fixture
def client(token: str) -> Client:
    """Django's test client with the reader's token, exceptions turned into 500s."""
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")


@pytest.fixture
def customers(make_customer: MakeCustomer, channel: Channel) -> list[Customer]:
    """Four customers, ascending ids, modified around 2023-09-01T09:00:00Z."""
    return [
        make_customer(modified_date=utc(2023, 9, 1, 8, 59, 59, 999999), channel=channel),
        make_customer(modified_date=utc(2023, 9, 1, 9), first_name="İpek", erp_code="-1"),
        make_customer(modified_date=utc(2023, 9, 1, 9, 0, 0, 1), phone_number="+905551234567"),
        make_customer(modified_date=utc(2024, 1, 1), last_name="漢字"),
    ]


def ids(response: HttpResponse) -> list[int]:
    """The ids of a JSON page; the response must be one."""
    check_response(response)
    assert response.status_code == 200, response.content[:500]
    return [row["id"] for row in response.json()["results"]]


def error(client: Client, query: str, status: int) -> dict[str, Any]:
    """The body of the error that ``query`` must get, checked as every answer is."""
    response = get(client, query)
    check_response(response)
    assert response.status_code == status, response.content[:500]
    return response.json()


def effective_format(response: HttpResponse) -> str | None:
    """The format the request asked for: DRF reads the last ``format`` value."""
    return response.wsgi_request.GET.get("format") or None


def check_response(response: HttpResponse) -> None:
    """What every answer to a query string must be, whatever the query."""
    assert response.status_code < 500, response.content[:500]
    asked = effective_format(response)
    if response.status_code == 200:
        if asked in CONTENT_TYPES:
            assert response["Content-Type"] == CONTENT_TYPES[asked]
        return
    if asked == "html":  # the browsable API, for people: errors on its HTML page
        assert response["Content-Type"] == CONTENT_TYPES["html"]
        return
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict)
    assert body
    # Keys are the names of parameters the application received, or "detail".
    sent = set(response.wsgi_request.GET)
    assert set(body) <= sent | {"detail"}, (set(body), sent)


# --- generated query strings -------------------------------------------------------------

long_values = st.sampled_from(["9", "a", "İ", "-", "%", "\x00", "漢"]).map(lambda c: c * 10_000)
huge_numbers = st.one_of(
    st.integers(min_value=2**63).map(str),
    st.integers(max_value=-(2**63) - 1).map(str),
    st.sampled_from(["1e400", "-1e400", "9" * 400, "1" + "0" * 20, "NaN", "Infinity", "0x10"]),
)
datetimes = st.builds(
    lambda moment, offset, separator: moment.isoformat(sep=separator) + offset,
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from(["", "Z", "+03:00", " 03:00", "-01:00", "+18:23", "-23:59", "+0530", "+1"]),
    st.sampled_from(["T", " "]),
)
valid_looking = st.one_of(
    st.integers(min_value=-5, max_value=10**6).map(str),
    st.sampled_from(SORT_KEYS + FORMATS + ["0", "1", "1000", "1001", "last", "2023-09-01"]),
    st.sampled_from(["İpek", "text", "serial"]),
    st.lists(st.sampled_from(SORT_KEYS), min_size=1, max_size=3).map(",".join),
    datetimes,
    st.emails(),
)
text_values = st.one_of(
    valid_looking,
    st.text(max_size=30),  # junk, any Unicode
    huge_numbers,
    st.text(max_size=5).map(lambda text: f"{text}\x00{text}"),
    long_values,
)


def encode_text(text: str, percent: bool) -> bytes:
    """``text`` in a query string: percent-encoded UTF-8, or raw UTF-8 with only the
    characters that would split the query (``&``, ``=``, ``#``) encoded."""
    if percent:
        return quote(text, safe="").encode()
    return text.encode().replace(b"&", b"%26").replace(b"=", b"%3D").replace(b"#", b"%23")


def encode_bytes(data: bytes, percent: bool) -> bytes:
    """Arbitrary bytes, mostly not UTF-8: percent-encoded (``%FF%FE``) or raw."""
    if percent:
        return quote_from_bytes(data, safe="").encode()
    return data.replace(b"&", b"%26").replace(b"=", b"%3D").replace(b"#", b"%23")


encoded_values = st.one_of(
    st.builds(encode_text, text_values, st.booleans()),
    st.builds(encode_bytes, st.binary(min_size=1, max_size=12), st.booleans()),
)
names = st.one_of(
    st.sampled_from(PARAMETERS),
    st.sampled_from(UNKNOWN),
    st.builds(encode_text, st.text(max_size=8), st.booleans()),
    st.builds(encode_bytes, st.binary(min_size=1, max_size=4), st.just(True)),
).map(lambda name: name if isinstance(name, bytes) else name.encode())
pairs = st.tuples(names, st.one_of(encoded_values, st.none()))  # None: a bare name
# Few names at a time, drawn from a short list: repeated parameters come up often.
query_strings = st.lists(pairs, max_size=6).map(
    lambda items: raw(
        b"&".join(name if value is None else name + b"=" + value for name, value in items)
    )
)


@pytest.mark.usefixtures("customers")
def test_generated_query_strings_never_fail(
    client: Client, record_property: RecordProperty
) -> None:
    tally = Tally()

    @given(query=query_strings)
    @fuzz_settings(MAX_EXAMPLES)
    def send(query: str) -> None:
        cache.clear()  # rate limits are not under test here
        response = get(client, query)
        tally.add(response.status_code)
        check_response(response)

    with tally.reported("hypothesis query strings", record_property):
        send()

    tally.assert_no_server_error(MAX_EXAMPLES)
    # Both kinds of answer were exercised: pages and refusals.
    assert tally["status 200"] > 0
    assert tally["status 400"] + tally["status 404"] > 0


# --- pagination --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page", ["0", "-1", "abc", "999999", "1.5", "1.0", "%00", "%FF", "9" * 10_000]
)
def test_a_page_that_is_not_a_page_is_404(
    page: str, client: Client, customers: list[Customer]
) -> None:
    assert error(client, f"page={page}", 404) == {"detail": "Invalid page."}


@pytest.mark.parametrize("limit", ["0", "abc", "1001", "10.5", "10.0", "-1", "%00", "9" * 10_000])
@pytest.mark.parametrize("name", ["limit", "page_size"])
def test_a_bad_page_size_is_400_naming_it(
    name: str, limit: str, client: Client, customers: list[Customer]
) -> None:
    assert list(error(client, f"{name}={limit}", 400)) == [name]


# --- sort ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["bogus", "id,bogus", "-", "%00", "pk", "modified_date__gt"])
def test_an_unknown_sort_key_is_400(sort: str, client: Client, customers: list[Customer]) -> None:
    assert list(error(client, f"sort={sort}", 400)) == ["sort"]


def test_several_sort_keys_are_accepted_the_first_deciding(
    client: Client, customers: list[Customer]
) -> None:
    """Comma-separated keys sort by each in turn; ``id,-id`` is just ``id``."""
    ascending = [customer.id for customer in customers]

    assert ids(get(client, "sort=id,-id")) == ids(get(client, "sort=id")) == ascending
    assert ids(get(client, "sort=-id,id")) == ascending[::-1]
    assert ids(get(client, "sort=-modified_date,id")) == ascending[::-1]


# --- id filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", NOT_WHOLE),
        ("1e400", NOT_WHOLE),
        ("9" * 10_000, NOT_WHOLE),  # past Python's 4300-digit limit for int()
        ("1.5", NOT_WHOLE),
        ("1.0", NOT_WHOLE),
        ("%00", NOT_WHOLE),
        ("%FF%FE", NOT_WHOLE),
        (
            "99999999999999999999",
            ["Ensure this value is less than or equal to 9223372036854775807."],
        ),
    ],
)
@pytest.mark.parametrize("name", ["id__gt", "id__lte", "channel_id"])
def test_a_bad_whole_number_is_400_naming_it(
    name: str, value: str, message: list[str], client: Client, customers: list[Customer]
) -> None:
    assert error(client, f"{name}={value}", 400) == {name: message}


# --- datetimes -------------------------------------------------------------------------------


# How the instant 2023-09-01T09:00:00Z can be written, by what each way tests.
SAME_INSTANT = {
    "+ encoded as %2B": "2023-09-01T12:00:00%2B03:00",
    "+ unencoded, arrives as a space": "2023-09-01T12:00:00+03:00",
    "a space for the sign": "2023-09-01T12:00:00%2003:00",
    "space separator and unencoded +": "2023-09-01 12:00:00+03:00",
    "microseconds, +HHMM unencoded": "2023-09-01T12:00:00.000000+0300",
    "naive is UTC": "2023-09-01T09:00:00",
    "Z": "2023-09-01T09:00:00Z",
    "microseconds": "2023-09-01T09:00:00.000000Z",
    "negative offset": "2023-09-01T06:00:00-03:00",
    "+18:00, beyond PostgreSQL's limit": "2023-09-02T03:00:00%2B18:00",
    "-23:59, beyond PostgreSQL's limit": "2023-08-31T09:01:00-23:59",
}


@pytest.mark.parametrize("value", SAME_INSTANT.values(), ids=SAME_INSTANT.keys())
def test_datetimes_name_the_same_instant_however_written(
    value: str, client: Client, customers: list[Customer]
) -> None:
    after = [customer.id for customer in customers[1:]]

    assert ids(get(client, f"modified_date__gte={value}")) == after
    assert ids(get(client, f"modified_date={value}")) == [customers[1].id]


def test_microseconds_count(client: Client, customers: list[Customer]) -> None:
    assert ids(get(client, "modified_date__gt=2023-09-01T09:00:00.000000Z")) == [
        customers[2].id,
        customers[3].id,
    ]
    assert ids(get(client, "modified_date__lt=2023-09-01T09:00:00.000001Z")) == [
        customers[0].id,
        customers[1].id,
    ]


@pytest.mark.parametrize(
    ("value", "before_it"),
    [
        ("0383-12-01T01:40:15-18:23", 0),
        ("0001-01-01T00:00-15:59", 0),
        ("9999-12-31T00:00%2B23:59", 4),
    ],
)
def test_offsets_postgresql_cannot_take_are_not_a_500(
    value: str, before_it: int, client: Client, customers: list[Customer]
) -> None:
    """Found by schemathesis: PostgreSQL refused the datetime with its offset (a 500)."""
    assert len(ids(get(client, f"modified_date__lt={value}"))) == before_it


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-01:00",  # past year 9999 in UTC
        "0001-01-01T00:00:00%2B01:00",  # before year 1 in UTC
        "junk",
        "2023-02-30T00:00:00Z",
        "2023-09-01T12:00:00%20%2003:00",  # two spaces before the offset: not repaired
        "2023-09-01T12:00:00%203:00",  # a one-digit offset hour: not repaired
        "2023-09-01T12:00:00%2B24:00",  # an offset of a day
        "%00",
        "%FF",
    ],
)
def test_a_bad_datetime_is_400_naming_it(
    value: str, client: Client, customers: list[Customer]
) -> None:
    assert error(client, f"modified_date__gte={value}", 400) == {
        "modified_date__gte": INVALID_DATETIME
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-09-01T12:00:00 03:00", "2023-09-01T12:00:00+03:00"),
        ("2023-09-01 12:00 0300", "2023-09-01 12:00+0300"),
        ("2023-09-01T12:00:00.5 03", "2023-09-01T12:00:00.5+03"),
        # Not where a sign would be: left to the parser.
        ("2023-09-01 03:00", "2023-09-01 03:00"),
        ("2023-09-01T12:00:00  03:00", "2023-09-01T12:00:00  03:00"),
        ("2023-09-01T12:00:00 3:00", "2023-09-01T12:00:00 3:00"),
        ("2023-09-01T12:00:00 03:00:00", "2023-09-01T12:00:00 03:00:00"),
        ("2023-09-01 03", "2023-09-01 03"),
        ("2023-09-01T12:00:00-03:00", "2023-09-01T12:00:00-03:00"),
    ],
)
def test_restore_offset_sign(value: str, expected: str) -> None:
    assert restore_offset_sign(value) == expected


# --- exact text filters ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["%00", "a%00b", "%00" * 10_000, raw(b"\x00")])
@pytest.mark.parametrize("name", EXACT_FILTERS)
def test_nul_in_a_text_filter_is_400_on_every_database(
    name: str, value: str, client: Client, customers: list[Customer]
) -> None:
    """PostgreSQL cannot compare text with NUL: refused before any query."""
    assert error(client, f"{name}={value}", 400) == {name: NUL_REFUSED}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("x" * 10_000, id="10,000 characters"),
        pytest.param(quote("İ" * 10_000), id="10,000 non-ASCII characters"),
        pytest.param("%FF", id="%FF"),
        pytest.param("%FF%FE", id="%FF%FE"),
        pytest.param(raw(b"\xff\xfe"), id="raw bytes FF FE"),
        pytest.param("%ED%A0%80", id="an encoded surrogate"),
    ],
)
@pytest.mark.parametrize("name", EXACT_FILTERS)
def test_long_or_broken_text_in_a_text_filter_matches_nothing(
    name: str, value: str, client: Client, customers: list[Customer]
) -> None:
    assert ids(get(client, f"{name}={value}")) == []


# --- repeated parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repeated", "last"),
    [
        ("id__gt={0}&id__gt={2}", "id__gt={2}"),
        ("id__gt={2}&id__gt={0}", "id__gt={0}"),
        ("limit=1&limit=2", "limit=2"),
        ("page_size=1&page_size=3", "page_size=3"),
        ("sort=id&sort=-id", "sort=-id"),
        ("first_name=nobody&first_name=%C4%B0pek", "first_name=%C4%B0pek"),
    ],
)
def test_a_repeated_parameter_counts_once_with_its_last_value(
    repeated: str, last: str, client: Client, customers: list[Customer]
) -> None:
    known = [customer.id for customer in customers]

    assert ids(get(client, repeated.format(*known))) == ids(get(client, last.format(*known)))


def test_a_repeated_bad_parameter_is_still_400(client: Client, customers: list[Customer]) -> None:
    assert ids(get(client, "limit=abc&limit=5")) == ids(get(client, "limit=5"))  # the last
    assert error(client, "limit=5&limit=abc", 400) == {"limit": ["A valid integer is required."]}


# --- format ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["%00", "csv%00", "%FF", "api", "CSV", "XLSX", "jsonl", "x" * 10_000]
)
def test_an_unknown_format_is_404_in_json(
    value: str, client: Client, customers: list[Customer]
) -> None:
    assert list(error(client, f"format={value}", 404)) == ["detail"]
