"""Reminders before a deadline runs out, and each shop's daily digest (docs/clock.md
"Reminders").

- The buyer's offer clock: one reminder 12 h before the offer lapses (`buyer_reminded_at`).
- The merchant's clock and the review clock escalate: a reminder at 12 h, 4 h and 1 h left
  (`ReminderStage`). The merchant's go to every channel of the shop's team (in the app,
  e-mail, SMS — which takes only the last stage, `params["stage"] == "1h"`) and to the shop's
  integrations (`integrations.events.emit`, type `complaint.deadline_reminder`); the review's
  to the arbitrators in the app and by e-mail and to the arbitration team's group robot
  (`integrations.events.emit_staff`, type `complaint.review_reminder`).
- Sent once per deadline, stage and channel, whatever the sweep does: the complaint carries
  a stage marker (`<clock>_reminder_due`, `_stage`, `_next`) written under its row lock, and
  every outbox row and integration event is keyed by complaint, clock, deadline and stage.
  A deadline that moves no longer matches its marker and starts its stages again; a complaint
  first seen late gets only the latest stage already reached (3 h left: the 4 h one, then the
  1 h one — never the 12 h one late).
- Quiet hours (`ReminderSettings`, per shop, Asia/Shanghai; 23:00–08:00 unless the owner
  changes them on /merchant/reminders/): the 12 h and 4 h stages wait until they end, if that
  is still before the deadline — else the 1 h stage comes first; the 1 h stage goes regardless.
- The daily digest: at 10:00 (Asia/Shanghai) each shop with open complaints gets their list by
  deadline (NotificationKind.DAILY_DIGEST, a notice about the shop) and its integrations the
  event `complaint.digest`; once per shop and day (the day is claimed in `DigestRun`, and
  every key names the date).

The sweep (disputes.services.sweep) takes the due reminders in batches, locked `FOR UPDATE
SKIP LOCKED` on partial indexes, and writes each batch in a fixed number of statements (the
settings, the team, one INSERT of the outbox, one UPDATE of the markers) plus one integrations
call per reminder sent; the digest is a beat entry (disputes.tasks.reminders_daily_digest).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.deadlines import running_deadline
from disputes.models import (
    STAGES_UNSTARTED,
    DigestRun,
    Dispute,
    NotificationKind,
    ReminderSettings,
    ReminderStage,
    Role,
    Status,
)
from disputes.services.clock import _FIELDS, BUYER, MERCHANT, REVIEW, _team, _users
from disputes.services.formatting import jsonable
from disputes.services.outbox import (
    OutboxRow,
    notice_params,
    outbox_insert,
    outbox_rows,
    publish_notifications,
    render,
)
from integrations import events
from integrations.models import Endpoint
from kamen_complaints import sms
from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError, Forbidden
from kamen_complaints.timefmt import SHANGHAI
from orders.models import Merchant
from orders.selectors import is_merchant_owner

__all__ = [
    "CLOCKS",
    "DIGEST_AT",
    "STAGES",
    "lock_due",
    "remind",
    "reminder_settings_of",
    "reminder_settings_update",
    "shops_send_digest",
    "stage_at",
]

# The stages of the merchant's and the review clock: how long is left when each goes.
STAGES: tuple[tuple[ReminderStage, timedelta], ...] = (
    (ReminderStage.H12, timedelta(hours=12)),
    (ReminderStage.H4, timedelta(hours=4)),
    (ReminderStage.H1, timedelta(hours=1)),
)
LAST_STAGE = ReminderStage.H1
FIRST_LEAD = STAGES[0][1]
_ORDER = {stage: i for i, (stage, _lead) in enumerate(STAGES)}
# The buyer's offer clock: one reminder, this long before it lapses.
BUYER_LEAD = timedelta(hours=12)
# The clocks the sweep reminds, in its order (the report's keys).
CLOCKS = (MERCHANT, BUYER, REVIEW)
# When the daily digest goes, Asia/Shanghai.
DIGEST_AT = time(10, 0)
# How many complaints a digest lists by name (the rest are counted).
DIGEST_LISTED = 20

REVIEW_REMINDER_EVENT = "complaint.review_reminder"


@dataclass(frozen=True)
class _Staged:
    status: str
    due: str  # the deadline's column
    marker: str  # the deadline the stage marker belongs to
    stage: str  # the last stage sent for it
    next: str  # when the sweep looks again
    running: Q  # what else keeps the clock running


_STAGED: dict[str, _Staged] = {
    MERCHANT: _Staged(
        status=Status.AWAITING_MERCHANT,
        due="merchant_response_due",
        marker="merchant_reminder_due",
        stage="merchant_reminder_stage",
        next="merchant_reminder_next",
        running=Q(),
    ),
    REVIEW: _Staged(
        status=Status.UNDER_REVIEW,
        due="review_due",
        marker="review_reminder_due",
        stage="review_reminder_stage",
        next="review_reminder_next",
        running=Q(review_paused_at__isnull=True),
    ),
}

_KIND = {
    MERCHANT: NotificationKind.REMINDER_MERCHANT,
    BUYER: NotificationKind.REMINDER_BUYER,
    REVIEW: NotificationKind.REMINDER_REVIEW,
}


# --- Stages and quiet hours (pure) ------------------------------------------------------------


def stage_at(due: datetime, now: datetime) -> ReminderStage | None:
    """The stage reached at `now`: the last one whose lead is no shorter than the time left
    (3 h left: the 4 h stage). None before the first (more than 12 h left) and once the
    deadline passed."""
    left = due - now
    if left <= timedelta(0):
        return None
    reached = None
    for stage, lead in STAGES:
        if left <= lead:
            reached = stage
    return reached


def _after(stage: ReminderStage, due: datetime) -> datetime | None:
    """When the stage after `stage` is reached (None after the last)."""
    index = _ORDER[stage] + 1
    return due - STAGES[index][1] if index < len(STAGES) else None


def quiet_until(choice: ReminderSettings, now: datetime) -> datetime | None:
    """The end of the shop's quiet hours `now` falls in (read in Asia/Shanghai wall-clock
    time, and they may run past midnight), None when `now` is not quiet."""
    start, end = choice.quiet_start, choice.quiet_end
    if not choice.quiet_hours or start == end:
        return None
    local = now.astimezone(SHANGHAI)
    at = local.time()
    if start < end:
        quiet, end_day = start <= at < end, local.date()
    else:
        quiet = at >= start or at < end
        end_day = local.date() + timedelta(days=1) if at >= start else local.date()
    if not quiet:
        return None
    return datetime.combine(end_day, end, tzinfo=SHANGHAI)


def _hours_left(due: datetime, now: datetime) -> int:
    return max(1, math.ceil((due - now).total_seconds() / 3600))


# --- Which complaints are due a reminder --------------------------------------------------------


def stages_unstarted(clock: str, now: datetime) -> QuerySet[Dispute]:
    """Running clocks within 12 h of their deadline whose stage marker is not for that
    deadline (new, or moved) — the partial index `dispute_<clock>_stage_idx`."""
    c = _STAGED[clock]
    return Dispute.objects.filter(
        Q(status=c.status) & STAGES_UNSTARTED[clock],
        c.running,
        **{f"{c.due}__gt": now, f"{c.due}__lte": now + FIRST_LEAD},
    ).order_by(c.due)


def stages_next(clock: str, now: datetime) -> QuerySet[Dispute]:
    """Running clocks whose marker says to look again by `now` (the next stage, or the end of
    the shop's quiet hours) — the partial index `dispute_<clock>_next_idx`."""
    c = _STAGED[clock]
    return Dispute.objects.filter(
        c.running, status=c.status, **{f"{c.next}__isnull": False, f"{c.next}__lte": now}
    ).order_by(c.next)


def buyer_reminders_due(now: datetime) -> QuerySet[Dispute]:
    """Offers that lapse within 12 h and whose buyer was not reminded (the partial index
    `dispute_buyer_remind_idx`)."""
    return Dispute.objects.filter(
        status=Status.AWAITING_BUYER,
        buyer_reminded_at__isnull=True,
        buyer_response_due__gt=now,
        buyer_response_due__lte=now + BUYER_LEAD,
    ).order_by("buyer_response_due")


_MARKER_FIELDS = (
    "merchant_reminder_due",
    "merchant_reminder_stage",
    "merchant_reminder_next",
    "review_reminder_due",
    "review_reminder_stage",
    "review_reminder_next",
)


def _locked(qs: QuerySet[Dispute], limit: int) -> list[Dispute]:
    qs = qs.select_related("order", "order__product").only(*_FIELDS, *_MARKER_FIELDS)
    return list(qs.select_for_update(skip_locked=True, of=("self",))[:limit])


def lock_due(clock: str, *, now: datetime, limit: int) -> list[Dispute]:
    """Up to `limit` complaints due a reminder on `clock` at `now`, locked for the caller's
    transaction (`FOR UPDATE SKIP LOCKED`: several sweepers share the work). Two statements
    for a staged clock (new or moved deadlines, then looks due again), one for the buyer's."""
    if clock == BUYER:
        return _locked(buyer_reminders_due(now), limit)
    rows = _locked(stages_unstarted(clock, now), limit)
    if len(rows) < limit:
        seen = [d.pk for d in rows]
        rows += _locked(stages_next(clock, now).exclude(pk__in=seen), limit - len(rows))
    return rows


# --- Sending ----------------------------------------------------------------------------------


def arbitrators() -> list[User]:
    """Active staff who may decide complaints (the review reminder's recipients)."""
    perm = Permission.objects.filter(
        content_type__app_label="disputes", codename="arbitrate"
    ).first()
    condition = Q(is_superuser=True)
    if perm is not None:
        condition |= Q(user_permissions=perm) | Q(groups__permissions=perm)
    return list(
        User.objects.filter(condition, is_active=True, is_staff=True).distinct().order_by("id")
    )


def remind(clock: str, disputes: Sequence[Dispute], *, now: datetime | None = None) -> int:
    """Send what is due of each complaint's reminders on `clock` (the caller locked them,
    `lock_due`), in the caller's transaction. Returns how many reminders went."""
    moment = now or timezone.now()
    if not disputes:
        return 0
    if clock == BUYER:
        return _remind_buyers(disputes, moment)
    return _remind_stages(clock, disputes, moment)


def _remind_buyers(disputes: Sequence[Dispute], now: datetime) -> int:
    buyers = _users({d.buyer_id for d in disputes})
    rows: list[OutboxRow] = []
    for d in disputes:
        due = d.buyer_response_due
        assert due is not None  # noqa: S101 - selected on it
        rows += outbox_rows(
            dispute=d,
            key=f"dispute:{d.pk}:reminder:{BUYER}:{int(due.timestamp())}",
            recipients=[buyers[d.buyer_id]],
            kind=_KIND[BUYER],
            params=notice_params(d, due=due, hours=_hours_left(due, now), amount=d.offer_amount),
            now=timezone.now(),
        )
    Dispute.objects.filter(pk__in=[d.pk for d in disputes]).update(buyer_reminded_at=timezone.now())
    publish_notifications(outbox_insert(rows))
    return len(disputes)


@dataclass
class _Decision:
    marker: datetime | None
    stage: str
    next: datetime | None
    send: ReminderStage | None = None


def _decide(
    due: datetime | None,
    marker: datetime | None,
    sent: str,
    now: datetime,
    quiet: ReminderSettings | None,
) -> _Decision:
    """What to do with one complaint's reminders now, and the marker to leave. Every branch
    leaves the complaint out of both queries of `lock_due` until its next look, so a batch
    never comes back."""
    if due is None or due <= now:  # ran out: the clock acts, nothing to remind
        return _Decision(marker=due, stage=sent if marker == due else "", next=None)
    if marker != due:
        sent = ""  # a new or moved deadline starts its stages again
    stage = stage_at(due, now)
    if stage is None:  # moved back beyond 12 h: the stages start when it comes near
        return _Decision(marker=None, stage="", next=None)
    if sent and _ORDER[stage] <= _ORDER[ReminderStage(sent)]:
        return _Decision(marker=due, stage=sent, next=_after(ReminderStage(sent), due))
    if stage != LAST_STAGE and quiet is not None:
        ends = quiet_until(quiet, now)
        if ends is not None:
            last = due - STAGES[-1][1]
            return _Decision(marker=due, stage=sent, next=min(ends, last))
    return _Decision(marker=due, stage=stage, next=_after(stage, due), send=stage)


def reminder_settings_of(merchant_ids: Sequence[int]) -> dict[int, ReminderSettings]:
    """Each shop's reminder settings; a shop that never saved any gets the defaults."""
    saved = {
        s.merchant_id: s for s in ReminderSettings.objects.filter(merchant_id__in=merchant_ids)
    }
    return {m: saved.get(m) or ReminderSettings(merchant_id=m) for m in merchant_ids}


def _listening(merchant_ids: Sequence[int]) -> set[int]:
    """The shops with an enabled endpoint or robot: only their reminders are handed to
    `integrations.events.emit` (which still decides what each target subscribed to), so a
    batch asks once here rather than once per reminder."""
    return set(
        Endpoint.objects.filter(merchant_id__in=merchant_ids, enabled=True).values_list(
            "merchant_id", flat=True
        )
    )


def _absolute(url: str) -> str:
    return settings.SITE_URL + url


def _event_data(d: Dispute, due: datetime, stage: str, hours: int, url: str) -> dict[str, Any]:
    return {
        "complaint": d.number,
        "order": d.order.number,
        "status": str(d.status),
        "amount": str(d.claimed_amount),
        "due": jsonable(due),
        "url": _absolute(url),
        "stage": stage,
        "hours_left": hours,
    }


def _remind_stages(clock: str, disputes: Sequence[Dispute], now: datetime) -> int:
    c = _STAGED[clock]
    merchant_ids = sorted({d.merchant_id for d in disputes})
    quiet = reminder_settings_of(merchant_ids) if clock == MERCHANT else {}
    team = _team(set(merchant_ids)) if clock == MERCHANT else {}
    staff = arbitrators() if clock == REVIEW else []
    listening = _listening(merchant_ids) if clock == MERCHANT else set()
    rows: list[OutboxRow] = []
    changed: list[Dispute] = []
    sent = 0
    # The recipients' numbers for SMS are read once for the batch (the channel's address).
    people = {u.pk for ts in team.values() for u in ts} | {u.pk for u in staff}
    with sms.phones_known(people):
        for d in disputes:
            due = getattr(d, c.due)
            decision = _decide(
                due, getattr(d, c.marker), getattr(d, c.stage), now, quiet.get(d.merchant_id)
            )
            setattr(d, c.marker, decision.marker)
            setattr(d, c.stage, decision.stage)
            setattr(d, c.next, decision.next)
            changed.append(d)
            if decision.send is None:
                continue
            sent += 1
            stage = str(decision.send)
            hours = _hours_left(due, now)
            key = f"dispute:{d.pk}:reminder:{clock}:{int(due.timestamp())}:{stage}"
            rows += outbox_rows(
                dispute=d,
                key=key,
                recipients=team.get(d.merchant_id, []) if clock == MERCHANT else staff,
                kind=_KIND[clock],
                params=notice_params(d, due=due, hours=hours, stage=stage),
                now=timezone.now(),
                role=Role.STAFF if clock == REVIEW else None,
            )
            if clock == MERCHANT and d.merchant_id in listening:
                url = reverse("merchant:complaint", kwargs={"number": d.number})
                events.emit(
                    merchant_id=d.merchant_id,
                    type=events.COMPLAINT_DEADLINE_REMINDER,
                    data=_event_data(d, due, stage, hours, url),
                    key=key,
                )
            elif clock == REVIEW:
                url = reverse("admin:disputes_dispute_case", args=[d.pk])
                events.emit_staff(
                    type=REVIEW_REMINDER_EVENT,
                    data=_event_data(d, due, stage, hours, url),
                    key=key,
                )
    # One UPDATE for the batch's markers (bulk_update: one CASE per column).
    Dispute.objects.bulk_update(changed, [c.marker, c.stage, c.next])
    publish_notifications(outbox_insert(rows))
    return sent


# --- The daily digest ---------------------------------------------------------------------------

_OPEN = (Status.AWAITING_MERCHANT, Status.AWAITING_BUYER, Status.UNDER_REVIEW)


def _claim_day(day: date, now: datetime) -> bool:
    """Take the day's digest for this transaction: one row per day, the first sweeper's; a
    second one waits for the first to commit and then finds the day taken."""
    if DigestRun.objects.filter(day=day).exists():
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {DigestRun._meta.db_table} (day, sent_at, shops) "  # noqa: S608
            "VALUES (%s, %s, 0) ON CONFLICT (day) DO NOTHING RETURNING id",
            [
                connection.ops.adapt_datefield_value(day),
                connection.ops.adapt_datetimefield_value(now),
            ],
        )
        return cursor.fetchone() is not None


def _digest_item(d: Dispute) -> dict[str, Any]:
    return jsonable(
        {
            "number": d.number,
            "order": d.order.number,
            "status": str(d.status),
            "amount": str(d.claimed_amount),
            "due": running_deadline(d),
        }
    )


@transaction.atomic
def shops_send_digest(*, now: datetime | None = None) -> int:
    """The daily digest (beat, hourly from 10:00 Asia/Shanghai, so a missed hour is caught
    up): each shop with open complaints whose owner did not turn the digest off gets the
    list by deadline — to the team, and to its integrations as `complaint.digest` — once per
    day: the first call at or after 10:00 claims the day (`DigestRun`), and every key names
    the date. Returns how many shops were told."""
    moment = now or timezone.now()
    local = moment.astimezone(SHANGHAI)
    if local.time() < DIGEST_AT:
        return 0
    day = local.date()
    if not _claim_day(day, moment):
        return 0
    open_by_shop: dict[int, list[Dispute]] = defaultdict(list)
    for d in (
        Dispute.objects.filter(status__in=_OPEN)
        .select_related("order")
        .only(
            "id",
            "number",
            "status",
            "merchant_id",
            "claimed_amount",
            "merchant_response_due",
            "buyer_response_due",
            "review_due",
            "review_paused_at",
            "info_due",
            "order__number",
        )
    ):
        open_by_shop[d.merchant_id].append(d)
    choices = reminder_settings_of(sorted(open_by_shop))
    shops = {
        m.pk: m
        for m in Merchant.objects.filter(
            pk__in=[m for m, choice in choices.items() if choice.digest]
        ).only("id", "shop_name")
    }
    team = _team(set(shops))
    listening = _listening(sorted(shops))
    rows: list[OutboxRow] = []
    stamp = day.isoformat()
    for merchant_id, merchant in sorted(shops.items()):
        items = sorted(
            (_digest_item(d) for d in open_by_shop[merchant_id]),
            key=lambda item: (item["due"] or "9999", item["number"]),
        )
        key = f"shop:{merchant_id}:digest:{stamp}"
        figures = {
            "shop": merchant.shop_name,
            "date": stamp,
            "count": len(items),
            "complaints": items[:DIGEST_LISTED],
        }
        text = render(jsonable(figures))
        for user in team.get(merchant_id, []):
            rows += _shop_rows(key=key, user=user, figures=figures, text=text, now=moment)
        if merchant_id not in listening:
            continue
        events.emit(
            merchant_id=merchant_id,
            type=events.COMPLAINT_DIGEST,
            data={
                **figures,
                "complaints": [
                    {
                        **item,
                        "url": _absolute(
                            reverse("merchant:complaint", kwargs={"number": item["number"]})
                        ),
                    }
                    for item in items
                ],
                "url": _absolute(reverse("merchant:complaints")),
            },
            key=key,
        )
    DigestRun.objects.filter(day=day).update(shops=len(shops))
    publish_notifications(outbox_insert(rows))
    return len(shops)


def _shop_rows(
    *, key: str, user: User, figures: dict[str, Any], text: str, now: datetime
) -> list[OutboxRow]:
    """One digest row per channel that carries a digest and reaches `user` (the SMS channel
    carries none: disputes/channels.py `accepts`)."""
    from disputes.channels import channels

    kind = str(NotificationKind.DAILY_DIGEST)
    return [
        OutboxRow(
            dispute_id=None,
            recipient_id=user.pk,
            channel=chan.name,
            dedupe_key=f"{key}:user:{user.pk}:{chan.name}",
            kind=kind,
            params=text,
            role=str(Role.MERCHANT),
            created_at=now,
            sent_at=now if chan.immediate else None,
        )
        for chan in channels()
        if chan.accepts(kind, str(Role.MERCHANT), figures) and chan.address(user) is not None
    ]


# --- The shop's choices -----------------------------------------------------------------------

# The audit log's action for a change of them (a plain string: kamen_complaints.audit).
AUDIT_REMINDER_SETTINGS = "reminder_settings_changed"


@transaction.atomic
def reminder_settings_update(
    *,
    merchant: Merchant,
    actor: User,
    quiet_hours: bool,
    quiet_start: time,
    quiet_end: time,
    digest: bool,
) -> ReminderSettings:
    """The owner sets the shop's quiet hours (Asia/Shanghai; the 12 h and 4 h reminders wait
    until they end, the 1 h one goes regardless) and whether the daily digest goes. Only the
    owner (orders.selectors.is_merchant_owner, the rule the team page follows too); written
    to the audit log with the values before and after."""
    if not is_merchant_owner(actor, merchant):
        raise Forbidden(_("Only the shop's owner changes when reminders are sent."))
    if quiet_hours and quiet_start == quiet_end:
        raise DomainError(
            _("Quiet hours must start and end at different times."), code="quiet_hours_empty"
        )
    choice, _created = ReminderSettings.objects.select_for_update().get_or_create(merchant=merchant)
    before = _values(choice)
    choice.quiet_hours = quiet_hours
    choice.quiet_start = quiet_start
    choice.quiet_end = quiet_end
    choice.digest = digest
    choice.updated_at = timezone.now()
    choice.updated_by = actor
    choice.save()
    audit_record(
        actor=actor,
        action=AUDIT_REMINDER_SETTINGS,
        obj=choice,
        before=before,
        after=_values(choice),
    )
    return choice


def _values(choice: ReminderSettings) -> dict[str, Any]:
    return {
        "merchant": choice.merchant_id,
        "quiet_hours": choice.quiet_hours,
        "quiet_start": choice.quiet_start.strftime("%H:%M"),
        "quiet_end": choice.quiet_end.strftime("%H:%M"),
        "digest": choice.digest,
    }
