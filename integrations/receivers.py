"""What the integrations app hears from the marketplace below it (orders.signals)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse

from integrations import events

EXCERPT_LENGTH = 120


def _order_url(number: str) -> str:
    """The order among the shop's sales orders (the merchant dashboard's search by number)."""
    try:
        path = reverse("merchant:orders")
    except NoReverseMatch:
        return ""
    return f"{settings.SITE_URL}{path}?{urlencode({'q': number})}"


def order_message_posted_event(sender: object, *, message: Any, **kwargs: Any) -> int:
    """orders.signals.order_message_posted (after the message's commit): the shop's
    `order.message` event — the order, who wrote (buyer or shop), the first characters of the
    message and its time. Once per message (the key names it)."""
    order = message.order
    body = " ".join(str(message.body or "").split())
    excerpt = body if len(body) <= EXCERPT_LENGTH else body[: EXCERPT_LENGTH - 1] + "…"
    with transaction.atomic():
        return events.emit(
            merchant_id=order.merchant_id,
            type=events.ORDER_MESSAGE,
            data={
                "order": order.number,
                "side": str(message.side),
                "excerpt": excerpt,
                "at": message.created_at,
                "url": _order_url(order.number),
            },
            key=f"order-message:{message.pk}",
        )
