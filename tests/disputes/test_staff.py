"""Staff: rulings, requests for information (the paused review clock), recovery decisions,
internal notes, and the blacklist that malicious rulings feed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.utils import timezone

from disputes import services
from disputes.models import (
    BlacklistEntry,
    BlacklistSource,
    DecidedBy,
    EventType,
    Outcome,
    Status,
    Visibility,
)
from kamen_complaints.errors import DomainError, Forbidden
from orders.models import CardKeyStatus
from tests.disputes.factories import (
    arbitrator,
    check_ledger,
    deposit,
    file,
    funded_order,
    png,
    resolved_by_refund,
    under_review,
)
from tests.factories import CardKeyFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _rule(dispute, outcome, **kwargs):
    values = {"dispute": dispute, "staff": arbitrator(), "outcome": outcome, "reason": "Seen."}
    values.update(kwargs)
    return services.dispute_rule(**values)


# --- Rulings ---------------------------------------------------------------------------------


def test_ruling_refunded_pays_the_claim_and_recovers_it_from_the_deposit():
    dispute = under_review(claimed_amount=Decimal("48.00"))
    dispute = _rule(dispute, "refunded", reason="The key was never valid")
    assert dispute.status == Status.RESOLVED and dispute.outcome == Outcome.REFUNDED
    assert dispute.decided_by == DecidedBy.STAFF and dispute.decision_reason
    assert dispute.resolved_amount == Decimal("48.00")
    assert dispute.paid_out == dispute.recovered == Decimal("48.00")
    summary = deposit(dispute.merchant)
    assert summary.balance == Decimal("952.00") and summary.held == Decimal("0.00")
    check_ledger()


def test_ruling_partially_refunded_needs_an_amount_below_the_claim():
    dispute = under_review(claimed_amount=Decimal("48.00"))
    for amount in (None, Decimal("0.00"), Decimal("48.00")):
        with pytest.raises(DomainError) as caught:
            _rule(dispute, "partially_refunded", amount=amount)
        assert caught.value.code == "amount_invalid"
    dispute = _rule(dispute, "partially_refunded", amount=Decimal("12.50"))
    assert dispute.resolved_amount == Decimal("12.50")
    assert dispute.paid_out == dispute.recovered == Decimal("12.50")
    assert deposit(dispute.merchant).held == Decimal("0.00")
    check_ledger()


def test_ruling_refunded_without_recovery_leaves_the_cost_with_the_platform():
    dispute = under_review()
    dispute = _rule(dispute, "refunded", recover_from_merchant=False)
    assert dispute.paid_out == dispute.claimed_amount and dispute.recovered == Decimal("0.00")
    summary = deposit(dispute.merchant)
    assert summary.balance == Decimal("1000.00") and summary.held == Decimal("0.00")
    check_ledger()


def test_ruling_replaced_delivers_a_fresh_key():
    order = funded_order()
    CardKeyFactory(product=order.product)
    dispute = under_review(order=order)
    dispute = _rule(dispute, "replaced")
    assert dispute.outcome == Outcome.REPLACED
    assert order.card_keys.filter(status=CardKeyStatus.DELIVERED).count() == 2
    assert dispute.paid_out == Decimal("0.00")
    check_ledger()


@pytest.mark.parametrize("outcome", ["rejected", "rejected_malicious"])
def test_ruling_rejected_releases_the_hold_and_pays_nothing(outcome):
    dispute = under_review()
    dispute = _rule(dispute, outcome)
    assert dispute.outcome == outcome and dispute.resolved_amount == Decimal("0.00")
    assert dispute.paid_out == Decimal("0.00")
    summary = deposit(dispute.merchant)
    assert summary.held == Decimal("0.00") and summary.balance == Decimal("1000.00")
    check_ledger()


def test_a_ruling_needs_a_written_reason_and_a_known_outcome():
    dispute = under_review()
    with pytest.raises(DomainError) as caught:
        _rule(dispute, "refunded", reason="")
    assert caught.value.code == "reason_required"
    with pytest.raises(DomainError) as caught:
        _rule(dispute, "split")
    assert caught.value.code == "outcome_invalid"


def test_only_a_complaint_under_review_is_ruled():
    with pytest.raises(DomainError) as caught:
        _rule(file(), "refunded")
    assert caught.value.code == "not_allowed_in_state"


@pytest.mark.parametrize(
    "user",
    [
        lambda d: d.buyer,
        lambda d: d.merchant.owner,
        lambda d: UserFactory(),
        lambda d: StaffFactory(perms=["disputes.view_dispute"]),
        lambda d: UserFactory(is_staff=False),
    ],
)
def test_only_staff_with_arbitrate_rule(user):
    dispute = under_review()
    with pytest.raises(Forbidden):
        services.dispute_rule(dispute=dispute, staff=user(dispute), outcome="refunded", reason="x")


def test_the_permission_without_staff_status_is_not_enough():
    dispute = under_review()
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="arbitrate"))
    with pytest.raises(Forbidden):
        services.dispute_rule(dispute=dispute, staff=user, outcome="refunded", reason="x")


# --- Malicious rulings and the blacklist -------------------------------------------------------


def _malicious_for(buyer):
    dispute = under_review(order=funded_order(buyer=buyer))
    return _rule(dispute, "rejected_malicious", reason="Key redeemed by the buyer")


def test_the_third_malicious_ruling_within_180_days_blacklists_the_filer(time_machine):
    buyer = UserFactory()
    _malicious_for(buyer)
    time_machine.move_to(timezone.now() + timedelta(days=60), tick=False)
    _malicious_for(buyer)
    assert not BlacklistEntry.objects.filter(user=buyer).exists()
    time_machine.move_to(timezone.now() + timedelta(days=60), tick=False)
    third = _malicious_for(buyer)
    entry = BlacklistEntry.objects.get(user=buyer)
    assert entry.source == BlacklistSource.AUTOMATIC and entry.dispute == third
    assert entry.expires_at - timezone.now() == timedelta(days=180)
    event = third.events.get(type=EventType.BLACKLISTED)
    assert event.visibility == Visibility.STAFF
    with pytest.raises(DomainError) as caught:
        file(order=funded_order(buyer=buyer))
    assert caught.value.code == "blacklisted"


def test_malicious_rulings_older_than_180_days_do_not_count(time_machine):
    buyer = UserFactory()
    _malicious_for(buyer)
    time_machine.move_to(timezone.now() + timedelta(days=181), tick=False)
    _malicious_for(buyer)
    _malicious_for(buyer)
    assert not BlacklistEntry.objects.filter(user=buyer).exists()


def test_plain_rejections_do_not_count_against_the_filer():
    buyer = UserFactory()
    for _ in range(3):
        _rule(under_review(order=funded_order(buyer=buyer)), "rejected")
    assert not BlacklistEntry.objects.filter(user=buyer).exists()


# --- Requests for information ----------------------------------------------------------------


def test_request_info_pauses_the_review_clock_and_an_answer_resumes_it(time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    dispute = under_review()
    staff = arbitrator()
    due = dispute.review_due
    dispute = services.dispute_request_info(
        dispute=dispute, staff=staff, party="buyer", question="When did you redeem?"
    )
    assert dispute.review_paused_at is not None and dispute.info_requested_from == "buyer"
    assert dispute.info_due - dispute.review_paused_at == timedelta(hours=24)
    time_machine.move_to(timezone.now() + timedelta(hours=5), tick=False)
    # The other party writing does not resume it.
    services.dispute_message(dispute=dispute, user=dispute.merchant.owner, body="Note")
    dispute.refresh_from_db()
    assert dispute.review_paused_at is not None
    services.dispute_message(dispute=dispute, user=dispute.buyer, body="At 14:00")
    dispute.refresh_from_db()
    assert dispute.review_paused_at is None and dispute.info_requested_from == ""
    assert dispute.review_due == due + timedelta(hours=5)
    types = list(dispute.events.values_list("type", flat=True))
    assert "info_requested" in types and "review_resumed" in types
    resumed = dispute.events.get(type=EventType.REVIEW_RESUMED)
    assert resumed.data["cause"] == "answered" and resumed.visibility == Visibility.ALL


def test_evidence_from_the_asked_party_resumes_the_review(time_machine):
    dispute = under_review()
    dispute = services.dispute_request_info(
        dispute=dispute, staff=arbitrator(), party="merchant", question="Upstream log?"
    )
    time_machine.move_to(timezone.now() + timedelta(hours=2), tick=False)
    services.dispute_add_evidence(
        dispute=dispute, user=dispute.merchant.owner, kind="upstream_proof", file=png()
    )
    dispute.refresh_from_db()
    assert dispute.review_paused_at is None


def test_silence_resumes_the_review_as_of_the_info_deadline(time_machine):
    dispute = under_review()
    due = dispute.review_due
    dispute = services.dispute_request_info(
        dispute=dispute, staff=arbitrator(), party="buyer", question="?"
    )
    assert services.dispute_info_lapse(dispute=dispute) is False  # not due yet
    time_machine.move_to(dispute.info_due + timedelta(hours=3), tick=False)
    assert services.dispute_info_lapse(dispute=dispute) is True
    assert services.dispute_info_lapse(dispute=dispute) is False  # exactly once
    dispute.refresh_from_db()
    assert dispute.review_paused_at is None
    assert dispute.review_due == due + timedelta(hours=24)
    assert dispute.events.get(type=EventType.REVIEW_RESUMED).data["cause"] == "silence"


def test_request_info_only_under_review_not_twice_and_only_to_a_party():
    with pytest.raises(DomainError) as caught:
        services.dispute_request_info(
            dispute=file(), staff=arbitrator(), party="buyer", question="?"
        )
    assert caught.value.code == "not_allowed_in_state"
    dispute = under_review()
    with pytest.raises(DomainError) as caught:
        services.dispute_request_info(
            dispute=dispute, staff=arbitrator(), party="court", question="?"
        )
    assert caught.value.code == "party_invalid"
    services.dispute_request_info(dispute=dispute, staff=arbitrator(), party="buyer", question="?")
    with pytest.raises(DomainError) as caught:
        services.dispute_request_info(
            dispute=dispute, staff=arbitrator(), party="merchant", question="?"
        )
    assert caught.value.code == "not_allowed_in_state"


def test_a_ruling_during_a_pause_ends_the_pause():
    dispute = under_review()
    services.dispute_request_info(dispute=dispute, staff=arbitrator(), party="buyer", question="?")
    dispute = _rule(dispute, "rejected")
    assert dispute.review_paused_at is None and dispute.info_due is None


def test_request_info_needs_arbitrate():
    dispute = under_review()
    with pytest.raises(Forbidden):
        services.dispute_request_info(
            dispute=dispute,
            staff=StaffFactory(perms=["disputes.view_dispute"]),
            party="buyer",
            question="?",
        )


# --- Internal notes --------------------------------------------------------------------------


def test_internal_notes_are_staff_only_events():
    dispute = under_review()
    event = services.dispute_note(dispute=dispute, staff=arbitrator(), body="Buyer looks shady")
    assert event.visibility == Visibility.STAFF and event.type == EventType.NOTE
    for user in (
        dispute.buyer,
        dispute.merchant.owner,
        StaffFactory(perms=["disputes.view_dispute"]),
    ):
        with pytest.raises(Forbidden):
            services.dispute_note(dispute=dispute, staff=user, body="x")


# --- Recovery after the platform paid first ----------------------------------------------------


def _platform_paid_first(**kwargs):
    dispute = under_review(**kwargs)
    with time_machine.travel(dispute.review_due + timedelta(seconds=1), tick=False):
        assert services.dispute_review_expire(dispute=dispute) is True
    dispute.refresh_from_db()
    return dispute


def test_staff_decide_the_merchant_bears_what_the_platform_paid_first():
    dispute = _platform_paid_first()
    assert dispute.recovery_pending and dispute.paid_out == dispute.claimed_amount
    assert deposit(dispute.merchant).held == dispute.claimed_amount
    dispute = services.dispute_decide_recovery(
        dispute=dispute, staff=arbitrator(), bears="merchant", reason="Key invalid"
    )
    assert not dispute.recovery_pending and dispute.recovered == dispute.claimed_amount
    summary = deposit(dispute.merchant)
    assert summary.held == Decimal("0.00")
    assert summary.balance == Decimal("1000.00") - dispute.claimed_amount
    check_ledger()


def test_staff_decide_the_platform_bears_it_and_the_hold_is_released():
    dispute = _platform_paid_first()
    dispute = services.dispute_decide_recovery(
        dispute=dispute, staff=arbitrator(), bears="platform", reason="Our delay"
    )
    assert dispute.recovered == Decimal("0.00")
    summary = deposit(dispute.merchant)
    assert summary.held == Decimal("0.00") and summary.balance == Decimal("1000.00")
    check_ledger()


def test_recovery_is_decided_once_and_only_where_the_platform_paid_first():
    with pytest.raises(DomainError) as caught:
        services.dispute_decide_recovery(
            dispute=resolved_by_refund(), staff=arbitrator(), bears="merchant", reason="x"
        )
    assert caught.value.code == "not_allowed_in_state"
    dispute = _platform_paid_first()
    with pytest.raises(DomainError) as caught:
        services.dispute_decide_recovery(
            dispute=dispute, staff=arbitrator(), bears="buyer", reason="x"
        )
    assert caught.value.code == "bears_invalid"
    services.dispute_decide_recovery(
        dispute=dispute, staff=arbitrator(), bears="merchant", reason="x"
    )
    with pytest.raises(DomainError):
        services.dispute_decide_recovery(
            dispute=dispute, staff=arbitrator(), bears="merchant", reason="x"
        )
    with pytest.raises(Forbidden):
        services.dispute_decide_recovery(
            dispute=dispute, staff=dispute.buyer, bears="merchant", reason="x"
        )
    check_ledger()
