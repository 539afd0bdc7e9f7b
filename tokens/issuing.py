"""Issuing tokens: the one place a key is made. The key is returned once and never stored,
except by :func:`kept_key`, for local development."""

import os
import secrets
from collections.abc import Iterable
from datetime import datetime
from itertools import count
from pathlib import Path

from django.contrib.auth.models import Permission, User
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


def reader(username: str) -> User:
    """The user, created without a usable password if missing, with read access to customers."""
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="customers", codename="view_customer")
    )
    return user


def kept_key(user: User, path: Path) -> str:
    """The key kept in the file ``path`` while its token is ``user``'s and active (``make
    run`` prints the same one on every run); otherwise, a fresh database or a revoked or
    expired token, a new token's key, kept there for the next time."""
    key = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    token = APIToken.objects.filter(user=user, digest=key_digest(key)).first() if key else None
    if token is not None and token.status() == "active":
        return key
    _, key = issue(user)
    # Readable by its owner only, like an SSH key: it reads every customer.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write(f"{key}\n")
    path.chmod(0o600)  # a file kept from before may have been readable by others
    return key
