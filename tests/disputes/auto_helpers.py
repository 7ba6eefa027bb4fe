"""Helpers of the automatic-check tests: orders whose upstream answers follow from their data
(the sandbox patterns of orders/payments.py and orders/verifiers.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from disputes.models import AutoCheck, Dispute, DisputeEvent, EventType
from orders import services as order_services
from orders.models import Order, ProductKind
from tests.disputes.factories import file, fund, funded_order
from tests.factories import CardKeyFactory, ProductFactory, UserFactory

D = Decimal
TOPUP_PRICE = D("50.00")
KEY_PRICE = D("48.00")


def topup_order(target: str, *, price: Decimal = TOPUP_PRICE, buyer: Any = None) -> Order:
    """A phone top-up bought, paid and delivered by the worker (called here directly)."""
    product = ProductFactory(kind=ProductKind.PHONE_TOPUP, price=price, face_value=price)
    buyer = buyer or UserFactory()
    order = order_services.order_create(
        buyer=buyer, product=product, quantity=1, topup_target=target
    )
    order = order_services.order_pay(order=order, buyer=buyer)
    order_services.order_topup_deliver(order_id=order.pk)
    fund(product.merchant)
    order.refresh_from_db()
    return order


def key_order(*texts: str, price: Decimal = KEY_PRICE, stock: tuple[str, ...] = ()) -> Order:
    """A card-key order delivered the keys `texts` (in that order); `stock` stays for sale."""
    product = ProductFactory(price=price)
    for text in texts:
        CardKeyFactory(product=product, plain=text)
    order = funded_order(product=product, quantity=len(texts), stock=0)
    for text in stock:
        CardKeyFactory(product=product, plain=text)
    return order


def file_topup(order: Order, **kwargs: Any) -> Dispute:
    values: dict[str, Any] = {"reason": "not_received", "description": "Never arrived."}
    values.update(kwargs)
    return file(order, **values)


def auto_events(dispute: Dispute, type: str = EventType.AUTO_DECIDED) -> list[DisputeEvent]:
    return list(DisputeEvent.objects.filter(dispute=dispute, type=type).order_by("id"))


def checks(dispute: Dispute, kind: str | None = None) -> list[AutoCheck]:
    qs = AutoCheck.objects.filter(dispute=dispute).order_by("id")
    return list(qs.filter(kind=kind) if kind else qs)
