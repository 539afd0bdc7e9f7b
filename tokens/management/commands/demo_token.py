from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from tokens.issuing import kept_key, reader


class Command(BaseCommand):
    help = (
        "Print a key of USERNAME's for local development (make run) and nothing else: the "
        "one kept in FILE while its token is active in this database, else a new token's "
        "(issued as issue_token issues it), kept in FILE, readable by its owner only. Not "
        "for production: the key stays in a file."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--file", type=Path, required=True, help="where the key is kept")

    def handle(self, *args: Any, username: str, file: Path, **options: Any) -> None:
        with transaction.atomic():
            key = kept_key(reader(username), file)
        self.stdout.write(key)
