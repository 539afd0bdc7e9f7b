"""Issuing tokens: the one place a key is made. The key is returned once and never stored."""

import secrets
from collections.abc import Iterable
from datetime import datetime
from itertools import count

from django.contrib.auth.models import User
from django.db import transaction

from channels.models import Channel
from oms.api.authentication import key_digest
from tokens.models import PREFIX_LENGTH, APIToken

KEY_BYTES = 32  # 256 random bits, as 64 hex characters


def new_key() -> str:
    return secrets.token_hex(KEY_BYTES)


def issue(
    user: User,
    *,
    name: str | None = None,
    expires: datetime | None = None,
    channels: Iterable[Channel | int] = (),
) -> tuple[APIToken, str]:
    """Create a token for ``user`` and return it with its key.

    ``name`` defaults to the first free ``token-<n>``; no ``channels`` means every channel.
    Raises ``ValidationError`` for a name the user already has or an invalid one.
    """
    key = new_key()
    token = APIToken(
        user=user,
        name=name or default_name(user),
        prefix=key[:PREFIX_LENGTH],
        digest=key_digest(key),
        expires=expires,
    )
    token.full_clean()
    with transaction.atomic():
        token.save()
        token.channels.set(channels)
    return token, key


def default_name(user: User) -> str:
    """``token-<n>``, n one more than the user's token count unless that name is taken."""
    taken = set(APIToken.objects.filter(user=user).values_list("name", flat=True))
    return next(name for n in count(len(taken) + 1) if (name := f"token-{n}") not in taken)
