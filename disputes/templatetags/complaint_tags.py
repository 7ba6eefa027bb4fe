"""The complaint panel of the order page: `{% load complaint_tags %}{% complaint_panel order %}`.

Orders must not import disputes (dependencies point disputes → orders), so the order page
leaves a slot (templates/orders/_order_actions.html) and this tag fills it. What it shows is
worked out by the filing rules themselves (disputes.services.filing.filing_state): the window
counted as `window_for` counts it, and the refusal `dispute_file` would give — so the page
never offers a button the service would refuse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.models import Status
from disputes.presenting import short_time, status_summary
from disputes.services.blacklist import complaint_ban
from disputes.services.filing import filing_state
from disputes.services.formatting import local
from orders.models import Order

register = template.Library()


def time_left(due: datetime, now: datetime | None = None) -> str:
    """`2 天 21 小时` / `2 days 21 h`: days and hours, or hours and minutes under a day."""
    seconds = max(int((due - (now or timezone.now())).total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)s min") % {"minutes": max(minutes, 1)}


@register.inclusion_tag("disputes/_order_complaint_panel.html", takes_context=True)
def complaint_panel(context: template.Context, order: Order) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if order.paid_at is None or user is None or not user.is_authenticated:
        return {"show": False}
    state = filing_state(buyer=user, order=order)
    complaint = state.complaint
    live = complaint if complaint is not None and complaint.status != Status.WITHDRAWN else None
    panel: dict[str, Any] = {
        "show": True,
        "order": order,
        "state": state,
        "complaint": live,
        "withdrawn": complaint if live is None and complaint is not None else None,
        "closes": short_time(state.closes_at),
    }
    if live is not None:
        panel["summary"] = status_summary(live)
    elif state.can_file and state.closes_at is not None and state.opens_at is not None:
        panel["left"] = time_left(state.closes_at)
        panel["total_seconds"] = int((state.closes_at - state.opens_at).total_seconds())
        panel["remaining_seconds"] = max(int((state.closes_at - timezone.now()).total_seconds()), 0)
    elif state.refusal is not None and state.refusal.code == "window_closed":
        panel["closed"] = True
    return panel


@register.inclusion_tag("disputes/_blacklist_notice.html", takes_context=True)
def blacklist_notice(context: template.Context) -> dict[str, Any]:
    """Before buying and before paying (the product page, the payment page: `orders`
    templates): a blacklisted buyer is told they cannot complain until the entry ends — the
    rule the filing enforces (disputes.services.blacklist.complaint_ban). Nothing otherwise."""
    request = context.get("request")
    entry = complaint_ban(getattr(request, "user", None))
    if entry is None:
        return {"entry": None}
    return {"entry": entry, "until": local(entry.expires_at)}
