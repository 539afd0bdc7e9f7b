"""The full export, list-simple/export/: every matching row once, in order, as streamed CSV
or an XLSX file, with the list's filters, sort, channel scope, permission and JSON errors.
"""

import base64
import csv
import hashlib
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.http import HttpResponseBase
from openpyxl import load_workbook
from rest_framework.test import APIClient

from channels.models import Channel
from customers.models import Customer
from customers.views import CustomerExportView
from oms.tabular.formulas import neutralise_formula
from tests.conftest import LIST_URL, read_fixture, utc
from tokens.issuing import issue

pytestmark = pytest.mark.django_db

EXPORT_URL = f"{LIST_URL}export/"
HEADER = list(read_fixture("list-simple.GET.json")["results"][0])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MakeCustomer = Callable[..., Customer]


def body(response: HttpResponseBase) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


BOM = b"\xef\xbb\xbf"


def parse(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))


def csv_rows(response: HttpResponseBase) -> list[list[str]]:
    return parse(body(response))


def sheet_rows(response: HttpResponseBase) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(body(response))).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def every_page(client: APIClient, **params: Any) -> list[dict[str, Any]]:
    """The list's rows for ``params``, across its pages."""
    rows, page = [], 1
    while True:
        response = client.get(LIST_URL, {**params, "limit": 1000, "page": page}).json()
        rows += response["results"]
        if response["next"] is None:
            return rows
        page += 1


def as_csv_row(row: dict[str, Any]) -> list[str]:
    return ["" if value is None else str(neutralise_formula(value)) for value in row.values()]


@pytest.fixture
def customers(make_customer: MakeCustomer, channel: Channel) -> list[Customer]:
    """Customers with dates out of id order, a tie, a channel and none, and formulas."""
    return [
        make_customer(modified_date=utc(2023, 9, 3), channel=channel, first_name="=1+1"),
        make_customer(modified_date=utc(2023, 9, 1), phone_number="+905551234567"),
        make_customer(modified_date=utc(2023, 9, 2, 12, 0, 0), channel=channel),
        make_customer(modified_date=utc(2023, 9, 2, 12, 0, 0), erp_code="@SUM(A1)"),
    ]


QUERIES = [
    {},
    {"sort": "-modified_date"},
    {"sort": "modified_date,-id"},
    {"modified_date__gte": "2023-09-02", "sort": "-id"},
    {"first_name": "=1+1"},
    {"email": "nobody@example.com"},
]


@pytest.mark.usefixtures("customers")
@pytest.mark.parametrize("params", QUERIES)
def test_csv_is_every_matching_row_once_in_the_lists_order(
    api_client: APIClient, params: dict[str, str]
) -> None:
    expected = every_page(api_client, **params)

    response = api_client.get(EXPORT_URL, {**params, "format": "csv"})

    assert response.status_code == 200
    assert response.streaming is True
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="customers.csv"'
    assert response["Cache-Control"] == "no-store"
    assert csv_rows(response) == [HEADER, *(as_csv_row(row) for row in expected)]


@pytest.mark.usefixtures("customers")
@pytest.mark.parametrize("params", QUERIES)
def test_xlsx_has_the_same_rows(api_client: APIClient, params: dict[str, str]) -> None:
    expected = every_page(api_client, **params)

    response = api_client.get(EXPORT_URL, {**params, "format": "xls"})

    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == 'attachment; filename="customers.xlsx"'
    header, *rows = sheet_rows(response)
    assert header == HEADER
    assert [row[0] for row in rows] == [row["id"] for row in expected]
    text = ["email", "first_name", "last_name", "phone_number", "erp_code"]
    for cells, row in zip(rows, expected, strict=True):
        cells = dict(zip(HEADER, cells, strict=True))
        # An empty text cell reads back as None.
        assert [cells[name] for name in text] == [
            neutralise_formula(row[name]) or None for name in text
        ]
        assert cells["channel"] == row["channel"]
        written = cells["modified_date"].isoformat(timespec="microseconds") + "Z"
        assert written == row["modified_date"]


@pytest.mark.parametrize(
    "ask",
    [
        {"format": "xlsx"},
        {"HTTP_ACCEPT": "application/vnd.ms-excel"},
        {"HTTP_ACCEPT": XLSX},
        {"HTTP_ACCEPT": "application/xls"},
    ],
    ids=["?format=xlsx", "Accept: vnd.ms-excel", "Accept: XLSX", "Accept: application/xls"],
)
def test_every_name_of_the_workbook_exports_the_same_workbook(
    api_client: APIClient, customers: list, ask: dict[str, str]
) -> None:
    query = {key: value for key, value in ask.items() if key == "format"}
    headers = {key: value for key, value in ask.items() if key != "format"}
    expected = sheet_rows(api_client.get(EXPORT_URL, {"format": "xls"}))

    response = api_client.get(EXPORT_URL, query, **headers)

    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == 'attachment; filename="customers.xlsx"'
    assert sheet_rows(response) == expected
    assert len(expected) == 1 + len(customers)


def test_the_xlsx_matches_the_lists_workbook(api_client: APIClient, customers: list) -> None:
    """Same cells, typed the same way, as the list's XLS page (drf-excel's look)."""
    page = load_workbook(io.BytesIO(api_client.get(LIST_URL, {"format": "xls"}).content)).active
    export = load_workbook(io.BytesIO(body(api_client.get(EXPORT_URL, {"format": "xls"})))).active

    def cells(sheet: Any) -> list[tuple[Any, str]]:
        return [(cell.value, cell.number_format) for row in sheet.iter_rows() for cell in row]

    assert cells(export) == cells(page)
    assert export.title == page.title == "Report"


def test_csv_is_the_default_and_bom_applies(api_client: APIClient, customers: list) -> None:
    plain = api_client.get(EXPORT_URL)
    marked = api_client.get(EXPORT_URL, {"bom": "1"})

    assert plain["Content-Type"] == "text/csv; charset=utf-8"
    assert body(marked) == BOM + body(plain)


@pytest.mark.parametrize("data_format", ["csv", "xls"])
def test_an_empty_export_is_the_header_row(api_client: APIClient, data_format: str) -> None:
    response = api_client.get(EXPORT_URL, {"format": data_format})

    read = csv_rows if data_format == "csv" else sheet_rows
    assert read(response) == [HEADER]


@pytest.mark.parametrize("export_format", ["csv", "xls"])
@pytest.mark.usefixtures("transactional_db")
def test_an_export_is_written_whole_and_says_its_length_rows_and_digest(
    api_client: APIClient, make_customer: MakeCustomer, monkeypatch: pytest.MonkeyPatch,
    export_format: str,
) -> None:  # fmt: skip
    """The database's part is over before the first byte goes out (no transaction open
    while the client reads); the headers let any client check it got every byte."""
    for _ in range(5):
        make_customer()
    monkeypatch.setattr(CustomerExportView, "chunk_size", 2)  # rows, formatted in Python
    monkeypatch.setattr("oms.tabular.copy.CHUNK_BYTES", 1)  # bytes, from COPY
    monkeypatch.setattr(CustomerExportView, "spool_size", 100)  # to disk past 100 bytes

    response = api_client.get(EXPORT_URL, {"format": export_format})

    assert not connection.in_atomic_block
    body = b"".join(response.streaming_content)
    assert response["Content-Length"] == str(len(body))
    assert response["X-Row-Count"] == "5"
    digest = f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"
    assert response["Repr-Digest"] == response["Content-Digest"] == digest
    assert response["Accept-Ranges"] == "bytes"
    if export_format == "csv":
        assert len(parse(body)) == 6


@pytest.mark.parametrize(
    ("range_header", "status", "part"),
    [("bytes=10-19", 206, slice(10, 20)), ("bytes=-5", 206, slice(-5, None)),
     ("bytes=10-", 206, slice(10, None)), ("bytes=100000-", 416, slice(0, 0))],
)  # fmt: skip
def test_a_range_of_the_same_export_resumes_a_download(
    api_client: APIClient, make_customer: MakeCustomer, range_header: str, status: int,
    part: slice,
) -> None:  # fmt: skip
    for _ in range(5):
        make_customer()
    whole = api_client.get(EXPORT_URL)
    body = b"".join(whole.streaming_content)

    response = api_client.get(EXPORT_URL, HTTP_RANGE=range_header, HTTP_IF_RANGE=whole["ETag"])

    assert response.status_code == status
    if status == 206:
        assert b"".join(response.streaming_content) == body[part]
        start = part.start % len(body)
        assert (
            response["Content-Range"] == f"bytes {start}-{start + len(body[part]) - 1}/{len(body)}"
        )
        assert response["Repr-Digest"] == whole["Repr-Digest"]
    else:
        assert response["Content-Range"] == f"bytes */{len(body)}"


def test_a_range_of_a_changed_export_is_the_whole_new_file(
    api_client: APIClient, make_customer: MakeCustomer
) -> None:
    """The rows changed since: the old ETag names another file, so the range is not
    spliced onto it; without If-Range, a file written per request is sent whole too."""
    make_customer()
    old = api_client.get(EXPORT_URL)
    make_customer()

    for extra in ({"HTTP_IF_RANGE": old["ETag"]}, {}):
        response = api_client.get(EXPORT_URL, HTTP_RANGE="bytes=10-19", **extra)
        assert response.status_code == 200
        assert response["X-Row-Count"] == "2"


AWKWARD = ["", "a,b", 'say "hi"', "line\nbreak", "cr\rlf", " padded ", "İş 漢字", "\\.", "-5"]


@pytest.mark.parametrize("bom", ["0", "1"])
def test_postgresqls_copy_writes_what_python_writes(
    api_client: APIClient,
    make_customer: MakeCustomer,
    channel: Channel,
    monkeypatch: pytest.MonkeyPatch,
    bom: str,
) -> None:
    """On PostgreSQL the rows come from COPY: the same cells as the Python path writes
    (the only path on other databases), lines ending with LF rather than CRLF."""
    for text in [*AWKWARD, "=1+1", "@x", "\t=1"]:
        make_customer(first_name=text, last_name=text, erp_code=text or None, channel=channel)
    make_customer(
        created_date=utc(2023, 1, 1, 0, 0, 0), modified_date=utc(2023, 1, 1, 0, 0, 0, 500)
    )
    make_customer(created_date=utc(999, 1, 1, 0, 0, 0, 120000), modified_date=utc(2023, 1, 1))

    copied = body(api_client.get(EXPORT_URL, {"bom": bom, "sort": "-id"}))
    monkeypatch.setattr("oms.api.views.can_copy", lambda *args: False)
    written = body(api_client.get(EXPORT_URL, {"bom": bom, "sort": "-id"}))

    assert copied.startswith(BOM) == written.startswith(BOM) == (bom == "1")
    assert parse(copied) == parse(written)


@pytest.mark.usefixtures("customers")
def test_a_scoped_token_exports_its_channels_only(reader: User, channel: Channel) -> None:
    _, key = issue(reader, name="scoped", channels=[channel])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    ids = [int(row[0]) for row in csv_rows(client.get(EXPORT_URL))[1:]]
    sheet_ids = [row[0] for row in sheet_rows(client.get(EXPORT_URL, {"format": "xls"}))[1:]]

    expected = list(Customer.objects.filter(channel=channel).order_by("id").values_list("pk"))
    assert ids == sheet_ids == [pk for (pk,) in expected]


@pytest.mark.parametrize("data_format", ["csv", "xls"])
def test_too_many_rows_for_a_workbook_is_a_400_in_json(
    api_client: APIClient,
    customers: list,
    monkeypatch: pytest.MonkeyPatch,
    data_format: str,
) -> None:
    monkeypatch.setattr(CustomerExportView, "max_xlsx_rows", 3)

    response = api_client.get(EXPORT_URL, {"format": data_format})
    narrowed = api_client.get(EXPORT_URL, {"format": data_format, "id__gt": customers[0].id})

    if data_format == "csv":  # CSV has no row limit
        assert response.status_code == 200
        assert len(csv_rows(response)) == 5
        return
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "4 rows" in response.json()["detail"]
    assert "at most 3" in response.json()["detail"]
    assert narrowed.status_code == 200
    assert len(sheet_rows(narrowed)) == 4


@pytest.mark.parametrize("data_format", ["csv", "xls"])
def test_errors_are_json(
    api_client: APIClient, anonymous_client: APIClient, reader: User, data_format: str
) -> None:
    invalid = api_client.get(EXPORT_URL, {"format": data_format, "id__gt": "abc"})
    anonymous = anonymous_client.get(EXPORT_URL, {"format": data_format})
    reader.user_permissions.remove(Permission.objects.get(codename="view_customer"))
    forbidden = api_client.get(EXPORT_URL, {"format": data_format})

    assert (invalid.status_code, invalid.json()) == (400, {"id__gt": ["Enter a whole number."]})
    assert anonymous.status_code == 401
    assert forbidden.status_code == 403
    for response in (invalid, anonymous, forbidden):
        assert response["Content-Type"] == "application/json"
        assert response["Cache-Control"] == "no-store"


def test_json_is_not_an_export_format(api_client: APIClient) -> None:
    response = api_client.get(EXPORT_URL, {"format": "json"})

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_options_describe_the_export_in_json(api_client: APIClient) -> None:
    response = api_client.options(EXPORT_URL)

    assert response.status_code == 200
    assert response.json()["name"] == "list-simple-export"
    assert response.json()["renders"] == ["text/csv", "application/xls", "application/x-ndjson"]


def test_exports_count_against_the_export_rate(
    api_client: APIClient, settings: Any, customers: list
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"list": "1000/minute", "export": "1/minute"},
    }

    first = api_client.get(EXPORT_URL)
    second = api_client.get(EXPORT_URL)
    listed = api_client.get(LIST_URL)

    assert first.status_code == 200
    assert first["RateLimit-Limit"] == "1"
    assert second.status_code == 429
    assert second["Content-Type"] == "application/json"
    assert listed.status_code == 200


def test_formulas_are_neutralised(api_client: APIClient, customers: list) -> None:
    csv_cells = csv_rows(api_client.get(EXPORT_URL))
    xls_cells = sheet_rows(api_client.get(EXPORT_URL, {"format": "xls"}))

    for rows in (csv_cells, xls_cells):
        columns = dict(zip(HEADER, zip(*rows[1:], strict=True), strict=True))
        assert columns["first_name"][0] == "'=1+1"
        assert columns["phone_number"][1] == "'+905551234567"
        assert columns["erp_code"][3] == "'@SUM(A1)"
