"""A complaint from purchase to payout and recovery, across orders, disputes and escrow.

Each flow is driven the way people and the clock drive it: the buyer buys, pays in the sandbox,
reveals the key and files through the pages; the merchant tops up, imports keys and answers on
the merchant dashboard; staff rule on the admin's case screen; the clock is the beat task,
crossed with time-machine (never a sleep). Real transactions on PostgreSQL (`transaction=True`):
the on-commit hand-overs really run (payout sending, notifications), and escrow's
balanced-legs trigger checks every commit. After each flow `check_ledger` is clean and a second
sweep finds nothing left: every movement happened exactly once.

The rules these flows cross are in docs/rules.md; the architecture in docs/architecture.md."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from disputes import tasks
from disputes.models import (
    DecidedBy,
    Dispute,
    EventType,
    Notification,
    NotificationKind,
    Outcome,
    Status,
)
from escrow.models import Hold, HoldStatus, LedgerTransaction, Payout, PayoutStatus
from escrow.selectors import deposit_summary
from orders.models import (
    Merchant,
    MerchantStatus,
    Order,
    OrderStatus,
    Product,
    ProductKind,
    SuspensionReason,
)
from tests.disputes.factories import ARBITRATOR_PERMS, png
from tests.factories import MerchantFactory, ProductFactory, StaffFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PRICE = Decimal("298.00")  # above the fast-track threshold (¥100): the normal course
DEPOSIT = Decimal("1000.00")  # the default minimum deposit


# --- People, each with a logged-in browser ------------------------------------------------------


def _browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _shop(price: Decimal = PRICE, kind: str = ProductKind.GAME_CARD) -> tuple[Merchant, Product]:
    """A verified shop that paid its deposit on its deposit page, with one product."""
    merchant = MerchantFactory()
    product = ProductFactory(merchant=merchant, price=price, face_value=price, kind=kind)
    owner = _browser(merchant.owner)
    response = owner.post("/merchant/deposit/", {"action": "topup", "amount": f"{DEPOSIT}"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert deposit_summary(merchant).balance == DEPOSIT
    return merchant, product


def _import_keys(merchant: Merchant, product: Product, *keys: str) -> None:
    """The merchant pastes card keys on the product's import page."""
    owner = _browser(merchant.owner)
    response = owner.post(f"/merchant/products/{product.pk}/import/", {"keys": "\n".join(keys)})
    assert response.status_code in (200, 302), response.content.decode()[:2000]
    assert product.card_keys.count() == len(keys)


def _buy_and_pay(buyer: Client, product: Product, **form: str) -> Order:
    """Buy on the product page, pay on the sandbox payment page."""
    response = buyer.post(f"/products/{product.pk}/", {"quantity": "1", **form})
    assert response.status_code == 302, response.content.decode()[:2000]
    number = re.fullmatch(r"/orders/([^/]+)/pay/", response["Location"]).group(1)
    response = buyer.post(f"/orders/{number}/pay/")
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{number}/"
    return Order.objects.get(number=number)


def _file_on_the_page(buyer: Client, order: Order, *, reason: str, amount: Decimal) -> Dispute:
    """The complaint form, with the three core proofs."""
    response = buyer.post(
        f"/orders/{order.number}/complain/",
        {
            "reason": reason,
            "claimed_amount": f"{amount}",
            "description": "兑换时提示卡密无效 / redeeming says the key is invalid.",
            "evidence_order_screenshot": png("order.png", color=(200, 30, 30)),
            "evidence_payment_proof": png("payment.png", color=(30, 200, 30)),
            "evidence_chat_record": png("chat.png", color=(30, 30, 200)),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    dispute = Dispute.objects.get(order=order)
    assert response["Location"] == f"/complaints/{dispute.number}/"
    assert dispute.status == Status.AWAITING_MERCHANT
    assert not dispute.fast_track
    return dispute


def _sweep() -> dict[str, Any]:
    """What beat sends every minute, as a worker runs it (eager in the test settings)."""
    return tasks.deadlines_sweep.delay().get()


def _cross(time_machine: Any, moment: Any) -> None:
    time_machine.move_to(moment + timedelta(seconds=1), tick=False)


def _clean_ledger() -> str:
    out = io.StringIO()
    call_command("check_ledger", stdout=out)  # raises (non-zero exit) on any breach
    return out.getvalue()


def _keys(dispute: Dispute) -> set[str]:
    prefix = f"dispute:{dispute.pk}:"
    return {
        key.removeprefix(prefix)
        for key in LedgerTransaction.objects.filter(key__startswith=prefix).values_list(
            "key", flat=True
        )
    }


def _assert_paid_to_buyer(order: Order, amount: Decimal) -> None:
    """The payout left escrow's outbox through the order's payment channel."""
    payouts = list(Payout.objects.filter(order=order))
    assert [p.status for p in payouts] == [PayoutStatus.SENT]
    assert payouts[0].amount == int(amount * 100)
    order.refresh_from_db()
    assert order.refunded_amount == amount
    assert order.refund_reserved == 0


def _assert_nothing_left(dispute: Dispute) -> None:
    """A second sweep (beat's next minute) finds nothing: each movement happened once."""
    keys = _keys(dispute)
    report = _sweep()
    assert not any(report["enforced"].values()), report
    assert _keys(dispute) == keys
    _clean_ledger()


# --- The flows ------------------------------------------------------------------------------------


def test_silent_merchant_card_key_complaint_from_purchase_to_payout_and_recovery(time_machine):
    merchant, product = _shop()
    _import_keys(merchant, product, "STEAM-7Q2K-AAAA-0001")
    buyer_user = UserFactory()
    buyer = _browser(buyer_user)

    order = _buy_and_pay(buyer, product)
    assert order.status == OrderStatus.DELIVERED
    assert order.amount == PRICE
    response = buyer.post(f"/orders/{order.number}/reveal/", follow=True)
    assert response.status_code == 200
    assert "STEAM-7Q2K-AAAA-0001" in response.content.decode()

    dispute = _file_on_the_page(buyer, order, reason="invalid_card_key", amount=PRICE)
    # The claim is held on the deposit while the complaint is open.
    hold = Hold.objects.get(reference=f"dispute:{dispute.pk}")
    assert hold.status == HoldStatus.ACTIVE and hold.amount == int(PRICE * 100)
    assert deposit_summary(merchant).available == DEPOSIT - PRICE
    # The shop's team is told (the outbox row, written in the filing's transaction).
    assert Notification.objects.filter(dispute=dispute, recipient=merchant.owner).exists()

    # The merchant never answers. One second before the deadline the clock does nothing ...
    time_machine.move_to(dispute.merchant_response_due - timedelta(seconds=1), tick=False)
    assert _sweep()["enforced"]["merchant"] == 0
    # ... one second after it, the default judgment.
    _cross(time_machine, dispute.merchant_response_due)
    assert timezone.now() > dispute.merchant_response_due
    assert _sweep()["enforced"]["merchant"] == 1

    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED
    assert dispute.outcome == Outcome.REFUNDED
    assert dispute.decided_by == DecidedBy.SYSTEM
    assert dispute.resolved_amount == PRICE
    assert dispute.paid_out == PRICE and dispute.recovered == PRICE
    assert dispute.events.filter(type=EventType.DEFAULT_JUDGMENT).count() == 1
    assert _keys(dispute) == {"payout", "recovery"}
    _assert_paid_to_buyer(order, PRICE)
    # The buyer is told of the judgment and, once escrow sent it, of the money (escrow's
    # payout_sent signal, answered by disputes).
    told = set(
        Notification.objects.filter(dispute=dispute, recipient=buyer_user).values_list(
            "kind", flat=True
        )
    )
    assert {NotificationKind.DEFAULT_JUDGMENT, NotificationKind.PAYOUT_SENT} <= told

    # Recovered from the deposit, the hold consumed; under its minimum, the shop is suspended.
    hold.refresh_from_db()
    assert hold.status != HoldStatus.ACTIVE
    summary = deposit_summary(merchant)
    assert (summary.balance, summary.held, summary.receivable) == (DEPOSIT - PRICE, 0, 0)
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.SUSPENDED
    assert merchant.suspension_reason == SuspensionReason.DEPOSIT
    _assert_nothing_left(dispute)

    # The buyer reads the outcome on the complaint page, the merchant the debit on the deposit
    # page; topping the deposit back up lifts the suspension.
    page = buyer.get(f"/complaints/{dispute.number}/")
    assert page.status_code == 200 and dispute.number in page.content.decode()
    owner = _browser(merchant.owner)
    assert dispute.number in owner.get("/merchant/deposit/").content.decode()
    response = owner.post("/merchant/deposit/", {"action": "topup", "amount": f"{PRICE}"})
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.ACTIVE
    assert _clean_ledger()


def test_contested_complaint_ruled_by_staff_pays_the_buyer_and_recovers_from_the_deposit(
    time_machine,
):
    merchant, product = _shop()
    _import_keys(merchant, product, "PSN-55AA-BBCC-0002")
    buyer = _browser(UserFactory())
    order = _buy_and_pay(buyer, product)
    dispute = _file_on_the_page(buyer, order, reason="invalid_card_key", amount=PRICE)

    # The merchant contests on its complaint page, with counter-evidence, before its deadline.
    time_machine.move_to(dispute.merchant_response_due - timedelta(hours=2), tick=False)
    owner = _browser(merchant.owner)
    response = owner.post(
        f"/merchant/complaints/{dispute.number}/contest/",
        {
            "message": "上游记录显示交付时卡密未使用 / unused when delivered.",
            "kind": "redemption_record",
            "file": png("upstream.png", color=(10, 10, 10)),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW
    contested_at = dispute.merchant_response_due - timedelta(hours=2)
    assert dispute.review_due == contested_at + timedelta(hours=48)

    # Staff rule a partial refund on the admin's case screen, inside the review time.
    staff = StaffFactory(perms=ARBITRATOR_PERMS)
    desk = _browser(staff)
    assert desk.get(f"/admin/disputes/dispute/{dispute.pk}/case/").status_code == 200
    part = Decimal("150.00")
    response = desk.post(
        f"/admin/disputes/dispute/{dispute.pk}/case/rule/",
        {
            "outcome": Outcome.PARTIALLY_REFUNDED,
            "amount": f"{part}",
            "recover_from_merchant": "1",
            "reason": "卡密部分无效 / half of the value was lost.",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]

    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED
    assert (dispute.outcome, dispute.decided_by) == (Outcome.PARTIALLY_REFUNDED, DecidedBy.STAFF)
    assert dispute.paid_out == part and dispute.recovered == part
    assert _keys(dispute) == {"payout", "recovery"}
    _assert_paid_to_buyer(order, part)
    summary = deposit_summary(merchant)
    assert (summary.balance, summary.held, summary.receivable) == (DEPOSIT - part, 0, 0)

    # The review clock is settled: crossing it later changes nothing.
    _cross(time_machine, dispute.review_due)
    _assert_nothing_left(dispute)


def test_review_clock_runs_out_the_platform_pays_first_and_staff_decide_recovery(time_machine):
    merchant, product = _shop()
    _import_keys(merchant, product, "XBOX-1234-5678-0003")
    buyer = _browser(UserFactory())
    order = _buy_and_pay(buyer, product)
    dispute = _file_on_the_page(buyer, order, reason="invalid_card_key", amount=PRICE)
    owner = _browser(merchant.owner)
    response = owner.post(
        f"/merchant/complaints/{dispute.number}/contest/",
        {
            "message": "The key was valid.",
            "kind": "redemption_record",
            "file": png("upstream.png", color=(90, 90, 90)),
        },
    )
    assert response.status_code == 302
    dispute.refresh_from_db()

    # Staff miss their review deadline: the platform pays the buyer first (先行赔付), keeps
    # the hold and asks staff who bears it.
    _cross(time_machine, dispute.review_due)
    assert _sweep()["enforced"]["review"] == 1
    dispute.refresh_from_db()
    assert (dispute.status, dispute.decided_by) == (Status.RESOLVED, DecidedBy.SYSTEM)
    assert dispute.recovery_pending
    assert _keys(dispute) == {"payout"}
    _assert_paid_to_buyer(order, PRICE)
    assert deposit_summary(merchant).held == PRICE
    _clean_ledger()

    # An arbitrator decides on the case screen that the merchant bears it.
    desk = _browser(StaffFactory(perms=ARBITRATOR_PERMS))
    response = desk.post(
        f"/admin/disputes/dispute/{dispute.pk}/case/recovery/",
        {"bears": "merchant", "reason": "商家未能证明卡密有效 / the shop proved nothing."},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    dispute.refresh_from_db()
    assert not dispute.recovery_pending
    assert dispute.recovered == PRICE
    assert _keys(dispute) == {"payout", "recovery"}
    summary = deposit_summary(merchant)
    assert (summary.balance, summary.held) == (DEPOSIT - PRICE, 0)
    _assert_nothing_left(dispute)


def test_topup_never_received_silent_merchant_pays_the_buyer(time_machine):
    price = Decimal("100.50")  # above the fast-track threshold
    merchant, product = _shop(price=price, kind=ProductKind.PHONE_TOPUP)
    buyer = _browser(UserFactory())
    # Paid, then delivered by the worker (eager here) after the payment commits.
    order = _buy_and_pay(buyer, product, topup_target="13912345678")
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED

    dispute = _file_on_the_page(buyer, order, reason="not_received", amount=price)
    _cross(time_machine, dispute.merchant_response_due)
    assert _sweep()["enforced"]["merchant"] == 1
    dispute.refresh_from_db()
    assert (dispute.outcome, dispute.decided_by) == (Outcome.REFUNDED, DecidedBy.SYSTEM)
    _assert_paid_to_buyer(order, price)
    assert deposit_summary(merchant).balance == DEPOSIT - price
    _assert_nothing_left(dispute)


def test_topup_the_upstream_failed_is_refunded_by_orders_and_cannot_be_complained_about():
    merchant, product = _shop(price=Decimal("50.00"), kind=ProductKind.PHONE_TOPUP)
    buyer = _browser(UserFactory())
    order = _buy_and_pay(buyer, product, topup_target="13900000000")  # the sandbox fails it
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERY_FAILED
    assert order.refunded_amount == order.amount  # refunded in full through the channel
    # Nothing is left to give back: the filing form answers with the rule (refunded in full,
    # naming the order), and there is no complaint and no ledger movement.
    response = buyer.post(
        f"/orders/{order.number}/complain/",
        {"reason": "not_received", "claimed_amount": "50.00", "description": "x"},
    )
    assert response.status_code == 409
    assert order.number in response.content.decode()
    assert not Dispute.objects.filter(order=order).exists()
    assert not LedgerTransaction.objects.filter(key__startswith="dispute:").exists()
    assert deposit_summary(merchant).balance == DEPOSIT
    _clean_ledger()
