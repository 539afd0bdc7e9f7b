from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from channels.models import Channel
from oms.commands import positive_int
from tokens.issuing import issue, reader


class Command(BaseCommand):
    help = (
        "Issue a new API token for USERNAME and print its key (and nothing else): the key is "
        "not stored and cannot be shown again. Creates the user if missing and gives it read "
        "access to customers."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", help="unique per user (default: token-<n>)")
        parser.add_argument(
            "--expires-in", type=positive_int, metavar="DAYS", help="default: never expires"
        )
        parser.add_argument(
            "--channel",
            type=int,
            nargs="+",
            action="extend",
            default=[],
            metavar="ID",
            dest="channels",
            help="limit the token to these channels (default: every channel)",
        )

    def handle(
        self,
        *args: Any,
        username: str,
        name: str | None,
        expires_in: int | None,
        channels: list[int],
        **options: Any,
    ) -> None:
        known = set(Channel.objects.filter(id__in=channels).values_list("id", flat=True))
        if unknown := sorted(set(channels) - known):
            raise CommandError(f"No channel with the id {', '.join(map(str, unknown))}.")
        expires = timezone.now() + timedelta(days=expires_in) if expires_in else None
        try:
            with transaction.atomic():
                user = reader(username)
                _, key = issue(user, name=name, expires=expires, channels=channels)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(key)
