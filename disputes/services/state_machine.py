"""The state machine of a complaint: the transition table `ALLOWED`, the one `transition()`
that enforces it (and `check_transition()` for the clock's set-based batches), the row lock,
the timeline events every change writes, and the refusal of an action the state does not
allow (DomainError `not_allowed_in_state`, docs/api.md). docs/rules.md "Complaint states and
transitions" has the table; tests/disputes/test_rules_doc.py keeps the two the same."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.models import (
    Dispute,
    DisputeEvent,
    EventType,
    Role,
    Status,
    Visibility,
)
from disputes.services.formatting import jsonable
from kamen_complaints.errors import DomainError

ALLOWED: dict[str, set[str]] = {
    Status.AWAITING_MERCHANT: {
        Status.AWAITING_BUYER,
        Status.UNDER_REVIEW,
        Status.RESOLVED,
        Status.WITHDRAWN,
    },
    Status.AWAITING_BUYER: {Status.UNDER_REVIEW, Status.RESOLVED, Status.WITHDRAWN},
    Status.UNDER_REVIEW: {Status.RESOLVED, Status.WITHDRAWN},
    # One appeal per complaint, by either party, within the appeal window.
    Status.RESOLVED: {Status.UNDER_REVIEW},
    Status.WITHDRAWN: set(),
}


def not_allowed(dispute: Dispute, action: str) -> DomainError:
    return DomainError(
        _("Complaint %(number)s is %(status)s; %(action)s is not possible in that state.")
        % {
            "number": dispute.number,
            "status": dispute.get_status_display(),
            "action": action,
        },
        code="not_allowed_in_state",
        status_code=409,
    )


def locked(dispute: Dispute | int) -> Dispute:
    """The complaint's row, locked for the rest of the transaction (re-read: never trust the
    caller's copy for a transition)."""
    pk = dispute if isinstance(dispute, int) else dispute.pk
    return Dispute.objects.select_for_update().get(pk=pk)


def record(
    dispute: Dispute,
    *,
    type: EventType | str,
    actor: User | None,
    role: Role | str,
    body: str = "",
    data: dict[str, Any] | None = None,
    visibility: Visibility | str = Visibility.ALL,
    from_status: str | None = None,
) -> DisputeEvent:
    """Append one timeline event (no change of status)."""
    return DisputeEvent.objects.create(
        dispute=dispute,
        type=type,
        actor=actor,
        role=role,
        from_status=dispute.status if from_status is None else from_status,
        to_status=dispute.status,
        visibility=visibility,
        body=body,
        data=jsonable(data or {}),
        created_at=timezone.now(),
    )


def check_transition(dispute: Dispute, *, to: Status | str, action: str = "") -> None:
    """Refuse a change of status the ALLOWED table does not list: the one table every path
    checks, the single services (`transition`) and the clock's set-based batches alike."""
    if to not in ALLOWED[dispute.status]:
        raise not_allowed(dispute, action or str(to))


def transition(
    dispute: Dispute,
    *,
    to: Status,
    type: EventType | str,
    actor: User | None,
    role: Role | str,
    body: str = "",
    data: dict[str, Any] | None = None,
    action: str = "",
) -> DisputeEvent:
    """The one way a complaint changes status: checks ALLOWED, saves the row (with whatever
    the caller already set on it) and writes the timeline event, in the caller's transaction.
    The caller holds the row lock (`locked()`)."""
    check_transition(dispute, to=to, action=action)
    before = dispute.status
    dispute.status = to
    dispute.updated_at = timezone.now()
    dispute.save()
    return record(
        dispute, type=type, actor=actor, role=role, body=body, data=data, from_status=before
    )


def touch(dispute: Dispute, *fields: str) -> None:
    dispute.updated_at = timezone.now()
    dispute.save(update_fields=[*fields, "updated_at"])
