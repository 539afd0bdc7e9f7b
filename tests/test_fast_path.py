"""The list's fast path: tuples formatted per column (oms.tabular.rows), orjson
(oms.api.renderers) and cached permission sets (oms.api.permission_cache) give what DRF's
serializer, encoder and ModelBackend gave."""

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.utils.translation import gettext_lazy
from openpyxl import load_workbook
from rest_framework import renderers, serializers
from rest_framework.test import APIClient

from customers.models import Customer
from customers.serializers import CustomerSimpleSerializer
from customers.views import CustomerListSimpleView
from oms.api.renderers import JSONRenderer
from oms.tabular.renderers import XLSRenderer
from oms.tabular.rows import RowBatch, RowSerializer, format_datetime, parse_utc_text
from tests.conftest import LIST_URL
from tests.oracles import DrfExcelRenderer, naive_utc

DATETIMES = [
    datetime(2023, 10, 6, 8, 42, 53, 427023, tzinfo=UTC),
    datetime(2023, 10, 6, 8, 42, 53, tzinfo=UTC),  # microseconds are written anyway
    datetime(2023, 10, 6, 11, 42, 53, 1, tzinfo=timezone(timedelta(hours=3))),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2023, 10, 6, 8, 42, 53),  # naive: UTC
]


@pytest.mark.parametrize("value", DATETIMES, ids=str)
def test_datetimes_are_formatted_as_drf_formats_them(value: datetime) -> None:
    assert format_datetime(value) == serializers.DateTimeField().to_representation(value)


@pytest.mark.parametrize("value", DATETIMES, ids=str)
def test_the_apis_datetime_text_parses_back_for_workbooks(value: datetime) -> None:
    assert parse_utc_text(format_datetime(value)) == naive_utc(value)


@pytest.mark.django_db
@pytest.mark.parametrize("text", [False, True], ids=["in Python", "by the database"])
def test_rows_are_what_the_serializer_gives(
    make_customer: Callable[..., Customer], text: bool
) -> None:
    """``text``: PostgreSQL writes the datetimes (elsewhere Python still does)."""
    make_customer(first_name="İsmail", erp_code=None, phone_number="+905551234567")
    for value in DATETIMES[:-1]:  # the database stores aware datetimes
        make_customer(created_date=value, modified_date=value)
    queryset = Customer.objects.order_by("id")
    rows = RowSerializer(CustomerSimpleSerializer())
    expected = CustomerSimpleSerializer(queryset, many=True).data

    assert RowBatch(rows, *rows.values(queryset, text=text)).as_dicts() == expected


class OtherFormat(serializers.ModelSerializer):
    created_date = serializers.DateTimeField(format="%Y-%m-%d")

    class Meta:
        model = Customer
        fields = ["id", "created_date", "channel"]


@pytest.mark.django_db
def test_a_field_with_another_format_keeps_drfs(make_customer: Callable[..., Customer]) -> None:
    make_customer(created_date=datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC))
    queryset = Customer.objects.order_by("id")
    rows = RowSerializer(OtherFormat())

    assert rows.columns == ["id", "created_date", "channel_id"]
    assert (
        RowBatch(rows, *rows.values(queryset)).as_dicts() == OtherFormat(queryset, many=True).data
    )


DATA = [
    {"count": 1, "results": [{"name": 'İş 漢字 "q" \\ \u2028 \u2029', "n": None, "f": 1.5}]},
    {"detail": gettext_lazy("Not found.")},
    {"amount": Decimal("1.10"), "when": datetime(2023, 1, 1, 1, 2, 3, 456789, tzinfo=UTC)},
    {1: "non-string key", "big": 2**70},
    [],
]


@pytest.mark.parametrize("data", DATA, ids=repr)
def test_orjson_gives_drfs_bytes(data: Any) -> None:
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


def test_indented_json_is_drfs() -> None:
    data = {"a": [1, {"b": None}]}
    media_type = "application/json; indent=4"

    assert JSONRenderer().render(data, media_type) == renderers.JSONRenderer().render(
        data, media_type
    )


@pytest.mark.django_db
def test_a_revoked_permission_takes_effect_on_the_next_request(
    api_client: APIClient, reader: User
) -> None:
    view_customer = Permission.objects.get(codename="view_customer")
    assert api_client.get(LIST_URL).status_code == 200  # the set is cached now

    reader.user_permissions.remove(view_customer)
    revoked = api_client.get(LIST_URL)
    reader.user_permissions.add(view_customer)
    granted = api_client.get(LIST_URL)

    assert (revoked.status_code, granted.status_code) == (403, 200)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "revoke",
    [
        pytest.param(lambda user, group, perm: group.permissions.remove(perm), id="group perm"),
        pytest.param(lambda user, group, perm: perm.group_set.remove(group), id="reverse"),
        pytest.param(lambda user, group, perm: user.groups.remove(group), id="membership"),
        pytest.param(lambda user, group, perm: user.groups.clear(), id="clear"),
        pytest.param(lambda user, group, perm: group.delete(), id="group deleted"),
    ],
)
def test_group_changes_take_effect_on_the_next_request(
    api_client: APIClient, reader: User, revoke: Callable[[User, Group, Permission], Any]
) -> None:
    view_customer = Permission.objects.get(codename="view_customer")
    group = Group.objects.create(name="readers")
    group.permissions.add(view_customer)
    reader.groups.add(group)
    reader.user_permissions.remove(view_customer)
    assert api_client.get(LIST_URL).status_code == 200  # through the group, cached

    revoke(reader, group, view_customer)

    assert api_client.get(LIST_URL).status_code == 403


@pytest.mark.django_db
def test_a_superuser_flag_takes_effect_on_the_next_request(
    api_client: APIClient, reader: User
) -> None:
    reader.user_permissions.clear()
    assert api_client.get(LIST_URL).status_code == 403

    reader.is_superuser = True
    reader.save()

    assert api_client.get(LIST_URL).status_code == 200


@pytest.mark.django_db
def test_permissions_are_read_from_the_database_when_the_cache_fails(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache down")

    monkeypatch.setattr("oms.api.permission_cache.cache.get", broken)

    assert api_client.get(LIST_URL).status_code == 200


@pytest.mark.django_db
def test_workbooks_have_the_cells_drf_excel_wrote(
    make_customer: Callable[..., Customer], channel: Any
) -> None:
    """The project's workbook (oms.tabular.xlsx) holds what drf-excel's renderer wrote for the same
    page: values, their types and number formats, the sheet's title and column widths."""
    make_customer(first_name="=1+1", phone_number="+905551234567", channel=channel)
    make_customer(last_name="a\x0bb", erp_code="-5", omnitron_id=-5)
    make_customer(created_date=datetime(2020, 1, 1, tzinfo=UTC), first_name="İş")
    view = CustomerListSimpleView()
    view.request, view.format_kwarg = None, None
    queryset = Customer.objects.order_by("id")
    rows = RowSerializer(CustomerSimpleSerializer())
    dicts = CustomerSimpleSerializer(queryset, many=True).data

    def render(renderer: Any, results: Any) -> Any:
        body = renderer.render({"results": results}, None, {"view": view, "response": {}})
        return load_workbook(io.BytesIO(body)).active

    values, datetimes = rows.values(queryset)
    new = render(XLSRenderer(), RowBatch(rows, list(values), datetimes))
    old = render(DrfExcelRenderer(), dicts)

    def cells(sheet: Any) -> list[tuple[Any, type, str]]:
        return [(c.value, type(c.value), c.number_format) for row in sheet.iter_rows() for c in row]

    assert cells(new) == cells(old)
    assert new.title == old.title
    widths = [new.column_dimensions[letter].width for letter in "ABCDEFGHIJ"]
    assert widths == [old.column_dimensions[letter].width for letter in "ABCDEFGHIJ"]


class ChoicesAndNumbers(serializers.ModelSerializer):
    erp_code = serializers.ChoiceField(choices=["=A1", "B"])  # text, though not a CharField

    class Meta:
        model = Customer
        fields = ["id", "erp_code", "email", "channel", "modified_date"]


def test_spreadsheet_safety_looks_at_every_column_that_may_hold_text() -> None:
    """Only numbers, booleans and datetimes are skipped (oms.tabular.renderers.CSVRenderer)."""
    rows = RowSerializer(ChoicesAndNumbers())

    assert [rows.header[index] for index in rows.text_columns] == ["erp_code", "email"]
