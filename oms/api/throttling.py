"""Per-token rate limits, counted in the shared cache (Redis when ``REDIS_URL`` is set).

DRF's ``SimpleRateThrottle`` keeps a list of request times per client in one cache value,
read and written back (get, then set): concurrent workers overwrite each other's counts,
and at 1000/minute the value holds a thousand timestamps. Here each client has one
integer per scope and fixed window, raised with the cache's atomic ``incr`` (Redis INCR),
so that every worker and host sharing the cache counts the same requests.

A fixed window lets a client spend its budget at the end of one window and again at the
start of the next; the price of an exact, one-integer count.

While the shared cache is unavailable (``oms.db.cache.CacheUnavailable``) each process counts
its own requests, in memory, against its share of the rate (the rate divided by
``WEB_CONCURRENCY``): a limit that holds roughly rather than none.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from oms.db.cache import CacheUnavailable
from oms.http.security import client_ip, log_rate_limited, token_id

if TYPE_CHECKING:  # DRF's settings import these modules while loading views
    from collections.abc import Iterable

    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

# This process's own counts, while the shared cache is unavailable.
FALLBACK_COUNTS = LocMemCache("oms-rate-limit-fallback", {"OPTIONS": {"MAX_ENTRIES": 100_000}})

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE = re.compile(r"(?P<limit>\d+)/(?P<period>[smhd])[a-z]*")


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds


@functools.cache
def parse_rate(rate: str) -> Rate:
    """DRF's notation: ``<requests>/<period>``, the period a second, minute, hour or day
    (``1000/minute``, ``60/m``)."""
    match = RATE.fullmatch(rate.strip().lower())
    if match is None:
        raise ImproperlyConfigured(f"Invalid throttle rate {rate!r}: use e.g. '1000/minute'.")
    return Rate(int(match["limit"]), PERIODS[match["period"]])


@dataclass(frozen=True)
class Usage:
    """A client's count in the current window, as the ``RateLimit-*`` headers report it."""

    limit: int
    count: int
    reset: int  # whole seconds until the window ends, at least 1

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    def headers(self) -> dict[str, str]:
        """The IETF draft's fields (draft-ietf-httpapi-ratelimit-headers)."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


def count_request(counter: BaseCache, key: str, rate: Rate, now: float) -> Usage:
    """Count one request against ``key`` in the window ``now`` falls in."""
    window, elapsed = divmod(now, rate.period)
    reset = max(1, math.ceil(rate.period - elapsed))
    window_key = f"{key}:{int(window)}"
    try:
        count = counter.incr(window_key)
    except ValueError:  # the window's first request
        # The key outlives its window by a period: a host whose clock is a little behind
        # never increments a key that has just expired (Redis would recreate it without
        # an expiry).
        if counter.add(window_key, 1, timeout=reset + rate.period):
            count = 1
        else:  # another worker counted the first request
            count = counter.incr(window_key)
    return Usage(rate.limit, count, reset)


def identity(request: Request) -> str:
    """Whose budget a request spends: its token's, else its session user's, else its
    address's. Two tokens of one user have a budget each."""
    token = token_id(request.auth)
    if token is not None:
        return f"token:{token}"
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"ip:{client_ip(request)}"


class ScopedRateThrottle(BaseThrottle):
    """Limits a view's requests per client to the rate of the view's ``throttle_scope``
    in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``; a view without a scope is not limited.

    When the cache is unavailable the process counts alone against its share of the rate
    (module docstring); a cache failing otherwise lets the request through (and is
    logged): the cache failing should not take the API down with it.
    """

    cache_alias = "default"
    timer = staticmethod(time.time)  # replaceable by tests

    def __init__(self) -> None:
        self.usage: Usage | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        scope = getattr(view, "throttle_scope", None)
        if not scope:
            return True
        rate = parse_rate(scope_rate(scope))
        key = f"ratelimit:{scope}:{identity(request)}"
        try:
            self.usage = count_request(caches[self.cache_alias], key, rate, self.timer())
        except CacheUnavailable:  # logged by oms.db.cache, once per interval
            share = Rate(max(1, rate.limit // settings.WEB_CONCURRENCY), rate.period)
            self.usage = count_request(FALLBACK_COUNTS, key, share, self.timer())
        except Exception:  # any other cache failure: a full memory, a bug
            logger.exception("Rate limit not applied: the cache failed")
            return True
        if not self.usage.exceeded:
            return True
        if self.usage.count == self.usage.limit + 1:  # once per client and window
            log_rate_limited(request, scope, self.usage.limit, self.usage.reset)
        return False

    def wait(self) -> int | None:
        return self.usage.reset if self.usage else None


def scope_rate(scope: str) -> str:
    """The scope's rate, read per request so that settings changes (and tests) apply."""
    try:
        return str(api_settings.DEFAULT_THROTTLE_RATES[scope])
    except KeyError:
        raise ImproperlyConfigured(f"No throttle rate for the scope {scope!r}.") from None


def rate_limit_headers(throttles: Iterable[BaseThrottle]) -> dict[str, str]:
    """``RateLimit-*`` of the request's most constrained counted limit, if any."""
    usages = [usage for throttle in throttles if (usage := getattr(throttle, "usage", None))]
    if not usages:
        return {}
    return min(usages, key=lambda usage: usage.remaining).headers()
