from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from customers.demo import load_demo_data
from oms.commands import progress_bar

DOCUMENTED_COUNT = 109  # the "count" of the API documentation's example


class Command(BaseCommand):
    help = (
        "Add channel 1, the ten customers of the API documentation and deterministic "
        "synthetic customers until there are at least --customers. Never changes or "
        "deletes existing rows; running it again adds nothing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--customers", type=int, default=DOCUMENTED_COUNT, metavar="N")
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar (never shown off a TTY)"
        )

    def handle(self, *args: Any, customers: int, no_progress: bool, **options: Any) -> None:
        if customers < 10:
            raise CommandError("--customers must be at least 10 (the documented customers).")
        with progress_bar(None if no_progress else self.stderr, unit=" customers") as bar:
            added = load_demo_data(customers, progress=bar)
        self.stdout.write(f"Added {added} customers.")
