from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from customers.demo import load_demo_data

DOCUMENTED_COUNT = 109  # the "count" of the API documentation's example


class Command(BaseCommand):
    help = (
        "Add channel 1, the ten customers of the API documentation and deterministic "
        "synthetic customers until there are at least --customers. Never changes or "
        "deletes existing rows; running it again adds nothing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--customers", type=int, default=DOCUMENTED_COUNT, metavar="N")

    def handle(self, *args: Any, customers: int, **options: Any) -> None:
        if customers < 10:
            raise CommandError("--customers must be at least 10 (the documented customers).")
        added = load_demo_data(customers, progress=self.report_progress)
        self.stdout.write(f"Added {added} customers.")

    def report_progress(self, added: int) -> None:
        self.stderr.write(f"  {added} customers added", ending="\r")
