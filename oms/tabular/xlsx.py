"""A one-sheet XLSX writer that streams rows as XML text straight into the zip archive.

openpyxl, even in write-only mode, builds a cell object and an XML element per value; this
writer formats each row as a string and compresses it as it goes: about twelve times
faster than openpyxl's write-only mode, in constant memory whatever the number of rows.

The cells are those openpyxl writes for the same values (``load_workbook`` reads the same
values, types and number formats back):

- text as inline strings, ``&``, ``<`` and ``>`` escaped, ``xml:space="preserve"`` when it
  starts or ends with white space, cut to Excel's 32,767 characters, the characters XML
  1.0 cannot hold removed (openpyxl refuses control characters); ``""`` as an empty text
  cell;
- ints, floats and decimals as numbers, written as openpyxl does (``%.16g``: past 2**53
  an int is rounded as Excel would store it anyway);
- booleans as booleans;
- datetimes, dates and times as Excel serial numbers (openpyxl's arithmetic, 1900 date
  system), aware datetimes first converted to UTC (Excel has no time zones), in the
  column's number format or else openpyxl's default for the type;
- None as no cell, or an empty cell when the column has a number format (as openpyxl
  writes a styled cell without value);
- any other value as its text.

Deliberate differences: text is always text (openpyxl makes ``"=..."`` a formula and
``"#N/A"`` an error value); U+FFFE and U+FFFF are removed (openpyxl writes them, and no
XML parser reads the sheet then); NaN and infinities are empty cells (openpyxl writes an
empty number); a column's number format applies to its datetimes whatever it is (as
drf-excel sets it; openpyxl swaps a non-date format for its datetime format).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from math import isfinite
from typing import Any, Protocol
from xml.sax.saxutils import escape, quoteattr
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl.styles.numbers import BUILTIN_FORMATS_REVERSE
from openpyxl.utils import get_column_letter


class BinaryTarget(Protocol):
    """Where a format writes a file: an open binary file (``BytesIO``, a spool) as zipfile
    needs it in write mode."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


# openpyxl's ILLEGAL_CHARACTERS_RE (the C0 controls but tab, LF and CR), and U+FFFE and
# U+FFFF: not XML 1.0 characters either, which openpyxl writes and no reader can parse.
ILLEGAL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MAX_TEXT = 32_767  # characters in a cell (Excel's limit; openpyxl cuts longer text)
# Beyond this an int is not a double: openpyxl's "%.16g" rounds it, str() would not.
EXACT_INT = 2**53
# openpyxl's number formats of cells whose column has none.
DATETIME_FORMAT, DATE_FORMAT, TIME_FORMAT = "yyyy-mm-dd h:mm:ss", "yyyy-mm-dd", "h:mm:ss"
EXCEL_EPOCH = date(1899, 12, 30).toordinal()  # day 0 of the 1900 date system
# Rows joined, encoded and compressed at a time: a page is one chunk, an export is
# streamed in pieces of a few hundred kilobytes.
CHUNK_ROWS = 1000
# zlib level 1: about twice as fast as the default 6, for files some 15% larger.
COMPRESSLEVEL = 1

SHEET = "xl/worksheets/sheet1.xml"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOCUMENT_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
OFFICE_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
CONTENT_TYPES = (
    f'{DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels"'
    ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{OFFICE_TYPE}.sheet.main+xml"/>'
    f'<Override PartName="/{SHEET}" ContentType="{OFFICE_TYPE}.worksheet+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{OFFICE_TYPE}.styles+xml"/>'
    "</Types>"
)
PACKAGE_RELS = (
    f'{DECLARATION}<Relationships xmlns="{RELS}">'
    f'<Relationship Id="rId1" Type="{DOCUMENT_RELS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK_RELS = (
    f'{DECLARATION}<Relationships xmlns="{RELS}">'
    f'<Relationship Id="rId1" Type="{DOCUMENT_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{DOCUMENT_RELS}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# What a style sheet must hold besides the number formats (Excel's minimum).
BASE_STYLES = (
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
)
CELL_STYLES = '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'


def legal_text(text: str) -> str:
    """``text`` without the characters a workbook cannot hold (see ``ILLEGAL_CHARACTERS``)."""
    return ILLEGAL_CHARACTERS.sub("", text)


def excel_serial(value: datetime | date | time) -> float:
    """``value`` as an Excel serial number, as openpyxl's ``to_excel`` computes it (the
    same float, so the same digits): days since 1899-12-30, less one before March 1900
    (Excel's phantom 29 February 1900), plus the fraction of the day. Aware datetimes
    count in UTC."""
    if isinstance(value, time):
        days = 0
    else:
        if isinstance(value, datetime) and value.tzinfo is not None and value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        days = value.toordinal() - EXCEL_EPOCH
        if 0 < days <= 60:
            days -= 1
        if not isinstance(value, datetime):
            return days + 0.0
    seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 10**6
    return days + seconds / 86400


class Styles:
    """The workbook's cell formats: one per number format used, registered as cells ask."""

    def __init__(self) -> None:
        self.formats: dict[str, str] = {}  # number format: the ``s`` attribute of its cells

    def attribute(self, number_format: str | None) -> str:
        """`` s="<index>"`` for cells of ``number_format``; empty for None (General)."""
        if number_format is None:
            return ""
        if number_format not in self.formats:
            self.formats[number_format] = f' s="{len(self.formats) + 1}"'
        return self.formats[number_format]

    def xml(self) -> str:
        """The style sheet: a cell format per number format, built-in ones by their id."""
        custom: list[str] = []
        xfs = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>']
        for number_format in self.formats:
            format_id = BUILTIN_FORMATS_REVERSE.get(number_format)
            if format_id is None:
                format_id = 164 + len(custom)  # the first id of custom formats
                custom.append(
                    f'<numFmt numFmtId="{format_id}" formatCode={quoteattr(number_format)}/>'
                )
            xfs.append(
                f'<xf numFmtId="{format_id}" fontId="0" fillId="0" borderId="0" xfId="0"'
                ' applyNumberFormat="1"/>'
            )
        num_fmts = f'<numFmts count="{len(custom)}">{"".join(custom)}</numFmts>' if custom else ""
        return (
            f'{DECLARATION}<styleSheet xmlns="{MAIN}">{num_fmts}{BASE_STYLES}'
            f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>{CELL_STYLES}</styleSheet>'
        )


def workbook_xml(title: str) -> str:
    """The workbook part: one sheet, ``title``."""
    return (
        f'{DECLARATION}<workbook xmlns="{MAIN}" xmlns:r="{DOCUMENT_RELS}">'
        f'<bookViews><workbookView activeTab="0"/></bookViews>'
        f'<sheets><sheet name={quoteattr(title)} sheetId="1" r:id="rId1"/></sheets></workbook>'
    )


def sheet_start(columns: int, column_width: float | None) -> str:
    """The sheet's XML up to its rows: views and column widths."""
    cols = ""
    if columns and column_width:
        cols = "".join(
            f'<col min="{column}" max="{column}" width="{column_width:g}" customWidth="1"/>'
            for column in range(1, columns + 1)
        )
        cols = f"<cols>{cols}</cols>"
    return (
        f'{DECLARATION}<worksheet xmlns="{MAIN}"><sheetViews><sheetView workbookViewId="0"/>'
        f'</sheetViews><sheetFormatPr defaultRowHeight="15"/>{cols}<sheetData>'
    )


def text_cell(reference: str, style: str, value: str, text: Callable[[str], str]) -> str:
    """An inline string cell of ``value`` as ``text`` makes it, once rid of the characters
    a workbook cannot hold; empty (as openpyxl writes ``""``) when nothing is left."""
    if not value.isprintable():  # a fast test: control characters are not printable
        value = legal_text(value)
    if not value:
        return f'<c r="{reference}"{style} t="inlineStr"/>'
    value = text(value)
    if len(value) > MAX_TEXT:
        value = value[:MAX_TEXT]
    if "&" in value or "<" in value or ">" in value:
        value = escape(value)
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f'<c r="{reference}"{style} t="inlineStr"><is><t{space}>{value}</t></is></c>'


def other_cell(
    reference: str,
    column_format: str | None,
    value: Any,
    styles: Styles,
    text: Callable[[str], str],
) -> str:
    """The cell of a value that is not of the types :func:`sheet_rows` writes itself."""
    style = styles.attribute(column_format)
    if isinstance(value, bool):
        return f'<c r="{reference}"{style} t="b"><v>{value:d}</v></c>'
    if isinstance(value, int | float | Decimal):
        if not isfinite(value):
            return f'<c r="{reference}"{style}/>'
        return f'<c r="{reference}"{style}><v>{float(value):.16g}</v></c>'
    if isinstance(value, date | time):
        if not column_format:
            style = styles.attribute(
                DATETIME_FORMAT
                if isinstance(value, datetime)
                else DATE_FORMAT
                if isinstance(value, date)
                else TIME_FORMAT
            )
        return f'<c r="{reference}"{style}><v>{excel_serial(value):.16g}</v></c>'
    return text_cell(reference, style, str(value), text)


def keep(value: str) -> str:
    """Text as it is: the header row's, and data text by default."""
    return value


def sheet_rows(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    number_formats: Sequence[str | None],
    styles: Styles,
    text: Callable[[str], str],
) -> Iterator[str]:
    """The ``<row>`` elements of the header and ``rows``, ``CHUNK_ROWS`` rows per string.

    The loop runs once per cell, up to tens of millions of times for an export: it tells
    the common types apart itself (text, int, None, datetime), other values take a call.
    """
    letters = [get_column_letter(column) for column in range(1, len(header) + 1)]
    formats = [*number_formats, *[None] * (len(header) - len(number_formats))]
    columns = [
        (letter, styles.attribute(number_format), number_format)
        for letter, number_format in zip(letters, formats, strict=False)
    ]
    parts = ['<row r="1">']
    parts += (
        text_cell(f"{letter}1", "", str(name), keep)
        for letter, name in zip(letters, header, strict=True)
    )
    parts.append("</row>")
    for number, row in enumerate(rows, 2):
        parts.append(f'<row r="{number}">')
        for (letter, style, number_format), value in zip(columns, row, strict=True):
            kind = type(value)
            if kind is str:
                parts.append(text_cell(f"{letter}{number}", style, value, text))
            elif kind is int:
                if not -EXACT_INT <= value <= EXACT_INT:
                    value = f"{value:.16g}"
                parts.append(f'<c r="{letter}{number}"{style}><v>{value}</v></c>')
            elif value is None:
                if style:
                    parts.append(f'<c r="{letter}{number}"{style}/>')
            elif kind is datetime:
                if not number_format:
                    style = styles.attribute(DATETIME_FORMAT)
                serial = excel_serial(value)
                parts.append(f'<c r="{letter}{number}"{style}><v>{serial:.16g}</v></c>')
            else:
                parts.append(other_cell(f"{letter}{number}", number_format, value, styles, text))
        parts.append("</row>")
        if number % CHUNK_ROWS == 0:
            yield "".join(parts)
            parts.clear()
    yield "".join(parts)


def write_xlsx(
    target: BinaryTarget,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    number_formats: Sequence[str | None] = (),
    title: str = "Sheet1",
    column_width: float | None = None,
    text: Callable[[str], str] = keep,
    zip64: bool = False,
) -> None:
    """A workbook of one sheet, ``title``: ``header`` then ``rows`` (a value per column).

    ``number_formats``: per column, the format of its cells (None: General, or openpyxl's
    default for dates and times); ``column_width``: every column's width (None: Excel's
    default); ``text``: what each data text cell's content goes through (the header row's
    names stay as they are).

    The sheet is written as the rows come, into a zip entry of unknown size: rows that may
    exceed the 2 GiB of a plain entry (an export) need ``zip64`` headers.
    """
    styles = Styles()
    with ZipFile(target, "w", ZIP_DEFLATED, compresslevel=COMPRESSLEVEL) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        archive.writestr("xl/workbook.xml", workbook_xml(title))
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open(SHEET, "w", force_zip64=zip64) as sheet:
            sheet.write(sheet_start(len(header), column_width).encode())
            for chunk in sheet_rows(header, rows, number_formats, styles, text):
                sheet.write(chunk.encode())
            sheet.write(b"</sheetData></worksheet>")
        archive.writestr("xl/styles.xml", styles.xml())
