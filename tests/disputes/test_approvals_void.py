"""Four eyes decide the case as it stood (docs/admin.md): a ruling proposal is void once the
complaint moves on — a ruling, an appeal, a withdrawal — and approving it is refused with a
clear message, nothing carried out, even when the complaint is under review again."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from disputes import services
from disputes.models import Outcome, Status
from kamen_complaints import approvals
from kamen_complaints.errors import DomainError
from kamen_complaints.models import Approval, ApprovalStatus
from tests.disputes.factories import arbitrator, check_ledger, deposit, funded_order, under_review

pytestmark = pytest.mark.django_db

D = Decimal


def big_complaint():
    """A ¥6,000 complaint under review: refunding it needs a second arbitrator."""
    return under_review(order=funded_order(price=D("6000.00"), deposit_amount=D("10000.00")))


def propose_refund(dispute) -> Approval:
    return services.dispute_rule_propose(
        dispute=dispute, staff=arbitrator(), outcome="refunded", reason="The key was used"
    )


def refused_as_void(approval: Approval) -> DomainError:
    with pytest.raises(DomainError) as caught:
        approvals.approval_grant(approval=approval, staff=arbitrator())
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING  # nothing decided, nothing carried out
    return caught.value


def test_a_proposal_made_before_a_ruling_cannot_decide_the_appeal() -> None:
    dispute = big_complaint()
    approval = propose_refund(dispute)
    dispute = services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome="rejected", reason="The key was valid"
    )
    dispute = services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="It was not")
    assert dispute.status == Status.UNDER_REVIEW
    error = refused_as_void(approval)
    assert error.code == "proposal_void" and error.status_code == 409
    assert dispute.number in error.message  # and what happened, when (in either language)
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW and dispute.outcome == Outcome.REJECTED
    assert dispute.paid_out == D("0.00")
    assert deposit(dispute.merchant).balance == D("10000.00")
    check_ledger()


def test_a_proposal_made_during_the_appeal_is_carried_out() -> None:
    dispute = big_complaint()
    dispute = services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome="rejected", reason="The key was valid"
    )
    dispute = services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="It was not")
    approval = propose_refund(dispute)
    approvals.approval_grant(approval=approval, staff=arbitrator())
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.outcome == Outcome.REFUNDED
    assert dispute.paid_out == D("6000.00")
    check_ledger()


def test_a_proposal_is_void_once_the_buyer_withdraws() -> None:
    dispute = big_complaint()
    approval = propose_refund(dispute)
    services.dispute_withdraw(dispute=dispute, buyer=dispute.buyer)
    with translation.override("en"):
        error = refused_as_void(approval)
    assert error.code == "proposal_void"
    assert "void" in error.message and "withdrawn" in error.message
    dispute.refresh_from_db()
    assert dispute.status == Status.WITHDRAWN and dispute.paid_out == D("0.00")


def test_a_proposal_recorded_without_the_cases_position_is_compared_by_time() -> None:
    """Proposals pending from before the position was kept: the case's changes since the
    proposal was recorded void it the same way."""
    dispute = big_complaint()
    approval = propose_refund(dispute)
    params = dict(approval.params)
    params.pop("case_event")
    params.pop("case_status")
    Approval.objects.filter(pk=approval.pk).update(params=params)
    approval.refresh_from_db()
    dispute = services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome="rejected", reason="The key was valid"
    )
    services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="It was not")
    assert refused_as_void(approval).code == "proposal_void"


def test_notes_and_messages_do_not_void_a_proposal() -> None:
    dispute = big_complaint()
    approval = propose_refund(dispute)
    services.dispute_note(dispute=dispute, staff=arbitrator(), body="Checked the upstream log")
    approvals.approval_grant(approval=approval, staff=arbitrator())
    dispute.refresh_from_db()
    assert dispute.outcome == Outcome.REFUNDED
