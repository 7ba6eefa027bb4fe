"""Reconciliation: each channel's bill of a day against the ledger, payment by payment and
refund by refund (docs/reconciliation.md).

The ledger's side is what the platform recorded as moved through the channel that day (Asia/
Shanghai): `orders.Payment` (orders and deposit top-ups) and `orders.Refund` (every refund,
payout and channel-forced refund alike, its key the channel's refund number). A payment
matches by the channel's trade number, a refund by its refund number (`out_refund_number`
of the ledger's idempotency key); then the amounts must be equal. What differs is listed for
finance in the admin with the two rows side by side.

Running a day again replaces that day's rows (one `ReconciliationRun` per channel and day,
under its row lock): the same bill and ledger give the same rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from escrow.models import (
    ReconciliationItem,
    ReconciliationResult,
    ReconciliationRun,
    ReconciliationStatus,
)
from escrow.services.compensation import channel_refund_recover
from orders import payments
from orders.channels.bills import BillRow
from orders.models import Payment, PaymentStatus, Refund
from orders.payments import PaymentError, out_refund_number
from orders.services import refunds

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The bill's day, as the channels cut it: 00:00 to 24:00 Asia/Shanghai."""
    start = datetime.combine(day, time.min, tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


def channels_to_reconcile() -> list[str]:
    """The real channels configured (the sandbox has no bill)."""
    return [c for c in payments.available_channels() if payments.is_redirect_channel(c)]


@dataclass(frozen=True)
class Outcome:
    channel: str
    day: date
    status: str
    matched: int
    differences: int
    error: str = ""


def _number(payment: Payment) -> str:
    return payment.order.number if payment.order is not None else ""


def _ledger_row_payment(payment: Payment) -> str:
    what = f"order {_number(payment)}" if payment.order is not None else payment.purpose
    return f"payment {payment.reference} {payment.amount} ({what}, {payment.created_at:%H:%M:%S})"


def _ledger_row_refund(refund: Refund) -> str:
    return f"refund {refund.idempotency_key} {refund.amount} ({refund.reason})"[:255]


def _compare(channel: str, day: date, bill: list[BillRow]) -> list[ReconciliationItem]:
    start, end = day_bounds(day)
    ledger_payments = {
        p.reference: p
        for p in Payment.objects.filter(
            channel=channel,
            status=PaymentStatus.SUCCEEDED,
            created_at__gte=start,
            created_at__lt=end,
        ).select_related("order")
    }
    ledger_refunds = {
        out_refund_number(r.idempotency_key): r
        for r in Refund.objects.filter(
            payment__channel=channel, created_at__gte=start, created_at__lt=end
        ).select_related("payment", "payment__order")
    }
    items: list[ReconciliationItem] = []
    for row in bill:
        item = ReconciliationItem(
            kind=row.kind,
            out_trade_no=row.out_trade_no[:64],
            reference=row.reference[:64],
            refund_number=row.refund_number[:64],
            bill_amount=row.amount,
            bill_row=row.raw,
        )
        ledger_amount: Decimal | None
        if row.kind == "payment":
            payment = ledger_payments.pop(row.reference, None)
            if payment is None:
                item.result = ReconciliationResult.MISSING_IN_LEDGER
                items.append(item)
                continue
            ledger_amount = payment.amount
            item.ledger_row = _ledger_row_payment(payment)
        else:
            refund = ledger_refunds.pop(row.refund_number, None)
            if refund is None and row.refund_number:
                # A refund the channel forced for a complaint filed there: booked on the
                # order like any other, against its headroom (docs/channel-complaints.md).
                refund = refunds.channel_refund_forced(
                    channel=channel,
                    reference=row.reference,
                    refund_number=row.refund_number,
                    amount=row.amount,
                    at=start,
                )
                if refund is not None and refund.payment.order is not None:
                    # …and the shop bears it, once (the same path as a complaint's recovery).
                    order = refund.payment.order
                    channel_refund_recover(
                        channel=channel,
                        refund_number=row.refund_number,
                        merchant=order.merchant,
                        amount=refund.amount,
                        order_number=order.number,
                    )
            if refund is None:
                # The channel gave money back that no payout, refund or booked forced refund
                # of the ledger asked for.
                item.result = ReconciliationResult.REFUND_WITHOUT_PAYOUT
                items.append(item)
                continue
            ledger_amount = refund.amount
            item.ledger_row = _ledger_row_refund(refund)
        item.ledger_amount = ledger_amount
        item.result = (
            ReconciliationResult.MATCHED
            if ledger_amount == row.amount
            else ReconciliationResult.AMOUNT_DIFFERS
        )
        items.append(item)
    for payment in ledger_payments.values():
        items.append(
            ReconciliationItem(
                kind="payment",
                result=ReconciliationResult.MISSING_IN_BILL,
                out_trade_no=_number(payment)[:64],
                reference=payment.reference,
                ledger_amount=payment.amount,
                ledger_row=_ledger_row_payment(payment),
            )
        )
    for number, refund in ledger_refunds.items():
        items.append(
            ReconciliationItem(
                kind="refund",
                result=ReconciliationResult.MISSING_IN_BILL,
                out_trade_no=_number(refund.payment)[:64],
                reference=refund.payment.reference,
                refund_number=number[:64],
                ledger_amount=refund.amount,
                ledger_row=_ledger_row_refund(refund),
            )
        )
    return items


def _run_for(channel: str, day: date) -> ReconciliationRun:
    """The day's run, locked for the transaction (created the first time)."""
    try:
        with transaction.atomic():
            ReconciliationRun.objects.get_or_create(
                channel=channel,
                day=day,
                defaults={"status": ReconciliationStatus.FAILED, "runs": 0},
            )
    except IntegrityError:  # two runs at once: the other created it
        pass
    return ReconciliationRun.objects.select_for_update().get(channel=channel, day=day)


def reconcile(*, day: date, channel: str) -> Outcome:
    """Download `channel`'s bill of `day` and compare it with the ledger; the run's rows
    replace any earlier run's. A bill the channel does not give leaves the day `failed`
    (unreconciled for check_ledger) with the error, and the rows of an earlier run as they
    were."""
    provider = payments.get_provider(channel)
    try:
        bill: list[BillRow] | None = provider.bill(day=day)
        error = ""
    except PaymentError as exc:
        bill, error = None, str(exc)[:255]
        logger.warning("reconciliation %s %s: %s", channel, day, error)
    with transaction.atomic():
        run = _run_for(channel, day)
        run.ran_at = timezone.now()
        run.runs += 1
        if bill is None:
            run.status, run.error = ReconciliationStatus.FAILED, error
            run.save(update_fields=["status", "error", "ran_at", "runs"])
            return Outcome(channel, day, run.status, run.matched, run.differences, error)
        items = _compare(channel, day, bill)
        for item in items:
            item.run = run
        run.items.all().delete()
        ReconciliationItem.objects.bulk_create(items)
        run.matched = sum(1 for i in items if i.result == ReconciliationResult.MATCHED)
        run.differences = len(items) - run.matched
        run.status = (
            ReconciliationStatus.DIFFERENCES if run.differences else ReconciliationStatus.CLEAN
        )
        run.error = ""
        run.save(update_fields=["status", "matched", "differences", "error", "ran_at", "runs"])
    return Outcome(channel, day, run.status, run.matched, run.differences)


def reconcile_day(*, day: date, channel: str = "") -> list[Outcome]:
    """Every configured channel's bill of `day` (or the one named)."""
    names = [channel] if channel else channels_to_reconcile()
    return [reconcile(day=day, channel=name) for name in names]


def reconcile_yesterday() -> list[Outcome]:
    """The daily task: yesterday (Asia/Shanghai), whose bills the channels publish by 10:00."""
    today = timezone.now().astimezone(SHANGHAI).date()
    return reconcile_day(day=today - timedelta(days=1))
