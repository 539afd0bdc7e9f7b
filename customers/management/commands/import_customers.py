"""Create or update customers by omnitron_id from a CSV or JSON Lines file with the API's
columns. Invalid rows go to a rejects CSV file; the rest is written in batches, each in its
own transaction."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from customers.importing import DEFAULT_BATCH_SIZE, ImportFileError, import_file
from oms.commands import positive_int


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="the file to import, or - for standard input")
        parser.add_argument(
            "--format",
            choices=["csv", "jsonl"],
            help="the file's format (default: from its extension: .csv, .jsonl, .ndjson)",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"valid rows per transaction (default {DEFAULT_BATCH_SIZE})",
        )
        parser.add_argument(
            "--rejects", metavar="PATH", help="the rejects CSV file (default: FILE.rejects.csv)"
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar (never shown off a TTY)"
        )
        parser.add_argument(
            "--allow-rejects",
            action="store_true",
            help="exit 0 even when rows were rejected (by default any rejected row exits 1)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary, rejects = import_file(
                options["file"],
                fmt=options["format"],
                rejects_path=options["rejects"],
                batch_size=options["batch_size"],
                progress=None if options["no_progress"] else self.stderr,
            )
        except ImportFileError as error:
            raise CommandError(f"{error}. Nothing was imported.") from None
        spanning = summary.row_lines - summary.read
        self.stdout.write(
            f"lines: {summary.lines} ({summary.header_lines} header, "
            f"{summary.blank_lines} blank, {summary.row_lines} in rows"
            + (f": values spanning lines add {spanning}" if spanning else "")
            + ")\n"
            f"rows read: {summary.read}\n"
            f"created: {summary.created}\n"
            f"updated: {summary.updated}\n"
            f"unchanged: {summary.unchanged}\n"
            f"duplicates: {summary.duplicates}\n"
            f"rejected: {summary.rejected} (see {rejects})\n"
            f"channels created: {summary.channels_created}\n"
            f"elapsed: {summary.seconds:.1f} s ({summary.rows_per_second:.0f} rows/s)"
        )
        if summary.rejected and not options["allow_rejects"]:
            raise CommandError(
                f"{summary.rejected} rows were rejected (see {rejects}); the others were "
                "imported. Fix and import the rejects file's rows again, or pass "
                "--allow-rejects to accept them."
            )
