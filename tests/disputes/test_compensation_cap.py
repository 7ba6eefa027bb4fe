"""An order is never compensated twice (docs/money.md): every complaint's payouts, sent or
queued, plus the order's own refunds stay within what the buyer paid; a recovery never
exceeds what its complaint paid out; a payout in the queue can always be sent; and
`check_ledger` says so when any of it is breached.

The first three tests are the security review's findings, replayed: each moved money twice
before the cap existed."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from disputes import services
from disputes.models import Dispute, DisputeEvent, EventType, Status
from disputes.services import state_machine, sweep
from escrow import services as escrow
from escrow.models import Payout, PayoutStatus
from escrow.selectors import ledger_check
from kamen_complaints.errors import DomainError
from orders import services as order_services
from orders.models import Order, OrderStatus, Payment, ProductKind, Refund
from tests.disputes.factories import arbitrator, check_ledger, contest, file, funded_order
from tests.disputes.test_clock import _core_evidence, _old_buyer
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

D = Decimal


def _fast_track(order: Order, amount: Decimal | None = None) -> Dispute:
    dispute = file(order, claimed_amount=amount or order.amount, evidence=_core_evidence())
    assert dispute.fast_track, "the scenario needs a fast-tracked complaint"
    return dispute


def _payouts(order: Order) -> Decimal:
    fen = sum(Payout.objects.filter(order=order).values_list("amount", flat=True))
    return D(fen) / 100


def _send_payouts(capture) -> None:
    with capture(execute=True):
        escrow.payouts_send_pending()


def _given_back(order: Order) -> Decimal:
    """Everything the buyer has had back for the order, or will have: payouts booked (sent or
    queued) and the order's own refunds that are not payouts."""
    order.refresh_from_db()
    payout_keys = {p.key for p in Payout.objects.filter(order=order)}
    own = sum(
        r.amount
        for r in Refund.objects.filter(payment__order=order)
        if r.idempotency_key not in payout_keys
    )
    return _payouts(order) + own


# --- The review's findings ------------------------------------------------------------------


def test_a_withdrawn_fast_track_is_not_paid_again_by_a_second_complaint(
    django_capture_on_commit_callbacks,
):
    order = funded_order(price=D("57.00"), buyer=_old_buyer())
    first = _fast_track(order)
    services.dispute_withdraw(dispute=first, buyer=order.buyer)

    with pytest.raises(DomainError) as refused:
        file(order, claimed_amount=D("57.00"), evidence=_core_evidence())
    assert refused.value.code == "already_compensated"
    assert first.number in refused.value.message and "57.00" in refused.value.message
    assert Dispute.objects.filter(order=order).count() == 1

    # Staff charge the first one to the merchant: ¥57.00 recovered once, for a ¥57.00 order.
    services.dispute_decide_recovery(
        dispute=first, staff=arbitrator(), bears="merchant", reason="Key was invalid"
    )
    _send_payouts(django_capture_on_commit_callbacks)
    assert _given_back(order) == D("57.00")
    assert not Payout.objects.exclude(status=PayoutStatus.SENT).exists()
    check_ledger()


def test_partial_fast_tracks_cannot_add_up_to_the_whole_price():
    order = funded_order(price=D("96.50"), buyer=_old_buyer())
    first = _fast_track(order, D("50.00"))
    services.dispute_withdraw(dispute=first, buyer=order.buyer)
    with pytest.raises(DomainError) as refused:
        file(order, claimed_amount=D("46.50"), evidence=_core_evidence())
    assert refused.value.code == "already_compensated"
    assert _given_back(order) == D("50.00")
    check_ledger()


def test_a_topup_failing_late_after_a_fast_track_refunds_only_the_rest(
    django_capture_on_commit_callbacks,
):
    product = ProductFactory(kind=ProductKind.PHONE_TOPUP, price=D("49.50"))
    buyer = _old_buyer()
    order = order_services.order_create(
        buyer=buyer, product=product, quantity=1, topup_target="13912340000"
    )  # the sandbox upstream fails numbers ending in 0000
    order = order_services.order_pay(order=order, buyer=buyer)  # the worker has not run yet
    funded_order(product=ProductFactory(merchant=product.merchant))  # fund the shop
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERY_PENDING
    dispute = file(
        order, reason="not_received", claimed_amount=D("30.00"), evidence=_core_evidence()
    )
    assert dispute.fast_track

    order_services.order_topup_deliver(order_id=order.pk)  # fails now, late
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERY_FAILED
    assert (order.refunded_amount, order.refund_reserved) == (D("19.50"), D("30.00"))

    _send_payouts(django_capture_on_commit_callbacks)  # the payout still goes through
    services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="accept", remedy="refund"
    )
    order.refresh_from_db()
    assert (order.refunded_amount, order.refund_reserved) == (D("49.50"), D("0.00"))
    assert Payout.objects.get(order=order).status == PayoutStatus.SENT
    dispute.refresh_from_db()
    assert dispute.recovered == D("30.00")  # the merchant bears the ¥30.00 paid, not more
    assert _given_back(order) == D("49.50")
    check_ledger()


def test_a_payout_sent_while_a_topup_is_on_its_way_leaves_the_delivery_to_finish(
    django_capture_on_commit_callbacks,
):
    """Found by the race test: a compensation refund moved a pending top-up to
    `partially_refunded`, and the worker — which acts only on `delivery_pending` — then
    neither delivered it nor refunded the rest."""
    product = ProductFactory(kind=ProductKind.PHONE_TOPUP, price=D("49.50"))
    buyer = _old_buyer()
    order = order_services.order_create(
        buyer=buyer, product=product, quantity=1, topup_target="13912340000"
    )
    order = order_services.order_pay(order=order, buyer=buyer)
    funded_order(product=ProductFactory(merchant=product.merchant))
    order.refresh_from_db()
    file(order, reason="not_received", claimed_amount=D("30.00"), evidence=_core_evidence())
    _send_payouts(django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERY_PENDING and order.refunded_amount == D("30.00")

    order_services.order_topup_deliver(order_id=order.pk)  # the upstream fails, late
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERY_FAILED
    assert order.refunded_amount == D("49.50")
    check_ledger()


# --- The cap in every path -------------------------------------------------------------------


def test_a_claim_is_measured_against_what_is_already_booked_not_only_sent():
    order = funded_order(price=D("48.00"))
    escrow.compensation_pay(dispute_id=999_001, order=order, amount=D("40.00"))  # queued
    order.refresh_from_db()
    assert order.refunded_amount == D("0.00") and order.refundable_amount == D("8.00")
    with pytest.raises(DomainError) as refused:
        file(order, claimed_amount=D("8.01"))
    assert refused.value.code == "amount_invalid" and "8.00" in refused.value.message


def test_escrow_refuses_a_payout_above_what_the_order_may_still_give_back():
    order = funded_order(price=D("48.00"))
    escrow.compensation_pay(dispute_id=999_002, order=order, amount=D("30.00"))
    with pytest.raises(DomainError) as refused:
        escrow.compensation_pay(dispute_id=999_003, order=order, amount=D("18.01"))
    assert refused.value.code == "amount_invalid"
    # The refusal writes nothing; the same key asked again still returns its first posting.
    again = escrow.compensation_pay(dispute_id=999_002, order=order, amount=D("30.00"))
    assert again.key == "dispute:999002:payout"
    escrow.compensation_pay(dispute_id=999_003, order=order, amount=D("18.00"))
    assert _payouts(order) == D("48.00")
    check_ledger()


def test_a_recovery_never_exceeds_what_its_complaint_paid_out():
    order = funded_order(price=D("48.00"))
    with pytest.raises(DomainError) as refused:
        escrow.compensation_recover(dispute_id=999_004, merchant=order.merchant, amount=D("1.00"))
    assert refused.value.code == "amount_invalid"
    escrow.compensation_pay(dispute_id=999_004, order=order, amount=D("20.00"))
    with pytest.raises(DomainError):
        escrow.compensation_recover(dispute_id=999_004, merchant=order.merchant, amount=D("20.01"))
    escrow.compensation_recover(dispute_id=999_004, merchant=order.merchant, amount=D("20.00"))
    check_ledger()


def test_a_default_judgment_after_an_order_refund_pays_only_what_is_left(time_machine):
    """The sweep's batch path caps like the single path: the order was partly refunded by the
    payment channel after filing, so the default judgment pays and recovers the rest only."""
    order = funded_order(price=D("48.00"))
    dispute = file(order, claimed_amount=D("48.00"))
    order_services.order_refund(order=order, amount=D("40.00"), reason="manual", key="t:manual")
    time_machine.move_to(dispute.merchant_response_due + timedelta(seconds=1), tick=False)
    report = sweep.deadlines_sweep()
    assert report.enforced["merchant"] == 1
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED
    assert (dispute.paid_out, dispute.recovered) == (D("8.00"), D("8.00"))
    capped = DisputeEvent.objects.get(
        dispute=dispute, type=EventType.MONEY, data__movement="capped"
    )
    assert capped.data["amount"] == "40.00" and order.number in capped.body
    assert _given_back(order) == D("48.00")
    check_ledger()


def test_a_staff_ruling_after_a_full_refund_moves_no_money_and_charges_no_one():
    order = funded_order(price=D("48.00"))
    dispute = contest(file(order, claimed_amount=D("48.00")))
    order_services.order_refund(order=order, amount=D("48.00"), reason="manual", key="t:all")
    services.dispute_rule(dispute=dispute, staff=arbitrator(), outcome="refunded", reason="Yes")
    dispute.refresh_from_db()
    assert (dispute.paid_out, dispute.recovered) == (D("0.00"), D("0.00"))
    assert not Payout.objects.filter(order=order).exists()
    assert _given_back(order) == D("48.00")
    check_ledger()


def test_the_batch_path_checks_the_transition_table(time_machine, monkeypatch, caplog):
    dispute = file(claimed_amount=D("10.00"))
    monkeypatch.setitem(
        state_machine.ALLOWED,
        Status.AWAITING_MERCHANT,
        {Status.AWAITING_BUYER, Status.UNDER_REVIEW},
    )
    time_machine.move_to(dispute.merchant_response_due + timedelta(seconds=1), tick=False)
    sweep.deadlines_sweep()
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT  # refused, logged, nothing moved
    assert not Payout.objects.exists()


# --- check_ledger sees a breach --------------------------------------------------------------


def _breaches(name_part: str) -> list[str]:
    return [b for c in ledger_check() if name_part in c.name for b in c.breaches]


def test_check_ledger_names_an_order_given_back_more_than_it_was_paid():
    order = funded_order(price=D("48.00"))
    escrow.compensation_pay(dispute_id=999_005, order=order, amount=D("48.00"))
    # The old hole: an order refund beside a booked payout, written past the services.
    payment = Payment.objects.get(reference=order.payment_reference)
    Refund.objects.create(
        payment=payment,
        amount=D("10.00"),
        reason="x",
        idempotency_key="t:x",
        provider_refund_id="x",
    )
    assert any(order.number in b for b in _breaches("given back more than was paid"))
    with pytest.raises(CommandError):
        call_command("check_ledger", stdout=io.StringIO())


def test_check_ledger_names_a_payout_that_could_never_be_sent():
    order = funded_order(price=D("48.00"))
    escrow.compensation_pay(dispute_id=999_006, order=order, amount=D("20.00"))
    with connection.cursor() as cursor:  # a payout queued without its booking
        cursor.execute("UPDATE orders_order SET refund_reserved = 0 WHERE id = %s", [order.pk])
    assert any(order.number in b for b in _breaches("queued payout"))


def test_check_ledger_names_a_recovery_above_its_payout():
    order = funded_order(price=D("48.00"))
    escrow.compensation_pay(dispute_id=999_007, order=order, amount=D("20.00"))
    escrow.compensation_recover(dispute_id=999_007, merchant=order.merchant, amount=D("20.00"))
    assert not _breaches("recovery exceeds")
    # A second complaint id charged without any payout, past the services' check.
    from escrow.services.compensation import _recover

    _recover(dispute_id=999_008, merchant=order.merchant, fen=500)
    assert any("999008" in b for b in _breaches("recovery exceeds"))


def test_a_payout_is_checked_again_when_it_is_sent(django_capture_on_commit_callbacks):
    order = funded_order(price=D("48.00"))
    escrow.compensation_pay(dispute_id=999_009, order=order, amount=D("20.00"))
    Order.objects.filter(pk=order.pk).update(refund_reserved=D("0.00"))
    _send_payouts(django_capture_on_commit_callbacks)
    payout = Payout.objects.get(order=order)
    assert payout.status == PayoutStatus.FAILED and payout.last_error
    order.refresh_from_db()
    assert order.refunded_amount == D("0.00")
