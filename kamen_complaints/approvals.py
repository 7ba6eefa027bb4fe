"""Four eyes (docs/admin.md): rulings above the policy's `second_approval_threshold` and every
manual ledger posting are recorded by one staff member and carried out — through the same
service, in one transaction — only when a different staff member approves them. Nothing moves
before the second approval; the requester can never be the approver, and an approval is decided
once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError, Forbidden
from kamen_complaints.models import Approval, ApprovalKind, ApprovalStatus, AuditAction
from orders import conflicts

PERMISSION: dict[str, str] = {
    ApprovalKind.RULING: "disputes.arbitrate",
    ApprovalKind.ADJUSTMENT: "escrow.post_adjustment",
    ApprovalKind.FUND_TOPUP: "escrow.post_adjustment",
}


def _require(staff: User, kind: str) -> None:
    if not (staff.is_active and staff.is_staff and staff.has_perm(PERMISSION[kind])):
        raise Forbidden(_("Your role may not request or approve this."))


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("A reason is required."), code="reason_required")
    return reason


@transaction.atomic
def approval_request(
    *,
    kind: str,
    staff: User,
    reason: str,
    summary: str,
    params: dict[str, Any],
    object_type: str,
    object_id: Any = "",
    object_repr: str = "",
) -> Approval:
    """Record an action that waits for a second staff member. Callers validate the action
    first (what can be checked now is refused now, not at the approval)."""
    _require(staff, kind)
    reason = _clean_reason(reason)
    approval = Approval.objects.create(
        kind=kind,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr[:200],
        summary=summary[:300],
        params=params,
        reason=reason,
        requested_by=staff,
    )
    audit_record(
        actor=staff,
        action=AuditAction.RULING_PROPOSED
        if kind == ApprovalKind.RULING
        else AuditAction.ADJUSTMENT_REQUESTED,
        object_type=object_type,
        object_id=object_id,
        reason=reason,
        after={"approval": approval.pk, "summary": approval.summary, **params},
    )
    return approval


def posting_request(
    *,
    staff: User,
    target: str,
    amount: Decimal,
    reason: str,
    merchant_id: int | None = None,
    merchant_name: str = "",
    counterpart: str = "",
) -> Approval:
    """A manual ledger posting (an adjustment of a merchant's account, or a top-up of the
    compensation fund), waiting for a second member of finance. Refused for finance staff who
    own or act for the merchant (orders.conflicts)."""
    if target != "compensation_fund":
        conflicts.refuse_party(
            staff=staff,
            action="posting_request",
            obj=None,
            merchant_id=merchant_id,
            object_type="orders.merchant",
            object_id=merchant_id,
        )
    if amount == 0:
        raise DomainError(_("The amount must not be zero."), code="amount_invalid")
    if target == "compensation_fund":
        kind = ApprovalKind.FUND_TOPUP
        summary = _("Compensation fund %(amount)s (from the bank)") % {"amount": f"{amount:+}"}
        return approval_request(
            kind=kind,
            staff=staff,
            reason=reason,
            summary=summary,
            params={"amount": str(amount)},
            object_type="escrow.account",
            object_id="compensation_fund",
        )
    summary = _("%(shop)s: %(account)s %(amount)s against %(counterpart)s") % {
        "shop": merchant_name,
        "account": target,
        "amount": f"{amount:+}",
        "counterpart": counterpart,
    }
    return approval_request(
        kind=ApprovalKind.ADJUSTMENT,
        staff=staff,
        reason=reason,
        summary=summary,
        params={
            "merchant": merchant_id,
            "account": target,
            "counterpart": counterpart,
            "amount": str(amount),
        },
        object_type="orders.merchant",
        object_id=merchant_id,
        object_repr=merchant_name,
    )


def _locked_pending(approval: Approval, staff: User) -> Approval:
    approval = Approval.objects.select_for_update().get(pk=approval.pk)
    if approval.status != ApprovalStatus.PENDING:
        raise DomainError(
            _("This was already decided: %(status)s.") % {"status": approval.get_status_display()},
            code="not_allowed_in_state",
            status_code=409,
        )
    _require(staff, approval.kind)
    if approval.requested_by_id == staff.pk:
        raise DomainError(
            _("You recorded this yourself; a second staff member must approve it."),
            code="same_person",
            status_code=409,
        )
    return approval


def _refuse_if_void(approval: Approval, dispute: Any) -> None:
    """A ruling proposal decides the case as it stood when it was recorded: once the case has
    moved on — a ruling, an appeal, a withdrawal, a clock's decision — it is void, even if the
    complaint is under review again (docs/admin.md). A proposal recorded before the case's
    position was kept in its parameters is compared by time."""
    from disputes.services.formatting import local
    from disputes.services.staff import case_moved_on

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


def _refuse_if_party(approval: Approval, staff: User) -> None:
    """No one on both sides (orders.conflicts): the approver of a ruling or a posting must not
    own or act for the shop concerned, nor have filed the complaint."""
    if approval.kind == ApprovalKind.RULING:
        from disputes.models import Dispute
        from disputes.services.staff import refuse_if_party

        dispute = Dispute.objects.get(pk=approval.object_id)
        refuse_if_party(dispute, staff=staff, action="approval_decide")
    elif approval.kind == ApprovalKind.ADJUSTMENT:
        conflicts.refuse_party(
            staff=staff,
            action="approval_decide",
            obj=approval,
            merchant_id=approval.params.get("merchant"),
        )


def _carry_out(approval: Approval, staff: User) -> str:
    params = approval.params
    if approval.kind == ApprovalKind.RULING:
        from disputes.models import Dispute
        from disputes.services import dispute_rule

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
    from escrow import services as escrow
    from orders.models import Merchant

    if approval.kind == ApprovalKind.FUND_TOPUP:
        tx = escrow.compensation_fund_topup(
            amount=Decimal(params["amount"]), reason=approval.reason, staff=staff
        )
        return tx.key
    merchant = Merchant.objects.get(pk=params["merchant"])
    tx = escrow.adjustment_post(
        merchant=merchant,
        amount=Decimal(params["amount"]),
        reason=approval.reason,
        staff=staff,
        account=params["account"],
        counterpart=params["counterpart"],
    )
    return tx.key


@conflicts.refusals_audited
@transaction.atomic
def approval_grant(*, approval: Approval, staff: User, reason: str = "") -> Approval:
    """A second staff member approves: the action is carried out now, through its service,
    as that person; a refusal by the service rolls everything back and the approval stays
    pending."""
    approval = _locked_pending(approval, staff)
    _refuse_if_party(approval, staff)
    approval.result = _carry_out(approval, staff)[:200]
    approval.status = ApprovalStatus.APPROVED
    approval.decided_by = staff
    approval.decided_at = timezone.now()
    approval.decision_reason = (reason or "").strip()
    approval.save(update_fields=["result", "status", "decided_by", "decided_at", "decision_reason"])
    if approval.kind != ApprovalKind.RULING:  # the ruling writes its own entry
        audit_record(
            actor=staff,
            action=AuditAction.ADJUSTMENT_POSTED,
            object_type=approval.object_type,
            object_id=approval.object_id,
            reason=approval.reason,
            before={"approval": approval.pk, "requested_by": approval.requested_by_id},
            after={"transaction": approval.result, **approval.params},
        )
    return approval


@conflicts.refusals_audited
@transaction.atomic
def approval_refuse(*, approval: Approval, staff: User, reason: str) -> Approval:
    """A second staff member refuses: nothing is carried out."""
    reason = _clean_reason(reason)
    approval = _locked_pending(approval, staff)
    _refuse_if_party(approval, staff)
    approval.status = ApprovalStatus.REFUSED
    approval.decided_by = staff
    approval.decided_at = timezone.now()
    approval.decision_reason = reason
    approval.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    audit_record(
        actor=staff,
        action=AuditAction.APPROVAL_REFUSED,
        object_type=approval.object_type,
        object_id=approval.object_id,
        reason=reason,
        before={"approval": approval.pk, "summary": approval.summary},
    )
    return approval
