"""What the complaints app gives the order chat (orders.services.chat, docs/order-chat.md),
and takes from it:

- the chat's files follow the evidence rules (`chat_files_check`, registered with
  orders.services.chat at start-up: kinds, size limit of the order's policy, pixels,
  re-encoding — disputes.evidence_files, one check for both);
- when a complaint is filed on an order whose buyer wrote to the shop, the thread becomes the
  chat-record proof (`attach_chat_record`, in the filing transaction): a UTF-8 text rendering
  of every message (time, side, author, text, each file's name and SHA-256) as the buyer's
  `chat_record` evidence — so it counts toward the three proofs —, and each file sent in the
  chat as evidence of its own (the platform's copy, hashed again), all in the evidence package
  like any other evidence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.evidence_files import CleanFile, check_declared_size, clean_evidence_file
from disputes.models import Dispute, Evidence, EvidenceKind, NotificationKind, Role
from disputes.selectors import policy_for
from disputes.services.evidence import StoredFiles
from orders.models import MessageSide, Order, OrderMessage
from orders.services.chat import thread_messages

TRANSCRIPT_NAME = "order-chat.txt"
TRANSCRIPT_TYPE = "text/plain; charset=utf-8"


def chat_files_check(order: Order, files: Sequence[UploadedFile]) -> list[CleanFile]:
    """The evidence check for the files of one chat message: every declared size first, then
    each content, under the limit of the order's complaint policy."""
    limit = policy_for(order.product.kind).max_evidence_bytes
    for upload in files:
        check_declared_size(upload, max_bytes=limit)
    return [clean_evidence_file(upload, max_bytes=limit) for upload in files]


def _side_label(side: str) -> str:
    return _("Buyer") if side == MessageSide.BUYER else _("Shop")


def _sent_note(message: OrderMessage) -> str:
    at = f"{timezone.localtime(message.created_at):%Y-%m-%d %H:%M}"
    if message.side == MessageSide.BUYER:
        return _("Sent by the buyer in the order chat at %(at)s.") % {"at": at}
    return _("Sent by the shop in the order chat at %(at)s.") % {"at": at}


def render_transcript(dispute: Dispute, messages: Sequence[OrderMessage]) -> str:
    """The thread as plain text, in the language of the filing request."""
    order = dispute.order
    files = sum(len(m.files.all()) for m in messages)
    lines = [
        _("Order chat record"),
        _("Order: %(order)s · Shop: %(shop)s · Buyer: %(buyer)s")
        % {"order": order.number, "shop": order.merchant.shop_name, "buyer": dispute.buyer},
        _(
            "Attached by the platform when complaint %(number)s was filed, at %(at)s: "
            "%(messages)s messages, %(files)s files (each attached as its own evidence file, "
            "SHA-256 below). Times are China Standard Time."
        )
        % {
            "number": dispute.number,
            "at": f"{timezone.localtime():%Y-%m-%d %H:%M:%S}",
            "messages": len(messages),
            "files": files,
        },
        "",
    ]
    for message in messages:
        lines.append(
            f"[{timezone.localtime(message.created_at):%Y-%m-%d %H:%M:%S}] "
            f"{_side_label(message.side)} {message.author}:"
        )
        lines.extend(f"    {line}" for line in message.body.splitlines())
        for item in message.files.all():
            lines.append(
                "    "
                + _("File: %(name)s (%(type)s, %(size)s bytes, SHA-256 %(sha)s)")
                % {
                    "name": item.original_name,
                    "type": item.content_type,
                    "size": item.size,
                    "sha": item.sha256,
                }
            )
        lines.append("")
    return "\n".join(lines)


def chat_record_messages(order: Order) -> int:
    """How many messages filing would attach as the chat record now (0: none — the buyer
    never wrote, so they upload a screenshot). What the complaint form tells the buyer."""
    buyer_wrote = OrderMessage.objects.filter(order=order, side=MessageSide.BUYER).exists()
    return OrderMessage.objects.filter(order=order).count() if buyer_wrote else 0


def attach_chat_record(dispute: Dispute, *, files: StoredFiles) -> list[Evidence]:
    """In the filing transaction: the order's chat as the buyer's chat-record proof, when the
    buyer wrote at least one message (a thread only the shop wrote in proves nothing the
    buyer asked). Nothing when there is no such thread: the buyer uploads a screenshot."""
    messages = list(thread_messages(dispute.order))
    if not any(m.side == MessageSide.BUYER for m in messages):
        return []
    now = timezone.now()
    content = render_transcript(dispute, messages).encode("utf-8")
    name = files.save(dispute, content, "txt")
    attached = [
        Evidence.objects.create(
            dispute=dispute,
            kind=EvidenceKind.CHAT_RECORD,
            stored_name=name,
            original_name=TRANSCRIPT_NAME,
            content_type=TRANSCRIPT_TYPE,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            note=_("The order chat with the shop (%(count)s messages), attached at filing.")
            % {"count": len(messages)},
            uploaded_by=None,
            role=Role.BUYER,
            uploaded_at=now,
        )
    ]
    for message in messages:
        for item in message.files.all():
            with default_storage.open(item.stored_name, "rb") as handle:
                data = handle.read()
            stored = files.save(dispute, data, item.stored_name.rsplit(".", 1)[-1])
            attached.append(
                Evidence.objects.create(
                    dispute=dispute,
                    kind=EvidenceKind.CHAT_RECORD,
                    stored_name=stored,
                    original_name=item.original_name,
                    content_type=item.content_type,
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    note=_sent_note(message),
                    uploaded_by=None,
                    role=Role.SYSTEM,
                    uploaded_at=now,
                )
            )
    return attached


# --- Telling the other side -----------------------------------------------------------------

# How much of a chat message a notification quotes (the rest is on the thread page).
EXCERPT_CHARS = 60


def notify_order_message(sender: object, *, message: OrderMessage, **kwargs: object) -> int:
    """orders.signals.order_message_posted (after the message's commit): the other side is
    told — the shop's people (not its API keys' service accounts) of a buyer's message, the
    buyer of the shop's answer — in-app and on their other channels, once per message and
    recipient and channel (the outbox's dedupe key names the message). The notice quotes the
    start of the text; the thread is one tap away (disputes.notices.link)."""
    from disputes.channels import channels
    from disputes.services.formatting import jsonable
    from disputes.services.outbox import (
        OutboxRow,
        outbox_insert,
        publish_notifications,
        render,
    )
    from orders.models import MerchantMember
    from orders.selectors import people_only

    order = Order.objects.select_related("product", "merchant").get(pk=message.order_id)
    if message.side == MessageSide.BUYER:
        role = Role.MERCHANT
        recipients = [
            m.user
            for m in people_only(MerchantMember.objects.filter(merchant_id=order.merchant_id))
            .select_related("user")
            .order_by("id")
            if m.user_id != message.author_id
        ]
    else:
        role = Role.BUYER
        recipients = [order.buyer]
    body = " ".join((message.body or "").split())
    excerpt = body[:EXCERPT_CHARS] + ("…" if len(body) > EXCERPT_CHARS else "")
    figures = {
        "order": order.number,
        "product": order.product.name,
        "shop": order.merchant.shop_name,
        "excerpt": excerpt,
        "files": message.files.count(),
        "side": str(message.side),
    }
    text = render(jsonable(figures))
    now = timezone.now()
    kind = str(NotificationKind.ORDER_MESSAGE)
    rows = [
        OutboxRow(
            dispute_id=None,
            recipient_id=user.pk,
            channel=chan.name,
            dedupe_key=f"order-message:{message.pk}:user:{user.pk}:{chan.name}",
            kind=kind,
            params=text,
            role=str(role),
            created_at=now,
            sent_at=now if chan.immediate else None,
        )
        for user in recipients
        for chan in channels()
        if chan.accepts(kind, str(role), figures) and chan.address(user) is not None
    ]
    ids = outbox_insert(rows)
    publish_notifications(ids)
    return len(rows)
