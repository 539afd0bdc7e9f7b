from argparse import ArgumentParser
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tokens.models import APIToken

HEADER = ("user", "name", "prefix", "channels", "created", "expires", "last used", "status")


class Command(BaseCommand):
    help = "List API tokens (never their keys), of every user or of USERNAME."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", nargs="?")

    def handle(self, *args: Any, username: str | None, **options: Any) -> None:
        tokens = APIToken.objects.select_related("user").prefetch_related("channels")
        if username is not None:
            if not get_user_model().objects.filter(username=username).exists():
                raise CommandError(f"No user named {username!r}.")
            tokens = tokens.filter(user__username=username)
        now = timezone.now()
        rows = [row(token, now) for token in tokens.order_by("user__username", "created", "id")]
        self.stdout.write(table([HEADER, *rows]))


def row(token: APIToken, now: datetime) -> tuple[str, ...]:
    return (
        token.user.get_username(),
        token.name,
        token.prefix,
        ",".join(map(str, sorted(token.channel_ids))) or "all",
        minutes(token.created),
        minutes(token.expires),
        minutes(token.last_used),
        token.status(now),
    )


def minutes(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ") if moment else "-"


def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in rows
    )
