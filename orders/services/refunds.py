"""Money given back on an order through its payment channel: refunds sent at once, and
refunds booked for an outbox to send later (escrow's compensations, docs/money.md)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from kamen_complaints.errors import DomainError
from kamen_complaints.money import from_fen, to_fen
from orders.models import ChannelComplaint, Order, OrderStatus, Payment, Refund
from orders.payments import get_provider
from orders.services.events import status_changed

logger = logging.getLogger(__name__)


def channel_refund(
    order: Order,
    *,
    amount: Decimal,
    reason: str,
    key: str,
    keep_status: bool = False,
    reserved: bool = False,
) -> Refund:
    """Refund through the payment channel (a payment record, not the deposit ledger).

    A failed delivery keeps its status (`delivery_failed`, as the API says) with the money
    recorded back in `refunded_amount`, and so does a delivery still pending; other refunds
    move the order to `refunded` or `partially_refunded`. A `reserved` refund sends what was
    booked before (`orders_reserve_refunds`): the booking becomes a refund."""
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing:
        return existing
    payment = Payment.objects.get(reference=order.payment_reference)
    provider = get_provider(payment.channel)
    # The original route (原路退回): the channel the buyer paid through, that payment, and the
    # key as the channel's refund number (out_refund_no / out_request_no), so a retry after a
    # timeout is the same refund at the channel.
    refund_id = provider.refund(
        reference=payment.reference, amount=amount, idempotency_key=key, total=payment.amount
    )
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        reason=reason,
        idempotency_key=key,
        provider_refund_id=refund_id,
    )
    order.refunded_amount += amount
    if reserved:
        order.refund_reserved -= amount
    # A top-up still on its way (or failed) keeps that status: the worker delivering it
    # decides only while it is `delivery_pending`, so a compensation sent meanwhile must not
    # take the order out of it — the delivery would then be neither made nor refunded.
    before = order.status
    if not keep_status and order.status not in (
        OrderStatus.DELIVERY_PENDING,
        OrderStatus.DELIVERY_FAILED,
    ):
        order.status = (
            OrderStatus.REFUNDED
            if order.refunded_amount >= order.amount
            else OrderStatus.PARTIALLY_REFUNDED
        )
    order.save(update_fields=["refunded_amount", "refund_reserved", "status"])
    status_changed(order, before, reason=reason)
    return refund


@transaction.atomic
def order_refund(
    *, order: Order, amount: Decimal, reason: str, key: str, reserved: bool = False
) -> Refund:
    """Refund part or all of an order through its payment channel, once per `key`.

    Everything given back for an order — refunds sent and refunds booked — stays within what
    the buyer paid (a database constraint says so too). A `reserved` refund sends what
    `orders_reserve_refunds` booked earlier, so it is measured against the booking."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing:
        return existing
    limit = order.refund_reserved if reserved else order.refundable_amount
    if amount <= 0 or amount > limit:
        raise DomainError(
            _("A refund is above zero and at most %(max)s.") % {"max": limit},
            code="amount_invalid",
        )
    return channel_refund(order, amount=amount, reason=reason, key=key, reserved=reserved)


def orders_lock_refundable(order_ids: Iterable[int]) -> dict[int, int]:
    """Lock these orders (id order, like every other lock of them) for the caller's
    transaction and return what each may still give back, in fen: the amount paid less the
    refunds sent and booked. The caller books against it with `orders_reserve_refunds` before
    the transaction ends, so two bookings for one order never both see the same headroom."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    # A compensation's hot path: plain SQL (the ORM's compilation cost more than the lock).
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, amount, refunded_amount, refund_reserved "  # noqa: S608
            f"FROM {Order._meta.db_table} WHERE id IN ({', '.join(['%s'] * len(ids))}) "
            f"ORDER BY id{lock}",
            ids,
        )
        rows = cursor.fetchall()
    return {
        pk: to_fen(Decimal(str(amount)) - Decimal(str(refunded)) - Decimal(str(reserved)))
        for pk, amount, refunded, reserved in rows
    }


def refundable_lock_sql(order_id: int) -> tuple[str, list[Any]]:
    """`orders_lock_refundable` for one order as a query to run inside another statement
    (PostgreSQL): locks the order and selects what it may still give back, in fen (one
    bigint column). escrow's payout takes the lock and checks the headroom in the statement
    that posts it (escrow.services.ledger.post_platform's gate)."""
    return (
        "SELECT ((amount - refunded_amount - refund_reserved) * 100)::bigint "  # noqa: S608
        f"FROM {Order._meta.db_table} WHERE id = %s FOR UPDATE",
        [order_id],
    )


def orders_reserve_refunds(amounts: dict[int, int]) -> None:
    """Book refunds (fen per order id) that an outbox will send later (`order_refund(…,
    reserved=True)`), in one statement. The caller holds the orders' locks
    (`orders_lock_refundable`) and has checked the headroom; the table's constraint refuses
    any booking beyond the amount paid all the same."""
    sql, params = refund_booking_sql(amounts)
    if not sql:
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        booked = len(cursor.fetchall())
    if booked != len(params) // 3:
        raise RuntimeError(f"refund booking: {booked} of {len(params) // 3} orders")


def refund_booking_sql(amounts: dict[int, int], *, only_if: str = "") -> tuple[str, list[Any]]:
    """`orders_reserve_refunds` as a statement to run inside another one — escrow books a
    compensation's refund in the statement that posts it, a data-modifying CTE on
    PostgreSQL (escrow.services.ledger.post_with) — with `AND (<only_if>)` added to its WHERE,
    RETURNING the booked orders' ids. ("", []) when nothing is booked."""
    amounts = {pk: fen for pk, fen in amounts.items() if fen}
    if not amounts:
        return "", []
    if any(fen < 0 for fen in amounts.values()):
        raise ValueError(f"negative refund booking: {amounts}")
    cast = "::numeric" if connection.vendor == "postgresql" else ""
    cases = " ".join([f"WHEN %s THEN %s{cast}"] * len(amounts))
    adapt = connection.ops.adapt_decimalfield_value
    table = Order._meta.db_table
    return (
        f"UPDATE {table} SET refund_reserved = refund_reserved + "  # noqa: S608
        f"CASE id {cases} END WHERE id IN ({', '.join(['%s'] * len(amounts))})"
        + (f" AND ({only_if})" if only_if else "")
        + " RETURNING id",
        [v for pk, fen in amounts.items() for v in (pk, adapt(from_fen(fen), 12, 2))]
        + list(amounts),
    )


def channel_refund_forced(
    *, channel: str, reference: str, refund_number: str, amount: Decimal, at: datetime
) -> Refund | None:
    """A refund the payment channel made by itself for a complaint filed there (its bill
    shows it, no payout of ours asked for it), booked on the order like any other refund so
    it counts against what the order may still give back: the platform's compensation is
    then capped by it and the buyer is never paid twice across channels
    (docs/channel-complaints.md). Only for a trade with a complaint on that channel; once
    per refund number (the bill's, as our refunds' numbers are ours). None when it is not
    one — or when it would give back more than the order has left, which stays listed for
    finance."""
    if not ChannelComplaint.objects.filter(channel=channel, reference=reference).exists():
        return None
    existing = Refund.objects.filter(idempotency_key=refund_number).first()
    if existing is not None:
        return existing
    payment = (
        Payment.objects.filter(channel=channel, reference=reference, order__isnull=False)
        .select_related("order")
        .first()
    )
    if payment is None or payment.order is None or amount <= 0:
        return None
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=payment.order.pk)
        if amount > order.refundable_amount:
            logger.warning(
                "%s refund %s of %s on order %s is more than its %s left: for finance",
                channel,
                refund_number,
                amount,
                order.number,
                order.refundable_amount,
            )
            return None
        refund = Refund.objects.create(
            payment=payment,
            amount=amount,
            reason=_("Refunded by %(channel)s for a complaint filed there") % {"channel": channel},
            idempotency_key=refund_number[:100],
            provider_refund_id=f"{channel}:{refund_number}"[:64],
            created_at=at,
        )
        order.refunded_amount += amount
        before = order.status
        if order.status not in (OrderStatus.DELIVERY_PENDING, OrderStatus.DELIVERY_FAILED):
            order.status = (
                OrderStatus.REFUNDED
                if order.refunded_amount >= order.amount
                else OrderStatus.PARTIALLY_REFUNDED
            )
        order.save(update_fields=["refunded_amount", "status"])
        status_changed(order, before, reason=refund.reason)
    return refund
