"""Django's Redis cache, failing fast: millisecond timeouts and a circuit breaker.

A Redis that is down refuses connections at once, but one that hangs (paused, swapping,
behind a dead network link) costs every call its full timeout; Django's cache retries
nothing and remembers nothing, so each request paid two timeouts. Here a failed call
opens the breaker: for ``open_seconds`` every call raises :class:`CacheUnavailable` at
once, without touching the network; then one call tries again. Callers fall back
(``oms.api.throttling``: a per-process limit; ``oms.api.permission_cache``: the database), and the
outage is logged once per interval (``oms.db.outages``).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from redis.exceptions import RedisError

from oms.db.outages import Outage
from oms.internals import RedisCacheClient, use_redis_client

redis_outage = Outage("redis")


class CacheUnavailable(Exception):
    """The cache cannot be used now: it failed, or did shortly before."""


class CircuitBreaker:
    """Closed (calls go through), open for ``open_seconds`` after a failure (calls fail
    at once), then half-open: the next call decides."""

    def __init__(self, outage: Outage, open_seconds: float) -> None:
        self.outage = outage
        self.open_seconds = open_seconds
        self.open_until = 0.0
        self.lock = threading.Lock()

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        if now < self.open_until:
            raise CacheUnavailable("the cache failed a moment ago")
        try:
            result = function(*args, **kwargs)
        except (RedisError, OSError) as error:
            with self.lock:
                self.open_until = time.monotonic() + self.open_seconds
            self.outage.failed(error)
            raise CacheUnavailable(str(error)) from error
        if self.open_until:
            with self.lock:
                self.open_until = 0.0
            self.outage.recovered()
        return result


GUARDED = ["add", "get", "set", "touch", "delete", "get_many", "has_key", "incr", "set_many",
           "delete_many", "clear"]  # fmt: skip


class GuardedRedisCacheClient(RedisCacheClient):
    """Django's client with every cache operation behind the breaker."""

    def __init__(self, servers: list[str], *, breaker: CircuitBreaker, **options: Any) -> None:
        super().__init__(servers, **options)
        self.breaker = breaker


def guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: GuardedRedisCacheClient, *args: Any, **kwargs: Any) -> Any:
        return self.breaker.call(method, self, *args, **kwargs)

    return call


for name in GUARDED:
    setattr(GuardedRedisCacheClient, name, guarded(getattr(RedisCacheClient, name)))


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache`` behind a circuit breaker;
    ``OPTIONS["BREAKER_OPEN_SECONDS"]`` (default 5) is how long it stays open."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS", {}))
        open_seconds = float(options.pop("BREAKER_OPEN_SECONDS", 5))
        super().__init__(server, {**params, "OPTIONS": options})
        use_redis_client(
            self,
            functools.partial(
                GuardedRedisCacheClient, breaker=CircuitBreaker(redis_outage, open_seconds)
            ),
        )
