"""PostgreSQL: real row locks. 20 buyers pay at the same moment for a product with 10 keys in
stock: exactly 10 orders are delivered, 10 fail delivery and are refunded, and no key is ever
delivered twice (select_for_update(skip_locked=True) in
orders.services.orders._deliver_card_keys)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from kamen_complaints.errors import DomainError
from orders import services
from orders.models import CardKey, CardKeyStatus, Order, OrderStatus, Payment, Refund
from tests.factories import CardKeyFactory, ProductFactory, UserFactory

BUYERS = 20
STOCK = 10


def run_at_once(work, items) -> list[BaseException]:
    """Run work(item) in one thread per item, all released together; each thread closes its
    own database connection."""
    barrier = threading.Barrier(len(items))
    errors: list[BaseException] = []

    def worker(item) -> None:
        try:
            barrier.wait(timeout=30)
            work(item)
        except BaseException as exc:  # reported to the test, never swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a buyer thread hung"
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_buyers_racing_for_ten_keys_get_ten_keys_once_each_and_ten_refunds():
    product = ProductFactory()
    CardKeyFactory.create_batch(STOCK, product=product)
    orders = [
        services.order_create(buyer=UserFactory(), product=product, quantity=1)
        for _ in range(BUYERS)
    ]

    errors = run_at_once(lambda o: services.order_pay(order=o, buyer=o.buyer), orders)
    assert errors == []

    statuses = Counter(Order.objects.values_list("status", flat=True))
    assert statuses == {OrderStatus.DELIVERED: STOCK, OrderStatus.DELIVERY_FAILED: BUYERS - STOCK}
    assert Payment.objects.count() == BUYERS
    refunds = Refund.objects.select_related("payment__order")
    assert refunds.count() == BUYERS - STOCK
    assert {r.payment.order.status for r in refunds} == {OrderStatus.DELIVERY_FAILED}
    for failed in Order.objects.filter(status=OrderStatus.DELIVERY_FAILED):
        assert failed.refunded_amount == failed.amount
        assert not failed.card_keys.exists()

    keys = CardKey.objects.filter(product=product)
    assert keys.filter(status=CardKeyStatus.DELIVERED).count() == STOCK
    delivered_to = list(keys.values_list("order_id", flat=True))
    assert len(set(delivered_to)) == STOCK  # ten different orders, one key each
    for order in Order.objects.filter(status=OrderStatus.DELIVERED):
        assert order.card_keys.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_order_paid_from_two_tabs_at_once_is_charged_and_delivered_once():
    product = ProductFactory()
    CardKeyFactory.create_batch(5, product=product)
    order = services.order_create(buyer=UserFactory(), product=product, quantity=2)
    outcomes: list[str] = []

    def pay(_: int) -> None:
        try:
            services.order_pay(order=Order.objects.get(pk=order.pk), buyer=order.buyer)
            outcomes.append("ok")
        except DomainError as exc:
            outcomes.append(exc.code)

    assert run_at_once(pay, [1, 2, 3, 4]) == []
    assert set(outcomes) <= {"ok", "already_paid"}
    assert Payment.objects.count() == 1
    assert not Refund.objects.exists()
    assert CardKey.objects.filter(status=CardKeyStatus.DELIVERED).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_callback_delivered_twice_at_once_delivers_once():
    product = ProductFactory()
    CardKeyFactory.create_batch(4, product=product)
    order = services.order_create(buyer=UserFactory(), product=product, quantity=2)

    def confirm(_: int) -> None:
        services.order_payment_confirm(
            order=Order.objects.get(pk=order.pk),
            reference="SBX-SAME-CALLBACK",
            amount=order.amount,
            channel="sandbox",
        )

    assert run_at_once(confirm, [1, 2, 3]) == []
    assert Payment.objects.count() == 1
    assert CardKey.objects.filter(status=CardKeyStatus.DELIVERED).count() == 2
