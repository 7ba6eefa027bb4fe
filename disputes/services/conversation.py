"""The conversation between buyer and merchant: answers, offers, withdrawals, messages and
appeals. Each service locks the complaint, checks the state and the deadline, transitions,
moves money through escrow and notifies — in one transaction."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.models import (
    OPEN_STATUSES,
    DecidedBy,
    Dispute,
    DisputeEvent,
    EventType,
    NotificationKind,
    Outcome,
    Party,
    Role,
    Status,
)
from disputes.notices import first_line
from disputes.outcomes import Ending
from disputes.permissions import party_role, require_buyer, require_merchant, speaking_role
from disputes.selectors import policy_for
from disputes.services import money
from disputes.services.formatting import local, yuan
from disputes.services.outbox import buyer_recipients, merchant_recipients, notify
from disputes.services.state_machine import locked, not_allowed, record, touch, transition
from kamen_complaints.errors import DomainError
from orders.models import CardKey, ProductKind
from orders.services import order_replace_card_key

MAX_TEXT = 5000


class Action:
    ACCEPT = "accept"
    OFFER = "offer"
    CONTEST = "contest"


class Remedy:
    REFUND = "refund"
    REPLACE = "replace"


def clean_text(value: str, *, label: str, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DomainError(_("%(label)s is required.") % {"label": label}, code="reason_required")
    if len(value) > MAX_TEXT:
        raise DomainError(
            _("%(label)s is at most %(max)s characters.") % {"label": label, "max": MAX_TEXT},
            code="invalid",
        )
    return value


def deadline_passed(what: str, due: object) -> DomainError:
    return DomainError(
        _("The deadline to %(what)s passed at %(due)s.") % {"what": what, "due": local(due)},  # type: ignore[arg-type]
        code="deadline_passed",
    )


def resolve(
    dispute: Dispute,
    *,
    outcome: Outcome,
    amount: Decimal,
    decided_by: DecidedBy,
    user: User | None,
    role: str,
    reason: str,
    event_type: EventType | str,
    data: dict[str, object] | None = None,
) -> DisputeEvent:
    """Record a resolution (outcome, amount, who decided, why) and open the appeal window —
    unless this was the appeal's ruling, which is final. The caller moves the money."""
    now = timezone.now()
    final = dispute.appealed_at is not None
    dispute.outcome = outcome
    dispute.resolved_amount = amount
    dispute.decided_by = decided_by
    dispute.decided_by_user = user
    dispute.decision_reason = reason
    dispute.resolved_at = now
    dispute.appeal_final = final
    dispute.review_paused_at = None
    dispute.info_requested_from = ""
    dispute.info_due = None
    dispute.appeal_due = (
        None
        if final
        else now + timedelta(days=policy_for(dispute.order.product.kind, at=now).appeal_window_days)
    )
    event = transition(
        dispute,
        to=Status.RESOLVED,
        type=event_type,
        actor=user,
        role=role,
        body=reason,
        data={
            "outcome": outcome,
            "amount": str(amount),
            "decided_by": decided_by,
            "final": final,
            "appeal_due": dispute.appeal_due,
            **(data or {}),
        },
        action=_("resolving"),
    )
    # An outcome in the buyer's favour may bring its batch or channel to a collective case.
    from disputes.services.collective import after_upheld

    after_upheld(dispute)
    return event


def replace_keys(
    dispute: Dispute,
    *,
    actor: User | None,
    role: str,
    count: int | None = None,
    data: dict[str, object] | None = None,
) -> list[CardKey]:
    """Deliver fresh keys from stock: `count` of them (the automatic check: the keys it proved
    bad), else one for each key the buyer named, else one per key of the order. Out of stock
    refuses the whole replacement."""
    order = dispute.order
    if order.product.kind == ProductKind.PHONE_TOPUP:
        raise DomainError(
            _("A phone top-up has no card key to replace; choose a refund."),
            code="not_allowed_in_state",
            status_code=409,
        )
    if dispute.fast_track:
        raise DomainError(
            _(
                "The buyer of a fast-tracked complaint was already paid; a replacement is "
                "not possible."
            ),
            code="not_allowed_in_state",
            status_code=409,
        )
    if count is None:
        count = dispute.card_keys.count() or order.quantity
    # Keys given back are the order's unit price each, measured like money against the order's
    # headroom (docs/money.md "Replacement keys"). A second replacement for the same complaint
    # supersedes the first (the first proved bad), so its value is not counted twice.
    value = min(order.unit_price * count, order.amount)
    room = money.headroom(dispute) + dispute.replaced_value
    if value > room:
        raise DomainError(
            _(
                "Order %(number)s may give back at most %(max)s more; replacement keys worth "
                "%(value)s would give back more than was paid for it. Choose a refund instead."
            )
            % {
                "number": order.number,
                "max": yuan(max(room, Decimal("0.00"))),
                "value": yuan(value),
            },
            code="amount_invalid",
            status_code=409,
        )
    keys = [order_replace_card_key(order=order) for _ in range(count)]
    dispute.replaced_value = value
    touch(dispute, "replaced_value")
    record(
        dispute,
        type=EventType.KEY_REPLACED,
        actor=actor,
        role=role,
        data={"card_keys": [k.masked for k in keys], "value": str(value), **(data or {})},
    )
    return keys


@transaction.atomic
def dispute_respond(
    *,
    dispute: Dispute,
    merchant_user: User,
    action: str,
    remedy: str | None = None,
    amount: Decimal | None = None,
    message: str = "",
) -> Dispute:
    """The merchant's answer, before its deadline: accept (refund the claim, recovered from
    the deposit; or replace the key from stock), offer a partial amount (the buyer then has
    its own deadline), or contest with a statement and at least one piece of its own
    counter-evidence (the platform then reviews, on its clock)."""
    require_merchant(merchant_user, dispute)
    dispute = locked(dispute)
    if dispute.status != Status.AWAITING_MERCHANT:
        raise not_allowed(dispute, _("the merchant's answer"))
    now = timezone.now()
    if dispute.merchant_response_due and now > dispute.merchant_response_due:
        raise deadline_passed(_("answer this complaint"), dispute.merchant_response_due)
    policy = policy_for(dispute.order.product.kind, at=now)
    message = clean_text(message, label=_("A message"), required=action == Action.CONTEST)
    if action == Action.ACCEPT:
        if remedy == Remedy.REFUND:
            event = resolve(
                dispute,
                outcome=Outcome.REFUNDED,
                amount=dispute.claimed_amount,
                decided_by=DecidedBy.MERCHANT,
                user=merchant_user,
                role=Role.MERCHANT,
                reason=message,
                event_type=EventType.ACCEPTED,
                data={"remedy": remedy},
            )
            money.settle(
                dispute,
                ending=Ending.ACCEPTED_REFUND,
                actor=merchant_user,
                role=Role.MERCHANT,
            )
        elif remedy == Remedy.REPLACE:
            event = resolve(
                dispute,
                outcome=Outcome.REPLACED,
                amount=Decimal("0.00"),
                decided_by=DecidedBy.MERCHANT,
                user=merchant_user,
                role=Role.MERCHANT,
                reason=message,
                event_type=EventType.ACCEPTED,
                data={"remedy": remedy},
            )
            replace_keys(dispute, actor=merchant_user, role=Role.MERCHANT)
            money.settle(
                dispute,
                ending=Ending.ACCEPTED_REPLACEMENT,
                actor=merchant_user,
                role=Role.MERCHANT,
            )
        else:
            raise DomainError(
                _("Accepting needs a remedy: refund or replace."), code="remedy_invalid"
            )
    elif action == Action.OFFER:
        if dispute.fast_track:
            raise DomainError(
                _("The buyer of a fast-tracked complaint was already paid; there is no offer."),
                code="not_allowed_in_state",
                status_code=409,
            )
        if amount is None or amount <= 0 or amount >= dispute.claimed_amount:
            raise DomainError(
                _("An offer is above ¥0.00 and below the claimed %(claimed)s.")
                % {"claimed": yuan(dispute.claimed_amount)},
                code="amount_invalid",
            )
        dispute.offer_amount = amount
        dispute.buyer_response_due = now + timedelta(hours=policy.buyer_response_hours)
        event = transition(
            dispute,
            to=Status.AWAITING_BUYER,
            type=EventType.OFFER_MADE,
            actor=merchant_user,
            role=Role.MERCHANT,
            body=message,
            data={"amount": str(amount), "buyer_response_due": dispute.buyer_response_due},
        )
    elif action == Action.CONTEST:
        if not dispute.evidence.filter(role=Role.MERCHANT).exists():
            raise DomainError(
                _("Contesting needs at least one piece of counter-evidence; upload it first."),
                code="evidence_required",
            )
        dispute.review_due = now + timedelta(hours=policy.review_hours)
        event = transition(
            dispute,
            to=Status.UNDER_REVIEW,
            type=EventType.CONTESTED,
            actor=merchant_user,
            role=Role.MERCHANT,
            body=message,
            data={"review_due": dispute.review_due},
        )
    else:
        raise DomainError(_("Answer with accept, offer or contest."), code="action_invalid")
    amount = dispute.offer_amount if event.type == EventType.OFFER_MADE else dispute.resolved_amount
    notify(
        dispute,
        event,
        buyer_recipients(dispute),
        event.type,  # accepted, offer_made or contested: a NotificationKind each
        amount=amount,
        outcome=dispute.outcome,
    )
    return dispute


@transaction.atomic
def dispute_accept_offer(*, dispute: Dispute, buyer: User) -> Dispute:
    """The buyer accepts the merchant's offer: resolved at that amount, decided by the buyer."""
    require_buyer(buyer, dispute)
    dispute = locked(dispute)
    if dispute.status != Status.AWAITING_BUYER:
        raise not_allowed(dispute, _("accepting an offer"))
    if dispute.buyer_response_due and timezone.now() > dispute.buyer_response_due:
        raise deadline_passed(_("answer the offer"), dispute.buyer_response_due)
    amount = dispute.offer_amount or Decimal("0.00")
    event = resolve(
        dispute,
        outcome=Outcome.PARTIALLY_REFUNDED,
        amount=amount,
        decided_by=DecidedBy.BUYER,
        user=buyer,
        role=Role.BUYER,
        reason="",
        event_type=EventType.OFFER_ACCEPTED,
    )
    money.settle(dispute, ending=Ending.OFFER_ACCEPTED, amount=amount, actor=buyer, role=Role.BUYER)
    notify(
        dispute,
        event,
        buyer_recipients(dispute) + merchant_recipients(dispute),
        NotificationKind.OFFER_ACCEPTED,
        amount=amount,
    )
    return dispute


@transaction.atomic
def dispute_reject_offer(*, dispute: Dispute, buyer: User, message: str = "") -> Dispute:
    """The buyer rejects the offer: the platform reviews, on its clock."""
    require_buyer(buyer, dispute)
    dispute = locked(dispute)
    if dispute.status != Status.AWAITING_BUYER:
        raise not_allowed(dispute, _("rejecting an offer"))
    now = timezone.now()
    if dispute.buyer_response_due and now > dispute.buyer_response_due:
        raise deadline_passed(_("answer the offer"), dispute.buyer_response_due)
    message = clean_text(message, label=_("A message"), required=False)
    dispute.review_due = now + timedelta(
        hours=policy_for(dispute.order.product.kind, at=now).review_hours
    )
    event = transition(
        dispute,
        to=Status.UNDER_REVIEW,
        type=EventType.OFFER_REJECTED,
        actor=buyer,
        role=Role.BUYER,
        body=message,
        data={"review_due": dispute.review_due},
    )
    notify(
        dispute,
        event,
        buyer_recipients(dispute) + merchant_recipients(dispute),
        NotificationKind.OFFER_REJECTED,
        amount=dispute.offer_amount,
    )
    return dispute


@transaction.atomic
def dispute_withdraw(*, dispute: Dispute, buyer: User, message: str = "") -> Dispute:
    """The buyer withdraws an open complaint; the hold on the deposit is released. A new
    complaint on the order is possible afterwards, inside the window. An appeal under way
    ends with the appeal's ruling, not a withdrawal."""
    require_buyer(buyer, dispute)
    dispute = locked(dispute)
    if dispute.status not in OPEN_STATUSES or dispute.appealed_at is not None:
        raise not_allowed(dispute, _("withdrawing"))
    message = clean_text(message, label=_("A message"), required=False)
    dispute.review_paused_at = None
    dispute.info_requested_from = ""
    dispute.info_due = None
    # A fast-tracked buyer keeps the payout; whether the merchant bears it is then for staff
    # to decide (`dispute_decide_recovery`), so the hold stays until then.
    dispute.recovery_pending = dispute.recovery_pending or dispute.paid_out > 0
    event = transition(
        dispute,
        to=Status.WITHDRAWN,
        type=EventType.WITHDRAWN,
        actor=buyer,
        role=Role.BUYER,
        body=message,
    )
    money.settle(
        dispute,
        ending=Ending.WITHDRAWN_AFTER_PAYOUT if dispute.recovery_pending else Ending.WITHDRAWN,
        actor=buyer,
        role=Role.BUYER,
    )
    notify(
        dispute,
        event,
        buyer_recipients(dispute) + merchant_recipients(dispute),
        NotificationKind.WITHDRAWN,
    )
    return dispute


@transaction.atomic
def dispute_message(*, dispute: Dispute, user: User, body: str) -> DisputeEvent:
    """A message between buyer, merchant and staff, on the timeline. A message from the party
    staff asked for information resumes the paused review clock."""
    from disputes.services.staff import resume_review_if_answered

    role = speaking_role(user, dispute)
    body = clean_text(body, label=_("A message"))
    dispute = locked(dispute)
    if dispute.status == Status.WITHDRAWN:
        raise not_allowed(dispute, _("writing a message"))
    event = record(dispute, type=EventType.MESSAGE, actor=user, role=role, body=body)
    resume_review_if_answered(dispute, user=user, role=role)
    recipients: list[User] = []
    if role != Role.BUYER:
        recipients += buyer_recipients(dispute)
    if role != Role.MERCHANT:
        recipients += merchant_recipients(dispute)
    notify(
        dispute,
        event,
        [u for u in recipients if u.pk != user.pk],
        NotificationKind.MESSAGE,
        by=str(role),
        line=first_line(body),
    )
    return event


@transaction.atomic
def dispute_appeal(*, dispute: Dispute, user: User, reason: str) -> Dispute:
    """One appeal per complaint, by either party, within the appeal window after the
    resolution (7 days by default): the platform reviews again, on a new review clock with
    its platform-pays-first guarantee; the appeal's ruling is final."""
    role = party_role(user, dispute)
    reason = clean_text(reason, label=_("A reason for the appeal"))
    dispute = locked(dispute)
    if dispute.status != Status.RESOLVED:
        raise not_allowed(dispute, _("an appeal"))
    if dispute.appealed_at is not None or dispute.appeal_final:
        raise DomainError(
            _("Complaint %(number)s was already appealed on %(at)s; the appeal's ruling is final.")
            % {"number": dispute.number, "at": local(dispute.appealed_at)},
            code="not_allowed_in_state",
            status_code=409,
        )
    now = timezone.now()
    if dispute.appeal_due is None or now > dispute.appeal_due:
        raise deadline_passed(_("appeal"), dispute.appeal_due)
    dispute.appealed_by = Party.BUYER if role == Role.BUYER else Party.MERCHANT
    dispute.appealed_by_user = user
    dispute.appeal_reason = reason
    dispute.appealed_at = now
    # The appeal's review is a new deadline: its reminders start again (the stage marker is
    # for the old one, disputes/services/reminders.py).
    dispute.review_due = now + timedelta(
        hours=policy_for(dispute.order.product.kind, at=now).review_hours
    )
    event = transition(
        dispute,
        to=Status.UNDER_REVIEW,
        type=EventType.APPEALED,
        actor=user,
        role=role,
        body=reason,
        data={"review_due": dispute.review_due, "previous_outcome": dispute.outcome},
    )
    # Open again, so it holds its claim again (docs/rules.md "Appeal"): a withdrawal during the
    # appeal takes only what is free of it. The appeal's ruling releases or consumes the hold
    # (`money.settle`), or the review clock keeps it for the recovery decision. A hold still
    # active (a recovery not decided yet) is kept as it is.
    money.hold_place(dispute)
    # Both sides, but not the appellant (notify leaves out whoever acted).
    notify(
        dispute,
        event,
        buyer_recipients(dispute) + merchant_recipients(dispute),
        NotificationKind.APPEALED,
        by=str(role),
    )
    return dispute
