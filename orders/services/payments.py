"""Payments through the real channels (Alipay, WeChat Pay): asked, then confirmed only by the
channel — its signed notice, or its signed answer when the sweep asks (docs/payments.md).

- `payment_start`: a PaymentIntent for an order or a deposit top-up, and where the payer goes.
- `payment_notice_receive`: a channel's notice, verified, recorded once per notice id, acted
  on once (the intent's row lock; the order's own idempotency on the payment reference).
- `payments_query_pending`: the sweep asks the channel about what is still pending, so a
  lost notice or a channel outage only delays a payment.
- What a paid intent does is its purpose's: `order` confirms the order here; `topup` is
  registered by escrow (the deposit), which orders may not import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kamen_complaints.errors import DomainError, NotFound
from kamen_complaints.timefmt import shanghai
from orders import payments
from orders.models import (
    PAYMENT_WINDOW,
    Merchant,
    Order,
    OrderStatus,
    PaymentIntent,
    PaymentIntentStatus,
    PaymentNotice,
    PaymentNoticeOutcome,
)
from orders.payments import NoticeAnswer, NoticeRefused, PaymentError, TradeState

logger = logging.getLogger(__name__)

# The sweep asks about a pending payment from this long after it was asked for …
QUERY_AFTER = timedelta(seconds=30)
# … at most this often per payment, and gives up this long after the payment window closed.
QUERY_EVERY = timedelta(minutes=1)
QUERY_HORIZON = PAYMENT_WINDOW + timedelta(days=1)

# purpose → what a paid intent does (in the transaction that marks it paid). Returns True when
# this payment was taken, False when it was a second payment (then refunded).
PurposeHandler = Callable[[PaymentIntent, TradeState], bool]
_purposes: dict[str, PurposeHandler] = {}


def register_payment_purpose(name: str, handler: PurposeHandler) -> None:
    """Escrow registers `topup` at start-up (escrow/apps.py): orders never imports escrow."""
    _purposes[name] = handler


# --- Starting a payment -------------------------------------------------------------------


def scene_for(channel: str, *, mobile: bool) -> str:
    """The channel's scene for this payer: page pay or Native code on a computer, mobile-web
    pay or H5 on a phone."""
    provider = payments.get_channel(channel)
    return provider.scenes[1] if mobile else provider.scenes[0]


def payment_start(
    *,
    channel: str,
    purpose: str,
    out_trade_no: str,
    amount: Decimal,
    description: str,
    payer: User,
    scene: str,
    return_url: str = "",
    client_ip: str = "",
    order: Order | None = None,
    merchant: Merchant | None = None,
) -> PaymentIntent:
    """Ask `channel` for a payment: one PaymentIntent per (channel, out_trade_no), reused by a
    second click (the channel is idempotent on out_trade_no too). The channel's call happens
    outside any transaction; its failure is `payment_failed` (502) and nothing is lost: the
    intent stays, and the next click asks again."""
    provider = payments.get_channel(channel)
    if scene not in provider.scenes:
        scene = provider.scenes[0]
    try:
        intent, _created = PaymentIntent.objects.get_or_create(
            channel=channel,
            out_trade_no=out_trade_no,
            defaults={
                "purpose": purpose,
                "order": order,
                "merchant": merchant,
                "payer": payer,
                "amount": amount,
                "scene": scene,
            },
        )
    except IntegrityError:  # two clicks at once: the other one created it
        intent = PaymentIntent.objects.get(channel=channel, out_trade_no=out_trade_no)
    if intent.status == PaymentIntentStatus.PAID:
        return intent
    if intent.scene == scene and (intent.pay_url or intent.code_url):
        return intent
    try:
        start = provider.start(
            out_trade_no=out_trade_no,
            amount=intent.amount,
            description=description,
            scene=scene,
            return_url=return_url,
            client_ip=client_ip,
        )
    except PaymentError as exc:
        logger.warning("%s: could not start %s: %s", channel, out_trade_no, exc)
        raise DomainError(
            _("%(channel)s did not answer; nothing was charged. Try again in a moment.")
            % {"channel": channel_label(channel)},
            code="payment_failed",
            status_code=502,
        ) from exc
    PaymentIntent.objects.filter(pk=intent.pk).update(
        scene=scene, pay_url=start.pay_url, code_url=start.code_url
    )
    intent.refresh_from_db()
    return intent


def channel_label(channel: str) -> str:
    return payments.channel_label(channel)


def order_pay_start(
    *,
    order: Order,
    buyer: User,
    channel: str,
    scene: str = "",
    return_url: str = "",
    client_ip: str = "",
) -> PaymentIntent:
    """The buyer pays an order through a real channel: the order stays `pending_payment`
    until the channel confirms (`payment_notice_receive` or the sweep). Its trade number is
    the order number, so whatever the channel, the order is asked for once per channel."""
    if order.buyer_id != buyer.pk:
        raise NotFound(_("No such order."))
    order.refresh_from_db()
    if order.status == OrderStatus.CANCELLED:
        raise DomainError(
            _("Order %(number)s was cancelled; order the product again.")
            % {"number": order.number},
            code="order_cancelled",
            status_code=409,
        )
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise DomainError(
            _("Order %(number)s is already paid.") % {"number": order.number},
            code="already_paid",
            status_code=409,
        )
    if timezone.now() > order.pay_by:
        raise DomainError(
            _("The time to pay order %(number)s ran out at %(at)s; order the product again.")
            % {"number": order.number, "at": shanghai(order.pay_by)},
            code="payment_expired",
            status_code=409,
        )
    return payment_start(
        channel=channel,
        purpose="order",
        out_trade_no=order.number,
        amount=order.amount,
        description=f"{order.product.name} x{order.quantity}",
        payer=buyer,
        scene=scene,
        return_url=return_url,
        client_ip=client_ip,
        order=order,
    )


def order_pending_intent(order: Order) -> PaymentIntent | None:
    """The latest channel payment asked for this order and not confirmed yet."""
    return (
        PaymentIntent.objects.filter(order=order, status=PaymentIntentStatus.PENDING)
        .order_by("-created_at", "-id")
        .first()
    )


# --- Confirming ---------------------------------------------------------------------------


def _confirm_order(intent: PaymentIntent, state: TradeState) -> bool:
    from orders.services.orders import order_payment_confirm

    assert intent.order is not None  # noqa: S101 - an order intent always has its order
    order = order_payment_confirm(
        order=intent.order, reference=state.reference, amount=intent.amount, channel=intent.channel
    )
    return order.payment_reference == state.reference


register_payment_purpose("order", _confirm_order)


def payment_settle(*, channel: str, state: TradeState) -> tuple[str, str]:
    """Act on what the channel said of a trade (a verified notice or query), once:
    (outcome, detail). Under the intent's row lock, so a notice and the sweep at once, or the
    same notice twice, make one payment."""
    with transaction.atomic():
        intent = (
            PaymentIntent.objects.select_for_update(of=("self",))
            .select_related("order")
            .filter(channel=channel, out_trade_no=state.out_trade_no)
            .first()
        )
        if intent is None:
            return PaymentNoticeOutcome.UNKNOWN, "no payment with this trade number"
        if not state.paid:
            return PaymentNoticeOutcome.NOT_PAID, state.state
        if state.amount != intent.amount:
            return (
                PaymentNoticeOutcome.REFUSED,
                f"amount {state.amount} is not the {intent.amount} asked",
            )
        if intent.status == PaymentIntentStatus.PAID:
            if intent.reference == state.reference:
                return PaymentNoticeOutcome.DUPLICATE, "already confirmed"
            return PaymentNoticeOutcome.REFUSED, f"already paid as {intent.reference}"
        intent.status = PaymentIntentStatus.PAID
        intent.reference = state.reference
        intent.paid_at = timezone.now()
        intent.save(update_fields=["status", "reference", "paid_at"])
        handler = _purposes.get(intent.purpose)
        if handler is None:
            raise RuntimeError(f"no handler for payment purpose {intent.purpose!r}")
        taken = handler(intent, state)
    if taken:
        return PaymentNoticeOutcome.APPLIED, f"{intent.purpose} paid"
    return PaymentNoticeOutcome.SECOND_PAYMENT, "paid again or after cancelling: refunded"


def payment_notice_receive(*, channel: str, headers: Any, body: bytes) -> NoticeAnswer:
    """A channel's payment notice: verified by the channel's adapter (signature, app and
    merchant; WeChat Pay's timestamp and encrypted resource), then recorded once per notice id
    and acted on once. A forged notice is refused and stored nowhere; a genuine one that is
    not ours, or names a wrong amount, is stored for finance and refused; one for a payment we
    do not know is stored for finance and acknowledged (the channel would only repeat it)."""
    try:
        provider = payments.get_channel(channel)
    except DomainError as exc:
        raise NotFound(_("No such payment channel.")) from exc
    try:
        state = provider.parse_notice(headers=headers, body=body)
    except NoticeRefused as exc:
        logger.warning("%s notice refused: %s", channel, exc.reason)
        if exc.state is not None:
            _record(channel, exc.state, PaymentNoticeOutcome.REFUSED, exc.reason)
        return provider.answer(ok=False, message="refused")
    with transaction.atomic():
        notice, created = _record(channel, state, "", "")
        if not created:  # a replay, or the channel repeating itself: acted on once, already
            ok = notice.outcome != PaymentNoticeOutcome.REFUSED
            return provider.answer(ok=ok, message="refused")
        outcome, detail = payment_settle(channel=channel, state=state)
        PaymentNotice.objects.filter(pk=notice.pk).update(outcome=outcome, detail=detail[:255])
    if outcome in (PaymentNoticeOutcome.UNKNOWN, PaymentNoticeOutcome.REFUSED):
        logger.warning("%s notice %s: %s (%s)", channel, state.notice_id, outcome, detail)
    return provider.answer(ok=outcome != PaymentNoticeOutcome.REFUSED, message="refused")


def _record(
    channel: str, state: TradeState, outcome: str, detail: str
) -> tuple[PaymentNotice, bool]:
    """The notice's row, once per (channel, notice id); a repeat counts itself."""
    now = timezone.now()
    notice_id = state.notice_id or f"{state.out_trade_no}:{state.reference}:{state.state}"
    with transaction.atomic():
        notice, created = PaymentNotice.objects.get_or_create(
            channel=channel,
            notice_id=notice_id[:128],
            defaults={
                "out_trade_no": state.out_trade_no[:64],
                "reference": state.reference[:64],
                "amount": state.amount,
                "state": state.state[:32],
                "outcome": outcome or PaymentNoticeOutcome.UNKNOWN,
                "detail": detail[:255],
                "payload": state.raw,
                "received_at": now,
                "last_received_at": now,
            },
        )
        if not created:
            PaymentNotice.objects.filter(pk=notice.pk).update(
                times_received=F("times_received") + 1, last_received_at=now
            )
    return notice, created


# --- The sweep ----------------------------------------------------------------------------


def payment_query(*, intent: PaymentIntent) -> str:
    """Ask the channel about one pending payment and act on a verified answer. Returns the
    outcome; a channel that does not answer leaves it pending (recorded on the intent)."""
    provider = payments.get_provider(intent.channel)
    now = timezone.now()
    try:
        state = provider.query(out_trade_no=intent.out_trade_no)
    except PaymentError as exc:
        PaymentIntent.objects.filter(pk=intent.pk).update(
            queried_at=now, query_attempts=F("query_attempts") + 1, last_error=str(exc)[:255]
        )
        logger.warning("%s query %s: %s", intent.channel, intent.out_trade_no, exc)
        return "no_answer"
    PaymentIntent.objects.filter(pk=intent.pk).update(
        queried_at=now, query_attempts=F("query_attempts") + 1, last_error=""
    )
    outcome, detail = payment_settle(channel=intent.channel, state=state)
    if outcome == PaymentNoticeOutcome.REFUSED:
        logger.warning("%s query %s: %s", intent.channel, intent.out_trade_no, detail)
    return outcome


def payments_query_pending(*, now: datetime | None = None, limit: int = 100) -> int:
    """The sweep: ask the channels about the payments still pending (a notice lost, a channel
    down when it tried), each at most once a minute, until a day after its payment window.
    Returns how many it confirmed."""
    now = now or timezone.now()
    ids = list(
        PaymentIntent.objects.filter(
            status=PaymentIntentStatus.PENDING,
            created_at__lte=now - QUERY_AFTER,
            created_at__gte=now - QUERY_HORIZON,
        )
        .filter(Q(queried_at__isnull=True) | Q(queried_at__lte=now - QUERY_EVERY))
        .exclude(pay_url="", code_url="")
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    confirmed = 0
    for intent in PaymentIntent.objects.filter(pk__in=ids).order_by("created_at"):
        if not payments.is_redirect_channel(intent.channel):
            continue  # a channel since taken out of PAYMENT_CHANNELS: finance settles by hand
        if payment_query(intent=intent) == PaymentNoticeOutcome.APPLIED:
            confirmed += 1
    return confirmed


def order_payment_check(*, order: Order, buyer: User) -> Order:
    """The buyer back from the channel asks "is it paid?": the channel is asked now, as the
    sweep would (same service)."""
    if order.buyer_id != buyer.pk:
        raise NotFound(_("No such order."))
    intent = order_pending_intent(order)
    if intent is not None and payments.is_redirect_channel(intent.channel):
        payment_query(intent=intent)
    order.refresh_from_db()
    return order
