"""Phone top-ups: delivered by a Celery task against the sandbox upstream (succeeds, fails or is
slow), and re-sent by `orders_sweep` when the broker lost the task."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from orders import services
from orders.models import Order, OrderStatus, Refund
from orders.services import orders as order_module
from orders.tasks import order_topup_deliver, orders_sweep

pytestmark = pytest.mark.django_db

START = "2026-05-01 12:00 +08:00"


def buy_topup(product, buyer, target: str, *, run_tasks: bool, capture) -> Order:
    order = services.order_create(buyer=buyer, product=product, quantity=1, topup_target=target)
    with capture(execute=run_tasks) as callbacks:
        order = services.order_pay(order=order, buyer=buyer)
    assert order.status == OrderStatus.DELIVERY_PENDING
    assert len(callbacks) == 1  # the task is published after commit, never inside it
    order.refresh_from_db()
    return order


def test_a_topup_is_delivered_by_the_worker(
    topup_product, buyer, django_capture_on_commit_callbacks
):
    order = buy_topup(
        topup_product,
        buyer,
        "13912345678",
        run_tasks=True,
        capture=django_capture_on_commit_callbacks,
    )
    assert order.status == OrderStatus.DELIVERED
    assert order.delivered_at is not None
    assert order.delivery_attempts == 1
    assert not Refund.objects.exists()


def test_a_topup_the_upstream_refuses_fails_and_is_refunded(
    topup_product, buyer, django_capture_on_commit_callbacks
):
    order = buy_topup(
        topup_product,
        buyer,
        "13912340000",
        run_tasks=True,
        capture=django_capture_on_commit_callbacks,
    )
    assert order.status == OrderStatus.DELIVERY_FAILED
    assert order.delivery_note == "upstream_failed"
    assert order.refunded_amount == Decimal("49.50")
    refund = Refund.objects.get()
    assert refund.payment.order == order


def test_a_slow_upstream_still_delivers_once(
    topup_product, buyer, django_capture_on_commit_callbacks, settings
):
    settings.SANDBOX_TOPUP_SLOW_SECONDS = 0.05
    order = buy_topup(
        topup_product,
        buyer,
        "13912348888",
        run_tasks=True,
        capture=django_capture_on_commit_callbacks,
    )
    assert order.status == OrderStatus.DELIVERED
    # The same task delivered again (a re-sent one that was only slow) changes nothing.
    order_topup_deliver(order.pk)
    order.refresh_from_db()
    assert (order.status, order.delivery_attempts) == (OrderStatus.DELIVERED, 1)


def test_the_sweep_resends_a_lost_topup_after_five_minutes(
    topup_product, buyer, django_capture_on_commit_callbacks
):
    with time_machine.travel(START, tick=False) as clock:
        order = buy_topup(
            topup_product,
            buyer,
            "13912345678",
            run_tasks=False,  # the broker lost it
            capture=django_capture_on_commit_callbacks,
        )
        clock.shift(timedelta(minutes=4))
        assert orders_sweep()["topups_requeued"] == 0
        order.refresh_from_db()
        assert order.status == OrderStatus.DELIVERY_PENDING
        clock.shift(timedelta(minutes=2))
        assert orders_sweep()["topups_requeued"] == 1
        order.refresh_from_db()
        assert order.status == OrderStatus.DELIVERED
        assert order.delivered_at == timezone.now()
        assert orders_sweep()["topups_requeued"] == 0


def test_an_upstream_error_leaves_the_topup_pending_for_the_next_sweep(
    topup_product, buyer, django_capture_on_commit_callbacks, monkeypatch
):
    class Down:
        def deliver(self, **kwargs):
            raise ConnectionError("upstream down")

    with time_machine.travel(START, tick=False) as clock:
        order = buy_topup(
            topup_product,
            buyer,
            "13912345678",
            run_tasks=False,
            capture=django_capture_on_commit_callbacks,
        )
        monkeypatch.setattr(order_module, "get_topup_upstream", lambda: Down())
        with pytest.raises(ConnectionError):
            order_topup_deliver(order.pk)
        order.refresh_from_db()
        assert (order.status, order.delivery_attempts) == (OrderStatus.DELIVERY_PENDING, 1)
        monkeypatch.undo()
        clock.shift(timedelta(minutes=6))
        orders_sweep()
    order.refresh_from_db()
    assert (order.status, order.delivery_attempts) == (OrderStatus.DELIVERED, 2)


def test_the_sweep_gives_up_after_the_attempt_limit(
    topup_product, buyer, django_capture_on_commit_callbacks
):
    with time_machine.travel(START, tick=False) as clock:
        order = buy_topup(
            topup_product,
            buyer,
            "13912345678",
            run_tasks=False,
            capture=django_capture_on_commit_callbacks,
        )
        Order.objects.filter(pk=order.pk).update(delivery_attempts=services.TOPUP_MAX_ATTEMPTS)
        clock.shift(timedelta(hours=1))
        assert orders_sweep()["topups_requeued"] == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERY_PENDING  # left for staff, visible in the admin


def test_the_task_ignores_an_order_that_is_not_a_pending_topup(buyer, product):
    from tests.helpers import paid_order

    order = paid_order(buyer=buyer, product=product)
    assert services.order_topup_deliver(order_id=order.pk) is None
    assert services.order_topup_deliver(order_id=987654) is None
