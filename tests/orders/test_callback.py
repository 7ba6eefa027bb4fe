"""POST /api/v1/payments/sandbox/callback/: the provider's signed payment notification.

A callback that arrives twice changes nothing the second time (dujiaoka #97 sent two sets of
keys for one order); a second, different payment of a paid order is refunded."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import Resolver404, clear_url_caches, resolve
from rest_framework.test import APIClient

from orders.models import CardKey, CardKeyStatus, Order, OrderStatus, Payment, Refund
from orders.payments import sandbox_callback_signature
from tests.factories import CardKeyFactory, OrderFactory, ProductFactory
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db

URL = "/api/v1/payments/sandbox/callback/"


def signed(order: Order, reference: str = "SBXCALLBACK0001", amount: str | None = None) -> dict:
    value = Decimal(amount) if amount is not None else order.amount
    return {
        "order": order.number,
        "reference": reference,
        "amount": f"{value:.2f}",
        "signature": sandbox_callback_signature(
            order=order.number, reference=reference, amount=value
        ),
    }


def post(body: dict) -> object:
    return APIClient().post(URL, body, format="json")


@pytest.fixture
def order() -> Order:
    order = OrderFactory(quantity=2, amount=Decimal("96.00"))
    CardKeyFactory.create_batch(3, product=order.product)
    return order


def test_a_signed_callback_pays_and_delivers_the_order(order):
    response = post(signed(order))
    assert response.status_code == 200
    assert response.json() == {"order": order.number, "status": "delivered"}
    order.refresh_from_db()
    assert (order.payment_reference, order.payment_channel) == ("SBXCALLBACK0001", "sandbox")
    assert order.card_keys.count() == 2


def test_a_callback_delivered_twice_changes_nothing_the_second_time(order):
    body = signed(order)
    first = post(body)
    order.refresh_from_db()
    keys_after_first = list(order.card_keys.values_list("pk", flat=True))
    second = post(body)
    assert first.json() == second.json() == {"order": order.number, "status": "delivered"}
    assert Payment.objects.count() == 1
    assert list(order.card_keys.values_list("pk", flat=True)) == keys_after_first
    assert CardKey.objects.filter(status=CardKeyStatus.DELIVERED).count() == 2
    assert not Refund.objects.exists()


def test_a_second_reference_for_a_paid_order_is_refunded_and_delivers_nothing(order):
    post(signed(order, reference="FIRST"))
    response = post(signed(order, reference="SECOND"))
    assert response.status_code == 200
    assert response.json()["status"] == "delivered"
    order.refresh_from_db()
    assert order.payment_reference == "FIRST"
    refund = Refund.objects.get()
    assert refund.payment.reference == "SECOND"
    assert refund.amount == Decimal("96.00")
    assert order.card_keys.count() == 2


def test_a_callback_after_the_buyer_paid_through_pay_is_refunded_not_delivered(order):
    paid = paid_order(product=order.product)
    post(signed(paid, reference="LATE-DUPLICATE"))
    assert Refund.objects.get().payment.reference == "LATE-DUPLICATE"
    assert paid.card_keys.count() == 1


@pytest.mark.parametrize(
    "tamper",
    [
        {"amount": "0.01"},
        {"reference": "OTHER"},
        {"signature": "0" * 64},
        {"signature": "A" * 64},
    ],
)
def test_a_badly_signed_callback_is_403_and_writes_nothing(order, tamper):
    response = post({**signed(order), **tamper})
    assert response.status_code == 403
    assert response.json()["code"] == "signature_invalid"
    assert not Payment.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_a_signed_callback_for_the_wrong_amount_is_400_and_writes_nothing(order):
    response = post(signed(order, amount="1.00"))
    assert response.status_code == 400
    assert response.json()["code"] == "amount_mismatch"
    assert not Payment.objects.exists()


def test_a_callback_for_an_unknown_order_is_404():
    product = ProductFactory()
    ghost = Order(number="KM000000NOSUCHORD", amount=product.price)
    response = post(signed(ghost))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_reference_of_another_order_is_409(order):
    other = paid_order()
    response = post(signed(order, reference=other.payment_reference))
    assert response.status_code == 409
    assert response.json()["code"] == "reference_conflict"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "96.001"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": None}, "amount"),
        ({"reference": ""}, "reference"),
        ({"reference": "has space"}, "reference"),
        ({"reference": "R" * 65}, "reference"),
        ({"signature": "not-hex"}, "signature"),
        ({"order": ["x"]}, "order"),
    ],
)
def test_a_malformed_callback_is_a_400_with_field_errors(order, change, field):
    response = post({**signed(order), **change})
    assert response.status_code == 400
    assert field in response.json()
    assert not Payment.objects.exists()


def test_a_topup_paid_by_callback_is_delivered_by_the_worker(
    topup_product, buyer, django_capture_on_commit_callbacks
):
    order = OrderFactory(
        product=topup_product, buyer=buyer, topup_target="13912345678", amount=Decimal("49.50")
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post(signed(order))
    assert response.json()["status"] == "delivery_pending"
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED


# --- Mounted only with the sandbox provider -------------------------------------------------


class GatewayProvider:
    """Stands for a real gateway (Alipay, WeChat Pay) named in PAYMENT_PROVIDER."""

    channel = "gateway"


@contextmanager
def urls_with_provider(provider: str) -> Iterator[None]:
    """The URLconf as a process started with PAYMENT_PROVIDER=provider builds it (URLs are read
    once, at import); the test's own URLconf again afterwards."""

    def rebuild() -> None:
        importlib.reload(importlib.import_module("orders.api_urls"))
        importlib.reload(importlib.import_module(settings.ROOT_URLCONF))
        clear_url_caches()

    try:
        with override_settings(PAYMENT_PROVIDER=provider):
            rebuild()
            yield
    finally:
        rebuild()


def test_the_sandbox_callback_is_mounted_when_the_sandbox_is_the_payment_provider(order):
    with urls_with_provider("orders.payments.SandboxProvider"):
        assert resolve(URL).url_name == "api-payments-sandbox-callback"
        response = post(signed(order))
    assert response.status_code == 200
    assert response.json()["status"] == "delivered"


def test_with_a_real_payment_provider_the_sandbox_callback_is_a_404(order):
    # With the public SECRET_KEY an anonymous caller signed callbacks that delivered an unpaid
    # order; with a real gateway no sandbox callback may exist at all.
    with urls_with_provider(f"{__name__}.GatewayProvider"):
        with pytest.raises(Resolver404):
            resolve(URL)
        response = post(signed(order))
        assert response.status_code == 404
        assert resolve("/api/v1/orders/").url_name == "api-orders"  # the rest of the API stays
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert not Payment.objects.exists()
