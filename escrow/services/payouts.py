"""Payouts: what a buyer is owed, refunded through the order's payment channel, retried until
it goes through."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from escrow.models import AccountKind, Payout, PayoutStatus, TransactionKind
from escrow.services.ledger import lock_by_kind, post
from escrow.signals import payout_sent
from kamen_complaints.money import from_fen
from orders import services as order_services

logger = logging.getLogger(__name__)

# A failed payout is retried after 1, 2, 4, … minutes, at most an hour apart, forever:
# it stays visible to finance staff until it goes through.
PAYOUT_RETRY_BASE = timedelta(minutes=1)
PAYOUT_RETRY_MAX = timedelta(hours=1)


# --- Payouts through the payment channel --------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    return min(PAYOUT_RETRY_BASE * (2 ** min(attempts, 10)), PAYOUT_RETRY_MAX)


def payout_send(*, payout_id: int) -> Payout | None:
    """Refund what a buyer is owed through the order's payment channel, then move it
    buyer_refunds → bank (`payout:<id>`), in one transaction under the payout's row lock.

    A second worker skips a payout being sent (SKIP LOCKED); the channel refund is idempotent
    on `payout:<id>`, so a worker dying after the provider answered only repeats a call that
    pays nothing twice. A failure is recorded (attempts, error, next attempt) and retried."""
    with transaction.atomic():
        payout = (
            Payout.objects.select_for_update(skip_locked=True)
            .select_related("order")
            .filter(pk=payout_id)
            .first()
        )
        if payout is None or payout.status == PayoutStatus.SENT:
            return payout
        now = timezone.now()
        payout.attempts += 1
        try:
            with transaction.atomic():
                # Sent against its booking: the payout was measured against the order when
                # it was booked, and is again now (order_refund refuses what the booking
                # does not cover).
                refund = order_services.order_refund(
                    order=payout.order,
                    amount=from_fen(payout.amount),
                    reason=f"compensation {payout.source_key}",
                    key=payout.key,
                    reserved=True,
                )
        except Exception as exc:  # the channel's failures are many; each is recorded, retried
            logger.warning("payout %s failed: %s", payout.pk, exc)
            payout.status = PayoutStatus.FAILED
            payout.last_error = str(exc)[:1000] or exc.__class__.__name__
            payout.next_attempt_at = now + retry_delay(payout.attempts)
            payout.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
            return payout
        accounts = lock_by_kind(None, (AccountKind.BUYER_REFUNDS, AccountKind.BANK))
        post(
            key=payout.key,
            kind=TransactionKind.REFUND_PAYOUT,
            legs=[
                (accounts[AccountKind.BUYER_REFUNDS], -payout.amount),
                (accounts[AccountKind.BANK], payout.amount),
            ],
            merchant_id=payout.order.merchant_id,
        )
        payout.status = PayoutStatus.SENT
        payout.sent_at = now
        payout.last_error = ""
        payout.provider_refund_id = refund.provider_refund_id
        payout.save(
            update_fields=["status", "attempts", "sent_at", "last_error", "provider_refund_id"]
        )
        payout_sent.send(sender=Payout, payout=payout)
        return payout


def payouts_send_pending(*, limit: int = 100) -> int:
    """The sweep: send the payouts due (pending ones the broker lost, failed ones whose retry
    time came). Returns how many went through."""
    ids = list(
        Payout.objects.filter(
            status__in=[PayoutStatus.PENDING, PayoutStatus.FAILED],
            next_attempt_at__lte=timezone.now(),
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return payouts_send(payout_ids=ids)


def payouts_send(*, payout_ids: Sequence[int]) -> int:
    """Send these payouts one by one (each idempotent; a failure stays on its row for the
    sweep to retry). Returns how many went through."""
    sent = 0
    for payout_id in payout_ids:
        payout = payout_send(payout_id=payout_id)
        if payout is not None and payout.status == PayoutStatus.SENT:
            sent += 1
    return sent
