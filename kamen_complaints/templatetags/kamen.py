"""Template helpers shared by every page: money, times in Asia/Shanghai, countdowns.

`{% load kamen %}` then `{{ amount|yuan }}`, `{% when order.paid_at %}`,
`{% countdown complaint.merchant_response_due total=window %}`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

from kamen_complaints.money import format_yuan
from kamen_complaints.timefmt import shanghai

register = template.Library()


@register.filter
def yuan(value: Decimal | int | str | None) -> str:
    """`Decimal("12.5")` → `¥12.50`; empty for None or anything that is not a number."""
    if value is None or value == "":
        return ""
    try:
        return format_yuan(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return ""


# `{{ order.paid_at|shanghai }}`: `Y-m-d H:i` in Asia/Shanghai (kamen_complaints/timefmt.py).
register.filter("shanghai", shanghai)


@register.simple_tag
def when(value: datetime | None) -> SafeString | str:
    """`<time datetime="ISO">Y-m-d H:i</time>` in Asia/Shanghai, or an em dash for None."""
    if not isinstance(value, datetime):
        return "—"
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), shanghai(value))


@register.simple_tag
def countdown(
    due: datetime | None,
    total: timedelta | None = None,
    start: datetime | None = None,
    label: str = "",
    amber_hours: float = 0,
    red_hours: float = 0,
) -> SafeString | str:
    """A deadline as a bar and the time left (docs/style.md: a countdown and a bar, not
    only a timestamp). The bar shows the share of the window still left: pass the window's
    length (`total`) or its start (`start`); without either the bar is full until due.
    With thresholds (the merchant's inbox: `amber_hours=4 red_hours=1`) it turns amber, then
    red, when that little time is left, whatever the window's length.

    JS (static/js/site.js) keeps the bar moving; without JS it is right at render time.
    Written here rather than as an included template: lists show one per row, and a
    template per row cost more than the rest of the row (bench buyer_pages)."""
    c = countdown_state(due, total, start, label, amber_hours, red_hours)
    if c["due"] is None:
        return ""
    modifier = next(
        (m for m in ("overdue", "red", "amber", "urgent") if c[m]),
        "",
    )
    text = _("overdue by %(human)s") if c["overdue"] else _("%(human)s left")
    due = c["due"]
    # One escape per piece of text (the numbers are ints): a format_html per piece cost more
    # than the rest of the row.
    return mark_safe(  # noqa: S308 — every text below is escaped
        f'<div class="countdown{f" countdown--{modifier}" if modifier else ""}" data-countdown'
        f' data-due="{due.isoformat()}" data-total="{c["total_seconds"]}"'
        + (f' data-amber="{c["amber_seconds"]}"' if c["amber_seconds"] else "")
        + (f' data-red="{c["red_seconds"]}"' if c["red_seconds"] else "")
        + ">"
        + (f'<span class="countdown__label">{escape(c["label"])}</span>' if c["label"] else "")
        + f'<progress class="countdown__bar" max="{c["total_seconds"]}"'
        f' value="{c["remaining_seconds"]}" aria-label="{escape(_("Time left"))}">'
        f'{c["left_percent"]}%</progress><span class="countdown__text">'
        f"{escape(text % {'human': c['human']})} "
        '<span class="countdown__clock" data-countdown-clock aria-hidden="true"></span>'
        f" · {escape(_('due'))} {when(due)}</span></div>"
    )


def countdown_state(
    due: datetime | None,
    total: timedelta | None = None,
    start: datetime | None = None,
    label: str = "",
    amber_hours: float = 0,
    red_hours: float = 0,
) -> dict[str, Any]:
    """What `countdown` shows, as figures: the time left, the bar's share, the colours."""
    if due is None:
        return {"due": None}
    now = timezone.now()
    remaining = (due - now).total_seconds()
    if total is None and start is not None:
        total = due - start
    total_seconds = max(total.total_seconds(), 1.0) if total else max(remaining, 1.0)
    left = max(remaining, 0.0)
    overdue = remaining <= 0
    return {
        "due": due,
        "label": label,
        "overdue": overdue,
        "remaining_seconds": int(left),
        "total_seconds": int(total_seconds),
        "left_percent": round(min(left / total_seconds, 1.0) * 100),
        "urgent": not overdue and left <= total_seconds * 0.2,
        "amber_seconds": int(amber_hours * 3600),
        "red_seconds": int(red_hours * 3600),
        "amber": bool(amber_hours) and not overdue and left < amber_hours * 3600,
        "red": bool(red_hours) and not overdue and left < red_hours * 3600,
        "human": timesince(due, now, depth=2) if overdue else timeuntil(due, now, depth=2),
    }
