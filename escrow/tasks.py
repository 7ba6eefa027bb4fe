"""Celery tasks: thin shells around services of the same name."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from escrow import services
from escrow.models import PayoutStatus
from escrow.services.payouts import retry_delay


@shared_task(bind=True, acks_late=True, max_retries=5)
def payout_send(self: Any, payout_id: int) -> str | None:
    """Send one payout (enqueued on commit of the posting). A failure is recorded on the row
    and retried here a few times; after that the periodic sweep keeps retrying it."""
    payout = services.payout_send(payout_id=payout_id)
    if payout is None:
        return None
    if payout.status == PayoutStatus.FAILED and not self.request.is_eager:
        delay = retry_delay(payout.attempts).total_seconds()
        raise self.retry(countdown=int(delay))
    return str(payout.status)


@shared_task(acks_late=True)
def payouts_send(payout_ids: list[int]) -> int:
    """Send a batch's payouts (the deadline sweep hands them over on commit; the payouts sweep
    retries what fails)."""
    return services.payouts_send(payout_ids=payout_ids)


@shared_task
def payouts_sweep() -> int:
    """Periodic (beat): send the pending and failed payouts that are due."""
    return services.payouts_send_pending()


@shared_task(acks_late=True)
def reconcile_yesterday() -> list[str]:
    """Daily (beat, 10:30 Asia/Shanghai, after the channels publish yesterday's bills):
    reconcile every configured channel's bill of yesterday with the ledger."""
    from escrow.services.reconciliation import reconcile_yesterday as run

    return [f"{o.channel} {o.day}: {o.status}" for o in run()]
