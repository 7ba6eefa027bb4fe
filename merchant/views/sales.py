"""The merchant dashboard's sales orders, /merchant/orders/ (README "Merchant dashboard"): the
shop's sales orders, searched by order number or payment reference and filtered by status and
dates; keys masked; each links to its complaint. The owner and the team members alike, as
GET /api/v1/merchant/orders/ (the same selector)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from kamen_complaints.money import format_yuan
from kamen_complaints.timefmt import shanghai
from merchant.access import current_merchant, merchant_required
from merchant.forms import OrderFilterForm
from orders import selectors
from orders.models import Order, ProductKind

ORDERS_PAGE_SIZE = 25


@dataclass
class OrdersPage:
    """One page of a list without a total count: counting 200,000 orders on every page view
    would cost more than the page itself; `has_next` is read from one extra row."""

    object_list: list[Order]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1


def _page_number(raw: str | None) -> int:
    try:
        number = int(raw or "1")
    except ValueError:
        return 1
    return min(max(number, 1), 10_000)


def _order_row(order: Order) -> dict[str, Any]:
    """What one row shows, formatted here: a page of a busy shop renders 25 of these, and
    plain values render several times faster than template tags and includes."""
    complaint = selectors.order_complaint(order)
    return {
        "order": order,
        "status_label": order.get_status_display(),
        "amount": format_yuan(order.amount),
        "refunded": format_yuan(order.refunded_amount) if order.refunded_amount else "",
        "created_iso": order.created_at.isoformat(),
        "created": shanghai(order.created_at),
        "keys": [key.masked for key in order.card_keys.all()],
        "complaint": complaint,
        "complaint_url": (
            reverse("merchant:complaint", args=[complaint.number]) if complaint else ""
        ),
    }


@merchant_required
@require_GET
def sales_orders(request: HttpRequest) -> HttpResponse:
    merchant = current_merchant(request)
    filter_form = OrderFilterForm(request.GET)
    status_code = 200
    rows: list[dict[str, Any]] = []
    page = OrdersPage(object_list=[], number=1, has_next=False)
    filtered = any(request.GET.get(name) for name in filter_form.fields)
    if filter_form.is_valid():
        values = filter_form.cleaned_data
        qs = selectors.merchant_orders(
            merchant,
            status=values["status"],
            search=values["q"],
            date_from=values["date_from"],
            date_to=values["date_to"],
        )
        number = _page_number(request.GET.get("page"))
        start = (number - 1) * ORDERS_PAGE_SIZE
        found = list(qs[start : start + ORDERS_PAGE_SIZE + 1])
        page = OrdersPage(
            object_list=found[:ORDERS_PAGE_SIZE],
            number=number,
            has_next=len(found) > ORDERS_PAGE_SIZE,
        )
        rows = [_order_row(order) for order in page.object_list]
    else:
        status_code = 400
    context = {
        "filter_form": filter_form,
        "page": page,
        "rows": rows,
        "filtered": filtered,
        "topup_kind": ProductKind.PHONE_TOPUP,
    }
    return render(request, "merchant/orders.html", context, status=status_code)
