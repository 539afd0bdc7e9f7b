"""The toolkit knows no app: oms/ imports none of them, and an app of its own (the gadgets
of tests/toolkit) gets pages, filters, formats, OPTIONS, cursor pages, channel scope and
exports from it by declaring a model, a serializer, a FilterSet and two views."""

import ast
import csv
import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from openpyxl import load_workbook
from rest_framework.test import APIClient

from channels.models import Channel
from tests.toolkit.models import Gadget
from tokens.issuing import issue

ROOT = Path(__file__).resolve().parent.parent
APPS = {"channels", "customers", "tokens", "deleted_items", "exports", "config", "tests"}
LIST = "/gadgets/"
EXPORT = "/gadgets/export/"

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.toolkit.urls")]


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    names |= {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize(
    "path", sorted((ROOT / "oms").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_toolkit_imports_no_app(path: Path) -> None:
    assert not imported_top_levels(path) & APPS


def client_for(*, channels: tuple[int, ...] = ()) -> APIClient:
    user = User.objects.create_user(f"gadgets-{len(channels)}")
    user.user_permissions.add(Permission.objects.get(codename="view_gadget"))
    _, key = issue(user, name="tests", channels=channels)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def gadgets() -> list[Gadget]:
    for number in (1, 2):  # what a token may be limited to
        Channel.objects.create(id=number, name=f"Channel {number}", channel_type="web")
    return [
        Gadget.objects.create(name="=sum", weight=1.5, in_stock=True, channel_id=1),
        Gadget.objects.create(name="bolt", weight=None, in_stock=False, channel_id=2),
        Gadget.objects.create(name="cog", weight=0.25, in_stock=True, channel_id=1),
    ]


def test_a_page_of_gadgets_in_the_serializers_fields(gadgets: list[Gadget]) -> None:
    body = client_for().get(LIST, {"limit": 2}).json()

    assert list(body) == ["count", "next", "previous", "results"]
    assert body["count"] == 3
    assert body["next"].endswith(f"{LIST}?limit=2&page=2")
    first = body["results"][0]
    assert list(first) == ["id", "name", "weight", "in_stock", "channel_id", "modified_date"]
    assert first["name"] == "=sum"  # JSON is the data as it is
    assert len(first["modified_date"]) == len("2023-10-06T08:42:53.427050Z")


def test_filters_sort_and_their_errors_come_from_the_filterset(gadgets: list[Gadget]) -> None:
    client = client_for()

    in_stock = client.get(LIST, {"in_stock": "true", "sort": "-name"}).json()["results"]
    assert [gadget["name"] for gadget in in_stock] == ["cog", "=sum"]
    refused = client.get(LIST, {"id__gt": "x", "sort": "weight"})
    assert refused.status_code == 400
    assert set(refused.json()) == {"id__gt", "sort"}


def test_options_describe_the_gadgets_fields_and_filters(gadgets: list[Gadget]) -> None:
    options = client_for().options(LIST).json()

    assert options["name"] == "gadgets"
    assert list(options["actions"]["GET"]) == [
        "id",
        "name",
        "weight",
        "in_stock",
        "channel_id",
        "modified_date",
    ]
    filters = {entry["field_name"]: entry for entry in options["filters"]}
    assert filters["in_stock"]["extra"] == {"required": False}  # not its widget: for forms
    assert [entry["field_name"] for entry in options["filters"]] == [
        "sort",
        "id",
        "name",
        "in_stock",
        "modified_date",
    ]


def test_a_token_limited_to_a_channel_reads_its_gadgets_only(gadgets: list[Gadget]) -> None:
    body = client_for(channels=(2,)).get(LIST).json()

    assert (body["count"], [gadget["name"] for gadget in body["results"]]) == (1, ["bolt"])


def test_cursor_pages_walk_every_gadget_once(gadgets: list[Gadget]) -> None:
    client = client_for()
    url, seen = f"{LIST}?cursor=&limit=2&sort=id", []
    while url:
        body = client.get(url).json()
        seen += [gadget["id"] for gadget in body["results"]]
        url = body["next"]

    assert seen == [gadget.id for gadget in gadgets]


def test_pages_and_exports_as_spreadsheets_neutralise_formulas(gadgets: list[Gadget]) -> None:
    client = client_for()

    page = list(csv.reader(io.StringIO(client.get(LIST, {"format": "csv"}).content.decode())))
    export = client.get(EXPORT, {"format": "csv"})
    rows = list(csv.reader(io.StringIO(export.getvalue().decode())))
    workbook = client.get(EXPORT, {"format": "xls"}).getvalue()
    sheet = load_workbook(io.BytesIO(workbook)).active

    assert page == rows  # the same table, a page or the whole export
    assert rows[0] == ["id", "name", "weight", "in_stock", "channel_id", "modified_date"]
    assert [row[1:5] for row in rows[1:]] == [
        ["'=sum", "1.5", "True", "1"],
        ["bolt", "", "False", "2"],
        ["cog", "0.25", "True", "1"],
    ]
    assert export["X-Row-Count"] == "3"
    assert export["Content-Disposition"] == 'attachment; filename="gadgets.csv"'
    cells = [[cell.value for cell in row][1:5] for row in sheet.iter_rows(min_row=2)]
    assert cells == [["'=sum", 1.5, True, 1], ["bolt", None, False, 2], ["cog", 0.25, True, 1]]
