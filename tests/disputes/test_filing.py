"""Filing a complaint: who, when, how much, and what filing does (hold, clock, records)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from disputes import services
from disputes.models import (
    BlacklistEntry,
    BlacklistSource,
    Dispute,
    EventType,
    EvidenceKind,
    Notification,
    Status,
)
from disputes.services import filing
from kamen_complaints.errors import DomainError, NotFound
from orders import services as order_services
from orders.models import CardKeyReveal, ProductKind
from tests.disputes.factories import (
    arbitrator,
    check_ledger,
    deposit,
    file,
    fund,
    funded_order,
    png,
)
from tests.factories import CardKeyFactory, OrderFactory, ProductFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _refusal(**kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        file(**kwargs)
    return caught.value


def test_filing_opens_awaiting_merchant_with_its_deadline_hold_and_first_event():
    order = funded_order(price=Decimal("48.00"))
    now = timezone.now()
    dispute = file(order, claimed_amount=Decimal("30.00"))
    assert dispute.status == Status.AWAITING_MERCHANT
    assert dispute.number.startswith("TS") and len(dispute.number) == 18
    assert dispute.merchant_id == order.merchant_id
    due = dispute.merchant_response_due - now
    assert timedelta(hours=23, minutes=59) < due <= timedelta(hours=24, seconds=5)
    assert deposit(order.merchant).held == Decimal("30.00")
    first = dispute.events.order_by("id").first()
    assert first.type == EventType.FILED
    assert first.from_status == "" and first.to_status == Status.AWAITING_MERCHANT
    assert first.actor == order.buyer
    check_ledger()


def test_filing_notifies_the_shop_by_email_on_commit(django_capture_on_commit_callbacks):
    order = funded_order()
    with django_capture_on_commit_callbacks(execute=True):
        dispute = file(order)
    owner = order.merchant.owner
    # The shop and the buyer (a confirmation with the merchant's deadline).
    assert sorted(m.to[0] for m in mail.outbox) == sorted([owner.email, order.buyer.email])
    assert all(dispute.number in m.subject for m in mail.outbox)
    note = Notification.objects.get(dispute=dispute, channel="email", recipient=owner)
    assert note.sent_at is not None and note.kind == "filed" and note.role == "merchant"
    inapp = Notification.objects.get(dispute=dispute, channel="inapp", recipient=owner)
    assert inapp.kind == "filed" and inapp.params["number"] == dispute.number


def test_filing_with_no_notification_sent_before_commit(django_capture_on_commit_callbacks):
    order = funded_order()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        file(order)
    assert mail.outbox == []
    assert len(callbacks) >= 1


def test_filing_attaches_the_platforms_own_records_with_reveals():
    order = funded_order()
    order_services.order_reveal_keys(order=order, user=order.buyer, ip="10.1.2.3", user_agent="UA")
    dispute = file(order)
    records = dispute.platform_records
    assert records["order"]["number"] == order.number
    assert records["payment"]["reference"] == order.payment_reference
    assert records["delivery"]["delivered_at"] is not None
    assert records["reveals"][0]["ip"] == "10.1.2.3"
    evidence = dispute.evidence.get(kind=EvidenceKind.PLATFORM_RECORD)
    assert evidence.role == "system" and len(evidence.sha256) == 64
    assert CardKeyReveal.objects.filter(order=order).count() == 1


def test_filing_with_evidence_stores_files_under_generated_names_with_hashes():
    order = funded_order()
    dispute = file(
        order,
        evidence=[
            services.EvidenceUpload(kind="order_screenshot", file=png("我的订单.png")),
            services.EvidenceUpload(kind="order_screenshot", file=png("second.png")),
            services.EvidenceUpload(kind="payment_proof", file=png("pay.png")),
        ],
    )
    uploaded = list(dispute.evidence.filter(role="buyer").order_by("id"))
    assert len(uploaded) == 3
    for item in uploaded:
        assert item.stored_name.startswith(f"evidence/{dispute.number}/")
        assert "我的订单" not in item.stored_name
        assert len(item.sha256) == 64
    assert uploaded[0].original_name == "我的订单.png"
    assert dispute.events.filter(type=EventType.EVIDENCE_ADDED).count() == 3


def test_hold_is_what_the_deposit_has_and_filing_never_depends_on_it():
    order = funded_order(price=Decimal("48.00"), deposit_amount=Decimal("0"))
    dispute = file(order)
    assert dispute.status == Status.AWAITING_MERCHANT
    assert deposit(order.merchant).held == Decimal("0.00")
    check_ledger()


def test_partly_funded_deposit_holds_only_what_is_available():
    order = funded_order(price=Decimal("48.00"), deposit_amount=Decimal("10.00"))
    file(order)
    assert deposit(order.merchant).held == Decimal("10.00")


# --- refusals ------------------------------------------------------------------------------


def test_only_the_orders_buyer_may_file_others_get_not_found():
    order = funded_order()
    with pytest.raises(NotFound):
        file(order, buyer=UserFactory())


def test_an_unpaid_order_is_refused():
    order = OrderFactory()
    error = _refusal(order=order, claimed_amount=Decimal("1.00"))
    assert error.code == "not_allowed_in_state"


def test_a_fully_refunded_order_is_refused():
    order = funded_order()
    order_services.order_refund(order=order, amount=order.amount, reason="test", key="t:full")
    order.refresh_from_db()
    error = _refusal(order=order, claimed_amount=Decimal("1.00"))
    assert error.code == "not_allowed_in_state"


def test_claim_is_limited_to_the_order_amount_less_refunds():
    order = funded_order(price=Decimal("48.00"))
    order_services.order_refund(order=order, amount=Decimal("8.00"), reason="t", key="t:part")
    order.refresh_from_db()
    with translation.override("en"):
        error = _refusal(order=order, claimed_amount=Decimal("40.01"))
    assert error.code == "amount_invalid"
    assert "¥40.00" in error.message and "¥8.00" in error.message
    assert file(order, claimed_amount=Decimal("40.00")).claimed_amount == Decimal("40.00")


@pytest.mark.parametrize("amount", [Decimal("0.00"), Decimal("-1.00")])
def test_claim_must_be_above_zero(amount):
    assert _refusal(claimed_amount=amount).code == "amount_invalid"


def test_window_closes_72_hours_after_delivery_and_the_refusal_names_it(time_machine):
    time_machine.move_to(datetime(2026, 11, 17, 6, 0, tzinfo=UTC), tick=False)
    order = funded_order()
    time_machine.move_to(order.delivered_at + timedelta(hours=72, seconds=1), tick=False)
    with translation.override("en"):
        error = _refusal(order=order)
    assert error.code == "window_closed"
    assert "2026-11-20 14:00" in error.message  # 06:00 UTC + 72 h, shown in Asia/Shanghai
    assert "72 h after delivery" in error.message


def test_window_still_open_at_the_last_second(time_machine):
    order = funded_order()
    time_machine.move_to(order.delivered_at + timedelta(hours=72), tick=False)
    assert file(order).status == Status.AWAITING_MERCHANT


def test_not_received_counts_the_window_from_payment(time_machine):
    order = funded_order()
    time_machine.move_to(order.paid_at + timedelta(hours=72, minutes=1), tick=False)
    with translation.override("en"):
        error = _refusal(order=order, reason="not_received")
    assert error.code == "window_closed"
    assert "after payment" in error.message


def test_a_blacklisted_buyer_is_told_the_reason_and_the_end_date():
    order = funded_order()
    until = timezone.now() + timedelta(days=30)
    BlacklistEntry.objects.create(
        user=order.buyer,
        reason="Three malicious complaints",
        source=BlacklistSource.MANUAL,
        expires_at=until,
    )
    with translation.override("en"):
        error = _refusal(order=order)
    assert error.code == "blacklisted"
    assert "Three malicious complaints" in error.message
    assert timezone.localtime(until).strftime("%Y-%m-%d") in error.message


def test_an_expired_or_lifted_blacklist_entry_does_not_stop_filing():
    order = funded_order()
    entry = BlacklistEntry.objects.create(
        user=order.buyer,
        reason="r",
        source=BlacklistSource.MANUAL,
        created_at=timezone.now() - timedelta(days=200),
        expires_at=timezone.now() - timedelta(days=1),
    )
    assert not entry.is_active()
    assert file(order).status == Status.AWAITING_MERCHANT


def test_one_complaint_per_order():
    order = funded_order()
    first = file(order)
    error = _refusal(order=order)
    assert error.code == "complaint_exists"
    assert error.extra["complaint"] == first.number


def test_a_resolved_complaint_also_blocks_a_second_one():
    order = funded_order()
    dispute = file(order)
    services.dispute_respond(
        dispute=dispute, merchant_user=order.merchant.owner, action="accept", remedy="refund"
    )
    order.refresh_from_db()
    assert _refusal(order=order, claimed_amount=Decimal("0.01")).code == "complaint_exists"


def test_a_new_complaint_is_possible_after_a_withdrawal_inside_the_window():
    order = funded_order()
    first = file(order)
    services.dispute_withdraw(dispute=first, buyer=order.buyer)
    second = file(order)
    assert second.pk != first.pk and second.status == Status.AWAITING_MERCHANT


def test_the_database_constraint_keeps_one_live_complaint_per_order():
    dispute = file()
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispute.objects.create(
            number="TSDUPLICATE0000001",
            order=dispute.order,
            buyer=dispute.buyer,
            merchant=dispute.merchant,
            reason="other",
            claimed_amount=Decimal("1.00"),
        )


def test_a_lost_race_to_the_constraint_is_a_clear_refusal_not_an_integrity_error():
    order = funded_order()
    first = file(order)

    def check_that_misses_the_first(**kwargs):
        # As if the other request committed between our check and our insert.
        return kwargs["order"].delivered_at + timedelta(hours=72)

    with (
        mock.patch.object(filing, "_check_filing", side_effect=check_that_misses_the_first),
        pytest.raises(DomainError) as caught,
    ):
        file(order)
    assert caught.value.code == "complaint_exists"
    assert caught.value.extra["complaint"] == first.number
    assert Dispute.objects.filter(order=order).count() == 1


def test_named_card_keys_must_belong_to_the_order():
    order = funded_order(quantity=3)
    keys = list(order.card_keys.order_by("id"))
    dispute = file(order, card_keys=[keys[0], keys[2].pk])
    assert list(dispute.card_keys.order_by("id")) == [keys[0], keys[2]]
    stranger = CardKeyFactory()
    other_order = funded_order()
    with pytest.raises(DomainError) as caught:
        file(other_order, card_keys=[stranger.pk])
    assert caught.value.code == "card_keys_invalid"


def test_unknown_reason_is_refused():
    assert _refusal(reason="because").code == "reason_invalid"


def test_evidence_count_limit_comes_from_the_policy_in_force(time_machine):
    services.policy_publish(
        staff=None,
        effective_from=timezone.now() + timedelta(days=7, minutes=1),
        values={"max_evidence_files": 1},
        note="a reason for the change",
    )
    two = [services.EvidenceUpload(kind="other", file=png()) for _ in range(2)]
    # Not in force yet: two files pass.
    assert file(evidence=two).evidence.filter(role="buyer").count() == 2
    time_machine.move_to(timezone.now() + timedelta(days=7, minutes=2), tick=False)
    order = funded_order()
    three = [services.EvidenceUpload(kind="other", file=png()) for _ in range(2)]
    assert _refusal(order=order, evidence=three).code == "evidence_invalid"
    assert not Dispute.objects.filter(order=order).exists()


def test_running_clocks_keep_their_deadlines_when_policy_changes(time_machine):
    order = funded_order()
    dispute = file(order)
    due = dispute.merchant_response_due
    services.policy_publish(
        staff=StaffFactory(),
        effective_from=timezone.now() + timedelta(days=7, minutes=1),
        values={"merchant_response_hours": 1, "complaint_window_hours": 1000},
        note="a reason for the change",
    )
    time_machine.move_to(timezone.now() + timedelta(days=7, minutes=2), tick=False)
    dispute.refresh_from_db()
    assert dispute.merchant_response_due == due


def test_new_policy_applies_to_complaints_filed_after_it_takes_effect(time_machine):
    product = ProductFactory()
    services.policy_publish(
        staff=None,
        effective_from=timezone.now() + timedelta(days=7, minutes=1),
        values={"merchant_response_hours": 6},
        note="a reason for the change",
    )
    time_machine.move_to(timezone.now() + timedelta(days=7, minutes=2), tick=False)
    order = funded_order(product=product)
    dispute = file(order)
    assert dispute.merchant_response_due - dispute.filed_at == timedelta(hours=6)


def test_a_failed_filing_leaves_no_files_behind(settings):
    order = funded_order()
    with (
        mock.patch("disputes.services.money.hold_place", side_effect=RuntimeError("escrow down")),
        pytest.raises(RuntimeError),
    ):
        file(order, evidence=[services.EvidenceUpload(kind="other", file=png())])
    assert not Dispute.objects.filter(order=order).exists()
    media = Path(settings.MEDIA_ROOT) / "evidence"
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_arbitrators_and_merchants_cannot_file_for_a_buyer():
    order = funded_order()
    with pytest.raises(NotFound):
        file(order, buyer=arbitrator())
    with pytest.raises(NotFound):
        file(order, buyer=order.merchant.owner)


def test_filing_a_top_up_not_received_before_delivery():
    product = ProductFactory(kind=ProductKind.PHONE_TOPUP)
    fund(product.merchant)
    order = order_services.order_create(
        buyer=UserFactory(), product=product, quantity=1, topup_target="13800138000"
    )
    order = order_services.order_pay(order=order, buyer=order.buyer)
    order.refresh_from_db()
    dispute = file(order, reason="not_received")
    assert dispute.window_closes_at == order.paid_at + timedelta(hours=72)
