"""Four eyes (docs/admin.md): rulings above the policy's `second_approval_threshold` and every
manual ledger posting are recorded by one staff member and carried out — through the same
service, in one transaction — only when a different staff member approves them. Nothing moves
before the second approval; the requester can never be the approver, and an approval is decided
once.

The project package imports no app: each app registers, in its AppConfig.ready(), what an
approval of its kinds carries out and who may not give it (`approval_kind_register`; the
rulings: disputes/approvals.py, the ledger postings: escrow/approvals.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError, Forbidden
from kamen_complaints.models import Approval, ApprovalKind, ApprovalStatus, AuditAction
from kamen_complaints.refusals import refusals_audited


def _no_party(approval: Approval, staff: User) -> None:
    return None


@dataclass(frozen=True)
class ApprovalExecutor:
    """What an app registers for one kind of approval."""

    # The permission a staff member needs to request or decide it.
    permission: str
    # Carries the action out, through its service, as the approver, inside the grant's
    # transaction; returns what the approval keeps as its result (a transaction key…).
    carry_out: Callable[[Approval, User], str]
    # Raises a ConflictOfInterest (orders.conflicts) when this approver is a party to it.
    refuse_party: Callable[[Approval, User], None] = _no_party


_executors: dict[str, ApprovalExecutor] = {}


def approval_kind_register(
    kind: str,
    *,
    permission: str,
    carry_out: Callable[[Approval, User], str],
    refuse_party: Callable[[Approval, User], None] = _no_party,
) -> None:
    """Called from an app's AppConfig.ready(): approvals of `kind` are carried out by it."""
    _executors[kind] = ApprovalExecutor(
        permission=permission, carry_out=carry_out, refuse_party=refuse_party
    )


def _executor(kind: str) -> ApprovalExecutor:
    try:
        return _executors[kind]
    except KeyError:
        raise ImproperlyConfigured(f"No app registered approvals of kind {kind!r}.") from None


def _require(staff: User, kind: str) -> None:
    permission = _executor(kind).permission
    if not (staff.is_active and staff.is_staff and staff.has_perm(permission)):
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


@refusals_audited
@transaction.atomic
def approval_grant(*, approval: Approval, staff: User, reason: str = "") -> Approval:
    """A second staff member approves: the action is carried out now, through its service,
    as that person; a refusal by the service rolls everything back and the approval stays
    pending."""
    approval = _locked_pending(approval, staff)
    executor = _executor(approval.kind)
    executor.refuse_party(approval, staff)
    approval.result = executor.carry_out(approval, staff)[:200]
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


@refusals_audited
@transaction.atomic
def approval_refuse(*, approval: Approval, staff: User, reason: str) -> Approval:
    """A second staff member refuses: nothing is carried out."""
    reason = _clean_reason(reason)
    approval = _locked_pending(approval, staff)
    _executor(approval.kind).refuse_party(approval, staff)
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
