"""A complaint filed on the payment channel joined to the order's platform case
(docs/channel-complaints.md): orders records the channel's complaint and sends
`orders.signals.channel_complaint_received` in its transaction; this opens the order's case
through the filing service when there is none (the buyer is the order's buyer, the channel's
text the description, its images evidence with their SHA-256), or adds the images to the live
one, and marks the timeline with the complaint's origin."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from disputes.models import Dispute, EventType, EvidenceKind, Reason, Role, Status, Visibility
from disputes.selectors import policy_for
from disputes.services.evidence import (
    EvidenceUpload,
    check_count,
    check_uploads,
    store_evidence,
    stored_files,
)
from disputes.services.filing import dispute_file
from disputes.services.state_machine import record
from kamen_complaints.errors import DomainError
from orders.models import ChannelComplaint

ORIGIN_LABELS = {"wechatpay": "微信支付消费者投诉", "alipay": "支付宝交易投诉"}


def _uploads(images: list[tuple[str, bytes]], complaint: ChannelComplaint) -> list[EvidenceUpload]:
    return [
        EvidenceUpload(
            kind=EvidenceKind.OTHER,
            file=SimpleUploadedFile(name, content, content_type="image/jpeg"),
            note=f"{complaint.channel} {complaint.complaint_id}",
        )
        for name, content in images
    ]


def channel_complaint_join(
    sender: Any, *, complaint: ChannelComplaint, images: list[tuple[str, bytes]], **kwargs: Any
) -> tuple[int | None, str]:
    """The receiver: (the case's id, what was done), or (None, why not) — a complaint on an
    order the platform does not know, or one its filing rules refuse, stays for staff in the
    admin with the reason."""
    order = complaint.order
    if order is None:
        return None, "no order with this trade number"
    origin = {"origin": complaint.channel, "complaint_id": complaint.complaint_id}
    live = Dispute.objects.filter(order=order).exclude(status=Status.WITHDRAWN).first()
    if live is None:
        claimed = min(complaint.amount or order.refundable_amount, order.refundable_amount)
        label = ORIGIN_LABELS.get(complaint.channel, complaint.channel)
        try:
            dispute = dispute_file(
                buyer=order.buyer,
                order=order,
                reason=Reason.OTHER,
                claimed_amount=max(claimed, Decimal("0.01")),
                description=f"[{label} {complaint.complaint_id}] {complaint.text}"[:5000],
                evidence=_uploads(images, complaint),
            )
        except DomainError as exc:
            return None, f"not opened: {exc.code}"
        record(
            dispute,
            type=EventType.NOTE,
            actor=None,
            role=Role.SYSTEM,
            body=label,
            data=origin,
            visibility=Visibility.ALL,
        )
        return dispute.pk, "opened"
    policy = policy_for(order.product.kind)
    uploads = _uploads(images, complaint)
    try:
        check_count(live, Role.BUYER, len(uploads), policy=policy)
        checked = check_uploads(uploads, policy=policy)
    except DomainError as exc:
        checked = []
        note = f"joined; images not attached: {exc.code}"
    else:
        note = "joined"
    with stored_files() as files:
        for item in checked:
            store_evidence(live, item, user=order.buyer, role=Role.BUYER, files=files)
    record(
        live,
        type=EventType.NOTE,
        actor=None,
        role=Role.SYSTEM,
        body=complaint.text[:2000],
        data=origin,
        visibility=Visibility.ALL,
    )
    return live.pk, note
