"""Complaints the buyer files on the payment channel (WeChat Pay 消费者投诉 2.0, Alipay 交易投诉):
the channel's notice verified like a payment notice, the complaint's detail and images fetched
from the channel (signed answers; each channel's shape read into ComplaintFacts), recorded
once per complaint, and handed to the complaints app in the same transaction
(`orders.signals.channel_complaint_received`), which joins it to the order's case
(docs/channel-complaints.md). A failure anywhere answers the channel FAIL: it sends the
notice again, and nothing is half-recorded."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from kamen_complaints.celery import enqueue
from kamen_complaints.errors import DomainError, NotFound
from kamen_complaints.money import from_fen
from orders import payments
from orders.models import (
    ChannelComplaint,
    ChannelComplaintPush,
    ChannelComplaintPushAction,
    Order,
)
from orders.payments import NoticeAnswer, NoticeRefused, PaymentError
from orders.signals import channel_complaint_received

logger = logging.getLogger(__name__)

# WeChat Pay's own clock for a complaint (its merchant rules): the first reply within 24 h,
# handled within 72 h, else it deducts from the merchant account.
WECHAT_REPLY_WITHIN = timedelta(hours=24)
WECHAT_COMPLETE_WITHIN = timedelta(hours=72)
MAX_IMAGES = 4


# Alipay writes its times without a zone, in Beijing time.
ALIPAY_ZONE = ZoneInfo("Asia/Shanghai")


def _when(text: Any) -> datetime:
    parsed = parse_datetime(str(text or ""))
    return parsed if parsed is not None and parsed.tzinfo else timezone.now()


def _alipay_when(text: Any) -> datetime | None:
    try:
        parsed = parse_datetime(str(text or ""))
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ALIPAY_ZONE)


@dataclass(frozen=True, slots=True)
class ComplaintFacts:
    """What the platform keeps of a channel's complaint detail, whatever channel it is."""

    out_trade_no: str
    reference: str
    amount: Decimal | None
    text: str
    state: str
    media: list[str]
    reply_due: datetime | None
    complete_due: datetime | None


def _wechatpay_facts(detail: dict[str, Any]) -> ComplaintFacts:
    """`GET /v3/merchant-service/complaints-v2/{id}`: the order in complaint_order_info, the
    images in complaint_media_list; WeChat Pay's clock runs from complaint_time."""
    info = (detail.get("complaint_order_info") or [{}])[0]
    amount = info.get("amount")
    filed_at = _when(detail.get("complaint_time"))
    media: list[str] = []
    for item in detail.get("complaint_media_list") or []:
        media += [str(u) for u in item.get("media_url") or []]
    return ComplaintFacts(
        out_trade_no=str(info.get("out_trade_no", "")),
        reference=str(info.get("transaction_id", "")),
        amount=from_fen(amount) if isinstance(amount, int) else None,
        text=str(detail.get("complaint_detail", "")),
        state=str(detail.get("complaint_state", "")),
        media=media,
        reply_due=filed_at + WECHAT_REPLY_WITHIN,
        complete_due=filed_at + WECHAT_COMPLETE_WITHIN,
    )


def _alipay_facts(detail: dict[str, Any]) -> ComplaintFacts:
    """`alipay.merchant.tradecomplain.query` (orders/channels/alipay.py): our trade number in
    merchant_order_no, the amount in yuan, the images as URLs; Alipay's deadline, when it
    gives one (gmt_overdue), is the reply's. No fixed clock of its own is assumed."""
    try:
        amount: Decimal | None = Decimal(str(detail.get("trade_amount"))).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        amount = None
    reason = str(detail.get("complain_reason") or "")
    content = str(detail.get("content") or "")
    return ComplaintFacts(
        out_trade_no=str(detail.get("merchant_order_no") or ""),
        reference=str(detail.get("trade_no") or ""),
        amount=amount if amount is not None and amount.is_finite() and amount > 0 else None,
        text=f"{reason}：{content}" if reason and content else reason or content,
        state=str(detail.get("status") or ""),
        media=[str(u) for u in detail.get("images") or [] if isinstance(u, str)],
        reply_due=_alipay_when(detail.get("gmt_overdue")),
        complete_due=None,
    )


FACTS = {"wechatpay": _wechatpay_facts, "alipay": _alipay_facts}


def channel_complaint_receive(*, channel: str, headers: Any, body: bytes) -> NoticeAnswer:
    """A complaint notice of `channel`: verified, fetched, recorded and joined to the case
    once per complaint; later notices of it (the buyer wrote again, the channel changed its
    state) update the state it is in."""
    try:
        provider: Any = payments.get_channel(channel)
    except DomainError as exc:
        raise NotFound(_("No such payment channel.")) from exc
    if not hasattr(provider, "parse_complaint_notice") or channel not in FACTS:
        raise NotFound(_("No such payment channel."))
    try:
        notice_id, complaint_id, action = provider.parse_complaint_notice(
            headers=headers, body=body
        )
    except NoticeRefused as exc:
        logger.warning("%s complaint notice refused: %s", channel, exc.reason)
        return provider.answer(ok=False, message="refused")  # type: ignore[no-any-return]
    try:
        detail = provider.complaint_detail(complaint_id=complaint_id)
        facts = FACTS[channel](detail)
        existing = ChannelComplaint.objects.filter(
            channel=channel, complaint_id=complaint_id
        ).first()
        images: list[tuple[str, bytes]] = []
        if existing is None:
            for index, media in enumerate(facts.media[:MAX_IMAGES]):
                content = provider.complaint_image(media_url=media)
                images.append((f"{complaint_id}-{index + 1}.jpg", content))
    except PaymentError as exc:
        logger.warning("%s complaint %s: %s", channel, complaint_id, exc)
        return provider.answer(ok=False, message="retry")  # type: ignore[no-any-return]
    state = facts.state[:32]
    with transaction.atomic():
        if existing is not None:
            ChannelComplaint.objects.filter(pk=existing.pk).update(state=state, payload=detail)
            logger.info("%s complaint %s: %s (%s)", channel, complaint_id, action, notice_id)
            return provider.answer(ok=True)  # type: ignore[no-any-return]
        complaint = _record(channel, complaint_id, detail, facts, images)
        responses = channel_complaint_received.send(
            sender=ChannelComplaint, complaint=complaint, images=images
        )
        for _receiver, answer in responses:
            if isinstance(answer, tuple):
                case_id, note = answer[0], str(answer[1])
                ChannelComplaint.objects.filter(pk=complaint.pk).update(
                    case_id=case_id, case_note=note[:255]
                )
    return provider.answer(ok=True)  # type: ignore[no-any-return]


def _record(
    channel: str,
    complaint_id: str,
    detail: dict[str, Any],
    facts: ComplaintFacts,
    images: list[tuple[str, bytes]],
) -> ChannelComplaint:
    out_trade_no = facts.out_trade_no[:64]
    return ChannelComplaint.objects.create(
        channel=channel,
        complaint_id=complaint_id[:64],
        order=Order.objects.filter(number=out_trade_no).first() if out_trade_no else None,
        out_trade_no=out_trade_no,
        reference=facts.reference[:64],
        amount=facts.amount,
        text=facts.text[:5000],
        state=facts.state[:32],
        images=[
            {"name": name, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
            for name, content in images
        ],
        reply_due=facts.reply_due,
        complete_due=facts.complete_due,
        payload=detail,
    )


# --- Pushing the platform's answers back to the channel -------------------------------------

PUSH_RETRY_BASE = timedelta(minutes=1)
PUSH_RETRY_MAX = timedelta(hours=2)
PUSH_BATCH = 100


@dataclass(frozen=True, slots=True)
class PushWanted:
    """One thing the channel is to be told of a complaint filed there, once per `key`."""

    complaint_id: int  # ChannelComplaint's id
    action: str  # ChannelComplaintPushAction
    key: str
    text: str = ""


def _push_send_later(ids: list[int]) -> None:
    from orders.tasks import channel_complaint_pushes_send

    enqueue(channel_complaint_pushes_send, ids)


def channel_complaint_pushes_queue(wanted: list[PushWanted]) -> int:
    """Write the outbox rows the complaints app asks for — one INSERT, a key already there
    is nothing new, so asking twice pushes once — and hand the new ones to a task after
    commit. Returns how many are new."""
    if not wanted:
        return 0
    keys = [w.key for w in wanted]
    before = set(ChannelComplaintPush.objects.filter(key__in=keys).values_list("key", flat=True))
    now = timezone.now()
    ChannelComplaintPush.objects.bulk_create(
        [
            ChannelComplaintPush(
                complaint_id=w.complaint_id,
                action=w.action,
                key=w.key[:100],
                text=w.text[:200],
                created_at=now,
                next_try_at=now,
            )
            for w in wanted
            if w.key not in before
        ],
        ignore_conflicts=True,
    )
    new = list(
        ChannelComplaintPush.objects.filter(key__in=set(keys) - before).values_list("pk", flat=True)
    )
    if new:
        transaction.on_commit(lambda: _push_send_later(new), robust=True)
    return len(new)


def push_retry_delay(attempts: int) -> timedelta:
    return min(PUSH_RETRY_BASE * (2 ** min(attempts, 10)), PUSH_RETRY_MAX)


def channel_complaint_push_send(*, push_id: int) -> bool:
    """Tell the channel one thing, under the row's lock (a second worker passes it by): a
    reply, the refund decision, or complete — complete only once everything queued before it
    for that complaint went through, so the channel hears them in order. A channel that does
    not take it leaves the row for the sweep, later each time. True when it went through."""
    with transaction.atomic():
        push = (
            ChannelComplaintPush.objects.select_for_update(skip_locked=True)
            .select_related("complaint")
            .filter(pk=push_id, sent_at__isnull=True)
            .first()
        )
        if push is None:
            return False
        now = timezone.now()
        earlier_unsent = ChannelComplaintPush.objects.filter(
            complaint_id=push.complaint_id, sent_at__isnull=True, pk__lt=push.pk
        ).exists()
        if earlier_unsent:
            push.next_try_at = now + PUSH_RETRY_BASE
            push.save(update_fields=["next_try_at"])
            return False
        complaint = push.complaint
        push.attempts += 1
        try:
            provider: Any = payments.get_channel(complaint.channel)
            if push.action == ChannelComplaintPushAction.REPLY:
                provider.complaint_reply(complaint_id=complaint.complaint_id, text=push.text)
            elif push.action == ChannelComplaintPushAction.REFUND:
                provider.complaint_refund_progress(
                    complaint_id=complaint.complaint_id, approve=True, remark=push.text
                )
            else:
                provider.complaint_complete(complaint_id=complaint.complaint_id)
        except (PaymentError, DomainError) as exc:
            push.last_error = str(exc)[:255]
            push.next_try_at = now + push_retry_delay(push.attempts)
            push.save(update_fields=["attempts", "last_error", "next_try_at"])
            logger.warning("%s complaint %s: %s", complaint.channel, push.key, exc)
            return False
        push.sent_at = now
        push.last_error = ""
        push.save(update_fields=["attempts", "last_error", "sent_at"])
        stamp = (
            "completed_at" if push.action == ChannelComplaintPushAction.COMPLETE else "replied_at"
        )
        ChannelComplaint.objects.filter(pk=complaint.pk, **{f"{stamp}__isnull": True}).update(
            **{stamp: now}
        )
    return True


def channel_complaint_pushes_send(push_ids: list[int] | None = None) -> int:
    """Send these rows, or (the sweep) every row due. Returns how many went through."""
    if push_ids is None:
        push_ids = list(
            ChannelComplaintPush.objects.filter(
                sent_at__isnull=True, next_try_at__lte=timezone.now()
            )
            .order_by("next_try_at", "pk")
            .values_list("pk", flat=True)[:PUSH_BATCH]
        )
    return sum(1 for pk in sorted(push_ids) if channel_complaint_push_send(push_id=pk))
