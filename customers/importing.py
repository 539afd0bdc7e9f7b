"""Import customers from CSV or JSON Lines files: upsert by ``omnitron_id`` in batches.

Rows are checked with the model fields' own ``clean()``. Rejected rows go to a rejects
CSV file with their line number and the reason; the others are written batch by batch,
each batch in its own transaction, so a failure part-way leaves whole batches only.
"""

import csv
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TextIO

from django.core.exceptions import ValidationError
from django.core.management.base import OutputWrapper
from django.core.validators import ProhibitNullCharactersValidator
from django.db import connection
from django.db.models import Field, ForeignKey
from django.utils import timezone

from channels.models import Channel
from customers.models import Customer
from oms.commands import progress_bar
from oms.db.transactions import bounded_transaction, reset_sequences
from oms.tabular.formulas import restore_formula

# The API's columns in its order. The first three are the service's own and are ignored.
API_COLUMNS = ["id", "created_date", "modified_date", "omnitron_id", "email", "first_name",
               "last_name", "phone_number", "erp_code", "channel"]  # fmt: skip
IMPORTED_COLUMNS = API_COLUMNS[3:]
FIELDS: dict[str, Field] = {
    field.name: field for field in Customer._meta.concrete_fields if field.name in IMPORTED_COLUMNS
}
# What an upsert may change, and so what tells an unchanged customer: never created_date.
COMPARED = [FIELDS[column].attname for column in IMPORTED_COLUMNS if column != "omnitron_id"]
UPDATED = [*COMPARED, "modified_date"]
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# 1000, 5000 and 10000 took the same time within 10% for 1M rows on PostgreSQL: the time
# goes into validating and building rows in Python, not round trips.
DEFAULT_BATCH_SIZE = 5000
PROGRESS_EVERY = 1000  # rows between progress bar updates
# The longest value the CSV reader takes (csv's own limit is 128 KiB). Customers' values are
# far shorter; a value this long is a quote that never closes, and the reader, which stops
# in the middle of a line then, cannot be trusted after it.
CSV_FIELD_LIMIT = 64 * 1024 * 1024
# Ids per lookup query. On a table just bulk-loaded (no statistics yet) PostgreSQL scanned
# all 1M rows for 5000 ids (110 ms) but used the index for 1000 (1 ms).
LOOKUP_SIZE = 1000

no_null_characters = ProhibitNullCharactersValidator()  # PostgreSQL cannot store NUL


class ImportFileError(Exception):
    """The file as a whole cannot be imported: unreadable, unknown format, bad header."""


class RawRow(NamedTuple):
    """A row as read: the file lines it spans (a quoted value may span several), its
    values by column and, when it could not be parsed at all, why. A blank line is a
    row of no values, to be counted and skipped."""

    line: int
    values: dict[str, str | None]
    error: str | None = None
    last_line: int | None = None  # None: the row is its first line alone
    blank: bool = False

    @property
    def lines(self) -> int:
        return (self.last_line or self.line) - self.line + 1


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    channels_created: int = 0


@dataclass
class ImportSummary(BatchResult):
    read: int = 0
    rejected: int = 0
    duplicates: int = 0  # rows replaced by a later row of the same batch and omnitron_id
    header_lines: int = 0
    blank_lines: int = 0
    row_lines: int = 0  # the lines the rows span (more than rows when values span lines)
    seconds: float = 0.0

    @property
    def lines(self) -> int:
        """Every line of the file: the header, blank lines and the lines of each row."""
        return self.header_lines + self.blank_lines + self.row_lines

    @property
    def rows_per_second(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0

    def add(self, batch: BatchResult) -> None:
        self.created += batch.created
        self.updated += batch.updated
        self.unchanged += batch.unchanged
        self.channels_created += batch.channels_created


# Readers: the columns (for the rejects file) and the rows with their line numbers.


class Reading(NamedTuple):
    """What a reader gives: the columns (for the rejects file), the lines before the rows
    (a CSV header) and the rows."""

    columns: list[str]
    header_lines: int
    rows: Iterator[RawRow]
    # Whether text may carry the spreadsheet mark of the service's CSV downloads, to come
    # off; the service writes JSON Lines without it, and their values are taken as they are.
    marked: bool = True


def read_csv(text: TextIO) -> Reading:
    """The header's columns and the rows below it; the header is line 1. An empty file
    has no rows; a header that lacks a column is an ImportFileError."""
    # Strict: a quote in the wrong place is an error on the lines it spans, rather than a
    # value that silently swallows the lines up to the next quote. The field limit is the
    # process's (csv has no other): raised so that a long value is read whole.
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ImportFileError(f"line 1: unreadable CSV header ({error})") from None
    if header is None:
        return Reading(list(API_COLUMNS), 0, iter(()))
    columns = [name.strip() for name in header]
    check_columns(columns)

    def rows() -> Iterator[RawRow]:
        while True:
            line = reader.line_num + 1  # a quoted value may span lines: report the first
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                if "field limit" not in str(error):  # the reader carries on with the next line
                    yield RawRow(
                        line, {}, unreadable(line, reader.line_num, error), reader.line_num
                    )
                    continue
                # A value past the limit is a quote that never closes: the reader stopped in
                # the middle of a line, and what follows cannot be told apart from it.
                last = reader.line_num + sum(1 for _ in text)
                reason = (
                    f"a quoted value opened on line {line} runs past {csv.field_size_limit()} "
                    f"characters (a stray quote?): lines {line}-{last} cannot be read"
                )
                yield RawRow(line, {}, reason, last)
                return
            last = reader.line_num
            if not cells:
                yield RawRow(line, {}, blank=True)
                continue
            values: dict[str, str | None] = dict(zip(columns, cells, strict=False))
            problem = None
            if len(cells) != len(columns):
                problem = f"{len(cells)} values for {len(columns)} columns"
                if last > line:
                    problem += f" (lines {line}-{last}: a quoted value spans them)"
            yield RawRow(line, values, problem, last)

    return Reading(columns, 1, rows())


def unreadable(first: int, last: int, error: csv.Error) -> str:
    """Why the reader could not parse lines ``first`` to ``last``."""
    if "end of data" in str(error):
        return f"a quoted value opened on line {first} is never closed (the file ends in it)"
    if last > first:  # what a stray quote does: it swallows the lines after it
        return (
            f"a quoted value opened on line {first} ends on line {last} inside a value "
            f"(a stray quote?): {error}"
        )
    return f"unreadable CSV ({error})"


def check_columns(columns: list[str]) -> None:
    if repeated := [column for column in API_COLUMNS if columns.count(column) > 1]:
        raise ImportFileError(f"the CSV header repeats {', '.join(repeated)}")
    if missing := [column for column in IMPORTED_COLUMNS if column not in columns]:
        raise ImportFileError(
            f"the CSV header lacks {', '.join(missing)}; "
            f"it needs {', '.join(IMPORTED_COLUMNS)} (id, created_date, modified_date "
            "and other columns are ignored)"
        )


def read_jsonl(text: TextIO) -> Reading:
    """One JSON object per line; blank lines are skipped."""
    return Reading(list(API_COLUMNS), 0, jsonl_rows(text), marked=False)


def jsonl_rows(text: TextIO) -> Iterator[RawRow]:
    for line, content in enumerate(text, start=1):
        if not content.strip():
            yield RawRow(line, {}, blank=True)
            continue
        try:
            document = json.loads(content)
        except (ValueError, RecursionError) as error:
            yield RawRow(line, {}, f"not valid JSON ({error})")
            continue
        if not isinstance(document, dict):
            yield RawRow(line, {}, "not a JSON object")
            continue
        values = {key: json_scalar(document[key]) for key in API_COLUMNS if key in document}
        wrong = [
            key for key in IMPORTED_COLUMNS if isinstance(document.get(key), bool | list | dict)
        ]
        problem = "; ".join(f"{key}: expected a string, a number or null" for key in wrong)
        yield RawRow(line, values, problem or None)


def json_scalar(value: Any) -> str | None:
    """The value as CSV would carry it: numbers as their JSON text, so that the model
    fields parse both formats alike (5.5 is then no integer, rather than truncated to 5)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


READERS: dict[str, Callable[[TextIO], Reading]] = {
    "csv": read_csv,
    "jsonl": read_jsonl,
}


# Validation and writing.


def validate_row(values: Mapping[str, str | None], *, marked: bool = True) -> dict[str, Any]:
    """The customer's values by attribute name, checked by the model fields themselves:
    email format, lengths, the 32-bit omnitron_id range, an integer channel; text loses the
    spreadsheet mark if ``marked``. Raises a ValidationError keyed by column."""
    cleaned, errors = {}, {}
    for column, field in FIELDS.items():
        if column not in values:
            errors[column] = ["This field is missing."]
            continue
        try:
            cleaned[field.attname] = clean_value(field, values[column], marked=marked)
        except ValidationError as error:
            errors[column] = error.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def clean_value(field: Field, value: str | None, *, marked: bool = True) -> Any:
    if value is None or value == "":
        # What the model stores for no value: NULL where it may (the API shows null),
        # else "" (or None for non-text fields, which clean() then rejects as required).
        value = None if field.null or not field.empty_strings_allowed else ""
    else:
        no_null_characters(value)
        check_encodable(value)
        if marked and field.empty_strings_allowed:  # text: the export's mark comes off
            value = restore_formula(value)
    if isinstance(field, ForeignKey):
        # ForeignKey.clean() would look the channel up, row by row; missing channels are
        # created instead, so only the id itself is checked (type and range).
        return field.target_field.clean(value, None)
    return field.clean(value, None)


def check_encodable(value: str) -> None:
    """Invalid UTF-8 in the file is read as lone surrogates, which no database takes."""
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValidationError("Not valid UTF-8 text.") from None


def describe(error: ValidationError) -> str:
    """``column: message; column: message``, or the message of a row-wide error."""
    if not hasattr(error, "error_dict"):
        return " ".join(error.messages)
    return "; ".join(
        f"{column}: {' '.join(messages)}" for column, messages in error.message_dict.items()
    )


def write_batch(customers: list[dict[str, Any]]) -> BatchResult:
    """Upsert customers with distinct omnitron ids, creating missing channels first;
    customers identical to the stored ones are left alone, so their modified_date
    stays. Call it inside a transaction."""
    channels_created = create_missing_channels({c["channel_id"] for c in customers} - {None})
    stored = {
        omnitron_id: tuple(values)
        for chunk in query_chunks([c["omnitron_id"] for c in customers])
        for omnitron_id, *values in Customer.objects.filter(omnitron_id__in=chunk).values_list(
            "omnitron_id", *COMPARED
        )
    }
    # Stamped per batch, just before it commits, so that incremental readers polling by
    # modified_date do not miss rows committed after a long import started.
    now = timezone.now()
    changed = [
        Customer(**customer, created_date=now, modified_date=now)
        for customer in customers
        if stored.get(customer["omnitron_id"]) != tuple(customer[name] for name in COMPARED)
    ]
    # created_date is not in UPDATED, so existing customers keep theirs.
    Customer.objects.bulk_create(
        changed, update_conflicts=True, unique_fields=["omnitron_id"], update_fields=UPDATED
    )
    updated = sum(customer.omnitron_id in stored for customer in changed)
    return BatchResult(
        created=len(changed) - updated,
        updated=updated,
        unchanged=len(customers) - len(changed),
        channels_created=channels_created,
    )


def create_missing_channels(ids: set[int]) -> int:
    """Create placeholder channels for ids not in the database; return how many."""
    missing = set(ids)
    for chunk in query_chunks(list(ids)):
        missing -= set(Channel.objects.filter(id__in=chunk).values_list("id", flat=True))
    if missing:
        Channel.objects.bulk_create(
            [
                Channel(id=id_, name=f"Channel {id_}", channel_type="unknown")
                for id_ in sorted(missing)
            ],
            ignore_conflicts=True,  # a concurrent import may have just created one
        )
        # In the batch's transaction: a crash later in the file must not leave the
        # sequence behind ids that are already committed.
        reset_sequences(Channel)
    return len(missing)


def query_chunks(values: list[int]) -> Iterator[list[int]]:
    """``values`` in slices of LOOKUP_SIZE, fewer where the database limits a query's
    parameters (SQLite; PostgreSQL: None)."""
    size = min(LOOKUP_SIZE, connection.features.max_query_params or LOOKUP_SIZE)
    for start in range(0, len(values), size):
        yield values[start : start + size]


class RejectsWriter:
    """The rejects CSV: line number, reason and the row's values as read."""

    def __init__(self, stream: TextIO, columns: list[str]) -> None:
        columns = [column for column in columns if column not in ("line", "reason")]
        self.writer = csv.DictWriter(stream, ["line", "reason", *columns], extrasaction="ignore")
        self.writer.writeheader()

    def write(self, row: RawRow, reason: str) -> None:
        line = f"{row.line}-{row.last_line}" if row.lines > 1 else row.line
        self.writer.writerow({**row.values, "line": line, "reason": reason})


def import_rows(
    rows: Iterable[RawRow],
    rejects: RejectsWriter,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    tick: Callable[[int], object] | None = None,
    marked: bool = True,
) -> ImportSummary:
    """Validate and upsert ``rows``, each ``batch_size`` valid rows in one transaction.

    Within a batch the last row of an omnitron_id wins; across batches the later batch
    updates what the earlier wrote, so the file's last row wins either way. ``tick`` gets
    the number of rows read now and then, for a progress bar; ``marked``: see ``Reading``.
    """
    summary = ImportSummary()
    started = time.monotonic()
    batch: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row.blank:
            summary.blank_lines += 1
            continue
        summary.read += 1
        summary.row_lines += row.lines
        try:
            if row.error:
                raise ValidationError(row.error)
            customer = validate_row(row.values, marked=marked)
        except ValidationError as error:
            summary.rejected += 1
            rejects.write(row, describe(error))
        else:
            if customer["omnitron_id"] in batch:
                summary.duplicates += 1
            batch[customer["omnitron_id"]] = customer
            if len(batch) >= batch_size:
                commit_batch(batch, summary)
                batch = {}
        if tick and summary.read % PROGRESS_EVERY == 0:
            tick(summary.read)
    if batch:
        commit_batch(batch, summary)
    if tick:
        tick(summary.read)
    summary.seconds = time.monotonic() - started
    return summary


def commit_batch(batch: dict[int, dict[str, Any]], summary: ImportSummary) -> None:
    # Bounded: BI tools' sync lookback must cover the time from the batch's modified_date
    # stamp to its commit.
    with bounded_transaction():
        summary.add(write_batch(list(batch.values())))


# Files.


def guess_format(path: str) -> str:
    try:
        return FORMATS[Path(path).suffix.lower()]
    except KeyError:
        raise ImportFileError(
            f"cannot tell the format of {path} from its extension "
            f"({', '.join(FORMATS)}); give --format"
        ) from None


def open_input(path: str) -> BinaryIO:
    try:
        if path == "-":  # standard input, left open for the rest of the process
            return open(sys.stdin.fileno(), "rb", closefd=False)
        return open(path, "rb")
    except (OSError, ValueError) as error:
        raise ImportFileError(f"cannot read {path}: {getattr(error, 'strerror', error)}") from None


def open_rejects(path: Path, source: str) -> TextIO:
    if source != "-" and path.resolve() == Path(source).resolve():
        raise ImportFileError("the rejects file cannot be the file being imported")
    try:
        # Values that are not valid UTF-8 are written as escapes rather than failing.
        return path.open("w", encoding="utf-8", errors="backslashreplace", newline="")
    except OSError as error:
        raise ImportFileError(f"cannot write {path}: {error.strerror}") from None


def import_file(
    path: str,
    *,
    fmt: str | None = None,
    rejects_path: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: OutputWrapper | None = None,
) -> tuple[ImportSummary, Path]:
    """Import ``path`` (``-``: standard input); return the summary and the rejects file.

    The rejects file (``<path>.rejects.csv`` unless given) is always written, header
    only when nothing was rejected, so it never describes an earlier run. ImportFileError
    is raised before anything is written.
    """
    read = READERS[fmt or guess_format(path)]
    if path == "-" and not rejects_path:
        raise ImportFileError("give --rejects when reading standard input")
    rejects_file = Path(rejects_path or f"{path}.rejects.csv")
    with ExitStack() as stack:
        binary = stack.enter_context(open_input(path))
        text = io.TextIOWrapper(
            binary,
            encoding="utf-8-sig",  # tolerates the byte order mark spreadsheets write
            errors="surrogateescape",  # invalid bytes reject their row, not the file
            newline="" if read is read_csv else None,
        )
        stack.enter_context(text)
        columns, header_lines, rows, marked = read(text)
        rejects = RejectsWriter(stack.enter_context(open_rejects(rejects_file, path)), columns)
        # A file's progress is in bytes of its size; a pipe's in rows, with no total.
        in_bytes = binary.seekable()
        bar = stack.enter_context(
            progress_bar(
                progress,
                total=os.fstat(binary.fileno()).st_size if in_bytes else None,
                unit="B" if in_bytes else " rows",
            )
        )

        def tick(rows: int) -> None:
            bar.update((binary.tell() if in_bytes else rows) - bar.n)

        summary = import_rows(rows, rejects, batch_size=batch_size, tick=tick, marked=marked)
        summary.header_lines = header_lines
    return summary, rejects_file
