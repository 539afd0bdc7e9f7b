from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from tokens.models import APIToken


class Command(BaseCommand):
    help = (
        "Revoke an API token, named by its prefix (see list_tokens) or by its name; "
        "requests with it are refused from then on."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name_or_prefix")
        parser.add_argument("--user", metavar="USERNAME", help="the token's user")

    def handle(self, *args: Any, name_or_prefix: str, user: str | None, **options: Any) -> None:
        token = find_token(name_or_prefix, user)
        if token.revoked is not None:
            self.stdout.write(f"{describe(token)} was already revoked.")
            return
        APIToken.objects.filter(pk=token.pk).revoke()
        self.stdout.write(f"Revoked {describe(token)}.")


def find_token(name_or_prefix: str, username: str | None) -> APIToken:
    """The one token with that prefix or name (of that user); a CommandError otherwise."""
    tokens = APIToken.objects.select_related("user").filter(
        Q(prefix=name_or_prefix) | Q(name=name_or_prefix)
    )
    if username is not None:
        tokens = tokens.filter(user__username=username)
    matches = list(tokens.order_by("id"))
    if not matches:
        owner = f" of user {username!r}" if username is not None else ""
        raise CommandError(f"No token{owner} has the prefix or name {name_or_prefix!r}.")
    if len(matches) > 1:
        several = "; ".join(describe(token) for token in matches)
        hint = "give --user" if len({t.user_id for t in matches}) > 1 else "give the prefix"
        raise CommandError(f"{name_or_prefix!r} matches several tokens ({several}): {hint}.")
    return matches[0]


def describe(token: APIToken) -> str:
    return f"token {token.name!r} ({token.prefix}) of user {token.user.get_username()!r}"
