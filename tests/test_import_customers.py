"""import_customers: CSV and JSON Lines upserts by omnitron_id, rejects, batches, progress."""

import csv
import json
import sys
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from channels.models import Channel
from customers import importing
from customers.models import Customer
from tests.conftest import utc
from tests.test_commands import Terminal

pytestmark = pytest.mark.django_db

HEADER = importing.API_COLUMNS
STATE_FIELDS = ["id", "omnitron_id", "email", "first_name", "last_name", "phone_number",
                "erp_code", "channel_id", "created_date", "modified_date"]  # fmt: skip


def customer_row(omnitron_id: int | str, **values: Any) -> dict[str, Any]:
    """A row of the API's CSV with the given values; the rest plain and valid."""
    return {
        "id": "",
        "created_date": "",
        "modified_date": "",
        "omnitron_id": omnitron_id,
        "email": f"c{omnitron_id}@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone_number": "",
        "erp_code": "",
        "channel": "",
        **values,
    }


def write_csv(path: Path, rows: list[dict[str, Any]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, documents: list[Any]) -> Path:
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents), "utf-8")
    return path


def run(path: Path | str, *args: str, stderr: StringIO | None = None) -> dict[str, int]:
    """Import ``path``, rejects allowed; the summary's row counts by name."""
    return {
        k: v
        for k, v in summary(path, "--allow-rejects", *args, stderr=stderr).items()
        if k != "lines"
    }


def summary(path: Path | str, *args: str, stderr: StringIO | None = None) -> dict[str, int]:
    """Import ``path``; every count of the summary by name (``lines`` included)."""
    out = StringIO()
    call_command("import_customers", str(path), *args, stdout=out, stderr=stderr or StringIO())
    return {
        name: int(value.split()[0])
        for name, value in (line.split(": ", 1) for line in out.getvalue().splitlines())
        if name != "elapsed"
    }


def rejects(path: Path) -> list[dict[str, str]]:
    rejects_path = path.with_name(path.name + ".rejects.csv")
    with rejects_path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def state() -> list[tuple]:
    return list(Customer.objects.order_by("omnitron_id").values_list(*STATE_FIELDS))


def test_csv_creates_customers_with_the_files_values(tmp_path: Path) -> None:
    Channel.objects.create(id=3, name="Web", channel_type="web")
    path = write_csv(
        tmp_path / "customers.csv",
        [
            customer_row(
                55,
                email="ali.test@akinon.com",
                first_name="Ali",
                last_name="Test",
                phone_number="05555554433",
                erp_code="E-1",
                channel=3,
            ),
            customer_row(56, id="999", created_date="2020-01-01T00:00:00Z"),
        ],
    )
    before = timezone.now()

    counts = run(path)

    assert counts == {
        "rows read": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "duplicates": 0,
        "rejected": 0,
        "channels created": 0,
    }
    ali = Customer.objects.get(omnitron_id=55)
    assert (
        ali.email,
        ali.first_name,
        ali.last_name,
        ali.phone_number,
        ali.erp_code,
        ali.channel_id,
    ) == ("ali.test@akinon.com", "Ali", "Test", "05555554433", "E-1", 3)
    other = Customer.objects.get(omnitron_id=56)
    # The file's id and dates are the service's own: ignored.
    assert other.id != 999
    assert other.created_date == other.modified_date >= before
    # Empty optional values are stored as the API shows them: null.
    assert (other.phone_number, other.erp_code, other.channel_id) == (None, None, None)
    assert rejects(path) == []


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson"])
def test_json_lines_creates_customers(tmp_path: Path, suffix: str) -> None:
    path = write_jsonl(
        tmp_path / f"customers{suffix}",
        [
            {
                "omnitron_id": 7,
                "email": "j@example.com",
                "first_name": "Jale",
                "last_name": "Öz",
                "phone_number": None,
                "erp_code": "X",
                "channel": None,
                "extra": [1, 2],
            },
            {
                "id": 1,
                "omnitron_id": "8",
                "email": "k@example.com",
                "first_name": "",
                "last_name": "",
                "phone_number": "0212",
                "erp_code": None,
                "channel": "4",
            },
        ],
    )

    assert run(path)["created"] == 2

    imported = STATE_FIELDS[1:8]  # omnitron_id to channel_id
    assert list(Customer.objects.order_by("omnitron_id").values_list(*imported)) == [
        (7, "j@example.com", "Jale", "Öz", None, "X", None),
        (8, "k@example.com", "", "", "0212", None, 4),
    ]


def test_existing_customers_are_updated_and_keep_their_id_and_created_date(
    tmp_path: Path, make_customer: Callable[..., Customer]
) -> None:
    old = utc(2023, 1, 1)
    existing = make_customer(
        omnitron_id=5, email="old@example.com", created_date=old, modified_date=old
    )
    path = write_csv(
        tmp_path / "c.csv", [customer_row(5, email="new@example.com"), customer_row(6)]
    )

    counts = run(path)

    assert (counts["created"], counts["updated"], counts["unchanged"]) == (1, 1, 0)
    updated = Customer.objects.get(omnitron_id=5)
    assert (updated.id, updated.email, updated.created_date) == (
        existing.id,
        "new@example.com",
        old,
    )
    assert updated.modified_date > old


def test_a_second_run_of_the_same_file_changes_nothing(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [customer_row(n, channel=2) for n in range(1, 8)])
    run(path, "--batch-size", "3")
    first = state()

    counts = run(path, "--batch-size", "3")

    assert (counts["created"], counts["updated"], counts["unchanged"]) == (0, 0, 7)
    assert counts["channels created"] == 0
    assert state() == first  # modified_date included: incremental readers see no change


def test_missing_channels_are_created_with_their_ids(tmp_path: Path) -> None:
    Channel.objects.create(id=1, name="Web", channel_type="web")
    path = write_csv(
        tmp_path / "c.csv",
        [
            customer_row(1, channel=1),
            customer_row(2, channel=40),
            customer_row(3, channel=40),
            customer_row(4, channel=41),
        ],
    )

    assert run(path)["channels created"] == 2

    assert list(Channel.objects.values_list("id", "name", "channel_type")) == [
        (1, "Web", "web"), (40, "Channel 40", "unknown"), (41, "Channel 41", "unknown")
    ]  # fmt: skip
    assert Customer.objects.get(omnitron_id=2).channel_id == 40
    # The id sequence moved past the explicit ids (PostgreSQL).
    assert Channel.objects.create(name="New", channel_type="web").id > 41


def test_invalid_csv_rows_are_rejected_with_their_line_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    write_csv(
        path,
        [
            customer_row(1),  # line 2
            customer_row(2, email="not-an-email"),  # 3
            customer_row(3, email=""),  # 4
            customer_row("", email="x@example.com"),  # 5
            customer_row("abc"),  # 6
            customer_row(2**31),  # 7
            customer_row(-(2**31) - 1),  # 8
            customer_row(9, first_name="x" * 256, erp_code="e" * 65),  # 9
            customer_row(10, channel="web"),  # 10
            customer_row(11, last_name="nul\x00"),  # 11
            customer_row(12, email="bad", channel="1.5"),  # 12
            customer_row(13, first_name="multi\nline"),  # 13-14
            customer_row(2**31 - 1),  # 15
        ],
    )
    with path.open("a", encoding="utf-8", newline="") as file:
        file.write(",,,16,short@example.com\n")  # 16
        file.write('\n,,,17,big@example.com,"' + "x" * 200_000 + '",L,,,\n')  # 17 blank, 18

    counts = run(path)

    assert (counts["rows read"], counts["created"], counts["rejected"]) == (15, 3, 12)
    assert sorted(Customer.objects.values_list("omnitron_id", flat=True)) == [1, 13, 2**31 - 1]
    assert [(r["line"], r["reason"]) for r in rejects(path)] == [
        ("3", "email: Enter a valid email address."),
        ("4", "email: This field cannot be blank."),
        ("5", "omnitron_id: This field cannot be null."),
        ("6", "omnitron_id: “abc” value must be an integer."),
        ("7", "omnitron_id: Ensure this value is less than or equal to 2147483647."),
        ("8", "omnitron_id: Ensure this value is greater than or equal to -2147483648."),
        ("9", "first_name: Ensure this value has at most 255 characters (it has 256).; "
              "erp_code: Ensure this value has at most 64 characters (it has 65)."),
        ("10", "channel: “web” value must be an integer."),
        ("11", "last_name: Null characters are not allowed."),
        ("12", "email: Enter a valid email address.; channel: “1.5” value must be an integer."),
        ("16", "5 values for 10 columns"),
        ("18", "first_name: Ensure this value has at most 255 characters (it has 200000)."),
    ]  # fmt: skip
    # The original values come along, so the file can be fixed and imported again.
    assert rejects(path)[0] == {
        **customer_row(2, email="not-an-email"),
        "omnitron_id": "2",
        "line": "3",
        "reason": "email: Enter a valid email address.",
    }


def test_invalid_utf8_rejects_the_row_only(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [customer_row(1), customer_row(2, first_name="Q~Q")])
    path.write_bytes(path.read_bytes().replace(b"~", b"\xff"))

    counts = run(path)

    assert (counts["created"], counts["rejected"]) == (1, 1)
    (reject,) = rejects(path)
    assert (reject["line"], reject["reason"]) == ("3", "first_name: Not valid UTF-8 text.")
    assert reject["first_name"] == "Q\\udcffQ"  # shown escaped, the rejects file stays UTF-8


def test_invalid_json_lines_are_rejected_with_their_line_and_reason(tmp_path: Path) -> None:
    valid = {key: value for key, value in customer_row(1).items() if value != ""}
    valid |= {"phone_number": None, "erp_code": None, "channel": None}
    path = tmp_path / "c.jsonl"
    path.write_text(
        "\n".join([
            json.dumps(valid),  # 1
            "{not json",  # 2
            "[1, 2]",  # 3
            "",  # 4: blank, skipped
            json.dumps({"omnitron_id": 5, "email": "e@example.com"}),  # 5
            json.dumps({**valid, "omnitron_id": 6, "first_name": True, "channel": [1]}),  # 6
            json.dumps({**valid, "omnitron_id": 7.5}),  # 7
            json.dumps({**valid, "omnitron_id": 8, "email": "e8@example.com"}),  # 8
        ]) + "\n",
        encoding="utf-8",
    )  # fmt: skip

    counts = run(path)

    assert (counts["rows read"], counts["created"], counts["rejected"]) == (7, 2, 5)
    missing = "; ".join(
        f"{column}: This field is missing."
        for column in ["first_name", "last_name", "phone_number", "erp_code", "channel"]
    )
    assert [(r["line"], r["reason"]) for r in rejects(path)] == [
        ("2", "not valid JSON (Expecting property name enclosed in double quotes: "
              "line 1 column 2 (char 1))"),
        ("3", "not a JSON object"),
        ("5", missing),
        ("6", "first_name: expected a string, a number or null; "
              "channel: expected a string, a number or null"),
        ("7", "omnitron_id: “7.5” value must be an integer."),
    ]  # fmt: skip
    assert rejects(path)[3]["channel"] == "[1]"


def test_a_header_without_a_required_column_is_refused_before_writing(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "c.csv", [customer_row(1)], header=[c for c in HEADER if c != "email"]
    )

    with pytest.raises(CommandError, match=r"the CSV header lacks email; .*Nothing was imported"):
        run(path)

    assert not Customer.objects.exists()
    assert not (tmp_path / "c.csv.rejects.csv").exists()


def test_a_header_repeating_a_column_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [customer_row(1)], header=[*HEADER, "email"])

    with pytest.raises(CommandError, match="repeats email"):
        run(path)


@pytest.mark.django_db(transaction=True)
def test_a_crash_part_way_keeps_whole_batches_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second batch is written, then fails: its transaction must take it all back."""
    write_batch = importing.write_batch
    calls = []

    def failing_write_batch(customers: list[dict[str, Any]]) -> importing.BatchResult:
        calls.append(customers)
        result = write_batch(customers)
        if len(calls) == 2:
            raise RuntimeError("connection lost")
        return result

    monkeypatch.setattr(importing, "write_batch", failing_write_batch)
    path = write_csv(tmp_path / "c.csv", [customer_row(n, channel=n) for n in range(1, 8)])

    with pytest.raises(RuntimeError, match="connection lost"):
        run(path, "--batch-size", "3")

    assert sorted(Customer.objects.values_list("omnitron_id", flat=True)) == [1, 2, 3]
    assert sorted(Channel.objects.values_list("id", flat=True)) == [1, 2, 3]


def test_turkish_text_and_csv_quoting_survive(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        [
            customer_row(
                1,
                first_name="İlkay Şükrü",
                last_name='Doğan, "Ğ"\nikinci satır',
                email="ilgin.sahin@örnek.com.tr",
            ),
            customer_row(2, email="not valid"),
        ],
    )
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a spreadsheet's byte order mark

    counts = run(path)

    assert counts["created"] == 1
    customer = Customer.objects.get(omnitron_id=1)
    assert (customer.first_name, customer.last_name, customer.email) == (
        "İlkay Şükrü", 'Doğan, "Ğ"\nikinci satır', "ilgin.sahin@örnek.com.tr"
    )  # fmt: skip
    assert [r["line"] for r in rejects(path)] == ["4"]  # row 1 spans lines 2 and 3


@pytest.mark.parametrize(
    ("name", "content"), [("c.csv", ""), ("c.jsonl", ""), ("c.csv", ",".join(HEADER) + "\n")]
)
def test_an_empty_file_imports_nothing(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    assert run(path)["rows read"] == 0

    assert not Customer.objects.exists()
    assert rejects(path) == []


def test_within_a_batch_the_last_row_of_an_omnitron_id_wins(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        [customer_row(1, email="first@example.com"), customer_row(1, email="last@example.com")],
    )

    counts = run(path)

    assert (counts["created"], counts["duplicates"]) == (1, 1)
    assert Customer.objects.get().email == "last@example.com"


def test_across_batches_the_last_row_of_an_omnitron_id_wins(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        [customer_row(1, email="first@example.com"), customer_row(1, email="last@example.com")],
    )

    counts = run(path, "--batch-size", "1")

    assert (counts["created"], counts["updated"], counts["duplicates"]) == (1, 1, 0)
    assert Customer.objects.get().email == "last@example.com"


def test_format_and_rejects_path_options(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "export.txt", [{"omnitron_id": 1}])
    rejects_path = tmp_path / "bad.csv"

    counts = run(path, "--format", "jsonl", "--rejects", str(rejects_path))

    assert counts["rejected"] == 1
    assert rejects_path.read_text(encoding="utf-8").startswith("line,reason,id,")


def test_standard_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_csv(tmp_path / "c.csv", [customer_row(1)])
    with path.open("rb") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        run("-", "--format", "csv", "--rejects", str(tmp_path / "r.csv"))

    assert Customer.objects.get().omnitron_id == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "cannot read .*missing.csv: No such file or directory"),
        (["customers.xlsx"], "cannot tell the format of customers.xlsx"),
        (["-", "--format", "csv"], "give --rejects when reading standard input"),
        (["c.csv", "--rejects", "c.csv"], "the rejects file cannot be the file being imported"),
        (["c.csv", "--rejects", "no/such/dir/r.csv"], "cannot write no/such/dir/r.csv"),
        (["c.csv", "--batch-size", "0"], "expected a whole number of at least 1, not '0'"),
        (["c.csv", "--format", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_unusable_arguments_are_command_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "c.csv", [customer_row(1)])

    with pytest.raises(CommandError, match=message):
        run(*args)

    assert not Customer.objects.exists()


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [customer_row(1)])
    terminal, log = Terminal(), StringIO()

    run(path, stderr=log)
    run(path, stderr=terminal)
    run(path, "--no-progress", stderr=(quiet := Terminal()))

    assert log.getvalue() == quiet.getvalue() == ""
    assert "100%" in terminal.getvalue()


def test_a_batch_larger_than_one_lookup_query(tmp_path: Path) -> None:
    """Customers and channels are looked up LOOKUP_SIZE at a time (SQLite takes 999
    parameters per query by Django's count)."""
    path = write_csv(tmp_path / "c.csv", [customer_row(n, channel=n) for n in range(1, 1201)])

    assert run(path, "--batch-size", "2000")["created"] == 1200
    assert run(path, "--batch-size", "2000")["unchanged"] == 1200
    assert Channel.objects.count() == 1200


def stray_quote_file(path: Path, rows: int, closed_at: int | None) -> Path:
    """``rows`` plain rows; row 5 opens a quote in its first_name ("Ali...), which a
    quoted value of row ``closed_at`` closes, or nothing does (None)."""
    lines = [",".join(HEADER)]
    for number in range(1, rows + 1):
        first_name = '"Ali' if number == 5 else "Ada"
        last_name = '"Lovelace, Jr"' if number == closed_at else "Lovelace"
        lines.append(f",,,{number},c{number}@example.com,{first_name},{last_name},,,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rows", "closed_at", "last", "reason"),
    [
        (10_000, 3000, 3001, "a quoted value opened on line 6 ends on line 3001 inside a value"),
        (10_000, None, 10_001, "a quoted value opened on line 6 is never closed"),
    ],
)
def test_a_stray_quote_is_rejected_with_every_line_it_swallowed(
    tmp_path: Path, rows: int, closed_at: int | None, last: int, reason: str
) -> None:
    """The issue's file: 10,000 rows, a stray opening quote in row 5 (line 6). The lines
    it swallows are one rejected row naming them, the summary's lines add up to the file's,
    and the command fails unless rejects are allowed."""
    path = stray_quote_file(tmp_path / "c.csv", rows, closed_at)

    with pytest.raises(CommandError, match="1 rows were rejected"):
        summary(path)
    counts = summary(path, "--allow-rejects")

    assert counts["rejected"] == 1
    assert counts["created"] == 0  # the first run created them
    assert counts["unchanged"] == 4 + (rows + 1 - last)
    (rejected,) = rejects(path)
    assert rejected["line"] == f"6-{last}"
    assert rejected["reason"].startswith(reason)
    assert counts["lines"] == rows + 1 == len(path.read_text().splitlines())


@pytest.mark.parametrize("bom", ["0", "1"])
@pytest.mark.parametrize("url", ["list-simple/", "list-simple/export/"])
def test_the_services_own_csv_imports_as_the_identity(
    tmp_path: Path, make_customer: Callable[..., Customer], api_client: Any, url: str, bom: str
) -> None:
    """Values a spreadsheet would take for formulas come back without the export's
    mark, values that start with the mark themselves keep it, and nothing is updated."""
    texts = ["+905551234567", "=1+1", "-x", "@SUM(A1)", "'=quoted", "'plain", "''", "O'Brien"]
    for number, text in enumerate(texts, start=1):
        make_customer(omnitron_id=number, first_name=text, phone_number=text, erp_code=text)
    before = state()
    response = api_client.get(f"/api/v1/oms/customers/{url}", {"format": "csv", "bom": bom})
    body = b"".join(response.streaming_content) if response.streaming else response.content
    path = tmp_path / "export.csv"
    path.write_bytes(body)

    counts = run(path)

    assert (counts["unchanged"], counts["updated"], counts["rejected"]) == (len(texts), 0, 0)
    assert state() == before


def test_the_services_own_json_lines_import_as_the_identity(
    tmp_path: Path, make_customer: Callable[..., Customer], api_client: Any
) -> None:
    """JSON Lines carry values as they are, no spreadsheet mark to take off: a value that
    starts with one keeps it."""
    texts = ["+905551234567", "=1+1", "'=quoted", "''", "a\u2028b", "two\nlines", "O'Brien"]
    for number, text in enumerate(texts, start=1):
        make_customer(omnitron_id=number, first_name=text, phone_number=text, erp_code=text)
    before = state()
    response = api_client.get("/api/v1/oms/customers/list-simple/export/", {"format": "jsonl"})
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(response.streaming_content))

    counts = run(path)

    assert (counts["unchanged"], counts["updated"], counts["rejected"]) == (len(texts), 0, 0)
    assert state() == before


def test_a_value_past_the_field_limit_stops_the_reader_and_rejects_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the limit the reader stops in the middle of a line: nothing after it is read
    as rows, and every line from the quote on is rejected with it."""
    monkeypatch.setattr(importing, "CSV_FIELD_LIMIT", 1000)
    previous = importing.csv.field_size_limit(1000)
    try:
        path = stray_quote_file(tmp_path / "c.csv", 500, None)
        counts = summary(path, "--allow-rejects")
    finally:
        importing.csv.field_size_limit(previous)

    assert (counts["created"], counts["rejected"], counts["lines"]) == (4, 1, 501)
    (rejected,) = rejects(path)
    assert rejected["line"] == "6-501"
    assert rejected["reason"].startswith(
        "a quoted value opened on line 6 runs past 1000 characters"
    )
