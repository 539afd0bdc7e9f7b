"""Datetimes in workbooks: Excel datetimes in UTC by default, which readers get back to the
millisecond without a zone; with ``?xlsx_datetimes=text``, the API's text, exactly, on list
pages, the export, the deletion feed and export jobs; any other value is a 400 naming it."""

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas
import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from customers.models import Customer
from deleted_items.models import DeletedItem
from exports.running import run_next
from tests.conftest import LIST_URL, utc

pytestmark = pytest.mark.django_db

EXPORT_URL = f"{LIST_URL}export/"
FEED_URL = "/api/v1/oms/deleted-items/"
DATETIME_FORMAT = "yyyy-mm-dd h:mm:ss"  # drf-excel's, which the cells keep


def workbook(content: bytes) -> list[list[Any]]:
    """The sheet's cells as (value, openpyxl's data type, number format)."""
    sheet = load_workbook(io.BytesIO(content)).active
    return [[(c.value, c.data_type, c.number_format) for c in row] for row in sheet.iter_rows()]


def content(response: Any) -> bytes:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def customers(make_customer: Callable[..., Customer]) -> list[Customer]:
    return [
        make_customer(modified_date=utc(2023, 10, 6, 8, 42, 53, 427050)),
        make_customer(modified_date=utc(2024, 1, 2, 3, 4, 5, 999999)),  # rounds up a second
        make_customer(modified_date=utc(2024, 1, 2, 3, 4, 5)),
    ]


@pytest.mark.usefixtures("customers")
@pytest.mark.parametrize("url", [LIST_URL, EXPORT_URL])
def test_by_default_a_datetime_is_an_excel_datetime_read_back_to_the_millisecond(
    api_client: APIClient, url: str
) -> None:
    """What docs/api.md promises a spreadsheet: UTC, no zone, shown to the second, read
    back by openpyxl and pandas to the millisecond."""
    body = content(api_client.get(url, {"format": "xlsx"}))

    header, *rows = workbook(body)
    column = [value for value, _, _ in header].index("modified_date")
    assert [row[column] for row in rows] == [
        (datetime(2023, 10, 6, 8, 42, 53, 427000), "d", DATETIME_FORMAT),
        (datetime(2024, 1, 2, 3, 4, 6), "d", DATETIME_FORMAT),
        (datetime(2024, 1, 2, 3, 4, 5), "d", DATETIME_FORMAT),
    ]
    frame = pandas.read_excel(io.BytesIO(body))
    assert str(frame["modified_date"].dtype) == "datetime64[ns]"  # naive: UTC by contract
    assert str(frame["modified_date"][0]) == "2023-10-06 08:42:53.427000"


@pytest.mark.usefixtures("customers")
@pytest.mark.parametrize("url", [LIST_URL, EXPORT_URL])
@pytest.mark.parametrize("ask", [{"format": "xls"}, {"HTTP_ACCEPT": "application/xls"}])
def test_text_datetimes_are_the_json_values_as_text_cells(
    api_client: APIClient, url: str, ask: dict[str, str]
) -> None:
    query = {"xlsx_datetimes": "text", **{k: v for k, v in ask.items() if k == "format"}}
    headers = {k: v for k, v in ask.items() if k != "format"}
    expected = api_client.get(LIST_URL).json()["results"]
    default = workbook(content(api_client.get(url, {"format": "xls"})))

    header, *rows = workbook(content(api_client.get(url, query, **headers)))

    names = [value for value, _, _ in header]
    for row, item, default_row in zip(rows, expected, default[1:], strict=True):
        cells = dict(zip(names, row, strict=True))
        for name in ("created_date", "modified_date"):
            assert cells[name] == (item[name], "s", "General")
        others = [n for n in names if n not in ("created_date", "modified_date")]
        assert [cells[n] for n in others] == [
            dict(zip(names, default_row, strict=True))[n] for n in others
        ]
    assert cells["modified_date"][0] == "2024-01-02T03:04:05.000000Z"


def test_the_feed_writes_text_datetimes_too(api_client: APIClient) -> None:
    DeletedItem.objects.create(
        content_type="customer", object_id=1, deleted_date=utc(2024, 5, 6, 7, 8, 9, 123456)
    )

    header, row = workbook(
        content(api_client.get(FEED_URL, {"format": "xlsx", "xlsx_datetimes": "text"}))
    )

    cells = dict(zip([value for value, _, _ in header], row, strict=True))
    assert cells["deleted_date"] == ("2024-05-06T07:08:09.123456Z", "s", "General")


@pytest.mark.usefixtures("customers")
@pytest.mark.parametrize("value", ["", "serial"])
def test_serial_and_empty_are_the_default(api_client: APIClient, value: str) -> None:
    default = workbook(content(api_client.get(LIST_URL, {"format": "xls"})))

    asked = workbook(content(api_client.get(LIST_URL, {"format": "xls", "xlsx_datetimes": value})))

    assert asked == default


@pytest.mark.parametrize("url", [LIST_URL, EXPORT_URL, FEED_URL])
@pytest.mark.parametrize("value", ["TEXT", "bogus", "1", "\x00", "text\x00"])
@pytest.mark.parametrize("data_format", ["xlsx", "csv", None])
def test_any_other_value_is_a_400_naming_the_parameter_whatever_the_format(
    api_client: APIClient, url: str, value: str, data_format: str | None
) -> None:
    """Never ignored: the schema's enum holds for every request, as schemathesis checks."""
    query = {"xlsx_datetimes": value, **({"format": data_format} if data_format else {})}

    response = api_client.get(url, query)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == ["xlsx_datetimes"]


@pytest.mark.usefixtures("customers")
def test_other_formats_take_a_valid_value_and_write_as_ever(api_client: APIClient) -> None:
    plain = api_client.get(EXPORT_URL)

    text = api_client.get(EXPORT_URL, {"xlsx_datetimes": "text"})

    assert content(text) == content(plain)


def test_an_export_job_checks_it_and_writes_text(
    api_client: APIClient, customers: list, settings: Any, tmp_path: Any
) -> None:
    settings.EXPORT_JOBS_DIR = tmp_path
    jobs = f"{EXPORT_URL}jobs/"
    refused = api_client.post(f"{jobs}?format=xlsx&xlsx_datetimes=bogus")
    job = api_client.post(f"{jobs}?format=xlsx&xlsx_datetimes=text").json()
    run_next()

    file = api_client.get(api_client.get(job["url"]).json()["file"])

    assert refused.status_code == 400
    assert list(refused.json()) == ["xlsx_datetimes"]
    header, *rows = workbook(content(file))
    column = [value for value, _, _ in header].index("modified_date")
    assert rows[0][column] == ("2023-10-06T08:42:53.427050Z", "s", "General")
