"""Delivering the notification outbox: at least once, never lost, once per row.

Rows are written with the change they report (disputes.services.outbox.notify) and handed to
Celery on commit; the clock's sweep sends whatever the broker lost or a channel refused. A row
is locked while it is sent (a second worker skips it) and marked sent in that transaction, so
two deliveries of the same task send one message; a crash after the channel accepted the
message and before the commit sends it again (at-least-once), never a second row.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes import notices
from disputes.channels import channel
from disputes.models import Dispute, Notification, NotificationChannel, NotificationKind
from disputes.services.outbox import (
    notice_params,
    outbox_insert,
    outbox_rows,
    publish_notifications,
)
from escrow.models import Payout
from kamen_complaints.money import from_fen

logger = logging.getLogger(__name__)

# A row younger than this is left to the on-commit task that is about to send it.
SWEEP_GRACE = timedelta(minutes=1)
# At most one message per complaint, recipient and channel in this time; what comes
# meanwhile goes out together.
COALESCE_WINDOW = timedelta(minutes=1)
MAX_ATTEMPTS = 10


def _same_subject(note: Notification) -> Q:
    """The rows about what `note` is about: its complaint, or the shop (no complaint)."""
    if note.dispute_id is None:
        return Q(dispute__isnull=True)
    return Q(dispute_id=note.dispute_id)


def _sent_recently(note: Notification, now: datetime) -> bool:
    """Whether this recipient got a message about this complaint on this channel less than
    COALESCE_WINDOW ago."""
    return Notification.objects.filter(
        _same_subject(note),
        recipient_id=note.recipient_id,
        channel=note.channel,
        sent_at__gte=now - COALESCE_WINDOW,
    ).exists()


def notification_send(*, notification_id: int) -> bool:
    """Deliver one outbox row unless it was delivered already, together with the other rows
    about the same complaint waiting for the same recipient on the same channel: one message
    (disputes.notices.email, in the platform's language) for all of them. A complaint that
    already sent this recipient a message within COALESCE_WINDOW waits: the sweep sends what
    gathered meanwhile as one message, so five events in a minute are at most two mails.

    The rows stay locked while the message goes out, so two workers never send the same row;
    a failure is counted on each and left for the next sweep. What was sent is kept on the
    rows (subject, body)."""
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("recipient", "dispute")
            .filter(pk=notification_id, sent_at__isnull=True)
            .first()
        )
        if note is None:
            return False
        now = timezone.now()
        backend = channel(note.channel)
        if backend is not None and not backend.immediate and _sent_recently(note, now):
            return False
        batch = [
            note,
            *Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("dispute")
            .filter(
                _same_subject(note),
                recipient_id=note.recipient_id,
                channel=note.channel,
                sent_at__isnull=True,
                attempts__lt=MAX_ATTEMPTS,
            )
            .exclude(pk=note.pk)
            .order_by("id"),
        ]
        for row in batch:
            row.attempts += 1
        try:
            if backend is None:
                raise LookupError(_("channel %(name)s is not configured") % {"name": note.channel})
            note.subject, note.body = notices.email(batch)
            backend.send(note)
        except Exception as exc:  # any transport failure: retried by the sweep
            logger.warning("notification %s not sent: %s", note.pk, exc)
            for row in batch:
                row.last_error = str(exc)[:255]
            Notification.objects.bulk_update(batch, ["attempts", "last_error"])
            return False
        for row in batch:
            row.subject, row.body = note.subject, note.body
            row.sent_at = now
            row.last_error = ""
        Notification.objects.bulk_update(
            batch, ["attempts", "sent_at", "last_error", "subject", "body"]
        )
    return True


def notifications_send(*, notification_ids: Iterable[int]) -> int:
    """Deliver these rows (one task per change or per sweep batch); returns how many went."""
    return sum(1 for pk in notification_ids if notification_send(notification_id=pk))


def notifications_send_pending(*, now: datetime | None = None, limit: int = 200) -> int:
    """The sweep's half of the outbox: send what the broker lost (or what failed before)."""
    moment = now or timezone.now()
    ids = list(
        Notification.objects.filter(
            sent_at__isnull=True,
            created_at__lte=moment - SWEEP_GRACE,
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return notifications_send(notification_ids=ids)


# --- In-app ---------------------------------------------------------------------------------


def notifications_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """The user has seen their in-app notifications: all of them ("mark all as read"), or the
    ones a page showed them (`ids`, only theirs)."""
    rows = Notification.objects.filter(
        recipient=user, channel=NotificationChannel.INAPP, read_at__isnull=True
    )
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())


# --- Payouts --------------------------------------------------------------------------------

_PAYOUT_SOURCE = re.compile(r"^dispute:(\d+):")


def notify_payout_sent(sender: object, *, payout: Payout, **kwargs: object) -> int:
    """escrow.signals.payout_sent: the money of a complaint reached the buyer through the
    payment channel. The buyer's notification is written in the payout's transaction, once per
    payout (the dedupe key names it). Returns how many rows are to deliver."""
    match = _PAYOUT_SOURCE.match(payout.source_key)
    if match is None:
        return 0
    dispute = Dispute.objects.select_related("order", "buyer").filter(pk=int(match[1])).first()
    if dispute is None:
        return 0
    ids = outbox_insert(
        outbox_rows(
            dispute=dispute,
            key=f"dispute:{dispute.pk}:{payout.key}",
            recipients=[dispute.buyer],
            kind=NotificationKind.PAYOUT_SENT,
            params=notice_params(dispute, amount=from_fen(payout.amount), at=payout.sent_at),
            now=timezone.now(),
        )
    )
    publish_notifications(ids)
    return len(ids)
