"""Output formats of list-simple: JSON, CSV, XLS and the browsable API.

Each format is asked for both ways (``?format=`` and the Accept header), by each of its
names, and parsed back.
"""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.message import Message
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from customers.models import Customer
from oms.tabular.formulas import neutralise_formula
from tests.conftest import LIST_URL, read_fixture

pytestmark = pytest.mark.django_db

# The specification's field order.
FIELDS = list(read_fixture("list-simple.GET.json")["results"][0])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NO_MATCH = {"email": "nobody@example.com"}


@dataclass(frozen=True)
class Ask:
    """One way of asking for a format: a query parameter or request headers."""

    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def get(self, client: APIClient, **params: Any) -> HttpResponse:
        return client.get(LIST_URL, {**params, **self.query}, **self.headers)


def by_format(name: str) -> pytest.ParameterSet:
    return pytest.param(Ask(query={"format": name}), id=f"?format={name}")


def by_accept(media_type: str) -> pytest.ParameterSet:
    return pytest.param(Ask(headers={"HTTP_ACCEPT": media_type}), id=f"Accept: {media_type}")


JSON_ASKS = [pytest.param(Ask(), id="no Accept"), by_accept("*/*")]
JSON_ASKS += [by_format("json"), by_accept("application/json")]
CSV_ASKS = [by_format("csv"), by_accept("text/csv")]
# The format by its name and its file's extension; the media type as OMS clients, the
# XLSX registration and legacy Excel tools name it: the same workbook.
XLS_ASKS = [by_format("xls"), by_format("xlsx"), by_accept("application/xls"), by_accept(XLSX)]
XLS_ASKS += [by_accept("application/vnd.ms-excel")]
HTML_ASKS = [by_format("html"), by_accept("text/html")]


def json_results(client: APIClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get(LIST_URL, params)
    assert response.status_code == 200
    return response.json()["results"]


def attachment(response: HttpResponse) -> tuple[str | None, str | None]:
    """The Content-Disposition's type and file name."""
    message = Message()
    message["Content-Disposition"] = response["Content-Disposition"]
    return message.get_content_disposition(), message.get_filename()


def csv_rows(response: HttpResponse) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


def as_csv_row(row: dict[str, Any]) -> list[str]:
    """A JSON row as CSV cells: null is an empty cell, everything else its text; text a
    spreadsheet could take for a formula has a leading quote (test_spreadsheet_safety)."""
    return ["" if value is None else str(neutralise_formula(value)) for value in row.values()]


def sheet_rows(response: HttpResponse) -> list[tuple[Any, ...]]:
    workbook = load_workbook(io.BytesIO(response.content))
    return list(workbook.active.iter_rows(values_only=True))


@pytest.mark.parametrize("ask", JSON_ASKS)
def test_json_is_the_default(ask: Ask, api_client: APIClient, make_customer: Callable) -> None:
    make_customer()

    response = ask.get(api_client)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == ["count", "next", "previous", "results"]
    assert list(response.json()["results"][0]) == FIELDS


@pytest.mark.usefixtures("demo_data")
@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"limit": 3, "page": 2}, id="limit=3&page=2"),
        pytest.param(
            {"channel_id": 1, "sort": "-modified_date", "limit": 4, "page": 3},
            id="filtered-sorted-page-3",
        ),
    ],
)
@pytest.mark.parametrize("ask", CSV_ASKS)
def test_csv_is_the_json_page_as_an_attachment(
    ask: Ask, params: dict[str, Any], api_client: APIClient
) -> None:
    expected = json_results(api_client, **params)
    assert len(expected) == params["limit"]

    response = ask.get(api_client, **params)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert attachment(response) == ("attachment", "customers.csv")
    header, *rows = csv_rows(response)
    assert header == FIELDS
    assert rows == [as_csv_row(row) for row in expected]


@pytest.mark.usefixtures("demo_data")
@pytest.mark.parametrize("ask", CSV_ASKS)
def test_csv_writes_null_as_an_empty_cell(ask: Ask, api_client: APIClient) -> None:
    """Customers 4 to 6 of the demo data have no phone number and no ERP code."""
    expected = json_results(api_client, limit=3, page=2)
    assert [row["phone_number"] for row in expected] == [None, "05550005555", None]

    _, *rows = csv_rows(ask.get(api_client, limit=3, page=2))

    assert [row[FIELDS.index("phone_number")] for row in rows] == ["", "05550005555", ""]
    assert [row[FIELDS.index("erp_code")] for row in rows] == ["", "", ""]


@pytest.mark.parametrize("ask", CSV_ASKS)
def test_csv_round_trips_non_ascii_commas_quotes_and_newlines(
    ask: Ask, api_client: APIClient, make_customer: Callable
) -> None:
    make_customer(first_name="İpek", last_name="Tuğçe")
    make_customer(
        first_name='Ali, "the" Second',
        last_name="Line one\nline two\r\nline three",
        erp_code='a,b;"c"',
        phone_number="+90 (555) 000",
    )
    expected = json_results(api_client)

    response = ask.get(api_client)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header, *rows = csv_rows(response)
    assert header == FIELDS
    assert rows == [as_csv_row(row) for row in expected]
    assert [row[FIELDS.index("first_name")] for row in rows] == ["İpek", 'Ali, "the" Second']


@pytest.mark.usefixtures("demo_data")
@pytest.mark.parametrize("ask", XLS_ASKS)
def test_xls_is_the_json_page_as_a_workbook(ask: Ask, api_client: APIClient) -> None:
    expected = json_results(api_client, limit=3, page=2)
    compared = ["id", "omnitron_id", "email", "first_name", "last_name", "phone_number"]

    response = ask.get(api_client, limit=3, page=2)

    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert attachment(response) == ("attachment", "customers.xlsx")
    header, *rows = sheet_rows(response)
    assert list(header) == FIELDS
    cells = [dict(zip(FIELDS, row, strict=True)) for row in rows]
    assert [[cell[name] for name in compared] for cell in cells] == [
        [row[name] for name in compared] for row in expected
    ]


def with_reader(asks: list[pytest.ParameterSet], *args: Any) -> list[pytest.ParameterSet]:
    return [pytest.param(ask.values[0], *args, id=ask.id) for ask in asks]


@pytest.mark.parametrize(
    ("ask", "read_rows", "filename"),
    with_reader(CSV_ASKS, csv_rows, "customers.csv")
    + with_reader(XLS_ASKS, sheet_rows, "customers.xlsx"),
)
def test_an_empty_page_is_just_the_header_row(
    ask: Ask,
    read_rows: Callable[[HttpResponse], list],
    filename: str,
    api_client: APIClient,
    make_customer: Callable,
) -> None:
    make_customer()

    response = ask.get(api_client, **NO_MATCH)

    assert response.status_code == 200
    assert attachment(response) == ("attachment", filename)
    assert [list(row) for row in read_rows(response)] == [FIELDS]


@pytest.fixture
def session_client(reader: User) -> APIClient:
    """A browser: the reader logged in with a session, no token."""
    client = APIClient()
    client.force_login(reader)
    return client


@pytest.mark.parametrize("client_name", ["api_client", "session_client"])
@pytest.mark.parametrize("ask", HTML_ASKS)
def test_html_is_the_browsable_api_with_the_filter_form(
    ask: Ask, client_name: str, request: pytest.FixtureRequest, make_customer: Callable
) -> None:
    make_customer(email="shown@example.com")

    response = ask.get(request.getfixturevalue(client_name))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "Filters" in html
    assert 'name="email"' in html
    assert "shown@example.com" in html


@pytest.mark.parametrize(
    ("ask", "status"),
    [
        pytest.param(Ask(query={"format": "xml"}), 404, id="?format=xml"),
        pytest.param(Ask(headers={"HTTP_ACCEPT": "application/pdf"}), 406, id="Accept: pdf"),
    ],
)
def test_a_format_nobody_renders_is_refused_in_json(
    ask: Ask, status: int, api_client: APIClient
) -> None:
    response = ask.get(api_client)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == ["detail"]


@pytest.mark.parametrize(
    ("client_name", "ask", "params", "status", "key"),
    [
        ("api_client", Ask({"format": "csv"}), {"limit": 0}, 400, "limit"),
        ("api_client", Ask(headers={"HTTP_ACCEPT": "text/csv"}), {"limit": 0}, 400, "limit"),
        ("api_client", Ask({"format": "xls"}), {"id__gt": "abc"}, 400, "id__gt"),
        ("api_client", Ask(headers={"HTTP_ACCEPT": XLSX}), {"id__gt": "abc"}, 400, "id__gt"),
        ("api_client", Ask({"format": "csv"}), {"page": 999}, 404, "detail"),
        ("api_client", Ask({"format": "xls"}), {"page": 999}, 404, "detail"),
        ("anonymous_client", Ask({"format": "xls"}), {}, 401, "detail"),
        ("anonymous_client", Ask({"format": "csv"}), {}, 401, "detail"),
    ],
    ids=[
        "csv-limit=0",
        "accept-csv-limit=0",
        "xls-id__gt=abc",
        "accept-xlsx-id__gt=abc",
        "csv-page=999",
        "xls-page=999",
        "xls-anonymous",
        "csv-anonymous",
    ],
)
def test_errors_are_json_never_an_export(
    client_name: str,
    ask: Ask,
    params: dict[str, Any],
    status: int,
    key: str,
    request: pytest.FixtureRequest,
) -> None:
    """An error must not look like an (empty) CSV file or spreadsheet."""
    response = ask.get(request.getfixturevalue(client_name), **params)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert "Content-Disposition" not in response
    assert list(response.json()) == [key]


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), id="UTC"),
        pytest.param(
            datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))), id="UTC+2"
        ),
    ],
)
def test_json_datetimes_have_six_fractional_digits_and_z(
    stored: datetime, api_client: APIClient, make_customer: Callable[..., Customer]
) -> None:
    """Even with zero microseconds, and in UTC whatever offset the value was stored with."""
    make_customer(created_date=stored, modified_date=stored)

    (row,) = json_results(api_client)

    assert row["created_date"] == "2024-01-02T03:04:05.000000Z"
    assert row["modified_date"] == "2024-01-02T03:04:05.000000Z"
