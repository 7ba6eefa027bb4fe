"""A buyer's order: creation, payment, delivery (card keys or a phone top-up), the keys
revealed to the buyer, and a card key replaced by the merchant."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kamen_complaints.celery import enqueue
from kamen_complaints.errors import DomainError, NotFound
from kamen_complaints.money import MAX_YUAN
from kamen_complaints.timefmt import shanghai
from orders import payments
from orders.models import (
    PAYMENT_WINDOW,
    CardKey,
    CardKeyReveal,
    CardKeyStatus,
    MerchantMember,
    MerchantStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Product,
    ProductKind,
    Refund,
)
from orders.payments import get_provider, get_topup_upstream
from orders.services.events import status_changed
from orders.services.refunds import channel_refund
from orders.services.validation import validate_phone

logger = logging.getLogger(__name__)

MAX_QUANTITY = 100


# A retry of a lost top-up task waits at least this long after payment.
TOPUP_RETRY_AFTER = timedelta(minutes=5)
# After this many real attempts the sweep stops re-sending a top-up: it stays
# `delivery_pending` (visible in the admin) for staff to settle with the upstream by hand,
# rather than refunding money the upstream may already have credited.
TOPUP_MAX_ATTEMPTS = 12

_ORDER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


# --- Orders -------------------------------------------------------------------------------


def _new_order_number() -> str:
    """KM + date + 10 random Crockford characters (50 bits): readable, not guessable."""
    stamp = timezone.localtime().strftime("%y%m%d")
    tail = "".join(secrets.choice(_ORDER_ALPHABET) for _ in range(10))
    return f"KM{stamp}{tail}"


@transaction.atomic
def order_create(*, buyer: User, product: Product, quantity: int, topup_target: str = "") -> Order:
    """An order awaiting payment. Only active products of active shops are sold."""
    product = Product.objects.select_related("merchant").get(pk=product.pk)
    if not product.active:
        raise DomainError(_("This product is not on sale."), code="product_inactive")
    if product.merchant.status != MerchantStatus.ACTIVE:
        raise DomainError(_("This shop is not selling at the moment."), code="merchant_inactive")
    if MerchantMember.objects.filter(merchant=product.merchant, user=buyer).exists():
        raise DomainError(_("You cannot buy from your own shop."), code="own_shop")
    if (
        not isinstance(quantity, int)
        or isinstance(quantity, bool)
        or not (1 <= quantity <= MAX_QUANTITY)
    ):
        raise DomainError(
            _("Quantity is a whole number from 1 to %(max)s.") % {"max": MAX_QUANTITY},
            code="quantity_invalid",
        )
    target = ""
    if product.kind == ProductKind.PHONE_TOPUP:
        if quantity != 1:
            raise DomainError(_("A phone top-up is bought one at a time."), code="quantity_invalid")
        if not topup_target:
            raise DomainError(_("Enter the phone number to top up."), code="topup_target_required")
        target = validate_phone(topup_target)
    elif topup_target:
        raise DomainError(_("Only phone top-ups take a phone number."), code="topup_target_invalid")
    amount = product.price * quantity
    if amount > MAX_YUAN:
        raise DomainError(
            _("An order is at most %(max)s yuan; buy fewer.") % {"max": MAX_YUAN},
            code="amount_invalid",
        )
    number = _new_order_number()
    while Order.objects.filter(number=number).exists():  # 50 random bits: practically never
        number = _new_order_number()
    return Order.objects.create(
        number=number,
        buyer=buyer,
        merchant=product.merchant,
        product=product,
        quantity=quantity,
        unit_price=product.price,
        amount=amount,
        topup_target=target,
    )


def _fail_delivery(order: Order, *, note: str, reason: str) -> None:
    """The goods could not be delivered: `delivery_failed`, and what the buyer has not been
    given back yet refunded through the payment channel, once (`order:<number>:delivery-failed`).

    A compensation already booked for the order (a fast-tracked complaint on a top-up that
    failed late) is not refunded a second time: the buyer gets the price back exactly once
    (docs/money.md)."""
    before = order.status
    order.status = OrderStatus.DELIVERY_FAILED
    order.delivery_note = note
    order.save(update_fields=["status", "delivery_note"])
    status_changed(order, before, reason=reason)
    if order.refundable_amount <= 0:
        return
    channel_refund(
        order,
        amount=order.refundable_amount,
        reason=reason,
        key=f"order:{order.number}:delivery-failed",
        keep_status=True,
    )


def _deliver_card_keys(order: Order) -> None:
    """Reserve keys under row locks; SKIP LOCKED lets concurrent buyers take different keys
    instead of queueing, and no key is ever handed to two orders."""
    keys = list(
        CardKey.objects.select_for_update(skip_locked=True)
        .filter(product_id=order.product_id, status=CardKeyStatus.AVAILABLE)
        .order_by("id")
        .values_list("pk", flat=True)[: order.quantity]
    )
    now = timezone.now()
    if len(keys) < order.quantity:
        _fail_delivery(order, note="out_of_stock", reason="out of stock")
        return
    updated = CardKey.objects.filter(pk__in=keys, status=CardKeyStatus.AVAILABLE).update(
        status=CardKeyStatus.DELIVERED, order=order, delivered_at=now
    )
    if updated != len(keys):  # cannot happen under the row locks; refuse rather than half-deliver
        raise RuntimeError("card key reservation lost its lock")
    before = order.status
    order.status = OrderStatus.DELIVERED
    order.delivered_at = now
    order.save(update_fields=["status", "delivered_at"])
    status_changed(order, before)


@transaction.atomic
def order_payment_confirm(*, order: Order, reference: str, amount: Decimal, channel: str) -> Order:
    """The provider says `reference` paid `amount` for this order: mark it paid and deliver,
    in one transaction. A callback that arrives twice changes nothing the second time; a
    second, different payment for an order already paid is refunded at once."""
    order = Order.objects.select_for_update().select_related("product").get(pk=order.pk)
    known = Payment.objects.filter(reference=reference).first()
    if known is not None:
        if known.order_id != order.pk:
            raise DomainError(
                _("Payment %(reference)s belongs to another order.") % {"reference": reference},
                code="reference_conflict",
                status_code=409,
            )
        return order  # the same callback again: nothing changes (dujiaoka #97)
    if amount <= 0:
        raise DomainError(_("A payment is above zero."), code="amount_invalid")
    if order.status == OrderStatus.PENDING_PAYMENT and amount != order.amount:
        raise DomainError(
            _("The payment amount %(paid)s does not match the order amount %(amount)s.")
            % {"paid": amount, "amount": order.amount},
            code="amount_mismatch",
        )
    payment = Payment.objects.create(
        order=order,
        payer=order.buyer,
        purpose="order",
        channel=channel,
        reference=reference,
        amount=amount,
        status=PaymentStatus.SUCCEEDED,
    )
    if order.status != OrderStatus.PENDING_PAYMENT:
        # Paid twice through two references, or paid after it was cancelled: give it back.
        provider = get_provider(channel)
        key = f"payment:{reference}:duplicate"
        refund_id = provider.refund(
            reference=reference, amount=amount, idempotency_key=key, total=amount
        )
        Refund.objects.create(
            payment=payment,
            amount=amount,
            reason=(
                "order cancelled" if order.status == OrderStatus.CANCELLED else "duplicate payment"
            ),
            idempotency_key=key,
            provider_refund_id=refund_id,
        )
        return order
    logger.info("order %s paid through %s", order.number, channel)
    order.status = OrderStatus.PAID
    order.paid_at = timezone.now()
    order.payment_channel = channel
    order.payment_reference = reference
    order.save(update_fields=["status", "paid_at", "payment_channel", "payment_reference"])
    status_changed(order, OrderStatus.PENDING_PAYMENT, reason=f"{channel} {reference}")
    if order.product.delivers_card_keys:
        _deliver_card_keys(order)
    else:
        order.status = OrderStatus.DELIVERY_PENDING
        order.save(update_fields=["status"])
        status_changed(order, OrderStatus.PAID)
        order_id = order.pk
        transaction.on_commit(lambda: _enqueue_topup(order_id), robust=True)
    return order


def _enqueue_topup(order_id: int) -> None:
    from orders.tasks import order_topup_deliver

    enqueue(order_topup_deliver, order_id)


def _already_paid(order: Order) -> DomainError:
    return DomainError(
        _("Order %(number)s is already paid.") % {"number": order.number},
        code="already_paid",
        status_code=409,
    )


def _cancelled(order: Order) -> DomainError:
    return DomainError(
        _("Order %(number)s was cancelled; order the product again.") % {"number": order.number},
        code="order_cancelled",
        status_code=409,
    )


def _cancel(order: Order, *, reason: str, actor: User | None = None) -> None:
    order.status = OrderStatus.CANCELLED
    order.save(update_fields=["status"])
    status_changed(order, OrderStatus.PENDING_PAYMENT, reason=reason, actor=actor)


@transaction.atomic
def order_cancel(*, order: Order, buyer: User) -> Order:
    """The buyer cancels an order they have not paid (nothing was charged, no key was
    reserved, so nothing is given back)."""
    if order.buyer_id != buyer.pk:
        raise NotFound(_("No such order."))
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status == OrderStatus.CANCELLED:
        raise _cancelled(order)
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise DomainError(
            _("Order %(number)s is paid; a paid order is not cancelled, but you may complain.")
            % {"number": order.number},
            code="already_paid",
            status_code=409,
        )
    _cancel(order, reason="cancelled by the buyer", actor=buyer)
    return order


def orders_cancel_unpaid(*, now: datetime | None = None, limit: int = 500) -> int:
    """The clock: cancel the orders still unpaid at their `pay_by` (PAYMENT_WINDOW after they
    were placed), each under its row lock, skipping rows a payment holds. Returns how many."""
    now = now or timezone.now()
    cancelled = 0
    with transaction.atomic():
        due = (
            Order.objects.select_for_update(skip_locked=True)
            .filter(status=OrderStatus.PENDING_PAYMENT, created_at__lte=now - PAYMENT_WINDOW)
            .order_by("created_at")[:limit]
        )
        for order in due:
            _cancel(order, reason="not paid in time")
            cancelled += 1
    return cancelled


def order_pay(*, order: Order, buyer: User, channel: str = "sandbox") -> Order:
    """Charge the buyer through the provider, then confirm (deliver) in one transaction.

    The charge happens outside any row lock (a gateway may be slow) with the idempotency key
    `order:<number>`, so two clicks are one charge. Should a second charge still get through
    (another reference), order_payment_confirm refunds it and the caller hears 409."""
    if order.buyer_id != buyer.pk:
        raise NotFound(_("No such order."))
    order.refresh_from_db()
    if order.status == OrderStatus.CANCELLED:
        raise _cancelled(order)
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise _already_paid(order)
    if timezone.now() > order.pay_by:
        raise DomainError(
            _("The time to pay order %(number)s ran out at %(at)s; order the product again.")
            % {"number": order.number, "at": shanghai(order.pay_by)},
            code="payment_expired",
            status_code=409,
        )
    result = payments.charge(
        channel=channel,
        amount=order.amount,
        description=f"{order.product.name} x{order.quantity}",
        idempotency_key=f"order:{order.number}",
    )
    confirmed = order_payment_confirm(
        order=order, reference=result.reference, amount=order.amount, channel=channel
    )
    if confirmed.payment_reference != result.reference:
        raise _already_paid(confirmed)
    return confirmed


def topup_upstream_name() -> str:
    """The name of the upstream top-ups go through now (its `name`, else its class): with the
    product, the channel a collective case looks at (docs/collective-cases.md)."""
    upstream = get_topup_upstream()
    return str(getattr(upstream, "name", "") or type(upstream).__name__)[:64]


def order_topup_deliver(*, order_id: int) -> Order | None:
    """Deliver a paid phone top-up through the upstream, exactly once.

    The upstream call happens outside any row lock (it may be slow) and is idempotent on the
    order number; the outcome is then written under the lock, only if still pending."""
    order = Order.objects.filter(pk=order_id, status=OrderStatus.DELIVERY_PENDING).first()
    if order is None:
        return None
    Order.objects.filter(pk=order_id).update(
        delivery_attempts=F("delivery_attempts") + 1, topup_upstream=topup_upstream_name()
    )
    ok = get_topup_upstream().deliver(
        reference=order.number, target=order.topup_target, amount=order.amount
    )
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != OrderStatus.DELIVERY_PENDING:
            return order
        if ok:
            order.status = OrderStatus.DELIVERED
            order.delivered_at = timezone.now()
            order.save(update_fields=["status", "delivered_at"])
            status_changed(order, OrderStatus.DELIVERY_PENDING)
        else:
            _fail_delivery(order, note="upstream_failed", reason="top-up failed upstream")
    return order


def orders_retry_pending_topups(*, now: datetime | None = None) -> int:
    """Hand again to the worker the top-ups whose task the broker lost (or whose worker died),
    5 minutes after payment; the upstream is idempotent on the order number, so a task that
    was only slow is harmless to repeat. Gives up after TOPUP_MAX_ATTEMPTS real attempts."""
    moment = now or timezone.now()
    ids = list(
        Order.objects.filter(
            status=OrderStatus.DELIVERY_PENDING,
            paid_at__lte=moment - TOPUP_RETRY_AFTER,
            delivery_attempts__lt=TOPUP_MAX_ATTEMPTS,
        )
        .order_by("paid_at")
        .values_list("pk", flat=True)[:500]
    )
    for order_id in ids:
        _enqueue_topup(order_id)
    return len(ids)


@transaction.atomic
def order_reveal_keys(
    *, order: Order, user: User, ip: str | None = None, user_agent: str = ""
) -> list[str]:
    """The order's card keys in clear, for its buyer only; every reveal is recorded (time, IP,
    user agent) as the platform's own evidence."""
    reveal = order_record_reveal(order=order, user=user, ip=ip, user_agent=user_agent)
    return [k.reveal() for k in reveal.card_keys.order_by("id")]


# The buyer's page shows the keys of a reveal on the page it redirects to, once, this soon.
REVEAL_SHOW_WINDOW = timedelta(minutes=2)


@transaction.atomic
def order_record_reveal(
    *, order: Order, user: User, ip: str | None = None, user_agent: str = ""
) -> CardKeyReveal:
    """Record that the buyer is shown the order's keys (time, IP, user agent) and return the
    record; the buyer's page decrypts them with `order_revealed_keys` after its redirect."""
    if order.buyer_id != user.pk:
        raise NotFound(_("No such order."))
    keys = list(order.card_keys.order_by("id"))
    if not keys:
        raise DomainError(_("This order has no card keys to show."), code="not_allowed_in_state")
    reveal = CardKeyReveal.objects.create(
        order=order, user=user, ip=ip, user_agent=user_agent[:400]
    )
    reveal.card_keys.set(keys)
    return reveal


def order_revealed_keys(*, order: Order, user: User, reveal_id: int) -> list[str]:
    """The keys of one recorded reveal of this buyer's order, in clear, if it was recorded in
    the last REVEAL_SHOW_WINDOW; otherwise none (the page then shows them masked)."""
    reveal = CardKeyReveal.objects.filter(
        pk=reveal_id,
        order=order,
        user=user,
        at__gte=timezone.now() - REVEAL_SHOW_WINDOW,
    ).first()
    if reveal is None:
        return []
    return [k.reveal() for k in reveal.card_keys.order_by("id")]


@transaction.atomic
def order_replace_card_key(*, order: Order) -> CardKey:
    """Deliver one fresh key of the same product to the order (a merchant's replacement)."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    key = (
        CardKey.objects.select_for_update(skip_locked=True)
        .filter(product_id=order.product_id, status=CardKeyStatus.AVAILABLE)
        .order_by("id")
        .first()
    )
    if key is None:
        raise DomainError(
            _("No card key of this product is in stock to replace it with."),
            code="out_of_stock",
        )
    key.status = CardKeyStatus.DELIVERED
    key.order = order
    key.delivered_at = timezone.now()
    key.save(update_fields=["status", "order", "delivered_at"])
    return key
