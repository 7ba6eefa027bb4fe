"""Complaints the buyer files on the payment channel (WeChat Pay 消费者投诉 2.0): the channel's
notice verified like a payment notice, the complaint's detail and images fetched from the
channel (signed answers), recorded once per complaint, and handed to the complaints app in the
same transaction (`orders.signals.channel_complaint_received`), which joins it to the order's
case (docs/channel-complaints.md). A failure anywhere answers the channel FAIL: it sends the
notice again, and nothing is half-recorded."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from kamen_complaints.errors import DomainError, NotFound
from kamen_complaints.money import from_fen
from orders import payments
from orders.models import ChannelComplaint, Order
from orders.payments import NoticeAnswer, NoticeRefused, PaymentError
from orders.signals import channel_complaint_received

logger = logging.getLogger(__name__)

# WeChat Pay's own clock for a complaint (its merchant rules): the first reply within 24 h,
# handled within 72 h, else it deducts from the merchant account.
WECHAT_REPLY_WITHIN = timedelta(hours=24)
WECHAT_COMPLETE_WITHIN = timedelta(hours=72)
MAX_IMAGES = 4


def _when(text: Any) -> datetime:
    parsed = parse_datetime(str(text or ""))
    return parsed if parsed is not None and parsed.tzinfo else timezone.now()


def channel_complaint_receive(*, channel: str, headers: Any, body: bytes) -> NoticeAnswer:
    """A complaint notice of `channel`: verified, fetched, recorded and joined to the case
    once per complaint; later notices of it (the buyer wrote again, the channel changed its
    state) update the state it is in."""
    try:
        provider: Any = payments.get_channel(channel)
    except DomainError as exc:
        raise NotFound(_("No such payment channel.")) from exc
    if not hasattr(provider, "parse_complaint_notice"):
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
        existing = ChannelComplaint.objects.filter(
            channel=channel, complaint_id=complaint_id
        ).first()
        images: list[tuple[str, bytes]] = []
        if existing is None:
            for index, media in enumerate(_media_urls(detail)[:MAX_IMAGES]):
                content = provider.complaint_image(media_url=media)
                images.append((f"{complaint_id}-{index + 1}.jpg", content))
    except PaymentError as exc:
        logger.warning("%s complaint %s: %s", channel, complaint_id, exc)
        return provider.answer(ok=False, message="retry")  # type: ignore[no-any-return]
    state = str(detail.get("complaint_state", ""))[:32]
    with transaction.atomic():
        if existing is not None:
            ChannelComplaint.objects.filter(pk=existing.pk).update(state=state, payload=detail)
            logger.info("%s complaint %s: %s (%s)", channel, complaint_id, action, notice_id)
            return provider.answer(ok=True)  # type: ignore[no-any-return]
        complaint = _record(channel, complaint_id, detail, state, images)
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


def _media_urls(detail: dict[str, Any]) -> list[str]:
    urls: list[str] = []
    for media in detail.get("complaint_media_list") or []:
        urls += [str(u) for u in media.get("media_url") or []]
    return urls


def _record(
    channel: str,
    complaint_id: str,
    detail: dict[str, Any],
    state: str,
    images: list[tuple[str, bytes]],
) -> ChannelComplaint:
    info = (detail.get("complaint_order_info") or [{}])[0]
    out_trade_no = str(info.get("out_trade_no", ""))[:64]
    amount = info.get("amount")
    filed_at = _when(detail.get("complaint_time"))
    return ChannelComplaint.objects.create(
        channel=channel,
        complaint_id=complaint_id[:64],
        order=Order.objects.filter(number=out_trade_no).first(),
        out_trade_no=out_trade_no,
        reference=str(info.get("transaction_id", ""))[:64],
        amount=from_fen(amount) if isinstance(amount, int) else None,
        text=str(detail.get("complaint_detail", ""))[:5000],
        state=state,
        images=[
            {"name": name, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
            for name, content in images
        ],
        reply_due=filed_at + WECHAT_REPLY_WITHIN,
        complete_due=filed_at + WECHAT_COMPLETE_WITHIN,
        payload=detail,
    )
