"""The shop record on pages outside the disputes app: `{% load shop_record %}` then
`{% shop_record_summary product.merchant %}` (the product page). Dependencies point from
disputes to orders, never back: the orders app's views and models know nothing of
complaints; only its template asks this library, which calls the one selector
(disputes.selectors.shop_record, cached)."""

from __future__ import annotations

from typing import Any

from django import template

from disputes.selectors import SHOP_RECORD_MIN_ORDERS, shop_record

register = template.Library()


@register.inclusion_tag("disputes/_shop_summary.html")
def shop_record_summary(merchant: Any) -> dict[str, Any]:
    return {
        "merchant": merchant,
        "record": shop_record(merchant.pk),
        "min_orders": SHOP_RECORD_MIN_ORDERS,
    }


@register.filter
def percent(value: float | None) -> str:
    """0.875 → `87.5%`; an em dash when there is no figure."""
    if value is None:
        return "—"
    return f"{value * 100:.1f}".removesuffix(".0") + "%"


@register.filter
def figure(value: float | None, places: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:.{places}f}"
