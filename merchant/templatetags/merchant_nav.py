"""The merchant dashboard's navigation (templates/merchant/base.html).

`{% load merchant_nav %}{% merchant_nav %}` lists the dashboard's sections whose URL exists
(a page not built yet is left out rather than breaking every page), marks the current one,
and leaves owner-only sections out for team members."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

register = template.Library()

# (URL name, label, URL names that belong to the section, owner only)
SECTIONS: tuple[tuple[str, Any, tuple[str, ...], bool], ...] = (
    ("home", _("Overview"), ("home",), False),
    ("complaints", _("Complaints"), ("complaints", "complaint"), False),
    ("chat", _("Buyers' messages"), ("chat", "chat_thread"), False),
    (
        "products",
        _("Products and stock"),
        ("products", "product_new", "product_edit", "product_import"),
        False,
    ),
    ("orders", _("Sales orders"), ("orders",), False),
    ("deposit", _("Deposit"), ("deposit",), False),
    ("performance", _("Performance"), ("performance",), False),
    # Everyone on the team sees the list; only the owner gets its forms (merchant/views/team.py).
    ("team", _("Team"), ("team",), False),
    # Everyone on the team sees the settings; only the owner gets the form
    # (merchant/views/reminders.py).
    ("reminders", _("Reminders"), ("reminders",), False),
    ("api_keys", _("API keys"), ("api_keys",), True),
    # Webhooks and group robots, owner only (merchant/views/integrations.py).
    (
        "integrations",
        _("Webhooks and robots"),
        (
            "integrations",
            "integrations_webhook_add",
            "integrations_robot_add",
            "integrations_rotate",
        ),
        True,
    ),
)


def maybe_reverse(name: str) -> str:
    try:
        return reverse(f"merchant:{name}")
    except NoReverseMatch:
        return ""


@register.simple_tag
def merchant_url(name: str) -> str:
    """`{% merchant_url "deposit" as url %}`: the URL, or '' while the page does not exist."""
    return maybe_reverse(name)


@register.inclusion_tag("merchant/_nav.html", takes_context=True)
def merchant_nav(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    current = match.url_name if match is not None and match.namespace == "merchant" else ""
    is_owner = bool(getattr(request, "merchant_is_owner", False))
    items = []
    for name, label, members, owner_only in SECTIONS:
        url = maybe_reverse(name)
        if not url or (owner_only and not is_owner):
            continue
        items.append({"url": url, "label": label, "current": current in members})
    return {"items": items}
