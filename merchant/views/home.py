"""The merchant dashboard's home, /merchant/ (README "Merchant dashboard"): one screen with
the open complaints by the nearest deadline, today's orders, stock warnings, the deposit and
the verification status. The shop's owner and its team members alike."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from disputes import selectors
from escrow.selectors import deposit_summary
from merchant.access import current_merchant, merchant_required
from merchant.views.complaints import AMBER_HOURS, RED_HOURS, inbox_row
from orders import selectors as order_selectors

HOME_COMPLAINTS = 5
HOME_ORDERS = 5
HOME_CASES = 3


@merchant_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    merchant = current_merchant(request)
    today = timezone.localdate()
    orders_today = order_selectors.merchant_orders(merchant, date_from=today, date_to=today)
    verification_warning = bool(
        merchant.reverification_due
        and merchant.reverification_due - timezone.now() <= timedelta(days=30)
    )
    context = {
        "merchant": merchant,
        "rows": [inbox_row(d) for d in selectors.merchant_inbox(merchant.pk)[:HOME_COMPLAINTS]],
        "counts": selectors.merchant_status_counts(merchant.pk),
        "orders_today": list(orders_today[:HOME_ORDERS]),
        "orders_today_count": orders_today.count(),
        "low_stock": list(order_selectors.merchant_low_stock(merchant)[:5]),
        "low_stock_threshold": order_selectors.LOW_STOCK_THRESHOLD,
        "deposit": deposit_summary(merchant),
        "verification_warning": verification_warning,
        # The shop's collective cases not closed yet, with their figures (docs/collective-cases.md).
        "collective_cases": list(
            selectors.collective_cases(merchant.pk).exclude(status="closed")[:HOME_CASES]
        ),
        "amber_hours": AMBER_HOURS,
        "red_hours": RED_HOURS,
    }
    return render(request, "merchant/home.html", context)
