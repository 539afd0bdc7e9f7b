"""The XLSX writer (oms.tabular.xlsx) against openpyxl: every cell read back with ``load_workbook``
is the one openpyxl, or drf-excel's renderer, writes for the same value: value, type and
number format, with the sheet's title and column widths. No database.
"""

import io
import random
import struct
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

import pytest
from django.http import HttpResponse
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.worksheet import Worksheet
from rest_framework import generics

from customers.models import Customer
from customers.serializers import CustomerSimpleSerializer
from oms.tabular import xlsx
from oms.tabular.formulas import neutralise_formula
from oms.tabular.renderers import (
    COLUMN_WIDTH,
    SHEET_TITLE,
    XLSRenderer,
    write_workbook,
    xlsx_number_formats,
)
from oms.tabular.rows import RowBatch, RowSerializer
from tests.fuzzing import fuzz_settings
from tests.oracles import DrfExcelRenderer, naive_utc, xlsx_cell_value

Cell = tuple[str, Any, str | None, str]  # coordinate, value, data type, number format

LONG = "ab&<" * 10_000  # past Excel's 32,767 characters, cut inside an entity's text
TEXTS = [
    "İpek Şükrü Ğ ı ç ö ü",
    "漢字 한국어 ひらがな 😀",
    "a < b && c > \"d\" 'e'",
    "line one\nline two\r\nline three\rfour",
    "\ttab first",
    "=1+1",
    "+905551234567",
    "-5",
    "@SUM(A1)",
    "  leading and trailing  ",
    "   ",
    "a\x00b\x08c\x0bd\x1fe",  # control characters: removed
    "\x01=1+1",  # removed, then neutralised
    "\x85\x7f\xa0\u2028 kept",  # legal in XML 1.0
    LONG,
    "",
]
NUMBERS = [0, 1, -1, 2**31 - 1, -(2**31), 2**53, 2**53 + 1, -(2**53) - 1, 10**20, -(10**30)]
FLOATS = [0.1, -2.5, 1 / 3, 1e-300, 1e20, 123456789.123456789, Decimal("1.10"), Decimal("-0")]
TEMPORAL = [
    datetime(2024, 1, 2, 3, 4, 5, 123456),  # naive: as it is
    datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=UTC),
    datetime(2024, 1, 2, 5, 4, 5, 1, tzinfo=timezone(timedelta(hours=2))),
    datetime(2024, 2, 29, 23, 59, 59, tzinfo=timezone(timedelta(hours=-11))),
    datetime(1900, 1, 1),
    datetime(1900, 2, 28, 12),
    datetime(1900, 3, 1),
    datetime(1899, 12, 30, 6),
    datetime(9999, 12, 31, 12, tzinfo=UTC),
    date(2024, 2, 29),
    date(1900, 2, 28),
    time(13, 45, 7, 123456),
    time(0, 0),
]


def read(body: bytes) -> Worksheet:
    return load_workbook(io.BytesIO(body)).active


def cells(sheet: Worksheet) -> list[Cell]:
    """Every cell of ``sheet`` as openpyxl reads it; an empty cell's data type says nothing
    (openpyxl reads a missing cell as a number, an empty text cell as text)."""
    return [
        (
            cell.coordinate,
            cell.value,
            None if cell.value is None else cell.data_type,
            cell.number_format,
        )
        for row in sheet.iter_rows()
        for cell in row
    ]


def written(
    header: Sequence[str], rows: Iterable[Sequence[Any]], formats: list[str | None] | None = None
) -> bytes:
    target = io.BytesIO()
    write_workbook(list(header), rows, target, formats or (), zip64=not isinstance(rows, list))
    return target.getvalue()


def openpyxl_written(
    header: Sequence[str], rows: Iterable[Sequence[Any]], formats: list[str | None] | None = None
) -> bytes:
    """What openpyxl's write-only mode writes for the same values (the project's writer
    before oms.tabular.xlsx): the oracle."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)
    for column in range(len(header)):
        sheet.column_dimensions[get_column_letter(column + 1)].width = COLUMN_WIDTH
    sheet.append(header)
    for row in rows:
        values = []
        for value, number_format in zip(row, formats or [None] * len(row), strict=True):
            cell = WriteOnlyCell(sheet, xlsx_cell_value(value))
            if number_format is not None:
                cell.number_format = number_format
            values.append(cell)
        sheet.append(values)
    target = io.BytesIO()
    workbook.save(target)
    return target.getvalue()


def as_read(text: str) -> str | None:
    """What a text cell reads back as: legal characters, neutralised, cut to 32,767
    characters, line ends as XML parsers give them (CR and CRLF as LF); None when empty."""
    text = neutralise_formula(xlsx.legal_text(text))[: xlsx.MAX_TEXT]
    return text.replace("\r\n", "\n").replace("\r", "\n") or None


# --- the same cells as openpyxl ---------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "number_format"),
    [
        pytest.param(TEXTS, None, id="text"),
        pytest.param(NUMBERS, "0", id="ints"),
        pytest.param(NUMBERS, None, id="ints-general"),
        pytest.param(FLOATS, "0.00", id="floats"),
        pytest.param([True, False], None, id="booleans"),
        pytest.param(TEMPORAL, None, id="dates-and-times"),
        pytest.param(TEMPORAL[:-4], "yyyy-mm-dd h:mm:ss", id="datetimes"),
        pytest.param(TEMPORAL[:-4], "dd/mm/yyyy hh:mm", id="datetimes-custom"),
        pytest.param([None, None], None, id="none"),
        pytest.param([None, 5], "0", id="none-formatted"),
        pytest.param([None, 5], '"€"#,##0.00;[Red]-"€"#,##0.00 "<&>"', id="escaped-format"),
    ],
)
def test_cells_are_openpyxls(values: list[Any], number_format: str | None) -> None:
    header = ["value", "twice"]
    rows = [(value, value) for value in values]
    formats = [number_format, None]

    ours, theirs = (
        read(written(header, rows, formats)),
        read(openpyxl_written(header, rows, formats)),
    )

    assert cells(ours) == cells(theirs)
    assert ours.title == theirs.title == SHEET_TITLE
    assert [ours.column_dimensions[c].width for c in "AB"] == [COLUMN_WIDTH] * 2


def test_text_reads_back_as_written() -> None:
    sheet = read(written(["text"], [(text,) for text in TEXTS]))

    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        as_read(text) for text in TEXTS
    ]
    assert len(sheet["A16"].value) == xlsx.MAX_TEXT  # LONG, cut


def test_an_empty_row_and_an_empty_sheet() -> None:
    assert cells(read(written(["a", "b"], [(None, ""), (1, None)], ["0", None]))) == [
        ("A1", "a", "s", "General"),
        ("B1", "b", "s", "General"),
        ("A2", None, None, "0"),  # a styled empty cell, as openpyxl and drf-excel write it
        ("B2", None, None, "General"),
        ("A3", 1, "n", "0"),
        ("B3", None, None, "General"),
    ]
    assert cells(read(written([], []))) == []


def test_the_header_row_is_text_as_it_is() -> None:
    """Field names are not data: never neutralised, and never a formula."""
    assert [c.value for c in read(written(["=id", "-x", "a&b"], []))[1]] == ["=id", "-x", "a&b"]
    assert [c.data_type for c in read(written(["=id"], []))[1]] == ["s"]


# --- deliberate differences from openpyxl ------------------------------------------------


@pytest.mark.parametrize("code", ["#N/A", "#DIV/0!", "#REF!"])
def test_error_codes_stay_text(code: str) -> None:
    """openpyxl writes such text as an error value; a customer named so is text."""
    ((value,),) = read(written(["a"], [(code,)])).iter_rows(min_row=2)

    assert (value.value, value.data_type) == (code, "s")


def test_noncharacters_are_removed_like_control_characters() -> None:
    """openpyxl writes U+FFFE and U+FFFF, which no XML parser reads: an unreadable
    workbook."""
    assert read(written(["a"], [("x\ufffey\uffffz",)]))["A2"].value == "xyz"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), Decimal("NaN")])
def test_nan_and_infinities_are_empty_cells(value: float) -> None:
    assert cells(read(written(["a"], [(value,)], ["0.00"])))[1:] == [("A2", None, None, "0.00")]


def test_other_values_are_their_text() -> None:
    """openpyxl refuses them (a 500); drf-excel writes the serializer's text."""
    values = [timedelta(hours=25), ["a", "b"], b"bytes"]

    sheet = read(written(["a"], [(value,) for value in values]))

    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        "1 day, 1:00:00",
        "['a', 'b']",
        "b'bytes'",
    ]


def test_a_columns_number_format_applies_to_its_datetimes() -> None:
    """As drf-excel sets it after the value; openpyxl would swap "0" for a date format."""
    moment = datetime(2024, 1, 2, 12, tzinfo=UTC)

    assert cells(read(written(["a"], [(moment,)], ["0"])))[1:] == [("A2", 45293.5, "n", "0")]


def test_defaults_are_excels() -> None:
    """Without a title or column width: Sheet1, and no column widths at all."""
    target = io.BytesIO()

    xlsx.write_xlsx(target, ["a"], [("=x",)])

    with zipfile.ZipFile(target) as archive:
        assert b"<cols>" not in archive.read(xlsx.SHEET)
    sheet = read(target.getvalue())
    assert (sheet.title, sheet["A2"].value) == ("Sheet1", "=x")  # not neutralised either
    assert sheet["A2"].data_type == "s"


# --- values against openpyxl's own conversions --------------------------------------------


@given(st.datetimes(timezones=st.none() | st.timezones()))
@fuzz_settings(max_examples=300)
def test_serials_are_openpyxls(value: datetime) -> None:
    """The same float as openpyxl's to_excel of the naive UTC datetime, so the same digits."""
    try:
        expected = to_excel(naive_utc(value))
    except OverflowError:  # out of datetime's range in UTC
        return
    assert xlsx.excel_serial(value) == expected


@given(st.lists(st.text(), min_size=1, max_size=20))
@fuzz_settings(max_examples=100)
def test_any_text_reads_back(texts: list[str]) -> None:
    sheet = read(written(["text"], [(text,) for text in texts]))

    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        as_read(text) for text in texts
    ]


@given(st.lists(st.integers(-(2**70), 2**70) | st.floats(), min_size=1, max_size=20))
@fuzz_settings(max_examples=100)
def test_any_number_reads_back_as_openpyxl_writes_it(numbers: list[float]) -> None:
    """Past 2**53 an int reads back rounded, as openpyxl writes it. (Past a float's range
    neither writes it: Excel has no such number.)"""
    rows = [(number,) for number in numbers]

    assert cells(read(written(["n"], rows))) == cells(read(openpyxl_written(["n"], rows)))


# --- drf-excel's cells for list-simple ------------------------------------------------


class CustomerView(generics.ListAPIView):
    """What drf-excel's renderer reads from the view: the serializer."""

    serializer_class = CustomerSimpleSerializer
    request = None
    format_kwarg = None


def customers() -> list[Customer]:
    """Customers in memory with every awkward value a column can hold."""
    moments = [value for value in TEMPORAL if isinstance(value, datetime) and value.tzinfo]
    built = []
    for number, text in enumerate([*TEXTS[:-2], "x" * 40_000, ""], 1):
        built.append(
            Customer(
                id=number * (-1) ** number,
                created_date=moments[number % len(moments)],
                modified_date=moments[(number + 1) % len(moments)],
                omnitron_id=[7, -5, 2**53 + 1, 10**20][number % 4],
                email=text,
                first_name=text[::-1],
                last_name=f" {text}",
                phone_number=None if number % 3 else text,
                erp_code=None if number % 2 else f"-{text}",
                channel_id=None if number % 4 else number,
            )
        )
    return built


def test_list_simple_cells_are_drf_excels() -> None:
    """The page's tuples through oms.tabular.xlsx against drf-excel's renderer given the
    serializer's dicts, with the project's neutralisation."""
    page = customers()
    row_serializer = RowSerializer(CustomerSimpleSerializer())
    tuples = [tuple(getattr(c, column) for column in row_serializer.columns) for c in page]
    dicts = CustomerSimpleSerializer(page, many=True).data

    context = {"view": CustomerView(), "response": HttpResponse()}
    ours = read(XLSRenderer().render({"results": RowBatch(row_serializer, tuples)}, None, context))
    drf_excel = read(DrfExcelRenderer().render({"results": dicts}, None, context))

    assert cells(ours) == cells(drf_excel)
    assert ours.title == drf_excel.title
    widths = [
        sheet.column_dimensions[letter].width for sheet in (ours, drf_excel) for letter in "AJ"
    ]
    assert widths == [COLUMN_WIDTH] * 4


def test_number_formats_are_drf_excels() -> None:
    fields = CustomerSimpleSerializer().fields

    assert xlsx_number_formats(fields.values()) == [
        "0",  # id
        "yyyy-mm-dd h:mm:ss",
        "yyyy-mm-dd h:mm:ss",
        "0",  # omnitron_id
        None,
        None,
        None,
        None,
        None,
        None,  # channel: a relation, which drf-excel does not format
    ]


# --- the archive ------------------------------------------------------------------------


def local_header_version(body: bytes, name: str) -> int:
    """The "version needed to extract" of ``name``'s local header: 45 with ZIP64."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        offset = archive.getinfo(name).header_offset
    return struct.unpack_from("<H", body, offset + 4)[0]


def test_pages_have_plain_zip_entries_and_exports_zip64_ones() -> None:
    """An export's sheet, of unknown size, may pass 2 GiB: a plain entry could not hold it."""
    rows = [(1, "a")] * 3

    assert local_header_version(written("ab", rows), xlsx.SHEET) == 20
    assert local_header_version(written("ab", iter(rows)), xlsx.SHEET) == 45
    assert cells(read(written("ab", iter(rows)))) == cells(read(written("ab", rows)))


def test_rows_are_streamed_into_the_archive() -> None:
    """Rows are compressed into the target a chunk at a time, not held until the end."""
    target = io.BytesIO()
    sizes = []
    text = random.Random(0)  # text that compresses poorly: zlib gives output as it goes

    def rows() -> Iterator[tuple[int, str]]:
        for number in range(3 * xlsx.CHUNK_ROWS):
            if number % xlsx.CHUNK_ROWS == 0:
                sizes.append(target.tell())
            yield number, f"customer {text.getrandbits(256):064x}"

    write_workbook(["id", "name"], rows(), target)

    assert sizes[0] < sizes[1] < sizes[2] < len(target.getvalue())
    sheet = read(target.getvalue())
    assert sheet.max_row == 3 * xlsx.CHUNK_ROWS + 1
    assert sheet.cell(3 * xlsx.CHUNK_ROWS + 1, 1).value == 3 * xlsx.CHUNK_ROWS - 1


def test_a_row_must_have_a_value_per_column() -> None:
    with pytest.raises(ValueError, match="zip"):
        written(["a", "b"], [(1,)])


def test_every_part_is_well_formed_xml() -> None:
    body = written(["a"], [("x",), (datetime(2024, 1, 1, tzinfo=UTC),)], ['"<&>"0'])

    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = archive.namelist()
        for name in names:
            ElementTree.fromstring(archive.read(name))
    assert sorted(names) == [
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
        "xl/workbook.xml",
        "xl/worksheets/sheet1.xml",
    ]
