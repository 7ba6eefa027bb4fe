"""The racing variants of "one order is never compensated twice", on PostgreSQL with real
transactions (a test wrapped in one transaction could not see a missing lock or `atomic`):
the order's row lock makes every booking, refund and send of one order take turns."""

from __future__ import annotations

from decimal import Decimal

import pytest

from disputes import services
from disputes.models import Dispute
from escrow import services as escrow
from escrow.models import LedgerTransaction, Payout, PayoutStatus, TransactionKind
from kamen_complaints.errors import DomainError
from orders import services as order_services
from orders.models import Order, OrderStatus, ProductKind
from orders.services import orders as order_module
from tests.disputes.factories import check_ledger, file, fund, funded_order
from tests.disputes.test_clock import _core_evidence, _old_buyer
from tests.disputes.test_concurrency import _race
from tests.factories import ProductFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal


def _booked(order: Order) -> Decimal:
    fen = sum(Payout.objects.filter(order=order).values_list("amount", flat=True))
    return D(fen) / 100


def test_payouts_of_one_order_racing_book_at_most_its_price():
    order = funded_order(price=D("50.00"))
    results = _race(
        *[
            lambda i=i: escrow.compensation_pay(
                dispute_id=900_000 + i, order=order, amount=D("30.00")
            )
            for i in range(6)
        ]
    )
    paid = [r for r in results if isinstance(r, LedgerTransaction)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(paid) == 1 and len(refused) == 5, results
    assert {r.code for r in refused} == {"amount_invalid"}
    assert _booked(order) == D("30.00")
    order.refresh_from_db()  # sent at once on commit (Celery eager) or still queued
    assert order.refunded_amount + order.refund_reserved == D("30.00")
    check_ledger()


def test_a_withdrawal_racing_a_refiling_never_pays_twice():
    for _round in range(3):
        order = funded_order(price=D("57.00"), buyer=_old_buyer())
        first = file(order, evidence=_core_evidence())
        assert first.fast_track
        results = _race(
            lambda first=first: services.dispute_withdraw(dispute=first, buyer=first.buyer),
            lambda order=order: file(order, claimed_amount=D("57.00"), evidence=_core_evidence()),
        )
        refused = [r for r in results if isinstance(r, DomainError)]
        assert len(refused) == 1, results
        assert refused[0].code in {"complaint_exists", "already_compensated"}
        assert Dispute.objects.filter(order=order).count() == 1
        assert _booked(order) == D("57.00")
    check_ledger()


@pytest.fixture
def worker_late(monkeypatch: pytest.MonkeyPatch) -> None:
    """The top-up worker has not run yet when the test goes on (on commit it would run at
    once, eagerly): the test calls `order_topup_deliver` when it wants the late failure."""
    monkeypatch.setattr(order_module, "_enqueue_topup", lambda order_id: None)


def test_a_late_topup_failure_racing_the_payout_gives_the_price_back_once(worker_late):
    product = ProductFactory(kind=ProductKind.PHONE_TOPUP, price=D("49.50"))
    fund(product.merchant)
    buyer = _old_buyer()
    order = order_services.order_create(
        buyer=buyer, product=product, quantity=1, topup_target="13912340000"
    )
    order = order_services.order_pay(order=order, buyer=buyer)
    dispute = file(
        order, reason="not_received", claimed_amount=D("30.00"), evidence=_core_evidence()
    )
    assert dispute.fast_track
    payout = Payout.objects.get(order=order)
    results = _race(
        lambda: order_services.order_topup_deliver(order_id=order.pk),
        lambda: escrow.payout_send(payout_id=payout.pk),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    escrow.payouts_send_pending()  # a send skipped under the other's lock goes now
    order.refresh_from_db()
    payout.refresh_from_db()
    assert order.status == OrderStatus.DELIVERY_FAILED
    assert payout.status == PayoutStatus.SENT
    assert (order.refunded_amount, order.refund_reserved) == (D("49.50"), D("0.00"))
    assert LedgerTransaction.objects.filter(kind=TransactionKind.REFUND_PAYOUT).count() == 1
    check_ledger()


def test_a_fast_track_racing_a_late_topup_failure_never_pays_past_the_price(worker_late):
    for _round in range(3):
        product = ProductFactory(kind=ProductKind.PHONE_TOPUP, price=D("49.50"))
        fund(product.merchant)
        buyer = _old_buyer()
        order = order_services.order_create(
            buyer=buyer, product=product, quantity=1, topup_target="13912340000"
        )
        order = order_services.order_pay(order=order, buyer=buyer)
        _race(
            lambda order=order: order_services.order_topup_deliver(order_id=order.pk),
            lambda order=order: file(
                order, reason="not_received", claimed_amount=D("40.00"), evidence=_core_evidence()
            ),
        )
        escrow.payouts_send_pending()
        order.refresh_from_db()
        assert order.refunded_amount + order.refund_reserved == D("49.50")
        assert order.refund_reserved == D("0.00")
        assert not Payout.objects.filter(order=order).exclude(status=PayoutStatus.SENT).exists()
    check_ledger()
