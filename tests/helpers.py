"""Shortcuts that run real services, so tests start from states the platform can reach."""

from __future__ import annotations

from django.contrib.auth.models import User

from orders import services
from orders.models import Order, Product
from tests.factories import CardKeyFactory, ProductFactory, UserFactory


def paid_order(
    *,
    buyer: User | None = None,
    product: Product | None = None,
    quantity: int = 1,
    stock: int | None = None,
) -> Order:
    """An order bought and paid through the services, its keys delivered."""
    product = product or ProductFactory()
    for _ in range(stock if stock is not None else quantity):
        CardKeyFactory(product=product)
    order = services.order_create(buyer=buyer or UserFactory(), product=product, quantity=quantity)
    return services.order_pay(order=order, buyer=order.buyer)
