"""The merchant's answer, the buyer's answer to an offer, withdrawals, messages and appeals."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import DatabaseError, connection, transaction
from django.utils import timezone, translation

from disputes import services
from disputes.models import (
    DecidedBy,
    DisputeEvent,
    EventType,
    Outcome,
    Status,
)
from disputes.services.state_machine import ALLOWED, locked, transition
from kamen_complaints.errors import DomainError, Forbidden
from orders.models import CardKeyStatus
from tests.disputes.factories import (
    agent_of,
    arbitrator,
    check_ledger,
    deposit,
    file,
    funded_order,
    offered,
    png,
    resolved_by_refund,
    under_review,
)
from tests.factories import CardKeyFactory, MerchantFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _respond(dispute, **kwargs):
    values = {"dispute": dispute, "merchant_user": dispute.merchant.owner}
    values.update(kwargs)
    return services.dispute_respond(**values)


# --- The state machine ---------------------------------------------------------------------


def test_transition_table_refuses_what_it_does_not_list():
    dispute = file()
    dispute = locked(dispute)
    with pytest.raises(DomainError) as caught:
        transition(dispute, to=Status.AWAITING_MERCHANT, type="x", actor=None, role="system")
    assert caught.value.code == "not_allowed_in_state"
    assert ALLOWED[Status.WITHDRAWN] == set()
    assert ALLOWED[Status.RESOLVED] == {Status.UNDER_REVIEW}


def test_events_are_append_only():
    event = file().events.first()
    event.body = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        DisputeEvent.objects.filter(pk=event.pk).update(body="x")
    with pytest.raises(PermissionError):
        DisputeEvent.objects.filter(pk=event.pk).delete()


def test_the_database_refuses_to_update_an_event_too():
    event = file().events.first()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE disputes_disputeevent SET body = 'x' WHERE id = %s", [event.pk])


# --- Merchant answers ----------------------------------------------------------------------


def test_merchant_accepts_with_refund_compensates_the_claim_and_recovers_it():
    order = funded_order(price=Decimal("48.00"))
    dispute = file(order, claimed_amount=Decimal("40.00"))
    dispute = _respond(dispute, action="accept", remedy="refund", message="Sorry")
    assert dispute.status == Status.RESOLVED
    assert dispute.outcome == Outcome.REFUNDED
    assert dispute.resolved_amount == Decimal("40.00")
    assert dispute.decided_by == DecidedBy.MERCHANT
    assert dispute.paid_out == Decimal("40.00") and dispute.recovered == Decimal("40.00")
    summary = deposit(order.merchant)
    assert summary.balance == Decimal("960.00") and summary.held == Decimal("0.00")
    assert dispute.appeal_due == dispute.resolved_at + timedelta(days=7)
    types = list(dispute.events.values_list("type", flat=True))
    assert types == ["filed", "accepted", "money", "money"]
    check_ledger()


def test_an_agent_of_the_shop_may_answer():
    dispute = file()
    agent = agent_of(dispute.merchant)
    dispute = _respond(dispute, merchant_user=agent, action="accept", remedy="refund")
    assert dispute.status == Status.RESOLVED
    check_ledger()


def test_merchant_replaces_the_key_from_stock_and_no_money_moves():
    order = funded_order()
    CardKeyFactory(product=order.product)
    dispute = file(order)
    dispute = _respond(dispute, action="accept", remedy="replace")
    assert dispute.outcome == Outcome.REPLACED and dispute.resolved_amount == Decimal("0.00")
    assert order.card_keys.filter(status=CardKeyStatus.DELIVERED).count() == 2
    assert dispute.paid_out == Decimal("0.00") and dispute.recovered == Decimal("0.00")
    assert deposit(order.merchant).held == Decimal("0.00")
    assert dispute.events.filter(type=EventType.KEY_REPLACED).exists()
    check_ledger()


def test_replacement_delivers_one_key_per_named_key():
    order = funded_order(quantity=3)
    for _ in range(3):
        CardKeyFactory(product=order.product)
    keys = list(order.card_keys.order_by("id"))
    dispute = file(order, card_keys=keys[:2])
    _respond(dispute, action="accept", remedy="replace")
    assert order.card_keys.count() == 5


def test_replacement_out_of_stock_is_refused_and_nothing_changes():
    dispute = file()
    with translation.override("en"), pytest.raises(DomainError) as caught:
        _respond(dispute, action="accept", remedy="replace")
    assert caught.value.code == "out_of_stock"
    assert "stock" in caught.value.message
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT
    assert dispute.events.count() == 1


def test_accept_needs_a_remedy():
    with pytest.raises(DomainError) as caught:
        _respond(file(), action="accept")
    assert caught.value.code == "remedy_invalid"


def test_unknown_action_is_refused():
    with pytest.raises(DomainError) as caught:
        _respond(file(), action="ignore")
    assert caught.value.code == "action_invalid"


def test_offer_moves_to_awaiting_buyer_with_the_buyers_deadline():
    dispute = file(claimed_amount=Decimal("48.00"))
    dispute = _respond(dispute, action="offer", amount=Decimal("20.00"), message="20?")
    assert dispute.status == Status.AWAITING_BUYER
    assert dispute.offer_amount == Decimal("20.00")
    assert timedelta(hours=23, minutes=59) < dispute.buyer_response_due - timezone.now()


@pytest.mark.parametrize("amount", [None, Decimal("0.00"), Decimal("48.00"), Decimal("60.00")])
def test_offer_must_be_above_zero_and_below_the_claim(amount):
    dispute = file(claimed_amount=Decimal("48.00"))
    with pytest.raises(DomainError) as caught:
        _respond(dispute, action="offer", amount=amount)
    assert caught.value.code == "amount_invalid"


def test_contest_needs_counter_evidence_and_a_statement():
    dispute = file()
    with pytest.raises(DomainError) as caught:
        _respond(dispute, action="contest", message="No.")
    assert caught.value.code == "evidence_required"
    services.dispute_add_evidence(
        dispute=dispute, user=dispute.merchant.owner, kind="upstream_proof", file=png()
    )
    with pytest.raises(DomainError) as caught:
        _respond(dispute, action="contest", message="  ")
    assert caught.value.code == "reason_required"
    dispute = _respond(dispute, action="contest", message="Valid at delivery")
    assert dispute.status == Status.UNDER_REVIEW
    assert timedelta(hours=47, minutes=59) < dispute.review_due - timezone.now()


def test_the_buyers_evidence_does_not_count_as_the_merchants_counter_evidence():
    dispute = file(evidence=[services.EvidenceUpload(kind="order_screenshot", file=png())])
    with pytest.raises(DomainError) as caught:
        _respond(dispute, action="contest", message="No")
    assert caught.value.code == "evidence_required"


def test_merchant_answer_after_its_deadline_is_refused(time_machine):
    dispute = file()
    time_machine.move_to(dispute.merchant_response_due + timedelta(seconds=1), tick=False)
    with pytest.raises(DomainError) as caught:
        _respond(dispute, action="accept", remedy="refund")
    assert caught.value.code == "deadline_passed"


def test_answering_twice_is_refused():
    dispute = resolved_by_refund()
    with pytest.raises(DomainError) as caught:
        _respond(dispute, action="accept", remedy="refund")
    assert caught.value.code == "not_allowed_in_state"


@pytest.mark.parametrize("who", ["buyer", "other_merchant", "staff", "stranger"])
def test_only_the_shop_may_answer(who):
    dispute = file()
    user = {
        "buyer": dispute.buyer,
        "other_merchant": MerchantFactory().owner,
        "staff": arbitrator(),
        "stranger": UserFactory(),
    }[who]
    with pytest.raises(Forbidden):
        _respond(dispute, merchant_user=user, action="accept", remedy="refund")


# --- Buyer's answer to an offer -------------------------------------------------------------


def test_buyer_accepts_the_offer_and_is_paid_that_amount():
    dispute = offered(Decimal("20.00"))
    dispute = services.dispute_accept_offer(dispute=dispute, buyer=dispute.buyer)
    assert dispute.status == Status.RESOLVED
    assert dispute.outcome == Outcome.PARTIALLY_REFUNDED
    assert dispute.resolved_amount == Decimal("20.00")
    assert dispute.decided_by == DecidedBy.BUYER
    assert dispute.paid_out == Decimal("20.00") and dispute.recovered == Decimal("20.00")
    assert deposit(dispute.merchant).held == Decimal("0.00")
    check_ledger()


def test_buyer_rejects_the_offer_and_the_platform_reviews(time_machine):
    dispute = offered()
    rejected_at = dispute.buyer_response_due - timedelta(hours=1)
    time_machine.move_to(rejected_at, tick=False)
    dispute = services.dispute_reject_offer(dispute=dispute, buyer=dispute.buyer, message="No")
    assert dispute.status == Status.UNDER_REVIEW
    # The platform's 48 h from the rejection (never the merchant's or the buyer's 24 h).
    assert dispute.review_due == rejected_at + timedelta(hours=48)


def test_buyer_answer_after_the_offer_deadline_is_refused(time_machine):
    dispute = offered()
    time_machine.move_to(dispute.buyer_response_due + timedelta(seconds=1), tick=False)
    for action in (services.dispute_accept_offer, services.dispute_reject_offer):
        with pytest.raises(DomainError) as caught:
            action(dispute=dispute, buyer=dispute.buyer)
        assert caught.value.code == "deadline_passed"


def test_accepting_an_offer_when_there_is_none_is_refused():
    dispute = file()
    with pytest.raises(DomainError) as caught:
        services.dispute_accept_offer(dispute=dispute, buyer=dispute.buyer)
    assert caught.value.code == "not_allowed_in_state"


def test_only_the_buyer_answers_an_offer():
    dispute = offered()
    for user in (dispute.merchant.owner, UserFactory(), arbitrator()):
        with pytest.raises(Forbidden):
            services.dispute_accept_offer(dispute=dispute, buyer=user)
        with pytest.raises(Forbidden):
            services.dispute_reject_offer(dispute=dispute, buyer=user)


# --- Withdrawal ------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["awaiting_merchant", "awaiting_buyer", "under_review"])
def test_buyer_withdraws_any_open_complaint_and_the_hold_is_released(state):
    dispute = {"awaiting_merchant": file, "awaiting_buyer": offered, "under_review": under_review}[
        state
    ]()
    assert deposit(dispute.merchant).held > 0
    dispute = services.dispute_withdraw(dispute=dispute, buyer=dispute.buyer, message="Solved")
    assert dispute.status == Status.WITHDRAWN
    assert deposit(dispute.merchant).held == Decimal("0.00")
    check_ledger()


def test_a_resolved_complaint_cannot_be_withdrawn():
    dispute = resolved_by_refund()
    with pytest.raises(DomainError) as caught:
        services.dispute_withdraw(dispute=dispute, buyer=dispute.buyer)
    assert caught.value.code == "not_allowed_in_state"


def test_only_the_buyer_withdraws():
    dispute = file()
    with pytest.raises(Forbidden):
        services.dispute_withdraw(dispute=dispute, buyer=dispute.merchant.owner)


# --- Messages and evidence -------------------------------------------------------------------


def test_parties_and_arbitrators_exchange_messages_and_the_other_side_is_emailed(
    django_capture_on_commit_callbacks,
):
    dispute = file()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_message(dispute=dispute, user=dispute.buyer, body="Any news?")
    assert [m.to for m in mail.outbox] == [[dispute.merchant.owner.email]]
    services.dispute_message(dispute=dispute, user=dispute.merchant.owner, body="Checking")
    services.dispute_message(dispute=dispute, user=arbitrator(), body="Platform here")
    roles = list(dispute.events.filter(type=EventType.MESSAGE).values_list("role", flat=True))
    assert roles == ["buyer", "merchant", "staff"]


def test_strangers_and_staff_without_arbitrate_cannot_write():
    dispute = file()
    for user in (
        UserFactory(),
        MerchantFactory().owner,
        StaffFactory(perms=["disputes.view_dispute"]),
    ):
        with pytest.raises(Forbidden):
            services.dispute_message(dispute=dispute, user=user, body="hi")


def test_an_empty_message_is_refused():
    dispute = file()
    with pytest.raises(DomainError) as caught:
        services.dispute_message(dispute=dispute, user=dispute.buyer, body="   ")
    assert caught.value.code == "reason_required"


def test_evidence_can_be_added_until_a_decision_but_not_after():
    dispute = file()
    services.dispute_add_evidence(
        dispute=dispute, user=dispute.buyer, kind="chat_record", file=png()
    )
    dispute = services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="accept", remedy="refund"
    )
    with pytest.raises(DomainError) as caught:
        services.dispute_add_evidence(dispute=dispute, user=dispute.buyer, kind="other", file=png())
    assert caught.value.code == "not_allowed_in_state"


def test_staff_and_strangers_do_not_upload_party_evidence():
    dispute = file()
    for user in (arbitrator(), UserFactory()):
        with pytest.raises(Forbidden):
            services.dispute_add_evidence(dispute=dispute, user=user, kind="other", file=png())


def test_evidence_kind_platform_record_cannot_be_uploaded():
    dispute = file()
    with pytest.raises(DomainError) as caught:
        services.dispute_add_evidence(
            dispute=dispute, user=dispute.buyer, kind="platform_record", file=png()
        )
    assert caught.value.code == "evidence_invalid"


# --- Appeals ---------------------------------------------------------------------------------


def test_either_party_appeals_once_within_the_window_and_review_starts_again(time_machine):
    dispute = resolved_by_refund()
    appealed_at = dispute.resolved_at + timedelta(days=2)
    time_machine.move_to(appealed_at, tick=False)
    dispute = services.dispute_appeal(
        dispute=dispute, user=dispute.merchant.owner, reason="The key was used by the buyer"
    )
    assert dispute.status == Status.UNDER_REVIEW
    assert dispute.appealed_by == "merchant" and dispute.appealed_at == appealed_at
    assert dispute.review_due == appealed_at + timedelta(hours=48)  # a new review clock
    assert dispute.outcome == Outcome.REFUNDED  # stands until the appeal's ruling
    ruled = services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome="refunded", reason="Upheld"
    )
    assert ruled.appeal_final is True and ruled.appeal_due is None
    with pytest.raises(DomainError) as caught:
        services.dispute_appeal(dispute=ruled, user=ruled.buyer, reason="Again")
    assert caught.value.code == "not_allowed_in_state"
    check_ledger()


def test_the_buyer_may_appeal_too():
    dispute = resolved_by_refund()
    dispute = services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="More")
    assert dispute.appealed_by == "buyer"


def test_appeal_after_the_window_is_refused(time_machine):
    dispute = resolved_by_refund()
    time_machine.move_to(dispute.appeal_due + timedelta(seconds=1), tick=False)
    with pytest.raises(DomainError) as caught:
        services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="late")
    assert caught.value.code == "deadline_passed"


def test_appeal_needs_a_reason_and_a_resolved_complaint():
    dispute = file()
    with pytest.raises(DomainError) as caught:
        services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="why")
    assert caught.value.code == "not_allowed_in_state"
    resolved = resolved_by_refund()
    with pytest.raises(DomainError) as caught:
        services.dispute_appeal(dispute=resolved, user=resolved.buyer, reason="")
    assert caught.value.code == "reason_required"


def test_strangers_and_staff_cannot_appeal():
    dispute = resolved_by_refund()
    for user in (UserFactory(), arbitrator(), MerchantFactory().owner):
        with pytest.raises(Forbidden):
            services.dispute_appeal(dispute=dispute, user=user, reason="x")


def test_an_appeal_under_way_cannot_be_withdrawn():
    dispute = resolved_by_refund()
    dispute = services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="More")
    with pytest.raises(DomainError) as caught:
        services.dispute_withdraw(dispute=dispute, buyer=dispute.buyer)
    assert caught.value.code == "not_allowed_in_state"
