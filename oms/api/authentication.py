"""Token authentication: ``Authorization: Token <key>`` or ``Authorization: Bearer <key>``.

Tokens live in the project's model named by ``settings.OMS_TOKEN_MODEL`` (like
``AUTH_USER_MODEL``), so that this toolkit imports no app. The model stores the SHA-256
digest of each key (:func:`key_digest`), never the key, and has these fields:

- ``digest``: the key's digest, unique;
- ``user``: a foreign key to the user model;
- ``expires``, ``revoked``, ``last_used``: nullable datetimes;
- ``channels``: a many-to-many relation to the channels the token may read; none means
  every channel.

A request costs one query: the token, its user and its channel ids together. A second
one, an UPDATE of ``last_used``, comes at most once a minute per token.
``request.auth`` is the token, with ``channel_ids`` (a frozenset, empty when the token is
not limited to channels) set; ``oms.api.views.ListAPIView`` narrows its lists to them.
"""

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol, cast

from django.apps import apps
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured
from django.db import router
from django.db.models import Aggregate, CharField, ManyToManyField, Model, OuterRef, Q, Subquery
from django.utils import timezone
from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from oms.api.permission_cache import generation_column, set_generation
from oms.db.prepared import fetch_one
from oms.internals import CompiledQuery

# Keys are visible ASCII. The length bound keeps a huge header from costing any work.
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,256}")
# last_used is a hint for people reviewing tokens: minute precision spares the database
# a write on every request.
LAST_USED_PRECISION = timedelta(seconds=60)


def key_digest(key: str) -> str:
    """The SHA-256 hex digest of a key: what the token table stores instead of the key.

    A fast, unsalted hash is right for keys, unlike passwords: they are random values of
    160 bits or more, so no hash speed makes guessing one from a leaked digest feasible,
    while a slow password hash (PBKDF2, Argon2) would cost milliseconds of CPU on every
    request, and a salt would stop the digest from being the lookup key.
    """
    return hashlib.sha256(key.encode()).hexdigest()


def get_token_model() -> type[Model]:
    """The model named by ``settings.OMS_TOKEN_MODEL`` (``"app_label.ModelName"``)."""
    name = getattr(settings, "OMS_TOKEN_MODEL", None)
    message = f"OMS_TOKEN_MODEL must name an installed model as 'app_label.ModelName', not {name!r}"
    if not isinstance(name, str):  # unset, or not text
        raise ImproperlyConfigured(message)
    try:
        return apps.get_model(name, require_ready=False)
    except (ValueError, LookupError) as error:
        raise ImproperlyConfigured(message) from error


class IdList(Aggregate):
    """The group's values as one comma-separated string (Django 5.2 has no portable one)."""

    function = "GROUP_CONCAT"  # SQLite, MySQL
    output_field = CharField()

    def as_postgresql(
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, Any]:
        return self.as_sql(
            compiler,
            connection,
            function="STRING_AGG",
            template="%(function)s(%(expressions)s::text, ',')",
            **extra_context,
        )


def channel_ids_subquery(model: type[Model]) -> Subquery:
    """The token's channel ids, comma-separated (NULL for none), as a column of its row."""
    relation = model._meta.get_field("channels")
    if not isinstance(relation, ManyToManyField):
        raise ImproperlyConfigured(f"{model._meta.label}.channels must be a many-to-many field")
    through = relation.remote_field.through
    assert through is not None  # set for every many-to-many once the models are loaded
    token, channel = relation.m2m_field_name(), relation.m2m_reverse_field_name()
    ids = (
        through._default_manager.filter(**{token: OuterRef("pk")})
        .order_by()
        .values(token)  # GROUP BY the token: one row
        .annotate(ids=IdList(channel))
        .values("ids")
    )
    return Subquery(ids, output_field=CharField())


class ChannelScope(Protocol):
    """What ``request.auth`` says of the channels a request may read: their ids, empty for
    every channel. This module's tokens have it; so may other credentials (an export
    job's replayed request)."""

    channel_ids: frozenset[int]


class Token(ChannelScope, Protocol):
    """An instance of the token model as this module uses it: the fields the module
    docstring lists, with ``user`` loaded, and what authentication sets on it (the
    lookup's ``oms_channel_ids``, then ``channel_ids``). ``oms/`` imports no app, so the
    model itself (``tokens.models.APIToken`` in this project) is not named here."""

    pk: Any
    user: AbstractBaseUser
    digest: str
    expires: datetime | None
    revoked: datetime | None
    last_used: datetime | None
    oms_channel_ids: str | None


def readable_channels(auth: object) -> frozenset[int] | None:
    """The channels ``auth`` (a request's ``request.auth``) may read; None for every
    channel: a session, or a token that is not limited to channels."""
    channel_ids = getattr(auth, "channel_ids", None)  # a ChannelScope's, if auth is one
    return frozenset(channel_ids) if channel_ids else None


def parse_ids(ids: str | None) -> frozenset[int]:
    return frozenset(int(value) for value in ids.split(",")) if ids else frozenset()


class CompiledLookup:
    """The token-by-digest query, compiled to SQL once per process and database
    (``oms.internals.CompiledQuery``): building and compiling the queryset (a join, a
    subquery) cost twice as much as running it, on every request."""

    placeholder = "oms-digest"

    def __init__(self, model: type[Model], using: str) -> None:
        queryset = (
            model._default_manager.using(using)
            .select_related("user")
            .annotate(
                oms_channel_ids=channel_ids_subquery(model),
                oms_permission_generation=generation_column(),
            )
            .filter(digest=self.placeholder)[:1]
        )
        self.query = CompiledQuery(queryset)
        self.digest_index = self.query.params.index(self.placeholder)

    def fetch(self, digest: str) -> Token | None:
        """The token of ``digest`` with ``user`` and ``oms_channel_ids`` set, or None."""
        query = self.query
        params = list(query.params)
        params[self.digest_index] = digest
        fetched = fetch_one(query.using, query.sql, params)  # prepared on PostgreSQL
        if fetched is None:
            return None
        row = query.converted(fetched)
        # The query's model is the token model, with the fields Token names, and its
        # select_related "user" an instance of the user model.
        token = cast(Token, query.instance(row))
        token.user = cast(AbstractBaseUser, query.instance(row, "user"))
        token.oms_channel_ids = query.annotation(row, "oms_channel_ids")
        # The generation the user's cached permissions are read under (oms.api.permission_cache).
        set_generation(token.user, query.annotation(row, "oms_permission_generation"))
        return token


@cache
def compiled_lookup(model: type[Model], using: str) -> CompiledLookup:
    return CompiledLookup(model, using)


class TokenAuthentication(authentication.BaseAuthentication):
    """``Token <key>`` or ``Bearer <key>`` (RFC 6750); schemes are case-insensitive.

    No header, or another scheme, leaves the request to the next authenticator. A key
    that is malformed, unknown, expired or revoked, or whose user is inactive, is a 401
    whose message never repeats the key.
    """

    keywords = ("Token", "Bearer")

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, Token] | None:
        key = self.get_key(request)
        if key is None:
            return None
        token = self.get_token(key)
        self.record_use(token, timezone.now())
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keywords[0]

    def get_key(self, request: Request) -> str | None:
        """The key of a ``Token``/``Bearer`` header, None for no header or another scheme."""
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if isinstance(header, bytes):  # WSGI gives latin-1 text; the test client may not
            header = header.decode("latin-1")
        words = header.split()
        if not words or words[0].lower() not in {keyword.lower() for keyword in self.keywords}:
            return None
        if len(words) == 1:
            raise AuthenticationFailed("Invalid token header. No credentials provided.")
        if len(words) > 2:
            raise AuthenticationFailed(
                "Invalid token header. Token string should not contain spaces."
            )
        if not KEY_PATTERN.fullmatch(words[1]):
            raise AuthenticationFailed("Invalid token.")
        return words[1]

    def get_token(self, key: str) -> Token:
        """The key's token, with its user and ``channel_ids``, in one query; or a 401."""
        model = get_token_model()
        digest = key_digest(key)
        token = compiled_lookup(model, router.db_for_read(model)).fetch(digest)
        # The lookup found the digest already; comparing again in constant time guards
        # against a database whose comparison is looser (case-insensitive collations).
        if token is None or not hmac.compare_digest(token.digest, digest):
            raise AuthenticationFailed("Invalid token.")
        self.check_usable(token, timezone.now())
        token.channel_ids = parse_ids(token.oms_channel_ids)
        return token

    @staticmethod
    def check_usable(token: Token, now: datetime) -> None:
        if token.revoked is not None:
            raise AuthenticationFailed("Token revoked.")
        if token.expires is not None and token.expires <= now:
            raise AuthenticationFailed("Token expired.")
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")

    @staticmethod
    def record_use(token: Token, now: datetime) -> None:
        """Set ``last_used`` to now unless it is under a minute old.

        Most requests find it fresh and write nothing. The condition is repeated in the
        UPDATE so that concurrent requests on a stale token change the row once.
        """
        stale_before = now - LAST_USED_PRECISION
        if token.last_used is not None and token.last_used >= stale_before:
            return
        stale = Q(last_used__isnull=True) | Q(last_used__lt=stale_before)
        get_token_model()._default_manager.filter(stale, pk=token.pk).update(last_used=now)
        token.last_used = now
