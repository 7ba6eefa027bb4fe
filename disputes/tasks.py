"""Celery tasks: thin shells around services of the same name.

Every task here is safe to run twice or at the same time as itself (acks_late: a worker that
dies mid-task has it redelivered): the services are idempotent.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from disputes import services


@shared_task(acks_late=True)
def deadlines_sweep() -> dict[str, Any]:
    """Beat, every SWEEP_INTERVAL_SECONDS: enforce every due deadline, send the reminders and
    whatever the outbox still holds. Bounded by SWEEP_MAX_SECONDS (under the task's soft time
    limit); what is left waits for the next sweep."""
    return services.deadlines_sweep(max_seconds=settings.SWEEP_MAX_SECONDS).as_dict()


@shared_task(acks_late=True)
def notifications_send(notification_ids: list[int]) -> int:
    """Deliver outbox rows (handed over on commit; the sweep re-sends what is lost)."""
    return services.notifications_send(notification_ids=notification_ids)


@shared_task(acks_late=True)
def dispute_notify(notification_id: int) -> bool:
    """Deliver one outbox row."""
    return services.notification_send(notification_id=notification_id)


@shared_task(acks_late=True)
def payouts_send(payout_ids: list[int]) -> int:
    """Send a sweep batch's payouts through the payment channel (idempotent per payout; the
    payouts sweep retries what fails)."""
    from escrow import services as escrow_services
    from escrow.models import PayoutStatus

    sent = 0
    for payout_id in payout_ids:
        payout = escrow_services.payout_send(payout_id=payout_id)
        sent += payout is not None and payout.status == PayoutStatus.SENT
    return sent


@shared_task
def notifications_send_pending() -> int:
    return services.notifications_send_pending()
