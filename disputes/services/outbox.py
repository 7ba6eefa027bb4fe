"""The notification outbox: who is told about a complaint, the rows written in the caller's
transaction (one per recipient and channel, deduplicated), and their hand-over to the broker
after commit (the sweep re-sends what is lost; docs/architecture.md "Notifications")."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from disputes.channels import channels
from disputes.deadlines import running_deadline
from disputes.models import Dispute, DisputeEvent, Notification, Role
from disputes.services.formatting import jsonable
from disputes.services.shop_events import complaint_event
from kamen_complaints.celery import publish
from orders.models import Merchant, MerchantMember
from orders.selectors import people_only

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    dispute_id: int | None  # None: a notice about the shop (notify_shop)
    recipient_id: int
    channel: str
    dedupe_key: str
    kind: str
    params: str  # JSON
    role: str
    created_at: datetime
    sent_at: datetime | None


def buyer_recipients(dispute: Dispute) -> list[User]:
    return [dispute.buyer]


def merchant_recipients(dispute: Dispute) -> list[User]:
    """The shop's whole team: any member may answer a complaint (its API keys' service
    accounts are no one to tell: people_only)."""
    return [
        m.user
        for m in people_only(MerchantMember.objects.filter(merchant_id=dispute.merchant_id))
        .select_related("user")
        .order_by("id")
    ]


def notice_params(dispute: Dispute, **figures: Any) -> dict[str, Any]:
    """What a notification about `dispute` records (disputes/notices.py renders it in the
    reader's language): the complaint and order numbers, the status now, the next deadline, and
    the event's own figures (amount, first line of a message, outcome, …), as JSON."""
    return jsonable(
        {
            "number": dispute.number,
            "order": dispute.order.number,
            "status": str(dispute.status),
            "due": running_deadline(dispute),
            **figures,
        }
    )


def render(params: dict[str, Any]) -> str:
    """The figures as the outbox stores them (one JSON text, shared by a row's recipients)."""
    return json.dumps(params, ensure_ascii=False, sort_keys=True)


def outbox_rows(
    *,
    dispute: Dispute,
    key: str,
    recipients: Iterable[User],
    kind: str,
    params: dict[str, Any],
    now: datetime,
    role: str | None = None,
) -> list[OutboxRow]:
    """One row per recipient and channel that carries `kind` to their side and reaches them
    (duplicates dropped; disputes/channels.py `accepts`, `address`). `key` names
    what is reported (an event, a reminder); the dedupe key adds recipient and channel. The
    recipient's role (for the link) is the buyer's or, unless `role` says otherwise, the
    merchant's.

    Every notice about a complaint passes here, so here the shop's own systems hear of it too:
    its webhook and robot event, recorded under the same key (disputes.services.shop_events)."""
    complaint_event(dispute, key=key, kind=kind, params=params)
    rows: list[OutboxRow] = []
    seen: set[int] = set()
    text = render(params)
    for user in recipients:
        if user.pk in seen:
            continue
        seen.add(user.pk)
        side = str(Role.BUYER) if user.pk == dispute.buyer_id else str(role or Role.MERCHANT)
        for chan in channels():
            if not chan.accepts(str(kind), side, params) or chan.address(user) is None:
                continue
            rows.append(
                OutboxRow(
                    dispute_id=dispute.pk,
                    recipient_id=user.pk,
                    channel=chan.name,
                    dedupe_key=f"{key}:user:{user.pk}:{chan.name}",
                    kind=str(kind),
                    params=text,
                    role=side,
                    created_at=now,
                    sent_at=now if chan.immediate else None,
                )
            )
    return rows


_NOTIFICATION = Notification._meta.db_table
_OUTBOX_CHUNK = 2000


def outbox_insert(rows: list[OutboxRow]) -> list[int]:
    """Write the rows (a dedupe key already written is skipped: the same event reported twice
    is one notification) in as few statements as possible. Returns the ids of the new rows
    that still have to be delivered (not the in-app ones)."""
    pending: list[int] = []
    ops = connection.ops
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _OUTBOX_CHUNK):
            chunk = rows[start : start + _OUTBOX_CHUNK]
            n = len(chunk)
            params: list[Any] = []
            for row in chunk:
                params += [
                    row.dispute_id,
                    row.recipient_id,
                    row.channel,
                    row.dedupe_key,
                    row.kind,
                    row.params,
                    row.role,
                    ops.adapt_datetimefield_value(row.created_at),
                    ops.adapt_datetimefield_value(row.sent_at),
                ]
            cursor.execute(
                f"INSERT INTO {_NOTIFICATION} (dispute_id, recipient_id, channel, dedupe_key, "  # noqa: S608
                "kind, params, role, subject, body, created_at, sent_at, read_at, attempts, "
                "last_error) VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, '', '', %s, %s, NULL, 0, '')"] * n)
                + " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, sent_at",
                params,
            )
            pending += [row_id for row_id, sent_at in cursor.fetchall() if sent_at is None]
    return sorted(pending)


def publish_notifications(ids: list[int]) -> None:
    """After commit, one task delivers these outbox rows (the sweep re-sends what is lost)."""
    if not ids:
        return
    from disputes.tasks import notifications_send

    transaction.on_commit(lambda: publish(notifications_send, ids), robust=True)


def notify(
    dispute: Dispute,
    event: DisputeEvent,
    recipients: Iterable[User],
    kind: str,
    *,
    tell_actor: bool = False,
    **figures: Any,
) -> int:
    """Tell `recipients` about `event` — what happened (`kind`, disputes.models.NotificationKind)
    and its figures, never a sentence: one outbox row per recipient and channel, written in the
    caller's transaction, delivered after commit. Returns how many rows are to deliver.

    The person who acted is not told of their own action (their teammates are), unless
    `tell_actor`: the buyer's receipt of a filing, which names the merchant's deadline."""
    ids = outbox_insert(
        outbox_rows(
            dispute=dispute,
            key=f"dispute:{dispute.pk}:event:{event.pk}",
            recipients=[u for u in recipients if tell_actor or u.pk != event.actor_id],
            kind=kind,
            params=notice_params(dispute, **figures),
            now=timezone.now(),
        )
    )
    publish_notifications(ids)
    return len(ids)


def notify_shop(merchant: Merchant, *, key: str, kind: str, **figures: Any) -> int:
    """Tell the shop's owner about the shop itself — suspended, reinstated, owing, its
    verification running out, a withdrawal decided (disputes/services/shop_notices.py): one
    row per channel, no complaint, written in the caller's transaction and delivered after
    commit like `notify`. `key` names the event once (the dedupe key adds the recipient and
    channel). Returns how many rows are to deliver."""
    owner = merchant.owner
    now = timezone.now()
    text = render(jsonable({"shop": merchant.shop_name, **figures}))
    rows = [
        OutboxRow(
            dispute_id=None,
            recipient_id=owner.pk,
            channel=chan.name,
            dedupe_key=f"{key}:user:{owner.pk}:{chan.name}",
            kind=str(kind),
            params=text,
            role=str(Role.MERCHANT),
            created_at=now,
            sent_at=now if chan.immediate else None,
        )
        for chan in channels()
        if chan.accepts(str(kind), str(Role.MERCHANT), figures) and chan.address(owner) is not None
    ]
    ids = outbox_insert(rows)
    publish_notifications(ids)
    return len(ids)
