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
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from disputes.deadlines import merchant_response_due_with
from disputes.models import (
    Dispute,
    DisputeEvent,
    EventType,
    EvidenceKind,
    Reason,
    Role,
    Status,
    Visibility,
)
from disputes.selectors import policy_for
from disputes.services.evidence import (
    EvidenceUpload,
    check_count,
    check_uploads,
    store_evidence,
    stored_files,
)
from disputes.services.filing import dispute_file
from disputes.services.formatting import yuan
from disputes.services.state_machine import locked, record, touch
from kamen_complaints.errors import DomainError
from orders.models import ChannelComplaint, ChannelComplaintPush, ChannelComplaintPushAction
from orders.services.channel_complaints import PushWanted, channel_complaint_pushes_queue

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
        _channel_clock(dispute, complaint)
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
    _channel_clock(live, complaint)
    return live.pk, note


def _channel_clock(dispute: Dispute, complaint: ChannelComplaint) -> None:
    """The channel's first-reply deadline joins the case's clock: while the merchant is to
    answer, the earlier of the two runs (disputes.deadlines.merchant_response_due_with), set
    on the case through the state machine's save and said on the timeline."""
    dispute = locked(dispute)
    if dispute.status != Status.AWAITING_MERCHANT:
        return
    before = dispute.merchant_response_due
    due = merchant_response_due_with(dispute, complaint.reply_due)
    if due is None or due == before:
        return
    dispute.merchant_response_due = due
    touch(dispute, "merchant_response_due")
    record(
        dispute,
        type=EventType.NOTE,
        actor=None,
        role=Role.SYSTEM,
        body=_(
            "The merchant now answers by %(due)s: the payment channel's own deadline for "
            "its first reply comes before the platform's."
        )
        % {"due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M")},
        data={
            "deadline": "merchant_response_due",
            "origin": complaint.channel,
            "complaint_id": complaint.complaint_id,
            "was": before,
            "now": due,
        },
        visibility=Visibility.ALL,
    )


# --- What the channel is told (docs/channel-complaints.md) -----------------------------------

MERCHANT_ANSWERS = (EventType.ACCEPTED, EventType.OFFER_MADE, EventType.CONTESTED)
PLAN_BATCH = 500


def _wanted(complaint: dict[str, Any], case: dict[str, Any], answered: bool) -> list[PushWanted]:
    """What the channel should have heard of one complaint by now, each under its key."""
    base = f"{complaint['channel']}:{complaint['complaint_id']}"
    pk = complaint["pk"]
    number = case["number"]
    wanted: list[PushWanted] = []
    if answered:
        wanted.append(
            PushWanted(
                pk,
                ChannelComplaintPushAction.REPLY,
                f"{base}:reply-answer",
                _(
                    "The shop has answered on the platform (complaint %(number)s); the "
                    "platform's arbitration follows the case to its end."
                )
                % {"number": number},
            )
        )
    if case["paid_out"] > 0:
        wanted.append(
            PushWanted(
                pk,
                ChannelComplaintPushAction.REFUND,
                f"{base}:refund",
                _("The platform refunded %(amount)s through the original payment.")
                % {"amount": yuan(case["paid_out"])},
            )
        )
    if case["status"] in (Status.RESOLVED, Status.WITHDRAWN):
        if case["status"] == Status.WITHDRAWN:
            text = _("The buyer withdrew complaint %(number)s on the platform.")
        elif case["paid_out"] > 0:
            text = _("Complaint %(number)s is decided: the buyer was refunded %(amount)s.")
        else:
            text = _("Complaint %(number)s is decided on the platform; no refund is due.")
        wanted.append(
            PushWanted(
                pk,
                ChannelComplaintPushAction.REPLY,
                f"{base}:reply-outcome",
                text % {"number": number, "amount": yuan(case["paid_out"])},
            )
        )
        wanted.append(PushWanted(pk, ChannelComplaintPushAction.COMPLETE, f"{base}:complete"))
    return wanted


def channel_complaint_pushes_plan(*, limit: int = PLAN_BATCH) -> int:
    """The sweep's step: for every channel complaint joined to a case and not yet completed
    at the channel, queue what the channel has not been told — the merchant answered (a
    reply), the case paid the buyer (the refund decision), the case ended (a reply with the
    result, then complete). Set-based: a fixed number of queries for any number of
    complaints, whatever path (a page, the API, the clock's batches) moved the case. Each
    push has its key, so planning again queues nothing twice. Returns how many are new."""
    done = ChannelComplaintPush.objects.filter(
        complaint=OuterRef("pk"), action=ChannelComplaintPushAction.COMPLETE
    )
    complaints: list[dict[str, Any]] = [
        dict(row)
        for row in ChannelComplaint.objects.filter(case_id__isnull=False, completed_at__isnull=True)
        .exclude(Exists(done))
        .order_by("pk")
        .values("pk", "channel", "complaint_id", "case_id")[:limit]
    ]
    case_ids = {c["case_id"] for c in complaints}
    cases: dict[int, dict[str, Any]] = {
        row["pk"]: dict(row)
        for row in Dispute.objects.filter(pk__in=case_ids).values(
            "pk", "number", "status", "paid_out"
        )
    }
    answered = set(
        DisputeEvent.objects.filter(dispute_id__in=case_ids, type__in=MERCHANT_ANSWERS)
        .values_list("dispute_id", flat=True)
        .distinct()
    )
    wanted: list[PushWanted] = []
    with translation.override("zh-hans"):  # the buyer reads it on the channel, in Chinese
        for complaint in complaints:
            case = cases.get(complaint["case_id"])
            if case is not None:
                wanted += _wanted(complaint, case, case["pk"] in answered)
    return channel_complaint_pushes_queue(wanted)
