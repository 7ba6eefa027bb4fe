"""The "topping up" notice lives in the part of the order page that reloads itself, so it
leaves the moment the top-up is credited (no flash message left behind)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from orders import services
from orders.models import OrderStatus, ProductKind
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

TOPPING_UP = "The carrier is topping up the number"


def _polled_part(html: str) -> str:
    start = html.index('<div id="order-page"')
    return html[start:]


def test_the_topping_up_notice_is_only_in_the_reloaded_part_and_leaves_when_credited():
    buyer = UserFactory()
    client = Client()
    client.force_login(buyer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    product = ProductFactory(kind=ProductKind.PHONE_TOPUP)
    order = services.order_create(
        buyer=buyer, product=product, quantity=1, topup_target="13800138000"
    )

    # On-commit callbacks do not run inside the test's transaction: the top-up stays pending.
    response = client.post(f"/orders/{order.number}/pay/", follow=True)
    html = response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERY_PENDING
    assert html.count(TOPPING_UP) == 1
    assert TOPPING_UP in _polled_part(html)
    assert "top-up is on its way" not in html

    assert services.order_topup_deliver(order_id=order.pk) is not None
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    reloaded = client.get(f"/orders/{order.number}/", HTTP_HX_REQUEST="true").content.decode()
    assert TOPPING_UP not in reloaded
    assert 'hx-trigger="every 5s"' not in reloaded
