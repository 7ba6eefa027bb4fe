"""The cache backend for Redis (CACHE_URL=rediscache://…): Django's RedisCache that degrades
instead of failing when Redis does not answer (README "Operating", when something fails;
docs/load.md "Faults").

Nothing the platform keeps in the cache is the only copy of anything: throttle and lockout
counters, the SMS limits, the shop records' figures, the PDF review's drawing lock and the
once-a-minute audit of a refused API key. So while Redis is down (refused, timed out, still
loading its AOF after a restart) every call answers as if the cache were empty:

- reads are misses (get → the default, get_many → {}, has_key → False);
- writes are dropped (set, set_many, delete, touch, clear);
- add → True: the key was not there, as far as anyone can tell. So the DRF throttles, the login
  lockout and the per-number SMS limits fail OPEN (a counter that cannot be kept does not
  refuse anybody; the password check, the provider's own flow control and the audit log still
  stand), the PDF review's drawing lock lets the drawing go ahead (at worst two processes draw
  the same page once each), and a refused API key's use is audited every time instead of once
  a minute (more audit rows, never fewer);
- incr/decr → the delta, a counter that starts from nothing (Django's own contract raises
  ValueError for a missing key; every caller here handles both, and no caller that forgot
  ValueError can fail a page).

Each failure is logged (a warning at most once per WARN_EVERY seconds per process, with the
number of calls degraded since the last one), and after a failure Redis is not asked again for
BACKOFF_SECONDS, so a Redis that hangs instead of refusing costs one socket timeout per process
per back-off, not one per call. The socket timeouts themselves are short (0.5 s, settings.py):
a refused connection costs a page a millisecond, a hung Redis half a second once a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# What "Redis does not answer" raises: redis-py's connection and timeout errors (BusyLoadingError,
# Redis reading its AOF after a restart, is a ConnectionError) and a bare socket error or
# timeout that escapes them.
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)
BACKOFF_SECONDS = 1.0
WARN_EVERY = 10.0

T = TypeVar("T")


class DegradingRedisCache(RedisCache):
    """RedisCache whose every call answers as an empty cache while Redis is unavailable."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._down_until = 0.0
        self._warned_at = 0.0
        self._degraded = 0
        self._lock = threading.Lock()

    def _degrade(self, name: str, fallback: T, call: Callable[[], T]) -> T:
        if time.monotonic() < self._down_until:
            self._note(name, None)
            return fallback
        try:
            return call()
        except UNAVAILABLE as error:
            self._down_until = time.monotonic() + BACKOFF_SECONDS
            self._note(name, error)
            return fallback

    def _note(self, name: str, error: BaseException | None) -> None:
        with self._lock:
            self._degraded += 1
            now = time.monotonic()
            if error is None or now - self._warned_at < WARN_EVERY:
                return
            self._warned_at, count, self._degraded = now, self._degraded, 0
        logger.warning(
            "cache unavailable (%s on %s: %s): reads miss and writes are dropped; "
            "%s cache calls degraded since the last warning",
            type(error).__name__,
            name,
            error,
            count,
        )

    def add(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        return self._degrade(
            "add", True, lambda: super(DegradingRedisCache, self).add(key, value, timeout, version)
        )

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._degrade(
            "get", default, lambda: super(DegradingRedisCache, self).get(key, default, version)
        )

    def set(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> None:
        self._degrade(
            "set", None, lambda: super(DegradingRedisCache, self).set(key, value, timeout, version)
        )

    def touch(self, key: Any, timeout: Any = None, version: int | None = None) -> bool:
        return self._degrade(
            "touch", False, lambda: super(DegradingRedisCache, self).touch(key, timeout, version)
        )

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._degrade(
            "delete", False, lambda: super(DegradingRedisCache, self).delete(key, version)
        )

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        return self._degrade(
            "get_many", {}, lambda: super(DegradingRedisCache, self).get_many(keys, version)
        )

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._degrade(
            "has_key", False, lambda: super(DegradingRedisCache, self).has_key(key, version)
        )

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._degrade(
            "incr", delta, lambda: super(DegradingRedisCache, self).incr(key, delta, version)
        )

    def set_many(
        self, data: dict[Any, Any], timeout: Any = None, version: int | None = None
    ) -> list[Any]:
        return self._degrade(
            "set_many",
            list(data),
            lambda: super(DegradingRedisCache, self).set_many(data, timeout, version),
        )

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        self._degrade(
            "delete_many", None, lambda: super(DegradingRedisCache, self).delete_many(keys, version)
        )

    def clear(self) -> None:
        self._degrade("clear", None, lambda: super(DegradingRedisCache, self).clear())

    def assume_up(self) -> None:
        """Forget an earlier failure: the next call asks Redis again (tests)."""
        self._down_until = 0.0
