"""The order chat on pages beside it (docs/order-chat.md): `{% load order_chat %}` then

- `{% order_chat_card order %}` — the buyer's order page: 联系商家, with the unread count;
- `{% shop_chat_card merchant %}` — the merchant dashboard: the chats waiting for an answer;
- `{{ seconds|waited }}` — a duration as people say it ("2 小时 5 分钟")."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kamen_complaints.errors import DomainError
from orders.models import Merchant, Order
from orders.services import chat

register = template.Library()

DASHBOARD_ROWS = 5


@register.filter
def waited(seconds: Any) -> str:
    """Whole minutes, hours and days: "5 min", "2 h 5 min", "3 d 4 h"; empty for None."""
    if seconds is None or seconds == "":
        return ""
    if hasattr(seconds, "total_seconds"):
        seconds = seconds.total_seconds()
    minutes = max(int(float(seconds) // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return _("%(minutes)s min") % {"minutes": minutes}
    return _("under a minute")


@register.inclusion_tag("orders/_order_chat_card.html", takes_context=True)
def order_chat_card(context: template.Context, order: Order) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    try:
        thread = chat.order_thread(order=order, user=user)  # type: ignore[arg-type]
    except DomainError:
        return {"show": False}
    return {
        "show": True,
        "order": order,
        "count": len(thread.messages),
        "unread": thread.unread,
        "waiting": thread.state.waiting_since if thread.state else None,
        "url": reverse("orders:chat", args=[order.number]),
    }


@register.inclusion_tag("merchant/_chat_card.html")
def shop_chat_card(merchant: Merchant) -> dict[str, Any]:
    inbox = chat.shop_chat_inbox(merchant)
    now = timezone.now()
    rows = [
        {"thread": t, "waited": (now - t.waiting_since) if t.waiting_since else None}
        for t in inbox[:DASHBOARD_ROWS]
    ]
    return {"rows": rows, "count": chat.shop_chat_waiting_count(merchant)}
