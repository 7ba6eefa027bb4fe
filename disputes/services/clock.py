"""What happens when a clock runs out, for one complaint or a whole batch of them.

The clocks (docs/rules.md "Deadlines"; how the sweep works: docs/architecture.md "The clock"):

- `merchant`: the merchant stayed silent past `merchant_response_due` → default judgment:
  refunded, decided by the system, the claim paid to the buyer (platform fund) and recovered
  from the deposit (a shortfall becomes a receivable and suspends the shop).
- `buyer`: the buyer stayed silent on an offer past `buyer_response_due` → resolved on the
  offer's terms (partially refunded), money follows.
- `review`: staff stayed silent past `review_due` (a first review or an appeal's) → 先行赔付:
  refunded, the platform pays the buyer what they have not been paid yet, without recovery;
  `recovery_pending` keeps the complaint in the staff queue and its hold on the deposit until
  staff decide who bears it (`dispute_decide_recovery`).
- `info`: the party asked for information stayed silent past `info_due` → the review clock
  resumes (as of that moment).

`enforce(clock, disputes)` acts on complaints the caller has locked and found due, all in the
caller's transaction and in a fixed number of statements per batch (one UPDATE of the
complaints, one INSERT of their timeline events, escrow's batch posting, one INSERT of the
outbox) — the sweep calls it with a batch, the single services below with one complaint, so
both paths are the same code. Every action is idempotent: the caller re-checks state and
deadline under the row lock, the UPDATE is conditional on the status it saw, and money moves
under escrow's idempotency keys.

The reminders before a clock runs out are disputes/services/reminders.py: the merchant's team
and the arbitrators at 12 h, 4 h and 1 h left (with the shop's integrations and the
arbitration team's robot), the buyer 12 h before an offer lapses, and each shop's daily
digest.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes import selectors
from disputes.models import (
    CORE_EVIDENCE,
    DecidedBy,
    Dispute,
    DisputeEvent,
    EventType,
    NotificationKind,
    Outcome,
    Policy,
    Role,
    Status,
    Visibility,
)
from disputes.outcomes import Ending, targets
from disputes.services import money
from disputes.services.conversation import resolve
from disputes.services.formatting import jsonable, local, yuan
from disputes.services.outbox import (
    buyer_recipients,
    merchant_recipients,
    notice_params,
    notify,
    outbox_insert,
    outbox_rows,
    publish,
    publish_notifications,
)
from disputes.services.staff import dispute_info_lapse
from disputes.services.state_machine import check_transition, locked, record, touch
from escrow.batch import Compensation, compensations_post
from integrations import events as integration_events
from kamen_complaints import sms
from kamen_complaints.money import from_fen, to_fen
from orders.models import MerchantMember
from orders.selectors import people_only

__all__ = [
    "CLOCKS",
    "dispute_default_judgment",
    "dispute_fast_track",
    "dispute_info_lapse",
    "dispute_offer_lapse",
    "dispute_review_expire",
    "enforce",
    "fast_track_buyer_refusals",
    "fast_track_if_eligible",
    "fast_track_refusal_text",
    "fast_track_refusals",
    "lock_due",
]

MERCHANT = "merchant"
BUYER = "buyer"
REVIEW = "review"
INFO = "info"
CLOCKS = (MERCHANT, BUYER, REVIEW, INFO)

OVERDUE: dict[str, Callable[[datetime], QuerySet[Dispute]]] = {
    MERCHANT: selectors.disputes_merchant_overdue,
    BUYER: selectors.disputes_buyer_overdue,
    REVIEW: selectors.disputes_review_overdue,
    INFO: selectors.disputes_info_overdue,
}

# What a batch reads of each complaint: never the description or the platform records.
_FIELDS = (
    "id",
    "number",
    "status",
    "buyer_id",
    "merchant_id",
    "order_id",
    "claimed_amount",
    "offer_amount",
    "paid_out",
    "recovered",
    "replaced_value",
    "appealed_at",
    "fast_track",
    "recovery_pending",
    "merchant_response_due",
    "buyer_response_due",
    "review_due",
    "review_paused_at",
    "info_requested_from",
    "info_due",
    "order__id",
    "order__number",
    "order__amount",
    "order__merchant_id",
    "order__product__id",
    "order__product__kind",
)

ZERO = Decimal("0.00")


def _rows() -> QuerySet[Dispute]:
    return Dispute.objects.select_related("order", "order__product").only(*_FIELDS)


def lock_due(
    clock: str, *, now: datetime, limit: int, exclude: Sequence[int] = ()
) -> list[Dispute]:
    """Up to `limit` complaints overdue on `clock` at `now` (the application's clock, passed as
    a parameter: never the database's now()), oldest deadline first, locked for the caller's
    transaction — `FOR UPDATE SKIP LOCKED`, so several sweepers share the work and none
    waits for another."""
    qs = OVERDUE[clock](now).select_related("order", "order__product").only(*_FIELDS)
    if exclude:
        qs = qs.exclude(pk__in=list(exclude))
    return list(qs.select_for_update(skip_locked=True, of=("self",))[:limit])


def is_due(dispute: Dispute, clock: str, now: datetime) -> bool:
    if clock == MERCHANT:
        due = dispute.merchant_response_due
        return dispute.status == Status.AWAITING_MERCHANT and due is not None and due <= now
    if clock == BUYER:
        due = dispute.buyer_response_due
        return dispute.status == Status.AWAITING_BUYER and due is not None and due <= now
    if clock == REVIEW:
        due = dispute.review_due
        return (
            dispute.status == Status.UNDER_REVIEW
            and dispute.review_paused_at is None
            and due is not None
            and due <= now
        )
    if clock == INFO:
        due = dispute.info_due
        return (
            dispute.status == Status.UNDER_REVIEW
            and dispute.review_paused_at is not None
            and due is not None
            and due <= now
        )
    raise ValueError(clock)


# --- Enforcing ------------------------------------------------------------------------------


@dataclass
class _Plan:
    dispute: Dispute
    outcome: Outcome
    amount: Decimal
    event_type: EventType
    reason: str
    ending: Ending  # what the outcome gives and charges (disputes/outcomes.py)

    @property
    def buyer_amount(self) -> Decimal:
        return targets(self.ending, self.dispute, amount=self.amount)[0]

    @property
    def merchant_bears(self) -> Decimal | None:
        """None: decided later (the platform paid first)."""
        return targets(self.ending, self.dispute, amount=self.amount)[1]


def _plan(clock: str, dispute: Dispute) -> _Plan:
    if clock == MERCHANT:
        return _Plan(
            dispute,
            Outcome.REFUNDED,
            dispute.claimed_amount,
            EventType.DEFAULT_JUDGMENT,
            _("The merchant did not answer by %(due)s.")
            % {"due": local(dispute.merchant_response_due)},
            Ending.DEFAULT_JUDGMENT,
        )
    if clock == BUYER:
        amount = dispute.offer_amount or dispute.claimed_amount
        return _Plan(
            dispute,
            Outcome.PARTIALLY_REFUNDED,
            amount,
            EventType.OFFER_LAPSED,
            _("The buyer did not answer the offer by %(due)s.")
            % {"due": local(dispute.buyer_response_due)},
            Ending.OFFER_ACCEPTED,
        )
    if clock == REVIEW:
        return _Plan(
            dispute,
            Outcome.REFUNDED,
            dispute.claimed_amount,
            EventType.REVIEW_EXPIRED,
            _("The platform did not decide by %(due)s, so it paid first.")
            % {"due": local(dispute.review_due)},
            Ending.REVIEW_EXPIRED,
        )
    raise ValueError(clock)


def enforce(
    clock: str,
    disputes: Sequence[Dispute],
    *,
    now: datetime | None = None,
    appeal_days: dict[str, int] | None = None,
) -> int:
    """Act on complaints overdue on `clock`, which the caller has locked (`lock_due`) in its
    transaction. Returns how many were acted on. See the module docstring for each clock.
    `appeal_days` caches the appeal window per product kind across a sweep's batches."""
    moment = now or timezone.now()
    due = [d for d in disputes if is_due(d, clock, moment)]
    if not due:
        return 0
    if clock == INFO:
        return sum(1 for d in due if dispute_info_lapse(dispute=d))
    plans = [_plan(clock, d) for d in due]
    # A recovery already made (only after an appeal) changes by reversal or shortfall: the
    # rare case goes through the general settlement, one complaint at a time.
    unusual = [p for p in plans if p.merchant_bears is not None and p.dispute.recovered != ZERO]
    for plan in unusual:
        _enforce_unusual(plan)
    usual = [p for p in plans if p not in unusual]
    if usual:
        _enforce_batch(clock, usual, {} if appeal_days is None else appeal_days)
    return len(due)


def _resolution_figures(plan: _Plan, dispute: Dispute) -> dict[str, Any]:
    """What the notification of a clock's resolution reports (the batch and the single path
    alike: tests/disputes/test_compensation_properties.py compares them)."""
    return {"outcome": str(plan.outcome), "amount": plan.amount, "paid": dispute.paid_out}


def _enforce_unusual(plan: _Plan) -> None:
    """One complaint through the general path: `resolve` and `money.settle`, as a person's
    decision goes. The batch below writes the same rows
    (tests/disputes/test_compensation_properties.py compares the two)."""
    dispute = locked(plan.dispute.pk)
    dispute.recovery_pending = dispute.recovery_pending or plan.merchant_bears is None
    event = resolve(
        dispute,
        outcome=plan.outcome,
        amount=plan.amount,
        decided_by=DecidedBy.SYSTEM,
        user=None,
        role=Role.SYSTEM,
        reason=plan.reason,
        event_type=plan.event_type,
    )
    money.settle(dispute, ending=plan.ending, amount=plan.amount)
    notify(
        dispute,
        event,
        buyer_recipients(dispute) + merchant_recipients(dispute),
        plan.event_type,
        **_resolution_figures(plan, dispute),
    )


_DISPUTE = Dispute._meta.db_table
_EVENT = DisputeEvent._meta.db_table


def _update_disputes(status: str, values: list[list[Any]], now: datetime) -> int:
    """One conditional UPDATE for the whole batch (`… FROM (VALUES …)`): only rows still in
    `status` change. Columns of `values`: id, outcome, resolved_amount, decision_reason,
    appeal_final, appeal_due, recovery_pending, paid_out, recovered."""
    pg = connection.vendor == "postgresql"
    casts = (
        ["bigint", "varchar", "numeric", "text", "boolean", "timestamptz", "boolean"]
        + ["numeric", "numeric"]
        if pg
        else [""] * 9
    )
    first = "(" + ", ".join(f"%s::{c}" if c else "%s" for c in casts) + ")"
    rest = "(" + ", ".join(["%s"] * 9) + ")"
    rows_sql = ", ".join([first] + [rest] * (len(values) - 1))
    ts = connection.ops.adapt_datetimefield_value(now)
    sql = (
        "WITH v (id, outcome, resolved_amount, decision_reason, appeal_final, appeal_due, "  # noqa: S608
        f"recovery_pending, paid_out, recovered) AS (VALUES {rows_sql}) "
        f"UPDATE {_DISPUTE} AS d SET status = %s, outcome = v.outcome, "
        "resolved_amount = v.resolved_amount, decided_by = %s, decided_by_user_id = NULL, "
        "decision_reason = v.decision_reason, resolved_at = %s, appeal_final = v.appeal_final, "
        "review_paused_at = NULL, info_requested_from = '', info_due = NULL, "
        "appeal_due = v.appeal_due, recovery_pending = v.recovery_pending, "
        "paid_out = v.paid_out, recovered = v.recovered, updated_at = %s "
        "FROM v WHERE d.id = v.id AND d.status = %s " + ("RETURNING d.id" if pg else "RETURNING id")
        # SQLite's RETURNING names the updated table's columns only, and not by its alias.
    )
    params = [v for row in values for v in row]
    params += [str(Status.RESOLVED), str(DecidedBy.SYSTEM), ts, ts, status]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def _insert_events(events: list[list[Any]]) -> list[int]:
    """Timeline rows in one statement, ids in the order given (the timeline's order)."""
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(events), 2000):
            chunk = events[start : start + 2000]
            cursor.execute(
                f"INSERT INTO {_EVENT} (dispute_id, type, actor_id, role, from_status, "  # noqa: S608
                "to_status, visibility, body, data, created_at) VALUES "
                + ", ".join(["(%s, %s, NULL, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
                + " RETURNING id",
                [v for row in chunk for v in row],
            )
            ids += sorted(r[0] for r in cursor.fetchall())
    return ids


def _team(merchant_ids: set[int]) -> dict[int, list[User]]:
    team: dict[int, list[User]] = defaultdict(list)
    members = (
        people_only(MerchantMember.objects.filter(merchant_id__in=merchant_ids))
        .select_related("user")
        .only("merchant_id", "user__id", "user__email", "user__username")
        .order_by("id")
    )
    for member in members:
        team[member.merchant_id].append(member.user)
    return team


def _users(ids: set[int]) -> dict[int, User]:
    return {u.pk: u for u in User.objects.filter(pk__in=ids).only("id", "email", "username")}


def _enforce_batch(clock: str, plans: list[_Plan], appeal_days: dict[str, int]) -> None:
    from disputes.services import sweep  # the test-only fault hook

    now = timezone.now()
    adapt_dt = connection.ops.adapt_datetimefield_value
    compensations: list[Compensation] = []
    settlements: list[money.Settlement] = []
    # The orders' headroom, locked (the same rule and lock as money.settle's, for a batch).
    headroom = money.headroom_fen(
        p.dispute.order_id
        for p in plans
        if money.owed(p.dispute, p.buyer_amount) > p.dispute.paid_out
    )
    for plan in plans:
        d = plan.dispute
        check_transition(d, to=Status.RESOLVED, action=_("resolving"))
        kind = d.order.product.kind
        if kind not in appeal_days:
            appeal_days[kind] = selectors.policy_for(kind, at=now).appeal_window_days
        todo = money.plan(
            d,
            buyer_amount=plan.buyer_amount,
            merchant_bears=plan.merchant_bears,
            headroom=from_fen(headroom.get(d.order_id, 0)),
        )
        headroom[d.order_id] = headroom.get(d.order_id, 0) - to_fen(todo.pay)
        settlements.append(todo)
        compensations.append(
            Compensation(
                dispute_id=d.pk,
                order_id=d.order_id,
                merchant_id=d.merchant_id,
                pay=to_fen(todo.pay),
                appeal=todo.appeal,
                recover=to_fen(todo.recover),
                release_hold=todo.release_hold,
            )
        )
    money_posted = compensations_post(compensations)
    sweep.fault_point(len(plans))

    values: list[list[Any]] = []
    events: list[list[Any]] = []
    resolution_index: list[int] = []
    for plan, comp, todo in zip(plans, compensations, settlements, strict=True):
        d = plan.dispute
        before = d.status
        final = d.appealed_at is not None
        appeal_due = None if final else now + timedelta(days=appeal_days[d.order.product.kind])
        # Mirror what moved (escrow's ledger is the truth): the whole target, as settle does.
        d.paid_out = d.paid_out + from_fen(comp.pay)
        if comp.recover:
            d.recovered = from_fen(comp.recover)
        d.status = Status.RESOLVED
        d.outcome = plan.outcome
        d.resolved_amount = plan.amount
        d.decided_by = DecidedBy.SYSTEM
        d.decision_reason = plan.reason
        d.resolved_at = now
        d.appeal_final = final
        d.appeal_due = appeal_due
        d.recovery_pending = d.recovery_pending or plan.merchant_bears is None
        d.review_paused_at = None
        d.info_requested_from = ""
        d.info_due = None
        values.append(
            [
                d.pk,
                str(plan.outcome),
                connection.ops.adapt_decimalfield_value(plan.amount, 12, 2),
                plan.reason,
                final,
                adapt_dt(appeal_due),
                d.recovery_pending,
                connection.ops.adapt_decimalfield_value(d.paid_out, 12, 2),
                connection.ops.adapt_decimalfield_value(d.recovered, 12, 2),
            ]
        )
        resolution_index.append(len(events))
        data = {
            "outcome": plan.outcome,
            "amount": str(plan.amount),
            "decided_by": DecidedBy.SYSTEM,
            "final": final,
            "appeal_due": appeal_due,
        }
        events.append(
            _event_row(d.pk, plan.event_type, before, Status.RESOLVED, plan.reason, data, now)
        )
        if todo.remedied:
            events.append(_remedied_row(d, todo.remedied, now))
        if todo.capped:
            events.append(_capped_row(d, todo.capped, now))
        if comp.pay:
            movement = "appeal-payout" if comp.appeal else "payout"
            events.append(_money_row(d.pk, movement, from_fen(comp.pay), now))
        if comp.recover:
            events.append(_money_row(d.pk, "recovery", from_fen(comp.recover), now))

    expected = {
        MERCHANT: Status.AWAITING_MERCHANT,
        BUYER: Status.AWAITING_BUYER,
        REVIEW: Status.UNDER_REVIEW,
    }[clock]
    changed = _update_disputes(str(expected), values, now)
    if changed != len(values):
        # Rows are locked and were checked: a mismatch is a bug, and the batch must not commit.
        raise RuntimeError(f"{clock} batch: {changed} of {len(values)} complaints changed")
    event_ids = _insert_events(events)

    buyers = _users({p.dispute.buyer_id for p in plans})
    team = _team({p.dispute.merchant_id for p in plans})
    rows = []
    # The shops' webhooks and robots, and the people's numbers for SMS, are read once for the
    # batch (outbox_rows records each complaint's event and asks each channel's address).
    people = {u.pk for u in buyers.values()} | {u.pk for ts in team.values() for u in ts}
    with (
        integration_events.targets_known({p.dispute.merchant_id for p in plans}),
        sms.phones_known(people),
    ):
        for plan, index in zip(plans, resolution_index, strict=True):
            d = plan.dispute
            rows += outbox_rows(
                dispute=d,
                key=f"dispute:{d.pk}:event:{event_ids[index]}",
                recipients=[buyers[d.buyer_id], *team.get(d.merchant_id, [])],
                kind=plan.event_type,
                params=notice_params(d, **_resolution_figures(plan, d)),
                now=now,
            )
    publish_notifications(outbox_insert(rows))
    _publish_payouts(money_posted.payout_ids)


def _event_row(
    dispute_id: int,
    type: str,
    from_status: str,
    to_status: str,
    body: str,
    data: dict[str, Any],
    now: datetime,
    visibility: str = Visibility.ALL,
) -> list[Any]:
    return [
        dispute_id,
        str(type),
        str(Role.SYSTEM),
        str(from_status),
        str(to_status),
        str(visibility),
        body,
        json.dumps(jsonable(data), cls=DjangoJSONEncoder),
        connection.ops.adapt_datetimefield_value(now),
    ]


def _money_row(dispute_id: int, movement: str, amount: Decimal, now: datetime) -> list[Any]:
    """The timeline's record of a money movement, as disputes.services.money writes it."""
    data = {"movement": movement, "amount": str(amount), "key": f"dispute:{dispute_id}:{movement}"}
    return _event_row(dispute_id, EventType.MONEY, Status.RESOLVED, Status.RESOLVED, "", data, now)


def _capped_row(dispute: Dispute, capped: Decimal, now: datetime) -> list[Any]:
    """The timeline's record of a payment the order's headroom cut (money.record_cap)."""
    data = {"movement": "capped", "amount": str(capped)}
    return _event_row(
        dispute.pk,
        EventType.MONEY,
        Status.RESOLVED,
        Status.RESOLVED,
        money.cap_note(dispute),
        data,
        now,
    )


def _remedied_row(dispute: Dispute, remedied: Decimal, now: datetime) -> list[Any]:
    """The timeline's record of what replacement keys already gave back (money.record_remedied)."""
    data = {"movement": "remedied", "amount": str(remedied)}
    return _event_row(
        dispute.pk,
        EventType.MONEY,
        Status.RESOLVED,
        Status.RESOLVED,
        money.remedied_note(dispute),
        data,
        now,
    )


def _publish_payouts(payout_ids: list[int]) -> None:
    """After commit, one task sends this batch's payouts through the payment channel (the
    payouts sweep sends whatever this loses)."""
    if not payout_ids:
        return
    from escrow.tasks import payouts_send

    transaction.on_commit(lambda: publish(payouts_send, payout_ids), robust=True)


# --- One complaint --------------------------------------------------------------------------


def _enforce_one(clock: str, pk: int, *, skip_locked: bool = False) -> bool:
    row = _rows().select_for_update(skip_locked=skip_locked, of=("self",)).filter(pk=pk).first()
    now = timezone.now()
    if row is None or not is_due(row, clock, now):
        return False
    return enforce(clock, [row], now=now) == 1


@transaction.atomic
def dispute_default_judgment(*, dispute: Dispute) -> bool:
    """Silence is an answer: the merchant's deadline passed, the buyer wins by default and is
    compensated (the claim, paid by the platform and recovered from the deposit; a shortfall
    becomes the merchant's receivable and suspends the shop). Idempotent."""
    return _enforce_one(MERCHANT, dispute.pk)


@transaction.atomic
def dispute_offer_lapse(*, dispute: Dispute) -> bool:
    """The buyer's deadline on an offer passed: resolved on the offer's terms. Idempotent."""
    return _enforce_one(BUYER, dispute.pk)


@transaction.atomic
def dispute_review_expire(*, dispute: Dispute) -> bool:
    """先行赔付: staff missed the review clock (a first review or an appeal's), so the platform
    pays the buyer what they have not been paid of the claim, now, without recovery; whether
    the merchant bears it is decided later (`dispute_decide_recovery`), the hold staying until
    then. Idempotent."""
    return _enforce_one(REVIEW, dispute.pk)


def enforce_one(clock: str, pk: int, *, skip_locked: bool = False) -> bool:
    """One complaint in its own transaction (the sweep's fallback after a failed batch)."""
    with transaction.atomic():
        return _enforce_one(clock, pk, skip_locked=skip_locked)


# --- Fast track -----------------------------------------------------------------------------


def fast_track_refusals(dispute: Dispute, policy: Policy) -> list[str]:
    """Why a complaint does not qualify for the fast track (empty: it does). Each limit is the
    policy's: claimed ≤ the small-claim threshold, the three core proofs present, the account
    old enough, no malicious ruling within the period, at most N fast tracks in M days."""
    refusals: list[str] = []
    now = timezone.now()
    buyer = dispute.buyer
    if dispute.claimed_amount > policy.small_claim_threshold:
        refusals.append("above_threshold")
    kinds = set(
        dispute.evidence.filter(role=Role.BUYER, kind__in=CORE_EVIDENCE).values_list(
            "kind", flat=True
        )
    )
    if not set(CORE_EVIDENCE) <= kinds:
        refusals.append("core_evidence_missing")
    return refusals + fast_track_buyer_refusals(buyer, policy, now=now, excluding=dispute.pk)


def fast_track_buyer_refusals(
    buyer: User, policy: Policy, *, now: datetime | None = None, excluding: int | None = None
) -> list[str]:
    """The fast-track limits that depend on the buyer alone, not on the claim: the account
    old enough, no malicious ruling within the period, at most N fast tracks in M days. The
    complaint form asks this before anything is typed (disputes/views/filing.py), so it
    never promises what filing would refuse."""
    now = now or timezone.now()
    refusals: list[str] = []
    if buyer.date_joined > now - timedelta(days=policy.fast_track_min_account_days):
        refusals.append("account_too_new")
    if selectors.malicious_rulings_count(buyer, days=policy.fast_track_clean_days, at=now):
        refusals.append("malicious_ruling")
    recent = Dispute.objects.filter(
        buyer=buyer,
        fast_track=True,
        filed_at__gt=now - timedelta(days=policy.fast_track_period_days),
    )
    if excluding is not None:
        recent = recent.exclude(pk=excluding)
    if recent.count() >= policy.fast_track_max_count:
        refusals.append("too_many_fast_tracks")
    return refusals


def fast_track_refusal_text(code: str, policy: Policy) -> str:
    """One fast-track refusal (`fast_track_refusals`) as the buyer reads it, with the
    policy's numbers."""
    if code == "account_too_new":
        return _("your account is less than %(days)s days old") % {
            "days": policy.fast_track_min_account_days
        }
    if code == "malicious_ruling":
        return _("a complaint of yours was ruled malicious in the last %(days)s days") % {
            "days": policy.fast_track_clean_days
        }
    if code == "too_many_fast_tracks":
        return _("you had %(most)s fast-tracked complaints in the last %(days)s days") % {
            "most": policy.fast_track_max_count,
            "days": policy.fast_track_period_days,
        }
    if code == "above_threshold":
        return _("the claim is above %(threshold)s") % {
            "threshold": yuan(policy.small_claim_threshold)
        }
    return _("the three core proofs are not all attached")


def fast_track_if_eligible(dispute: Dispute, policy: Policy) -> None:
    """Registered to run inside the filing transaction (`register_after_filing`)."""
    if fast_track_refusals(dispute, policy):
        return
    dispute_fast_track(
        dispute=dispute,
        data={
            "small_claim_threshold": str(policy.small_claim_threshold),
            "claimed_amount": str(dispute.claimed_amount),
            "rule": "small_claim",
        },
    )


@transaction.atomic
def dispute_fast_track(*, dispute: Dispute, data: dict[str, object] | None = None) -> bool:
    """Fast track: the platform pays the buyer the claim at once (`dispute:<id>:payout`) and
    the buyer keeps it whatever the outcome; the complaint then runs between merchant and
    platform only to decide whether the merchant bears it — accepting or silence recover it,
    a contest goes to staff, no offers. Idempotent."""
    dispute = locked(dispute)
    if dispute.fast_track or dispute.status != Status.AWAITING_MERCHANT:
        return False
    dispute.fast_track = True
    touch(dispute, "fast_track")
    event = record(
        dispute,
        type=EventType.FAST_TRACKED,
        actor=None,
        role=Role.SYSTEM,
        data=dict(data or {}),
    )
    money.settle(dispute, ending=Ending.FAST_TRACK)
    notify(
        dispute,
        event,
        buyer_recipients(dispute) + merchant_recipients(dispute),
        NotificationKind.FAST_TRACKED,
        amount=dispute.claimed_amount,
    )
    return True
