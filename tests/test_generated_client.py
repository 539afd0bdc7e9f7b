"""A Python client that openapi-python-client generates from the served schema, with the
service's endpoint template (``clients/openapi-python-client/``), reads the list, the
export and the deletion feed in each format from the served service: JSON as the typed
page, CSV as text, XLSX and JSON Lines as a file of bytes.

The service is gunicorn on the test database; the client is generated from its
``/api/schema/?format=json`` into a temporary folder and imported from there.
"""

import csv
import importlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from openpyxl import load_workbook

from channels.models import Channel
from customers.models import Customer
from customers.serializers import CustomerSimpleSerializer
from deleted_items.models import DeletedItem
from deleted_items.serializers import DeletedItemSerializer
from oms.api.filters import INT64_MAX
from tests.services import BIN, ROOT, served_test_database

PACKAGE = "oms_api_client"
TEMPLATES = ROOT / "clients" / "openapi-python-client"
CUSTOMER_HEADER = list(CustomerSimpleSerializer().fields)
DELETION_HEADER = list(DeletedItemSerializer().fields)


@pytest.fixture
def rows(make_customer: Callable[..., Customer], channel: Channel) -> list[Customer]:
    """Three customers, and one deleted (the deletion feed's row)."""
    customers = [
        make_customer(channel=channel, first_name="İpek", phone_number="+905551234567"),
        make_customer(first_name="Ali"),
        make_customer(first_name="漢字", erp_code="E-1"),
    ]
    make_customer(channel=channel).delete()
    return customers


@pytest.fixture
def service(
    transactional_db: None, rows: list[Customer], token: str, tmp_path: Path
) -> Iterator[str]:
    with served_test_database(tmp_path) as url:
        yield url


@pytest.fixture
def generated(service: str, tmp_path: Path) -> Iterator[ModuleType]:
    """The client package generated from the served schema, imported."""
    folder = tmp_path / "generated"
    folder.mkdir()
    config = folder / "config.yaml"
    config.write_text("post_hooks: []\n", encoding="utf-8")  # no formatting of the output
    command = [
        *(str(BIN / "openapi-python-client"), "generate"),
        *("--url", f"{service}/api/schema/?format=json", "--output-path", str(folder / PACKAGE)),
        *("--meta", "none", "--config", str(config), "--custom-template-path", str(TEMPLATES)),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output, output  # any warning is a flaw of the schema

    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def csv_rows(text: Any) -> list[list[str]]:
    assert isinstance(text, str), type(text)
    return list(csv.reader(StringIO(text)))


def sheet_rows(file: Any, types: ModuleType) -> list[list[Any]]:
    assert isinstance(file, types.File), type(file)
    sheet = load_workbook(file.payload, read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def json_lines(file: Any, types: ModuleType) -> list[dict[str, Any]]:
    assert isinstance(file, types.File), type(file)
    return [json.loads(line) for line in file.payload.read().splitlines()]


def test_a_generated_client_reads_each_format_of_each_list(
    generated: ModuleType, service: str, token: str, rows: list[Customer]
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    customers = importlib.import_module(f"{PACKAGE}.api.customers.customers_list_simple")
    export = importlib.import_module(f"{PACKAGE}.api.customers.customers_list_simple_export")
    feed = importlib.import_module(f"{PACKAGE}.api.deleted_items.deleted_items_list")
    client = generated.AuthenticatedClient(base_url=service, token=token, prefix="Token")
    ids = [str(customer.id) for customer in rows]
    deletion = DeletedItem.objects.get()

    # The list: the typed page, the page's rows as CSV text and in a workbook.
    page = customers.sync(client=client, format_=models.CustomersListSimpleFormat.JSON, limit=2)
    assert isinstance(page, models.PaginatedCustomerSimpleList)
    assert page.count == 3
    first = page.results[0]
    assert isinstance(first, models.CustomerSimple)
    assert (first.id, first.first_name, first.phone_number, first.modified_date) == (
        rows[0].id,
        "İpek",
        "+905551234567",
        rows[0].modified_date,
    )
    # `page` takes a number or `last`, as the schema's oneOf says.
    last = customers.sync(client=client, page=models.CustomersListSimplePageType1.LAST, limit=2)
    assert [customer.id for customer in last.results] == [rows[2].id]
    text = customers.sync(client=client, format_=models.CustomersListSimpleFormat.CSV)
    assert csv_rows(text)[0] == CUSTOMER_HEADER
    assert [row[0] for row in csv_rows(text)[1:]] == ids
    assert [row[5] for row in csv_rows(text)[1:]] == ["İpek", "Ali", "漢字"]
    workbook = customers.sync(client=client, format_=models.CustomersListSimpleFormat.XLS)
    assert sheet_rows(workbook, types)[0] == CUSTOMER_HEADER
    assert len(sheet_rows(workbook, types)) == 1 + 3

    # The export: CSV text by default and when asked, a workbook when asked.
    for text in (
        export.sync(client=client),
        export.sync(client=client, format_=models.CustomersListSimpleExportFormat.CSV),
    ):
        assert csv_rows(text)[0] == CUSTOMER_HEADER
        assert [row[0] for row in csv_rows(text)[1:]] == ids
    workbook = export.sync(client=client, format_=models.CustomersListSimpleExportFormat.XLS)
    assert sheet_rows(workbook, types)[0] == CUSTOMER_HEADER
    assert [row[0] for row in sheet_rows(workbook, types)[1:]] == [c.id for c in rows]
    lines = export.sync(client=client, format_=models.CustomersListSimpleExportFormat.JSONL)
    assert [item["id"] for item in json_lines(lines, types)] == [c.id for c in rows]

    # The deletion feed: the same three.
    deletions = feed.sync(client=client, format_=models.DeletedItemsListFormat.JSON)
    assert isinstance(deletions, models.PaginatedDeletedItemList)
    (item,) = deletions.results
    assert (item.id, item.object_id, item.deleted_date) == (
        deletion.id,
        deletion.object_id,
        deletion.deleted_date,
    )
    text = feed.sync(client=client, format_=models.DeletedItemsListFormat.CSV)
    assert csv_rows(text) == [DELETION_HEADER, csv_rows(text)[1]]
    assert csv_rows(text)[1][:3] == [
        str(deletion.id),
        "customer",
        str(deletion.object_id),
    ]
    workbook = feed.sync(client=client, format_=models.DeletedItemsListFormat.XLS)
    assert sheet_rows(workbook, types)[0] == DELETION_HEADER
    lines = feed.sync(client=client, format_=models.DeletedItemsListFormat.JSONL)
    assert [item["object_id"] for item in json_lines(lines, types)] == [deletion.object_id]

    # Errors are typed too.
    anonymous = generated.Client(base_url=service)
    assert isinstance(customers.sync(client=anonymous), models.ErrorDetail)
    invalid = export.sync(
        client=client, format_=models.CustomersListSimpleExportFormat.XLS, id_gt=INT64_MAX + 1
    )
    assert isinstance(invalid, models.ValidationError)
    assert list(invalid.additional_properties) == ["id__gt"]
