"""Password guessing: the client address behind trusted proxies, and the per-account lockout.

Every login path — the login page, the admin login and the API token endpoint — asks
`login_lockout_wait()` before it tries a password. Failures are counted by a receiver of
Django's `user_login_failed` signal, which `authenticate()` sends for all three, so a new
login path only has to ask before it authenticates. Design and numbers:
docs/security/authentication.md.

Two counters per attempted username, both in Django's cache (shared by every process in
production, like the throttle counters):

- username + client address: locks after LOGIN_FAILURES_PER_ACCOUNT_IP failures. Someone
  guessing from one address is stopped quickly, and only that address is locked out.
- username alone: locks after LOGIN_FAILURES_PER_ACCOUNT failures from any addresses. It stops
  a guesser spreading over many addresses; the higher number is what it costs an attacker to
  lock the owner out too, for LOGIN_LOCKOUT_MINUTES.

A lock lasts LOGIN_LOCKOUT_MINUTES from the failure that set it; attempts refused while locked
are not counted (they never reach a password check), so a lock never extends itself. A
successful login clears the username + address counter of that address.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

_PREFIX = "login-lockout"


def client_ip(request: HttpRequest) -> str:
    """The caller's address as the throttles see it: REMOTE_ADDR, or with NUM_PROXIES = n > 0
    the n-th address from the right of X-Forwarded-For (the one our own proxy appended).
    With NUM_PROXIES = 0 the header is ignored entirely: a client can write anything in it."""
    return str(BaseThrottle().get_ident(request))  # type: ignore[arg-type]


def _generation_key(username: str) -> str:
    # Hashed: a username is user input and cache backends (memcached) restrict key characters.
    # Case-folded, so "Admin" and "admin" share one counter.
    account = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return f"{_PREFIX}:gen:{account}"


def _account(username: str) -> str:
    # The generation changes when staff reset the account, which drops every counter and lock
    # of it at once, whatever the address.
    key = _generation_key(username)
    return f"{key.rsplit(':', 1)[1]}.{cache.get(key, '0')}"


@dataclass(frozen=True)
class _Scope:
    name: str
    counter: str
    lock: str
    limit: int


def _scopes(username: str, ip: str) -> tuple[_Scope, _Scope]:
    """The username + address scope and the username-alone scope."""
    account = _account(username)
    address = hashlib.sha256(ip.encode()).hexdigest()[:16]
    return (
        _Scope(
            "username+ip",
            f"{_PREFIX}:fail:{account}:{address}",
            f"{_PREFIX}:lock:{account}:{address}",
            settings.LOGIN_FAILURES_PER_ACCOUNT_IP,
        ),
        _Scope(
            "username",
            f"{_PREFIX}:fail:{account}",
            f"{_PREFIX}:lock:{account}",
            settings.LOGIN_FAILURES_PER_ACCOUNT,
        ),
    )


def _lockout_seconds() -> int:
    return int(settings.LOGIN_LOCKOUT_MINUTES * 60)


def login_lockout_wait(request: HttpRequest, *, username: str) -> int | None:
    """Seconds until `username` may try a password again from this client, or None."""
    if not username:
        return None
    now = time.time()
    waits = [
        until - now
        for scope in _scopes(username, client_ip(request))
        if (until := cache.get(scope.lock)) is not None and until > now
    ]
    if not waits:
        return None
    return max(1, math.ceil(max(waits)))


def login_lockout_message(wait: int) -> str:
    return _(
        "Too many failed logins for this account; try again in %(minutes)s minutes "
        "or ask the platform's staff to unlock it."
    ) % {"minutes": max(1, math.ceil(wait / 60))}


def login_failure_record(request: HttpRequest, *, username: str) -> None:
    """Count one wrong password for `username` from this client; lock at the limits."""
    if not username:
        return
    ip = client_ip(request)
    seconds = _lockout_seconds()
    for scope in _scopes(username, ip):
        # add() starts a window on the first failure; incr() keeps its expiry (locmem, Redis).
        cache.add(scope.counter, 0, timeout=seconds)
        try:
            failures = cache.incr(scope.counter)
        except ValueError:  # expired between add() and incr()
            cache.set(scope.counter, 1, timeout=seconds)
            failures = 1
        now = time.time()
        if failures >= scope.limit and (cache.get(scope.lock) or 0) <= now:
            cache.set(scope.lock, now + seconds, timeout=seconds)
            cache.delete(scope.counter)
            logger.warning(
                "login locked for %s minutes: username=%r ip=%s scope=%s failures=%s",
                settings.LOGIN_LOCKOUT_MINUTES,
                username,
                ip,
                scope.name,
                failures,
            )


def login_success_record(request: HttpRequest, *, username: str) -> None:
    """The owner is here: forget this address's failures for the account (never the
    username-alone counter or lock, which other addresses earned)."""
    cache.delete(_scopes(username, client_ip(request))[0].counter)


@dataclass(frozen=True)
class LockoutStatus:
    scope: str
    failures: int
    locked_seconds: int | None


def login_lockout_status(*, username: str, ip: str | None = None) -> list[LockoutStatus]:
    """For staff (manage.py login_lockout): the username-alone counter and lock, and those of
    username + address when an address is given."""
    now = time.time()
    pair, alone = _scopes(username, ip or "")
    status = []
    for scope in (pair, alone) if ip else (alone,):
        until = cache.get(scope.lock)
        status.append(
            LockoutStatus(
                scope=f"username+{ip}" if scope is pair else scope.name,
                failures=int(cache.get(scope.counter) or 0),
                locked_seconds=math.ceil(until - now) if until and until > now else None,
            )
        )
    return status


def login_lockout_reset(*, username: str) -> None:
    """Unlock `username` everywhere: every counter and lock of it, from every address (a new
    generation; the old entries expire on their own)."""
    cache.set(_generation_key(username), secrets.token_hex(8), timeout=None)
    logger.info("login lockout reset: username=%r", username)


@receiver(user_login_failed, dispatch_uid="accounts.logins.failed")
def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = credentials.get("username")
    if request is not None and isinstance(username, str):
        login_failure_record(request, username=username)


@receiver(user_logged_in, dispatch_uid="accounts.logins.succeeded")
def _on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None:
        login_success_record(request, username=user.get_username())
