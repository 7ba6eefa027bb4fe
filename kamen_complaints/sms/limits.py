"""Per-number SMS limits: how many messages one phone number may get per minute, hour and day
(settings.SMS_RATE_LIMITS, one set for codes and one for notices), counted in the cache
(Redis in production), whoever asks, so a form cannot be used to flood somebody's phone and
the provider's own flow control is never what refuses.

Counters are fixed windows (this minute, this hour, this day in Shanghai), raised atomically
with the cache's incr; a send refused by one window gives back what it took from the others."""

from __future__ import annotations

import contextlib
import hashlib
import math
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

CODE = "code"
NOTICE = "notice"


def _incr(key: str, timeout: int) -> int:
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def take(phone: str, purpose: str) -> int | None:
    """Count one message of `purpose` to `phone`. None: it may go; else the seconds until it
    may (and nothing is counted)."""
    digest = hashlib.sha256(phone.encode()).hexdigest()[:32]
    moment = timezone.localtime()
    now = moment.timestamp()
    # Windows follow the platform's clock (a day is Shanghai's day, midnight to midnight).
    offset = int((moment.utcoffset() or timedelta(0)).total_seconds())
    taken: list[str] = []
    for window, limit in sorted(settings.SMS_RATE_LIMITS[purpose].items()):
        start = int((now + offset) // window) * window - offset
        key = f"sms-limit:{purpose}:{digest}:{window}:{start}"
        count = _incr(key, window + 60)
        taken.append(key)
        if count > limit:
            for done in taken:
                with contextlib.suppress(ValueError):  # expired meanwhile
                    cache.decr(done)
            return max(1, math.ceil(start + window - now))
    return None


def wait_message(seconds: int) -> str:
    """The refusal, in words a person reads (上限 per number, and when to try again)."""
    if seconds < 120:
        when = ngettext("%(n)s second", "%(n)s seconds", seconds) % {"n": seconds}
    elif seconds < 2 * 3600:
        minutes = math.ceil(seconds / 60)
        when = ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes}
    else:
        hours = math.ceil(seconds / 3600)
        when = ngettext("%(n)s hour", "%(n)s hours", hours) % {"n": hours}
    return _(
        "This number has had as many text messages as it may get for now; try again in %(when)s."
    ) % {"when": when}
