"""Money outcomes checked against the ledger: clocks running out, fast track, appeals."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from disputes import services
from disputes.models import DecidedBy, EventType, Outcome, Status, Visibility
from disputes.services import filing
from escrow.models import LedgerTransaction
from kamen_complaints.errors import DomainError
from tests.disputes.factories import (
    arbitrator,
    check_ledger,
    contest,
    deposit,
    file,
    funded_order,
    offered,
    resolved_by_refund,
    under_review,
)
from tests.factories import CardKeyFactory

pytestmark = pytest.mark.django_db


def _keys(dispute) -> list[str]:
    prefix = f"dispute:{dispute.pk}:"
    return sorted(
        k.removeprefix(prefix)
        for k in LedgerTransaction.objects.filter(key__startswith=prefix).values_list(
            "key", flat=True
        )
    )


def _rule(dispute, outcome, **kwargs):
    return services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome=outcome, reason="Decided", **kwargs
    )


# --- Clocks running out ------------------------------------------------------------------------


def test_silent_merchant_loses_by_default_after_24h(time_machine):
    dispute = file(claimed_amount=Decimal("48.00"))
    assert services.dispute_default_judgment(dispute=dispute) is False
    time_machine.move_to(dispute.merchant_response_due + timedelta(seconds=1), tick=False)
    assert services.dispute_default_judgment(dispute=dispute) is True
    assert services.dispute_default_judgment(dispute=dispute) is False
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.outcome == Outcome.REFUNDED
    assert dispute.decided_by == DecidedBy.SYSTEM
    assert _keys(dispute) == ["payout", "recovery"]
    assert deposit(dispute.merchant).balance == Decimal("952.00")
    check_ledger()


def test_silent_buyer_gets_the_offers_terms(time_machine):
    dispute = offered(Decimal("20.00"))
    time_machine.move_to(dispute.buyer_response_due + timedelta(seconds=1), tick=False)
    assert services.dispute_offer_lapse(dispute=dispute) is True
    assert services.dispute_offer_lapse(dispute=dispute) is False
    dispute.refresh_from_db()
    assert dispute.outcome == Outcome.PARTIALLY_REFUNDED
    assert dispute.resolved_amount == Decimal("20.00") and dispute.decided_by == DecidedBy.SYSTEM
    assert dispute.paid_out == dispute.recovered == Decimal("20.00")
    check_ledger()


def test_platform_pays_first_when_its_review_clock_runs_out(time_machine):
    dispute = under_review()
    time_machine.move_to(dispute.review_due + timedelta(seconds=1), tick=False)
    assert services.dispute_review_expire(dispute=dispute) is True
    assert services.dispute_review_expire(dispute=dispute) is False
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.recovery_pending
    assert dispute.decided_by == DecidedBy.SYSTEM
    assert _keys(dispute) == ["payout"]
    assert deposit(dispute.merchant).held == dispute.claimed_amount  # kept for the decision
    assert dispute.events.filter(type=EventType.REVIEW_EXPIRED).exists()
    check_ledger()


def test_a_paused_review_does_not_expire(time_machine):
    dispute = under_review()
    services.dispute_request_info(dispute=dispute, staff=arbitrator(), party="buyer", question="?")
    time_machine.move_to(dispute.review_due + timedelta(seconds=1), tick=False)
    assert services.dispute_review_expire(dispute=dispute) is False


def test_a_short_deposit_becomes_a_receivable_on_recovery():
    order = funded_order(price=Decimal("48.00"), deposit_amount=Decimal("10.00"))
    dispute = file(order)
    services.dispute_respond(
        dispute=dispute, merchant_user=order.merchant.owner, action="accept", remedy="refund"
    )
    summary = deposit(order.merchant)
    assert summary.balance == Decimal("0.00") and summary.receivable == Decimal("38.00")
    check_ledger()


# --- Fast track --------------------------------------------------------------------------------


def _fast(**kwargs):
    dispute = file(**kwargs)
    assert services.dispute_fast_track(dispute=dispute, data={"rule": "test"}) is True
    assert services.dispute_fast_track(dispute=dispute) is False
    dispute.refresh_from_db()
    return dispute


def test_fast_track_pays_the_buyer_at_once():
    dispute = _fast()
    assert dispute.fast_track and dispute.paid_out == dispute.claimed_amount
    assert _keys(dispute) == ["payout"]
    assert dispute.status == Status.AWAITING_MERCHANT
    check_ledger()


def test_fast_track_merchant_accepting_bears_it_without_a_second_payout():
    dispute = _fast()
    dispute = services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="accept", remedy="refund"
    )
    assert _keys(dispute) == ["payout", "recovery"]
    assert dispute.paid_out == dispute.recovered == dispute.claimed_amount
    check_ledger()


def test_fast_track_rejected_buyer_keeps_the_money_merchant_bears_nothing():
    dispute = _fast()
    dispute = _rule(contest(dispute), "rejected")
    assert dispute.paid_out == dispute.claimed_amount and dispute.recovered == Decimal("0.00")
    summary = deposit(dispute.merchant)
    assert summary.held == Decimal("0.00") and summary.balance == Decimal("1000.00")
    check_ledger()


def test_fast_track_has_no_offers_or_replacements():
    dispute = _fast()
    CardKeyFactory(product=dispute.order.product)
    for kwargs in (
        {"action": "offer", "amount": Decimal("1.00")},
        {"action": "accept", "remedy": "replace"},
    ):
        with pytest.raises(DomainError) as caught:
            services.dispute_respond(
                dispute=dispute, merchant_user=dispute.merchant.owner, **kwargs
            )
        assert caught.value.code == "not_allowed_in_state"


def test_withdrawn_fast_track_leaves_the_recovery_to_staff():
    dispute = _fast()
    dispute = services.dispute_withdraw(dispute=dispute, buyer=dispute.buyer)
    assert dispute.recovery_pending
    assert deposit(dispute.merchant).held == dispute.claimed_amount
    services.dispute_decide_recovery(
        dispute=dispute, staff=arbitrator(), bears="platform", reason="Withdrawn"
    )
    assert deposit(dispute.merchant).held == Decimal("0.00")
    check_ledger()


def test_after_filing_hooks_run_inside_the_filing(monkeypatch):
    seen = []
    monkeypatch.setattr(filing, "_after_filing", [lambda d, p: seen.append((d.pk, p.pk))])
    dispute = file()
    assert seen == [(dispute.pk, dispute.policy_id)]


# --- Appeals -----------------------------------------------------------------------------------


def test_merchant_wins_an_appeal_the_buyer_keeps_the_payout_and_the_recovery_is_reversed():
    dispute = resolved_by_refund()
    services.dispute_appeal(dispute=dispute, user=dispute.merchant.owner, reason="Used key")
    dispute = _rule(dispute, "rejected")
    assert dispute.appeal_final
    assert dispute.paid_out == dispute.claimed_amount and dispute.recovered == Decimal("0.00")
    assert _keys(dispute) == ["payout", "recovery", "recovery-reversal"]
    assert deposit(dispute.merchant).balance == Decimal("1000.00")
    check_ledger()


def test_buyer_wins_an_appeal_against_a_rejection_and_is_paid():
    dispute = _rule(under_review(), "rejected")
    services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="Look again")
    dispute = _rule(dispute, "refunded")
    assert _keys(dispute) == ["payout", "recovery"]
    assert dispute.paid_out == dispute.recovered == dispute.claimed_amount
    check_ledger()


def test_an_appeal_raising_a_partial_refund_pays_the_difference():
    dispute = offered(Decimal("20.00"), claimed_amount=Decimal("48.00"))
    dispute = services.dispute_accept_offer(dispute=dispute, buyer=dispute.buyer)
    services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="Pressured")
    dispute = _rule(dispute, "refunded")
    assert _keys(dispute) == ["appeal-payout", "payout", "recovery"]
    assert dispute.paid_out == Decimal("48.00")
    # The recovery happens once per complaint: the rest stays with the platform, noted for staff.
    assert dispute.recovered == Decimal("20.00")
    shortfall = dispute.events.get(type=EventType.MONEY, data__movement="recovery-shortfall")
    assert shortfall.visibility == Visibility.STAFF
    check_ledger()


def test_an_appeal_lowering_a_refund_never_claws_back_the_buyer():
    dispute = offered(Decimal("20.00"), claimed_amount=Decimal("48.00"))
    dispute = services.dispute_accept_offer(dispute=dispute, buyer=dispute.buyer)
    services.dispute_appeal(dispute=dispute, user=dispute.merchant.owner, reason="Too much")
    dispute = _rule(dispute, "partially_refunded", amount=Decimal("5.00"))
    assert dispute.paid_out == Decimal("20.00")
    assert dispute.recovered == Decimal("5.00")
    assert _keys(dispute) == ["payout", "recovery", "recovery-reversal"]
    assert deposit(dispute.merchant).balance == Decimal("995.00")
    check_ledger()


def test_the_appeals_review_clock_also_pays_first(time_machine):
    dispute = _rule(under_review(), "rejected")
    dispute = services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="Again")
    time_machine.move_to(dispute.review_due + timedelta(seconds=1), tick=False)
    assert services.dispute_review_expire(dispute=dispute) is True
    dispute.refresh_from_db()
    assert dispute.appeal_final and dispute.recovery_pending
    assert dispute.paid_out == dispute.claimed_amount
    assert _keys(dispute) == ["payout"]
    services.dispute_decide_recovery(
        dispute=dispute, staff=arbitrator(), bears="merchant", reason="Key invalid"
    )
    dispute.refresh_from_db()
    assert _keys(dispute) == ["payout", "recovery"]
    check_ledger()


def test_appeal_window_opens_at_resolution_for_seven_days():
    now = timezone.now()
    dispute = resolved_by_refund()
    assert timedelta(days=6, hours=23) < dispute.appeal_due - now <= timedelta(days=7, minutes=1)
