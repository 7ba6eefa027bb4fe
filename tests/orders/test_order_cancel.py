"""An unpaid order shows until when it may be paid and can be cancelled by its buyer; the
clock cancels what is still unpaid then (orders.services.order_cancel, orders_cancel_unpaid)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from orders import services
from orders.models import PAYMENT_WINDOW, CardKeyStatus, Order, OrderStatus, StatusEvent
from orders.tasks import orders_sweep
from tests.factories import CardKeyFactory, ProductFactory, UserFactory
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db


def _pending(buyer=None) -> Order:
    product = ProductFactory()
    CardKeyFactory(product=product)
    return services.order_create(buyer=buyer or UserFactory(), product=product, quantity=1)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_the_order_page_shows_the_payment_deadline_and_cancels_the_order():
    order = _pending()
    client = _client(order.buyer)

    page = client.get(f"/orders/{order.number}/").content.decode()
    assert "Pay by" in page
    assert order.pay_by.isoformat() in page  # the countdown's deadline
    assert f'action="/orders/{order.number}/cancel/"' in page
    assert "Pay by" in client.get("/orders/").content.decode()

    response = client.post(f"/orders/{order.number}/cancel/")
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    event = StatusEvent.objects.get(order=order)
    assert (event.from_status, event.to_status, event.actor) == (
        "pending_payment",
        "cancelled",
        order.buyer,
    )
    page = client.get(f"/orders/{order.number}/").content.decode()
    assert "cancelled before it was paid" in page
    assert "/cancel/" not in page and f"/orders/{order.number}/pay/" not in page
    # The key it would have taken is still for sale.
    assert order.product.card_keys.get().status == CardKeyStatus.AVAILABLE


def test_a_cancelled_order_cannot_be_paid_and_says_so():
    order = _pending()
    client = _client(order.buyer)
    services.order_cancel(order=order, buyer=order.buyer)

    response = client.post(f"/orders/{order.number}/pay/")
    assert response.status_code == 409
    assert "was cancelled" in response.content.decode()
    response = client.get(f"/orders/{order.number}/pay/", follow=True)
    assert "is cancelled" in response.content.decode()
    assert "already paid" not in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and order.paid_at is None


def test_a_paid_order_is_not_cancelled_and_the_refusal_is_on_the_page():
    order = paid_order()
    response = _client(order.buyer).post(f"/orders/{order.number}/cancel/")
    assert response.status_code == 409
    assert "a paid order is not cancelled" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED


def test_another_buyers_order_cannot_be_cancelled():
    order = _pending()
    assert _client(UserFactory()).post(f"/orders/{order.number}/cancel/").status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_past_its_deadline_an_order_is_not_paid_and_the_clock_cancels_it():
    order = _pending()
    fresh = _pending()
    later = order.created_at + PAYMENT_WINDOW + timedelta(seconds=1)
    Order.objects.filter(pk=fresh.pk).update(created_at=timezone.now() + timedelta(minutes=5))

    with time_machine.travel(later, tick=False):
        client = _client(order.buyer)
        response = client.post(f"/orders/{order.number}/pay/")
        assert response.status_code == 409
        assert "ran out" in response.content.decode()
        assert orders_sweep()["unpaid_cancelled"] == 1

    order.refresh_from_db()
    fresh.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and order.paid_at is None
    assert fresh.status == OrderStatus.PENDING_PAYMENT
    assert StatusEvent.objects.get(order=order).reason == "not paid in time"


def test_the_api_shows_pay_by_and_cancels(client_as):
    order = _pending()
    api = client_as(order.buyer)

    shown = api.get(f"/api/v1/orders/{order.number}/").json()
    assert shown["pay_by"] is not None
    response = api.post(f"/api/v1/orders/{order.number}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["pay_by"] is None
    again = api.post(f"/api/v1/orders/{order.number}/cancel/")
    assert again.status_code == 409
    assert again.json()["code"] == "order_cancelled"
