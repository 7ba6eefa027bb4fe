"""Ruling proposals in the four-eyes approvals (kamen_complaints.approvals, docs/admin.md): what
a second arbitrator's approval carries out, and who may not give it. Registered for the
`ruling` kind by DisputesConfig.ready(); the proposal itself is `dispute_rule_propose`
(disputes/services/staff.py)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.utils.translation import gettext as _

from disputes.models import Dispute
from disputes.services import dispute_rule
from disputes.services.formatting import local
from disputes.services.staff import case_moved_on, refuse_if_party
from kamen_complaints.approvals import approval_kind_register
from kamen_complaints.errors import DomainError
from kamen_complaints.models import Approval, ApprovalKind


def _refuse_if_void(approval: Approval, dispute: Dispute) -> None:
    """A ruling proposal decides the case as it stood when it was recorded: once the case has
    moved on — a ruling, an appeal, a withdrawal, a clock's decision — it is void, even if the
    complaint is under review again (docs/admin.md). A proposal recorded before the case's
    position was kept in its parameters is compared by time."""
    mark = approval.params.get("case_event")
    moved = case_moved_on(
        dispute,
        after_event=int(mark) if mark is not None else None,
        after_time=approval.requested_at,
    )
    if moved is None:
        return
    raise DomainError(
        _(
            "This proposal is void: complaint %(number)s moved on after it was recorded "
            "(%(event)s, %(at)s). Refuse it, and propose a new ruling if one is still needed."
        )
        % {
            "number": dispute.number,
            "event": moved.get_type_display(),
            "at": local(moved.created_at),
        },
        code="proposal_void",
        status_code=409,
    )


def ruling_refuse_party(approval: Approval, staff: User) -> None:
    """No one on both sides (orders.conflicts): the approver must not own or act for the shop
    concerned, nor have filed the complaint."""
    dispute = Dispute.objects.get(pk=approval.object_id)
    refuse_if_party(dispute, staff=staff, action="approval_decide")


def ruling_carry_out(approval: Approval, staff: User) -> str:
    """The proposed ruling, through `dispute_rule`, as the approver (inside the grant's
    transaction)."""
    params = approval.params
    dispute = Dispute.objects.select_for_update().get(pk=approval.object_id)
    _refuse_if_void(approval, dispute)
    dispute_rule(
        dispute=dispute,
        staff=staff,
        outcome=params["outcome"],
        reason=approval.reason,
        amount=Decimal(params["amount"]) if params.get("amount") else None,
        recover_from_merchant=bool(params.get("recover_from_merchant", True)),
        replacement_bad=bool(params.get("replacement_bad", False)),
        approval=approval,
    )
    return f"ruled {dispute.number}"


def register() -> None:
    approval_kind_register(
        ApprovalKind.RULING,
        permission="disputes.arbitrate",
        carry_out=ruling_carry_out,
        refuse_party=ruling_refuse_party,
    )
