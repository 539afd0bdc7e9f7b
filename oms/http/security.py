"""Security events (logger ``oms.http.security``): failed authentication and rate limiting.

Each line names the token by what is not secret about it, its ``prefix`` (or its id),
never by its key; the path without the query string (it can carry personal data); and
the client address.
"""

import hashlib
import logging
from typing import Any

from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from oms.http.logging import request_id

security_log = logging.getLogger("oms.security")

# How many leading characters of a key are its non-secret prefix (the token model's
# ``prefix``), and how long a presented value must be before its prefix is logged: all of
# a short value could be secret, a password pasted into the header for instance.
KEY_PREFIX_LENGTH = 8
MIN_KEY_LENGTH = 32
TOKEN_SCHEMES = frozenset({"token", "bearer"})


def client_ip(request: Request) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or with ``NUM_PROXIES`` trusted proxies in
    front, the address they appended to ``X-Forwarded-For`` (DRF's rule)."""
    return BaseThrottle().get_ident(request)


def token_id(auth: Any) -> str | None:
    """A stable, non-secret id of the request's token: its primary key.

    A key that is itself the primary key (DRF's authtoken) is fingerprinted instead, so
    that it reaches neither the cache nor the logs.
    """
    pk = getattr(auth, "pk", None)
    if pk is None:
        return None
    if isinstance(pk, int):
        return str(pk)
    return "sha256:" + hashlib.sha256(str(pk).encode()).hexdigest()[:16]


def token_label(request: Request) -> str:
    """The token as logs name it: its prefix, else its id, else ``"none"``.

    Before authentication has succeeded there is no token, only a presented key: its
    prefix is named when it is long enough to be a key.
    """
    auth = getattr(request, "_auth", None)  # request.auth would authenticate again
    prefix = getattr(auth, "prefix", None)
    if prefix:
        return str(prefix)
    if (identifier := token_id(auth)) is not None:
        return identifier
    key = presented_key(request)
    if key is not None and len(key) >= MIN_KEY_LENGTH:
        return key[:KEY_PREFIX_LENGTH]
    return "none"


def presented_key(request: Request) -> str | None:
    words = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(words) == 2 and words[0].lower() in TOKEN_SCHEMES:
        return words[1]
    return None


def redact(text: str, request: Request) -> str:
    """``text`` without any credential word of the request's Authorization header.

    Words shorter than a key prefix are left alone: no key is that short, and replacing
    them (``Token a b``) would garble the message.
    """
    for word in request.META.get("HTTP_AUTHORIZATION", "").split()[1:]:
        if len(word) >= KEY_PREFIX_LENGTH:
            text = text.replace(word, "[redacted]")
    return text


def event_fields(request: Request) -> dict[str, Any]:
    return {
        "request_id": request_id.get(),  # a record formatted later keeps its request
        "token": token_label(request),
        "path": request.path,
        "client_ip": client_ip(request),
    }


def log_authentication_failure(request: Request, exc: APIException) -> None:
    security_log.warning(
        "authentication failed",
        extra={
            "event": "authentication_failed",
            "reason": redact(str(exc.detail), request),
            **event_fields(request),
        },
    )


def log_rate_limited(request: Request, scope: str, limit: int, reset: int) -> None:
    security_log.warning(
        "rate limit reached",
        extra={
            "event": "rate_limited",
            "reason": f"more than {limit} requests in the {scope!r} window",
            "scope": scope,
            "retry_after": reset,
            **event_fields(request),
        },
    )
