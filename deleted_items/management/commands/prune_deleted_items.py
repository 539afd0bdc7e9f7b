from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from deleted_items.pruning import DEFAULT_BATCH_SIZE, prune
from oms.commands import positive_int
from oms.tabular.rows import format_datetime


class Command(BaseCommand):
    help = (
        "Delete the records of deletions older than the retention "
        "(DELETED_ITEMS_RETENTION_DAYS, or --days). Clients asking for deletions from before "
        "what is kept get 410 and load everything again. Run it daily."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--days", type=positive_int, metavar="N")
        parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE)

    def handle(self, *args: Any, days: int | None, batch_size: int, **options: Any) -> None:
        pruned = prune(days or settings.DELETED_ITEMS_RETENTION_DAYS, batch_size)
        self.stdout.write(
            f"Pruned {pruned.records} deletion records. The feed keeps deletions from "
            f"{format_datetime(pruned.retained.date)} and records from id "
            f"{pruned.retained.first_id} on."
        )
