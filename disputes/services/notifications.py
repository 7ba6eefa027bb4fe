"""Delivering the notification outbox: at least once, never lost, once per row.

Rows are written with the change they report (disputes.services._core.notify) and handed to
Celery on commit; the clock's sweep sends whatever the broker lost or a channel refused. A row
is locked while it is sent (a second worker skips it) and marked sent in that transaction, so
two deliveries of the same task send one message; a crash after the channel accepted the
message and before the commit sends it again (at-least-once), never a second row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.channels import channel
from disputes.models import Notification, NotificationChannel

logger = logging.getLogger(__name__)

# A row younger than this is left to the on-commit task that is about to send it.
SWEEP_GRACE = timedelta(minutes=1)
MAX_ATTEMPTS = 10


def notification_send(*, notification_id: int) -> bool:
    """Deliver one outbox row unless it was delivered already. The row stays locked while the
    message goes out, so two workers never send the same row; a failure is counted and left
    for the next sweep."""
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("recipient")
            .filter(pk=notification_id, sent_at__isnull=True)
            .first()
        )
        if note is None:
            return False
        note.attempts += 1
        backend = channel(note.channel)
        try:
            if backend is None:
                raise LookupError(_("channel %(name)s is not configured") % {"name": note.channel})
            backend.send(note)
        except Exception as exc:  # any transport failure: retried by the sweep
            logger.warning("notification %s not sent: %s", note.pk, exc)
            note.last_error = str(exc)[:255]
            note.save(update_fields=["attempts", "last_error"])
            return False
        note.sent_at = timezone.now()
        note.last_error = ""
        note.save(update_fields=["attempts", "sent_at", "last_error"])
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


def notifications_mark_read(*, user: User) -> int:
    """The user has seen their in-app notifications."""
    return Notification.objects.filter(
        recipient=user, channel=NotificationChannel.INAPP, read_at__isnull=True
    ).update(read_at=timezone.now())
