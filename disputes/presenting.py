"""How a complaint reads to its buyer: the status in plain words with the clock that runs,
the timeline as sentences, where the money went. Pure functions over a complaint already
loaded by disputes.selectors.buyer_complaint (no query of their own), used by the buyer's
pages (disputes/views/complaints.py) and their htmx partials."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

from django.utils.translation import gettext as _

from disputes import access, deadlines
from disputes.models import (
    DecidedBy,
    Dispute,
    DisputeEvent,
    EventType,
    EvidenceKind,
    Outcome,
    Party,
    Role,
    Status,
)
from kamen_complaints.money import format_yuan
from kamen_complaints.timefmt import SHORT_FORMAT, shanghai


def short_time(moment: datetime | str | None) -> str:
    """`11-25 14:00` in Asia/Shanghai (the sentences' style); empty for None."""
    return shanghai(moment, SHORT_FORMAT)


def money(value: Any) -> str:
    try:
        return format_yuan(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return ""


# --- Status and clock -----------------------------------------------------------------------


@dataclass
class Clock:
    due: datetime
    total: timedelta
    label: str


@dataclass
class StatusSummary:
    headline: str
    sentence: str
    tone: str  # waiting | action | review | done | closed: the panel's colour
    clock: Clock | None = None
    extra: list[str] = field(default_factory=list)


def outcome_text(outcome: str, amount: Decimal | None) -> str:
    if outcome == Outcome.REFUNDED:
        return _("full refund of %(amount)s") % {"amount": format_yuan(amount)}
    if outcome == Outcome.PARTIALLY_REFUNDED:
        return _("partial refund of %(amount)s") % {"amount": format_yuan(amount)}
    if outcome == Outcome.REPLACED:
        return _("the card key was replaced")
    if outcome == Outcome.REJECTED:
        return _("the complaint was not upheld")
    if outcome == Outcome.REJECTED_MALICIOUS:
        return _("the complaint was rejected as malicious")
    return ""


def decided_by_text(dispute: Dispute) -> str:
    if dispute.decided_by == DecidedBy.MERCHANT:
        return _("the merchant agreed")
    if dispute.decided_by == DecidedBy.BUYER:
        return _("you accepted the merchant's offer")
    if dispute.decided_by == DecidedBy.STAFF:
        return _("decided by the platform")
    if dispute.decided_by == DecidedBy.SYSTEM:
        if decided_automatically(dispute):
            return _("decided by the platform's automatic check")
        return _("decided by the platform's clock")
    return ""


def decided_automatically(dispute: Dispute) -> bool:
    """Resolved by the platform's automatic check (平台自动核验) rather than its clock: from
    the events the selector loaded, else one query."""
    if dispute.decided_by != DecidedBy.SYSTEM:
        return False
    loaded = getattr(dispute, "recent_events", None)
    if loaded is not None:
        return any(e.type == EventType.AUTO_DECIDED for e in loaded)
    return dispute.events.filter(type=EventType.AUTO_DECIDED).exists()


def _last_event_at(dispute: Dispute, *types: str) -> datetime | None:
    found = [e.created_at for e in recent_events(dispute) if e.type in types]
    return found[0] if found else None


def _hours(dispute: Dispute, name: str, fallback: int) -> timedelta:
    policy = dispute.policy if dispute.policy_id else None
    return timedelta(hours=getattr(policy, name, None) or fallback)


def status_summary(dispute: Dispute) -> StatusSummary:
    """One sentence per state and sub-state, and the clock that runs in it."""
    s = dispute.status
    if s == Status.AWAITING_MERCHANT:
        due = dispute.merchant_response_due
        clock = (
            Clock(due, due - dispute.filed_at, _("The merchant must answer within"))
            if due
            else None
        )
        if dispute.fast_track:
            return StatusSummary(
                _("Paid first by the platform"),
                _(
                    "The platform has already paid you %(amount)s; you keep it whatever "
                    "happens. The merchant must answer by %(due)s."
                )
                % {"amount": format_yuan(dispute.paid_out), "due": short_time(due)},
                "done",
                clock,
            )
        return StatusSummary(
            _("Waiting for the merchant"),
            _(
                "The merchant must answer by %(due)s; if it does not, you win the "
                "complaint automatically."
            )
            % {"due": short_time(due)},
            "waiting",
            clock,
        )
    if s == Status.AWAITING_BUYER:
        due = dispute.buyer_response_due
        start = _last_event_at(dispute, EventType.OFFER_MADE) or dispute.filed_at
        return StatusSummary(
            _("The merchant offers %(amount)s") % {"amount": format_yuan(dispute.offer_amount)},
            _(
                "Accept or reject the offer by %(due)s. If you do not answer, the offer "
                "counts as accepted."
            )
            % {"due": short_time(due)},
            "action",
            Clock(due, due - start, _("Your answer is due within")) if due else None,
        )
    if s == Status.UNDER_REVIEW:
        if dispute.review_paused_at is not None:
            due = dispute.info_due
            clock = (
                Clock(due, _hours(dispute, "info_response_hours", 24), _("Information due within"))
                if due
                else None
            )
            if dispute.info_requested_from == Party.BUYER:
                return StatusSummary(
                    _("The platform needs information from you"),
                    _(
                        "Please answer by %(due)s with a message or evidence below; the review "
                        "clock is paused until you do."
                    )
                    % {"due": short_time(due)},
                    "action",
                    clock,
                )
            return StatusSummary(
                _("The platform is waiting for the merchant"),
                _(
                    "The platform asked the merchant for information by %(due)s; the review "
                    "clock is paused until then."
                )
                % {"due": short_time(due)},
                "review",
                clock,
            )
        due = dispute.review_due
        clock = (
            Clock(due, _hours(dispute, "review_hours", 48), _("The platform decides within"))
            if due
            else None
        )
        if dispute.appealed_at is not None:
            return StatusSummary(
                _("Appeal under review"),
                _(
                    "The platform reviews the appeal and gives its final ruling by %(due)s; "
                    "if it does not, it pays first."
                )
                % {"due": short_time(due)},
                "review",
                clock,
            )
        return StatusSummary(
            _("Under review by the platform"),
            _("The platform decides by %(due)s; if it does not, it pays you first.")
            % {"due": short_time(due)},
            "review",
            clock,
        )
    if s == Status.RESOLVED:
        summary = StatusSummary(
            _("Resolved: %(outcome)s")
            % {"outcome": outcome_text(dispute.outcome, dispute.resolved_amount)},
            _("%(who)s on %(at)s.")
            % {"who": decided_by_text(dispute).capitalize(), "at": short_time(dispute.resolved_at)},
            "done",
        )
        if dispute.appeal_final:
            summary.extra.append(_("This ruling was made on appeal and is final."))
        elif dispute.appeal_due and access.may_appeal(dispute, Role.BUYER):
            summary.clock = Clock(
                dispute.appeal_due,
                timedelta(days=getattr(dispute.policy, "appeal_window_days", None) or 7),
                _("You may appeal within"),
            )
            summary.extra.append(
                _("Not satisfied? You may appeal once, until %(due)s.")
                % {"due": short_time(dispute.appeal_due)}
            )
        return summary
    return StatusSummary(
        _("Withdrawn"),
        _("You withdrew this complaint on %(at)s.")
        % {"at": short_time(_last_event_at(dispute, EventType.WITHDRAWN))},
        "closed",
    )


# --- Timeline -------------------------------------------------------------------------------


def who(role: str, reader: str = Role.BUYER) -> str:
    """Who did it, as `reader` (the buyer's pages, the merchant's, or staff at the desk, for
    whom the platform is not "you": several staff act on one case) reads it."""
    if role == reader and reader != Role.STAFF:
        return _("You")
    if role == Role.BUYER:
        return _("The buyer")
    if role == Role.MERCHANT:
        return _("The merchant")
    return _("The platform")


def party_text(party: str) -> str:
    return _("you") if party == Party.BUYER else _("the merchant")


def _kind_label(kind: str) -> str:
    try:
        return str(EvidenceKind(kind).label)
    except ValueError:
        return kind


def _movement(data: dict[str, Any]) -> str:
    amount = money(data.get("amount"))
    movement = data.get("movement")
    if movement == "payout":
        return _("%(amount)s is refunded to you through your original payment method.") % {
            "amount": amount
        }
    if movement == "appeal-payout":
        return _("After the appeal, a further %(amount)s is refunded to you.") % {"amount": amount}
    if movement == "recovery":
        return _("%(amount)s was recovered from the merchant's deposit.") % {"amount": amount}
    if movement == "recovery-reversal":
        return _("%(amount)s was given back to the merchant.") % {"amount": amount}
    if movement == "capped":
        return _("Compensation is limited to what the order can still refund: %(amount)s less.") % {
            "amount": amount
        }
    if movement == "remedied":
        return _(
            "The replacement keys you received already gave back %(amount)s of this; that part "
            "is not paid again in money."
        ) % {"amount": amount}
    return amount


def movement_label(movement: str) -> str:
    """A money movement of the timeline named for a third party (the evidence package goes to
    12315 or a court): neutral, unlike `_movement`, which speaks to the buyer."""
    labels = {
        "payout": _("refunded to the buyer"),
        "appeal-payout": _("further refund to the buyer after the appeal"),
        "recovery": _("recovered from the merchant's deposit"),
        "recovery-reversal": _("given back to the merchant's deposit"),
        "capped": _("compensation limited to what the order can still refund"),
        "remedied": _("already given back as replacement keys"),
        "recovery-shortfall": _("recovery shortfall, borne by the platform"),
    }
    return labels.get(movement, movement)


def event_labels() -> dict[str, str]:
    """One translated label per event type (built once per page, in the request's language)."""
    labels = {
        EventType.FILED: _("Complaint filed"),
        EventType.EVIDENCE_ADDED: _("Evidence added"),
        EventType.MESSAGE: _("Message"),
        EventType.NOTE: _("Internal note"),
        EventType.ACCEPTED: _("The merchant agreed"),
        EventType.OFFER_MADE: _("Offer from the merchant"),
        EventType.CONTESTED: _("The merchant disagreed"),
        EventType.OFFER_ACCEPTED: _("Offer accepted"),
        EventType.OFFER_REJECTED: _("Offer rejected"),
        EventType.OFFER_LAPSED: _("Offer accepted by silence"),
        EventType.DEFAULT_JUDGMENT: _("The merchant did not answer in time"),
        EventType.REVIEW_EXPIRED: _("The platform paid first"),
        EventType.WITHDRAWN: _("Withdrawn"),
        EventType.RULED: _("Ruling"),
        EventType.INFO_REQUESTED: _("Information requested"),
        EventType.REVIEW_RESUMED: _("Review resumed"),
        EventType.APPEALED: _("Appeal"),
        EventType.RECOVERY_DECIDED: _("Recovery decided"),
        EventType.KEY_REPLACED: _("Card key replaced"),
        EventType.MONEY: _("Money"),
        EventType.FAST_TRACKED: _("Paid first (small claim)"),
        EventType.BLACKLISTED: _("Blacklisted"),
        EventType.AUTO_CHECK: _("Platform automatic check"),
        EventType.AUTO_DECIDED: _("Decided by the platform's automatic check"),
    }
    return {str(k): str(v) for k, v in labels.items()}


def event_label(event: DisputeEvent, labels: dict[str, str] | None = None) -> str:
    return (labels or event_labels()).get(event.type) or str(event.get_type_display())


def _staff_sentence(event: DisputeEvent) -> str | None:
    """The sentences the buyer reads in the second person, as staff read them on the case
    screen (None: the same as the buyer's)."""
    d = event.data or {}
    t = event.type
    if t == EventType.ACCEPTED:
        if d.get("remedy") == "replace":
            return _("The merchant agreed to replace the card key.")
        return _("The merchant agreed to refund the buyer.")
    if t == EventType.WITHDRAWN:
        return _("The buyer withdrew the complaint.")
    if t == EventType.MONEY and d.get("movement") in ("payout", "appeal-payout"):
        return f"{money(d.get('amount'))}: {movement_label(str(d['movement']))}"
    return None


def _merchant_sentence(event: DisputeEvent) -> str | None:
    """The sentences that read differently to the merchant (None: the same as the buyer's)."""
    d = event.data or {}
    t = event.type
    if t == EventType.EVIDENCE_ADDED:
        return _("%(who)s added %(kind)s.") % {
            "who": who(event.role, Role.MERCHANT),
            "kind": _kind_label(str(d.get("kind", ""))),
        }
    if t == EventType.ACCEPTED:
        if d.get("remedy") == "replace":
            return _("You agreed to replace the card key.")
        return _("You agreed to refund the buyer.")
    if t == EventType.OFFER_MADE:
        return _("You offered a refund of %(amount)s; the buyer answers by %(due)s.") % {
            "amount": money(d.get("amount")),
            "due": short_time(d.get("buyer_response_due")),
        }
    if t == EventType.APPEALED:
        return _("%(who)s appealed; the platform decides again by %(due)s.") % {
            "who": who(event.role, Role.MERCHANT),
            "due": short_time(d.get("review_due")),
        }
    if t == EventType.INFO_REQUESTED:
        party = _("you") if d.get("party") == Party.MERCHANT else _("the buyer")
        return _("The platform asked %(party)s for information by %(due)s.") % {
            "party": party,
            "due": short_time(d.get("info_due")),
        }
    if t == EventType.MONEY:
        amount = money(d.get("amount"))
        movement = d.get("movement")
        if movement == "payout":
            return _("%(amount)s is refunded to the buyer through the original payment method.") % {
                "amount": amount
            }
        if movement == "appeal-payout":
            return _("After the appeal, a further %(amount)s is refunded to the buyer.") % {
                "amount": amount
            }
        if movement == "recovery":
            return _("%(amount)s was recovered from your deposit.") % {"amount": amount}
        if movement == "recovery-reversal":
            return _("%(amount)s was given back to your deposit.") % {"amount": amount}
        return None
    if t == EventType.WITHDRAWN:
        return _("The buyer withdrew the complaint.")
    return None


def event_sentence(event: DisputeEvent, reader: str = Role.BUYER) -> str:
    """The event's data as a sentence: amounts, outcome, offer, movement, deadlines — as
    `reader` (the buyer, or the merchant) reads it."""
    if reader == Role.MERCHANT:
        sentence = _merchant_sentence(event)
        if sentence is not None:
            return sentence
    if reader == Role.STAFF:
        sentence = _staff_sentence(event)
        if sentence is not None:
            return sentence
    d = event.data or {}
    t = event.type
    if t == EventType.FILED:
        text = _("%(amount)s claimed.") % {"amount": money(d.get("claimed_amount"))}
        if d.get("card_keys"):
            text += " " + _("Card keys: %(keys)s.") % {"keys": ", ".join(d["card_keys"])}
        return text
    if t == EventType.EVIDENCE_ADDED:
        return _("%(who)s added %(kind)s.") % {
            "who": who(event.role, reader),
            "kind": _kind_label(str(d.get("kind", ""))),
        }
    if t == EventType.ACCEPTED:
        if d.get("remedy") == "replace":
            return _("The merchant agreed to replace the card key.")
        return _("The merchant agreed to refund you.")
    if t == EventType.OFFER_MADE:
        return _("The merchant offers a refund of %(amount)s; answer by %(due)s.") % {
            "amount": money(d.get("amount")),
            "due": short_time(d.get("buyer_response_due")),
        }
    if t in (EventType.CONTESTED, EventType.OFFER_REJECTED, EventType.REVIEW_RESUMED):
        return _("The platform decides by %(due)s.") % {"due": short_time(d.get("review_due"))}
    if t == EventType.APPEALED:
        return _("%(who)s appealed; the platform decides again by %(due)s.") % {
            "who": who(event.role, reader),
            "due": short_time(d.get("review_due")),
        }
    if t == EventType.INFO_REQUESTED:
        return _("The platform asked %(party)s for information by %(due)s.") % {
            "party": party_text(str(d.get("party", ""))),
            "due": short_time(d.get("info_due")),
        }
    if t in (
        EventType.OFFER_ACCEPTED,
        EventType.OFFER_LAPSED,
        EventType.DEFAULT_JUDGMENT,
        EventType.REVIEW_EXPIRED,
        EventType.RULED,
        EventType.AUTO_DECIDED,
    ):
        amount = d.get("amount")
        return _("Outcome: %(outcome)s.") % {
            "outcome": outcome_text(
                str(d.get("outcome", "")), Decimal(str(amount)) if amount else None
            )
        }
    if t == EventType.KEY_REPLACED:
        return _("New card keys: %(keys)s.") % {"keys": ", ".join(d.get("card_keys", []))}
    if t == EventType.AUTO_CHECK and d.get("rule"):
        shown = SimpleNamespace(
            rule=d.get("rule"),
            result={"card_key": d.get("card_key"), "redeemed_at": d.get("redeemed_at")},
            attempts=d.get("attempts") or 0,
        )
        return check_shows(shown) + (
            f" (SHA-256 {str(d['sha256'])[:12]}…)" if d.get("sha256") else ""
        )
    if t == EventType.MONEY:
        return _movement(d)
    if t == EventType.FAST_TRACKED:
        return _("A small claim: the platform paid %(amount)s at once.") % {
            "amount": money(d.get("claimed_amount"))
        }
    if t == EventType.WITHDRAWN:
        return _("You withdrew the complaint.")
    return ""


@dataclass
class TimelineItem:
    event: DisputeEvent
    label: str
    sentence: str
    who: str


def timeline(dispute: Dispute, reader: str = Role.BUYER) -> list[TimelineItem]:
    """The complaint's timeline as its buyer (or, with `reader`, its merchant) reads it:
    messages apart (they are the thread), never a staff-only event (the selector leaves them
    out; filtered again here)."""
    labels = event_labels()
    return [
        TimelineItem(e, event_label(e, labels), event_sentence(e, reader), who(e.role, reader))
        for e in reversed(recent_events(dispute))
        if e.visibility == "all" and e.type != EventType.MESSAGE
    ]


def recent_events(dispute: Dispute) -> list[DisputeEvent]:
    """The latest timeline events, newest first, as disputes.selectors.buyer_complaint loaded
    them (no query here)."""
    return list(getattr(dispute, "recent_events", []))


def messages(dispute: Dispute) -> list[DisputeEvent]:
    """The thread, oldest first (the latest ones the selector loaded)."""
    thread = getattr(dispute, "recent_messages", [])
    return [e for e in reversed(thread) if e.visibility == "all"]


# --- Money ----------------------------------------------------------------------------------


def payout_lines(payouts: list[Any]) -> list[str]:
    """`¥98.00 已于 11-25 15:02 原路退回`, or `退款处理中` while the refund is on its way."""
    lines = []
    for payout in payouts:
        amount = format_yuan(Decimal(payout.amount) / 100)
        if payout.sent_at is not None:
            lines.append(
                _("%(amount)s was refunded to your original payment method on %(at)s.")
                % {"amount": amount, "at": short_time(payout.sent_at)}
            )
        else:
            lines.append(_("%(amount)s: refund in progress.") % {"amount": amount})
    return lines


def next_deadline(dispute: Dispute) -> tuple[datetime | None, str]:
    """The deadline that matters now in a list row (no events needed; which one is
    disputes.deadlines'), and whose it is, as the buyer reads it."""
    labels = {
        "merchant_response_due": _("Merchant answers by"),
        "buyer_response_due": _("Your answer is due by"),
        "info_due": _("Information due by"),
        "review_due": _("Platform decides by"),
    }
    column = deadlines.running_field(dispute)
    if column is None:
        return None, ""
    return deadlines.running_deadline(dispute), labels[column]


def thread_version(dispute: Dispute) -> str:
    """The thread's version for htmx polling (the last message's id): the buyer's and the
    merchant's pages answer 204 while it is unchanged."""
    thread = messages(dispute)
    return str(thread[-1].pk if thread else 0)


# --- Automatic checks (平台自动核验) ------------------------------------------------------------


def check_shows(check: Any) -> str:
    """What an answered automatic check showed, in plain words (disputes.models.CheckRule)."""
    from disputes.models import CheckRule

    data = check.result or {}
    key = data.get("card_key") or ""
    at = short_time(data.get("redeemed_at"))
    rule = check.rule
    if rule == CheckRule.TOPUP_NOT_CREDITED:
        return _("the upstream's top-up record shows it was not credited")
    if rule == CheckRule.TOPUP_CREDITED:
        return _("the upstream's top-up record shows it was credited")
    if rule == CheckRule.TOPUP_PENDING:
        return _("the upstream still shows the top-up in progress")
    if rule == CheckRule.KEY_REDEEMED_BEFORE_DELIVERY:
        return _(
            "the issuer's record shows card key %(key)s was redeemed at %(at)s, before it was "
            "delivered"
        ) % {"key": key, "at": at}
    if rule == CheckRule.KEY_UNKNOWN:
        return _("the issuer does not know card key %(key)s") % {"key": key}
    if rule == CheckRule.KEY_DELIVERED_TWICE:
        return _("card key %(key)s was also delivered to an earlier order") % {"key": key}
    if rule == CheckRule.NOT_DELIVERED_TWICE:
        return _("card key %(key)s was delivered to this order only") % {"key": key}
    if rule == CheckRule.KEY_REDEEMED_AFTER_REVEAL:
        return _(
            "the issuer's record shows card key %(key)s was redeemed at %(at)s, after the "
            "buyer revealed it"
        ) % {"key": key, "at": at}
    if rule == CheckRule.KEY_REDEEMED_UNREVEALED:
        return _(
            "the issuer's record shows card key %(key)s was redeemed at %(at)s, after delivery "
            "and before the buyer revealed it"
        ) % {"key": key, "at": at}
    if rule == CheckRule.KEY_REDEEMED_TIME_UNKNOWN:
        return _(
            "the issuer's record shows card key %(key)s was redeemed but not when; the merchant "
            "and the platform weigh it"
        ) % {"key": key}
    if rule == CheckRule.KEY_VALID:
        return _("the issuer's record shows card key %(key)s is valid and not redeemed") % {
            "key": key
        }
    if rule == CheckRule.NO_ANSWER:
        return _("the upstream did not answer after %(count)s attempts") % {"count": check.attempts}
    return ""


def check_decision(check: Any, outcome: str = "") -> str:
    from disputes.models import CheckDecision

    decision = check.decision
    if decision == CheckDecision.APPLIED:
        if outcome == Outcome.REPLACED:
            return _("card key replaced automatically")
        return _("refunded automatically")
    if decision == CheckDecision.POLICY_OFF:
        return _("the platform's policy leaves this to people; the normal process continues")
    if decision == CheckDecision.ALREADY_DECIDED:
        return _("the complaint was already decided; no second outcome")
    if decision == CheckDecision.EVIDENCE:
        return _("kept as evidence; the normal process continues")
    return _("being decided")


@dataclass
class CheckLine:
    text: str
    decided: bool  # the line of a check that decided the complaint
    sha256: str
    # When the answer came ("checked at 11-25 14:00"): what it showed then, not now.
    checked_at: str = ""


def auto_check_lines(checks: list[Any], dispute: Dispute) -> list[CheckLine]:
    """`平台自动核验: 上游充值记录显示未到账 → 已自动退款`: one line per automatic check, in
    the reader's language (the caller loaded the checks)."""
    from disputes.models import CheckDecision, CheckStatus

    lines = []
    for check in checks:
        if check.status == CheckStatus.PENDING:
            # One line per check, each saying what it asks: a key's issuer check and its
            # deliveries check never read as the same line twice.
            key = {"key": check.card_key.masked if check.card_key else ""}
            if check.kind == "topup":
                what = _("asking the top-up supplier")
            elif check.kind == "delivered_twice":
                what = _("checking whether card key %(key)s was delivered to another order") % key
            else:
                what = _("asking the card issuer about %(key)s") % key
            text = _("Platform automatic check: %(what)s (attempt %(count)s)…") % {
                "what": what,
                "count": max(check.attempts, 1),
            }
            lines.append(CheckLine(text, False, ""))
            continue
        text = _("Platform automatic check: %(shows)s → %(decision)s") % {
            "shows": check_shows(check),
            "decision": check_decision(check, dispute.outcome),
        }
        checked = check.answered_at or check.decided_at
        lines.append(
            CheckLine(
                text,
                check.decision == CheckDecision.APPLIED,
                check.sha256,
                _("checked at %(at)s") % {"at": short_time(checked)} if checked else "",
            )
        )
    return lines


# --- Platform records as evidence ---------------------------------------------------------------


@dataclass
class RecordSummary:
    """A platform-record evidence file (JSON the platform stored) as a person reads it: what
    was checked, the answer, when — instead of a file to download."""

    title: str
    answer: str
    checked_at: str


def record_summaries(dispute: Dispute, evidence: list[Any]) -> dict[int, RecordSummary]:
    """The summaries of the platform's own JSON records among `evidence`, by evidence id (one
    query for the automatic checks that stored them; none when there is no such record)."""
    from disputes.models import AutoCheck, CheckKind

    records = [
        e for e in evidence if e.content_type == "application/json" and e.role == Role.SYSTEM
    ]
    if not records:
        return {}
    checks = {
        c.evidence_id: c
        for c in AutoCheck.objects.filter(
            dispute_id=dispute.pk, evidence_id__in=[e.pk for e in records]
        ).select_related("card_key")
    }
    summaries: dict[int, RecordSummary] = {}
    for e in records:
        at = _("checked at %(at)s") % {"at": short_time(e.uploaded_at)}
        check = checks.get(e.pk)
        if check is not None:
            summaries[e.pk] = RecordSummary(
                title=_("Platform automatic check: %(what)s")
                % {"what": _label_of(CheckKind, check.kind)},
                answer=check_shows(check) or e.note,
                checked_at=at,
            )
        elif e.kind == EvidenceKind.PLATFORM_RECORD:
            summaries[e.pk] = RecordSummary(
                title=_("Platform records at filing"),
                answer=_(
                    "The order, its payment, its delivery and the card-key reveals as the "
                    "platform recorded them when the complaint was filed."
                ),
                checked_at=_("recorded at %(at)s") % {"at": short_time(e.uploaded_at)},
            )
        else:
            summaries[e.pk] = RecordSummary(
                title=str(e.get_kind_display()), answer=e.note, checked_at=at
            )
    return summaries


def _label_of(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value
