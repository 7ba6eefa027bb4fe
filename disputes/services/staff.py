"""What platform staff do on a complaint: rule, ask a party for information (pausing the
review clock), decide recovery when the platform paid first, and write internal notes."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes import outcomes
from disputes.models import (
    DecidedBy,
    Dispute,
    DisputeEvent,
    EventType,
    NotificationKind,
    Outcome,
    Party,
    Role,
    Status,
    Visibility,
)
from disputes.notices import first_line
from disputes.outcomes import Ending
from disputes.permissions import require_arbitrator
from disputes.selectors import policy_for
from disputes.services import money
from disputes.services.blacklist import blacklist_if_threshold_reached
from disputes.services.conversation import clean_text, replace_keys, resolve
from disputes.services.formatting import local, yuan
from disputes.services.outbox import buyer_recipients, merchant_recipients, notify
from disputes.services.state_machine import locked, not_allowed, record, touch
from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError
from kamen_complaints.models import AuditAction
from orders import conflicts

if TYPE_CHECKING:
    from kamen_complaints.models import Approval

ZERO = Decimal("0.00")


def _both(dispute: Dispute) -> list[User]:
    return buyer_recipients(dispute) + merchant_recipients(dispute)


def _decided_amount(dispute: Dispute, outcome: str, amount: Decimal | None) -> Decimal:
    claimed = dispute.claimed_amount
    if outcome == Outcome.REFUNDED:
        return claimed
    if outcome == Outcome.PARTIALLY_REFUNDED:
        if amount is None or amount <= 0 or amount >= claimed:
            raise DomainError(
                _("A partial refund is above ¥0.00 and below the claimed %(claimed)s.")
                % {"claimed": yuan(claimed)},
                code="amount_invalid",
            )
        return amount
    if outcome in (Outcome.REPLACED, Outcome.REJECTED, Outcome.REJECTED_MALICIOUS):
        return ZERO
    raise DomainError(
        _("Choose an outcome: %(outcomes)s.") % {"outcomes": ", ".join(Outcome.values)},
        code="outcome_invalid",
    )


def _check_replacement_bad(dispute: Dispute, outcome: str, replacement_bad: bool) -> None:
    """Finding the replacement keys bad too is a refund's reason: it needs keys handed over
    for this complaint and a ruling that pays (docs/money.md "Replacement keys")."""
    if not replacement_bad:
        return
    if dispute.replaced_value <= 0:
        raise DomainError(
            _("No replacement keys were handed over for complaint %(number)s.")
            % {"number": dispute.number},
            code="invalid",
        )
    if outcome not in outcomes.PAYING:
        raise DomainError(
            _("Bad replacement keys are refunded: rule refunded or partially refunded."),
            code="outcome_invalid",
        )


def refuse_if_party(dispute: Dispute, *, staff: User, action: str) -> None:
    """No one on both sides (orders.conflicts, docs/rules.md): refused for staff who own or
    act for the complaint's shop, or who filed it."""
    conflicts.refuse_party(
        staff=staff,
        action=action,
        obj=dispute,
        merchant_id=dispute.merchant_id,
        filed_by_id=dispute.buyer_id,
    )


# --- Taking a case (docs/admin.md "Taking a case") ---------------------------------------


def take_minutes() -> int:
    """How long a taken case stays with its arbitrator: settings.CASE_TAKE_MINUTES (from the
    environment, README "Settings")."""
    return int(settings.CASE_TAKE_MINUTES)


def take_cutoff(at: datetime | None = None) -> datetime:
    """A case taken at or before this moment is no longer held (the queue filters by it)."""
    return (at or timezone.now()) - timedelta(minutes=take_minutes())


def take_lapses_at(dispute: Dispute) -> datetime | None:
    """When the arbitrator's hold on the case ends (CASE_TAKE_MINUTES after it was
    taken), or None when nobody took it."""
    if dispute.taken_by_id is None or dispute.taken_at is None:
        return None
    return dispute.taken_at + timedelta(minutes=take_minutes())


def case_holder_id(dispute: Dispute, *, at: datetime | None = None) -> int | None:
    """The id of the arbitrator who holds the case now: taken, not lapsed, and still waiting
    for a decision (under review, or a recovery to decide). Otherwise None: anyone may take it."""
    if dispute.taken_by_id is None or dispute.taken_at is None:
        return None
    if dispute.taken_at <= take_cutoff(at):
        return None
    if dispute.status != Status.UNDER_REVIEW and not dispute.recovery_pending:
        return None
    return dispute.taken_by_id


def _held_elsewhere(dispute: Dispute, staff: User) -> DomainError | None:
    holder = case_holder_id(dispute)
    if holder is None or holder == staff.pk:
        return None
    name = User.objects.filter(pk=holder).values_list("username", flat=True).first() or "—"
    return DomainError(
        _(
            "%(name)s is working on this case until %(until)s. Ask them, or wait: the case "
            "returns to the queue then."
        )
        % {"name": name, "until": local(take_lapses_at(dispute))},
        code="case_taken",
        status_code=409,
    )


def refuse_if_held_elsewhere(dispute: Dispute, *, staff: User) -> None:
    """A decision on a case another arbitrator holds is refused until their hold lapses (two
    people never rule on the same case unknowingly)."""
    refusal = _held_elsewhere(dispute, staff)
    if refusal is not None:
        raise refusal


@conflicts.refusals_audited
@transaction.atomic
def dispute_take(*, dispute: Dispute, staff: User) -> Dispute:
    """ "I'll handle it": the arbitrator holds the case for CASE_TAKE_MINUTES (taking
    it again renews the hold). Refused when another arbitrator holds it, when the case waits
    for no decision, and for a party to it (orders.conflicts)."""
    require_arbitrator(staff)
    dispute = locked(dispute)
    refuse_if_party(dispute, staff=staff, action="case_take")
    if dispute.status != Status.UNDER_REVIEW and not dispute.recovery_pending:
        raise not_allowed(dispute, _("taking the case"))
    refuse_if_held_elsewhere(dispute, staff=staff)
    dispute.taken_by = staff
    dispute.taken_at = timezone.now()
    dispute.save(update_fields=["taken_by", "taken_at"])
    return dispute


@transaction.atomic
def dispute_release(*, dispute: Dispute, staff: User) -> Dispute:
    """Put a case one holds back in the queue. Another arbitrator's live hold is not released
    (it lapses by itself); a lapsed one may be cleared by anyone."""
    require_arbitrator(staff)
    dispute = locked(dispute)
    refuse_if_held_elsewhere(dispute, staff=staff)
    if dispute.taken_by_id is not None:
        dispute.taken_by = None
        dispute.taken_at = None
        dispute.save(update_fields=["taken_by", "taken_at"])
    return dispute


def approval_threshold(dispute: Dispute) -> Decimal:
    """The policy's `second_approval_threshold` for this complaint's product, now."""
    return policy_for(dispute.order.product.kind, at=timezone.now()).second_approval_threshold


def ruling_needs_approval(*, dispute: Dispute, outcome: str, amount: Decimal | None = None) -> bool:
    """True when this ruling would pay the buyer more than the policy's threshold (four
    eyes: docs/admin.md). An invalid outcome or amount is left to the ruling to refuse."""
    try:
        decided = _decided_amount(dispute, outcome, amount)
    except DomainError:
        return False
    return decided > approval_threshold(dispute)


def case_moved_on(
    dispute: Dispute, *, after_event: int | None, after_time: datetime
) -> DisputeEvent | None:
    """The first change of status of the complaint (a ruling, an appeal, a withdrawal, a
    clock's decision) after event `after_event` — or, when that is None, after `after_time` —
    else None. A ruling proposal records the id of the latest one (`case_position`) and is
    void once there is another (kamen_complaints.approvals, docs/admin.md)."""
    changes = DisputeEvent.objects.filter(dispute_id=dispute.pk).exclude(from_status=F("to_status"))
    if after_event is not None:
        changes = changes.filter(pk__gt=after_event)
    else:
        changes = changes.filter(created_at__gt=after_time)
    return changes.order_by("id").first()


def case_position(dispute: Dispute) -> int:
    """The id of the complaint's latest change of status (0: none yet)."""
    latest = (
        DisputeEvent.objects.filter(dispute_id=dispute.pk)
        .exclude(from_status=F("to_status"))
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return latest or 0


@conflicts.refusals_audited
@transaction.atomic
def dispute_rule_propose(
    *,
    dispute: Dispute,
    staff: User,
    outcome: str,
    reason: str,
    amount: Decimal | None = None,
    recover_from_merchant: bool = True,
    replacement_bad: bool = False,
) -> Approval:
    """The first arbitrator's half of a ruling above the threshold: checked now as the ruling
    would be, recorded (staff-only on the timeline, and in the audit log), carried out by
    `dispute_rule` only when a second arbitrator approves it (kamen_complaints.approvals)."""
    from kamen_complaints.approvals import approval_request
    from kamen_complaints.models import ApprovalKind

    require_arbitrator(staff)
    reason = clean_text(reason, label=_("A reason for the ruling"))
    dispute = locked(dispute)
    refuse_if_party(dispute, staff=staff, action="ruling")
    if dispute.status != Status.UNDER_REVIEW:
        raise not_allowed(dispute, _("a ruling"))
    refuse_if_held_elsewhere(dispute, staff=staff)
    decided = _decided_amount(dispute, outcome, amount)
    _check_replacement_bad(dispute, outcome, replacement_bad)
    summary = _("%(number)s: %(outcome)s, %(amount)s") % {
        "number": dispute.number,
        "outcome": Outcome(outcome).label,
        "amount": yuan(decided),
    }
    approval = approval_request(
        kind=ApprovalKind.RULING,
        staff=staff,
        reason=reason,
        summary=str(summary),
        params={
            "outcome": outcome,
            "amount": str(amount) if amount is not None else "",
            "decided": str(decided),
            "recover_from_merchant": recover_from_merchant,
            "replacement_bad": replacement_bad,
            # The case as it stood: the proposal is void once it moves on.
            "case_status": dispute.status,
            "case_event": case_position(dispute),
        },
        object_type="disputes.dispute",
        object_id=dispute.pk,
        object_repr=dispute.number,
    )
    record(
        dispute,
        type=EventType.NOTE,
        actor=staff,
        role=Role.STAFF,
        body=_("Ruling proposed, waiting for a second arbitrator: %(summary)s. %(reason)s")
        % {"summary": summary, "reason": reason},
        visibility=Visibility.STAFF,
        data={"approval": approval.pk},
    )
    return approval


@conflicts.refusals_audited
@transaction.atomic
def dispute_rule(
    *,
    dispute: Dispute,
    staff: User,
    outcome: str,
    reason: str,
    amount: Decimal | None = None,
    recover_from_merchant: bool = True,
    replacement_bad: bool = False,
    approval: Approval | None = None,
) -> Dispute:
    """Staff holding `disputes.arbitrate` decide a complaint under review, with a written
    reason: refunded (the claim), partially_refunded (an amount below it), replaced (fresh
    keys, no money), rejected, or rejected_malicious (counts against the filer; the ruling
    that reaches the threshold blacklists them). Money follows through escrow: the platform
    pays and recovers from the merchant (unless staff decide the platform bears it), or the
    hold is released. After an appeal this ruling is final; what the buyer already received
    is never clawed back.

    Four eyes (docs/admin.md): a ruling paying more than the policy's
    `second_approval_threshold` is refused (`second_approval_required`) unless it is carried
    out from a pending approval another arbitrator recorded (`dispute_rule_propose`)."""
    require_arbitrator(staff)
    reason = clean_text(reason, label=_("A reason for the ruling"))
    dispute = locked(dispute)
    refuse_if_party(dispute, staff=staff, action="ruling")
    if dispute.status != Status.UNDER_REVIEW:
        raise not_allowed(dispute, _("a ruling"))
    if approval is None:  # a second arbitrator's approval carries out the proposer's ruling
        refuse_if_held_elsewhere(dispute, staff=staff)
    decided = _decided_amount(dispute, outcome, amount)
    _check_replacement_bad(dispute, outcome, replacement_bad)
    threshold = approval_threshold(dispute)
    if decided > threshold and not (
        approval is not None
        and approval.kind == "ruling"
        and approval.status == "pending"
        and approval.object_id == str(dispute.pk)
        and approval.requested_by_id != staff.pk
    ):
        raise DomainError(
            _(
                "A ruling above %(threshold)s needs a second arbitrator: propose it, and "
                "another arbitrator approves it."
            )
            % {"threshold": yuan(threshold)},
            code="second_approval_required",
            status_code=409,
        )
    before = {"status": dispute.status, "claimed": str(dispute.claimed_amount)}
    if outcome == Outcome.REPLACED:
        replace_keys(dispute, actor=staff, role=Role.STAFF)
    dispute.recovery_pending = False
    event = resolve(
        dispute,
        outcome=Outcome(outcome),
        amount=decided,
        decided_by=DecidedBy.STAFF,
        user=staff,
        role=Role.STAFF,
        reason=reason,
        event_type=EventType.RULED,
        data={
            "recover_from_merchant": recover_from_merchant,
            **({"replacement_bad": True} if replacement_bad else {}),
        },
    )
    if replacement_bad:
        # The keys handed over were bad too: they no longer count as given back, so the
        # outcome is paid in money (docs/money.md "Replacement keys").
        dispute.replaced_value = ZERO
        touch(dispute, "replaced_value")
    money.settle(
        dispute,
        ending=outcomes.decided(outcome, merchant_bears=recover_from_merchant),
        amount=decided,
        actor=staff,
        role=Role.STAFF,
    )
    if outcome == Outcome.REJECTED_MALICIOUS:
        blacklist_if_threshold_reached(dispute=dispute, actor=staff)
    audit_record(
        actor=staff,
        action=AuditAction.RULING,
        obj=dispute,
        reason=reason,
        before=before,
        after={
            "status": dispute.status,
            "outcome": outcome,
            "amount": str(decided),
            "recover_from_merchant": recover_from_merchant,
            **({"replacement_bad": True} if replacement_bad else {}),
            "approval": approval.pk if approval is not None else None,
            "proposed_by": approval.requested_by_id if approval is not None else None,
        },
    )
    notify(
        dispute,
        event,
        _both(dispute),
        NotificationKind.RULED,
        outcome=dispute.outcome,
        amount=decided,
        appeal_due=dispute.appeal_due,
    )
    return dispute


@conflicts.refusals_audited
@transaction.atomic
def dispute_request_info(*, dispute: Dispute, staff: User, party: str, question: str) -> Dispute:
    """Ask one party for more information. That party gets the policy's time (24 h by
    default); the review clock pauses meanwhile (on the timeline) and resumes on their answer
    — a message or evidence — or their silence."""
    require_arbitrator(staff)
    question = clean_text(question, label=_("A question"))
    if party not in Party.values:
        raise DomainError(_("Ask the buyer or the merchant."), code="party_invalid")
    dispute = locked(dispute)
    refuse_if_party(dispute, staff=staff, action="info_request")
    if dispute.status != Status.UNDER_REVIEW:
        raise not_allowed(dispute, _("a request for information"))
    refuse_if_held_elsewhere(dispute, staff=staff)
    if dispute.review_paused_at is not None:
        raise DomainError(
            _("The review is already paused for an answer from the %(party)s, due %(due)s.")
            % {"party": dispute.get_info_requested_from_display(), "due": local(dispute.info_due)},
            code="not_allowed_in_state",
            status_code=409,
        )
    now = timezone.now()
    dispute.review_paused_at = now
    dispute.info_requested_from = party
    dispute.info_due = now + timedelta(
        hours=policy_for(dispute.order.product.kind, at=now).info_response_hours
    )
    touch(dispute, "review_paused_at", "info_requested_from", "info_due")
    event = record(
        dispute,
        type=EventType.INFO_REQUESTED,
        actor=staff,
        role=Role.STAFF,
        body=question,
        data={"party": party, "info_due": dispute.info_due, "review_due": dispute.review_due},
    )
    recipients = buyer_recipients(dispute) if party == Party.BUYER else merchant_recipients(dispute)
    notify(dispute, event, recipients, NotificationKind.INFO_REQUESTED, line=first_line(question))
    return dispute


def _resume(dispute: Dispute, *, at: datetime, cause: str, actor: User | None, role: str) -> None:
    """End a pause: the review deadline moves by the time the clock stood still."""
    assert dispute.review_paused_at is not None  # noqa: S101 - callers check
    paused_for = max(at - dispute.review_paused_at, timedelta(0))
    if dispute.review_due is not None:
        dispute.review_due = dispute.review_due + paused_for
    party = dispute.info_requested_from
    dispute.review_paused_at = None
    dispute.info_requested_from = ""
    dispute.info_due = None
    touch(dispute, "review_due", "review_paused_at", "info_requested_from", "info_due")
    record(
        dispute,
        type=EventType.REVIEW_RESUMED,
        actor=actor,
        role=role,
        data={
            "cause": cause,
            "party": party,
            "paused_seconds": int(paused_for.total_seconds()),
            "review_due": dispute.review_due,
        },
    )


def resume_review_if_answered(dispute: Dispute, *, user: User, role: str) -> bool:
    """Called by the message and evidence services inside their transaction (row locked)."""
    if (
        dispute.status == Status.UNDER_REVIEW
        and dispute.review_paused_at is not None
        and dispute.info_requested_from == role
    ):
        _resume(dispute, at=timezone.now(), cause="answered", actor=user, role=role)
        return True
    return False


@transaction.atomic
def dispute_info_lapse(*, dispute: Dispute) -> bool:
    """The clock: the asked party stayed silent past `info_due`; the review clock resumes as
    of that moment (a late sweep does not lengthen the pause). Idempotent."""
    dispute = locked(dispute)
    now = timezone.now()
    if (
        dispute.status != Status.UNDER_REVIEW
        or dispute.review_paused_at is None
        or dispute.info_due is None
        or dispute.info_due > now
    ):
        return False
    _resume(dispute, at=dispute.info_due, cause="silence", actor=None, role=Role.SYSTEM)
    return True


class Bears:
    MERCHANT = "merchant"
    PLATFORM = "platform"


@conflicts.refusals_audited
@transaction.atomic
def dispute_decide_recovery(*, dispute: Dispute, staff: User, bears: str, reason: str) -> Dispute:
    """For a complaint the platform paid first (its review clock ran out, or a fast track the
    buyer withdrew): staff decide whether the merchant bears the payout (recovered from the
    deposit, the shortfall a receivable) or the platform does (the hold is released)."""
    require_arbitrator(staff)
    reason = clean_text(reason, label=_("A reason"))
    if bears not in (Bears.MERCHANT, Bears.PLATFORM):
        raise DomainError(_("Say who bears it: merchant or platform."), code="bears_invalid")
    dispute = locked(dispute)
    refuse_if_party(dispute, staff=staff, action="recovery_decision")
    if not dispute.recovery_pending or dispute.status not in (Status.RESOLVED, Status.WITHDRAWN):
        raise not_allowed(dispute, _("a recovery decision"))
    refuse_if_held_elsewhere(dispute, staff=staff)
    dispute.recovery_pending = False
    touch(dispute, "recovery_pending")
    audit_record(
        actor=staff,
        action=AuditAction.RECOVERY_DECIDED,
        obj=dispute,
        reason=reason,
        before={"recovery_pending": True},
        after={"recovery_pending": False, "bears": bears, "amount": str(dispute.paid_out)},
    )
    event = record(
        dispute,
        type=EventType.RECOVERY_DECIDED,
        actor=staff,
        role=Role.STAFF,
        body=reason,
        data={"bears": bears, "amount": str(dispute.paid_out)},
    )
    money.settle(
        dispute,
        ending=Ending.RECOVERY_MERCHANT if bears == Bears.MERCHANT else Ending.RECOVERY_PLATFORM,
        actor=staff,
        role=Role.STAFF,
    )
    notify(
        dispute,
        event,
        merchant_recipients(dispute),
        NotificationKind.RECOVERY_DECIDED,
        bears=bears,
        amount=dispute.paid_out,
    )
    return dispute


@conflicts.refusals_audited
@transaction.atomic
def dispute_note(*, dispute: Dispute, staff: User, body: str) -> DisputeEvent:
    """An internal note: staff only, never shown to the parties (API, pages, package)."""
    require_arbitrator(staff)
    body = clean_text(body, label=_("A note"))
    dispute = locked(dispute)
    refuse_if_party(dispute, staff=staff, action="note")
    return record(
        dispute,
        type=EventType.NOTE,
        actor=staff,
        role=Role.STAFF,
        body=body,
        visibility=Visibility.STAFF,
    )
