"""The buyer–shop chat on an order (联系商家, docs/order-chat.md): who may write, the limits,
the thread, read marks, the shop's inbox and its first-answer times.

Who: the order's buyer (side "buyer") or a member of the order's shop, owner or agent (side
"shop": orders.selectors.merchant_for_user, the rule every shop page uses). Staff never
write here: the chat is between the two parties, and a complaint is where staff speak.

Files follow the complaint evidence rules (kinds, size and pixel limits, re-encoding): the
complaints app owns them and registers its check at start-up (`register_file_check`), as it
registers its other rules with this app (docs/architecture.md "The dependency direction").

After the transaction that posted a message commits, `orders.signals.order_message_posted`
is sent (the integrations app's `order.message` webhook, the complaints app's notification).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.contrib.auth.models import AnonymousUser, User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kamen_complaints.errors import DomainError, Forbidden, NotFound
from orders.models import (
    Merchant,
    MessageSide,
    Order,
    OrderMessage,
    OrderMessageFile,
    OrderThread,
)
from orders.selectors import merchant_for_user
from orders.signals import order_message_posted

logger = logging.getLogger(__name__)

# The limits (docs/order-chat.md). A message is at most BODY_MAX_CHARS characters and
# FILES_PER_MESSAGE files; an account posts at most RATE_MESSAGES messages per RATE_WINDOW
# over all its orders (each file is decoded and re-encoded: the rate bounds that work too).
BODY_MAX_CHARS = 2000
FILES_PER_MESSAGE = 3
RATE_MESSAGES = 20
RATE_WINDOW = timedelta(minutes=10)


class CheckedFile(Protocol):
    """What a file check hands back to store (disputes.evidence_files.CleanFile)."""

    @property
    def content(self) -> bytes: ...
    @property
    def content_type(self) -> str: ...
    @property
    def extension(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def original_name(self) -> str: ...


# Checks every upload of one message (all declared sizes first, then each content) against
# the evidence rules for this order's kind of product; raises DomainError.
FileCheck = Callable[[Order, Sequence[UploadedFile]], Sequence[CheckedFile]]
_file_checks: list[FileCheck] = []


def register_file_check(check: FileCheck) -> None:
    """The complaints app's evidence rules, registered at start-up (disputes/apps.py)."""
    _file_checks[:] = [check]


def _check_files(order: Order, files: Sequence[UploadedFile]) -> Sequence[CheckedFile]:
    if not files:
        return []
    if not _file_checks:  # pragma: no cover - the complaints app is always installed
        raise DomainError(_("Files cannot be sent in the order chat now."), code="invalid")
    return _file_checks[0](order, files)


# --- who may write ------------------------------------------------------------------------


def chat_side(user: User | AnonymousUser, order: Order) -> str:
    """The side `user` speaks for on `order`'s chat: the buyer, or the shop (owner or team
    member). Anyone else is told the order does not exist; staff are refused outright."""
    if not user.is_authenticated:
        raise NotFound(_("No such order."))
    if user.is_staff:
        raise Forbidden(
            _("Platform staff do not take part in an order's chat between buyer and shop.")
        )
    if order.buyer_id == user.pk:
        return MessageSide.BUYER
    merchant = merchant_for_user(user)
    if merchant is not None and merchant.pk == order.merchant_id:
        return MessageSide.SHOP
    raise NotFound(_("No such order."))


def _check_message(user: User, body: str, files: Sequence[UploadedFile], now: datetime) -> None:
    """The cheap refusals, before any file is decoded."""
    if not body and not files:
        raise DomainError(_("Write a message or attach an image."), code="invalid")
    if len(body) > BODY_MAX_CHARS:
        raise DomainError(
            _("A message is at most %(max)s characters (this one has %(count)s).")
            % {"max": BODY_MAX_CHARS, "count": len(body)},
            code="invalid",
        )
    if len(files) > FILES_PER_MESSAGE:
        raise DomainError(
            ngettext(
                "A message carries at most %(max)s file.",
                "A message carries at most %(max)s files.",
                FILES_PER_MESSAGE,
            )
            % {"max": FILES_PER_MESSAGE},
            code="invalid",
        )
    recent = OrderMessage.objects.filter(author=user, created_at__gt=now - RATE_WINDOW)
    if recent.count() >= RATE_MESSAGES:
        oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
        wait = RATE_WINDOW - (now - oldest) if oldest else RATE_WINDOW
        minutes = max(1, int(wait.total_seconds() // 60) + 1)
        raise DomainError(
            ngettext(
                "You sent %(count)s messages in the last %(window)s minutes, the most allowed; "
                "try again in %(minutes)s minute.",
                "You sent %(count)s messages in the last %(window)s minutes, the most allowed; "
                "try again in %(minutes)s minutes.",
                minutes,
            )
            % {
                "count": RATE_MESSAGES,
                "window": int(RATE_WINDOW.total_seconds() // 60),
                "minutes": minutes,
            },
            code="throttled",
            status_code=429,
        )


# --- writing ------------------------------------------------------------------------------


@contextmanager
def _stored_files() -> Iterator[list[str]]:
    """The files written during one post, deleted again if its transaction fails."""
    names: list[str] = []
    try:
        yield names
    except BaseException:
        for name in names:
            default_storage.delete(name)
        raise


def _locked_thread(order: Order, now: datetime) -> OrderThread:
    """The order's thread, locked; created with the first message."""
    thread = OrderThread.objects.select_for_update().filter(order=order).first()
    if thread is not None:
        return thread
    try:
        with transaction.atomic():
            return OrderThread.objects.create(
                order=order, merchant_id=order.merchant_id, last_message_at=now
            )
    except IntegrityError:  # a first message on the other side won the race
        return OrderThread.objects.select_for_update().get(order=order)


def order_message_post(
    *, order: Order, user: User, body: str = "", files: Sequence[UploadedFile] = ()
) -> OrderMessage:
    """Post a message on `order`'s chat as its buyer or as a member of its shop: text (at most
    BODY_MAX_CHARS) and/or up to FILES_PER_MESSAGE images or PDFs under the evidence rules,
    at most RATE_MESSAGES per RATE_WINDOW per account. The thread's state changes with it:
    a buyer message starts (or keeps) the shop's wait, a shop message ends it and, the first
    time, records the first-answer time. The writer has read the thread up to here.
    `order_message_posted` is sent once the transaction commits."""
    side = chat_side(user, order)
    body = body.strip()
    files = list(files)
    _check_message(user, body, files, timezone.now())
    checked = _check_files(order, files)
    with _stored_files() as names, transaction.atomic():
        now = timezone.now()
        thread = _locked_thread(order, now)
        message = OrderMessage.objects.create(
            order=order, author=user, side=side, body=body, created_at=now
        )
        for item in checked:
            name = default_storage.save(
                f"order-chat/{order.number}/{uuid.uuid4().hex}.{item.extension}",
                ContentFile(item.content),
            )
            names.append(name)
            OrderMessageFile.objects.create(
                message=message,
                stored_name=name,
                original_name=item.original_name[:255],
                content_type=item.content_type,
                size=len(item.content),
                sha256=item.sha256,
            )
        thread.last_message_at = now
        if side == MessageSide.BUYER:
            thread.waiting_since = thread.waiting_since or now
            thread.first_asked_at = thread.first_asked_at or now
            thread.buyer_read_at = now
        else:
            thread.waiting_since = None
            if thread.first_asked_at is not None and thread.first_answered_at is None:
                thread.first_answered_at = now
            thread.shop_read_at = now
        thread.save()
        transaction.on_commit(lambda: _announce(message))
    return message


def _announce(message: OrderMessage) -> None:
    for receiver, result in order_message_posted.send_robust(sender=OrderMessage, message=message):
        if isinstance(result, Exception):
            logger.error(
                "order_message_posted receiver %r failed for message %s",
                receiver,
                message.pk,
                exc_info=result,
            )


def order_thread_mark_read(*, order: Order, user: User) -> None:
    """`user`'s side has read `order`'s thread up to now (a party opening the thread)."""
    side = chat_side(user, order)
    field = "buyer_read_at" if side == MessageSide.BUYER else "shop_read_at"
    OrderThread.objects.filter(order=order).update(**{field: timezone.now()})


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thread:
    """An order's chat as one side sees it: every message oldest first (files prefetched),
    the state row (None before the first message) and how many messages from the other side
    arrived since this side last read."""

    order: Order
    side: str
    messages: list[OrderMessage]
    state: OrderThread | None
    unread: int


def thread_messages(order: Order) -> QuerySet[OrderMessage]:
    """Every message of `order`'s chat, oldest first, with author and files (two queries)."""
    return (
        OrderMessage.objects.filter(order=order)
        .select_related("author")
        .prefetch_related(Prefetch("files", queryset=OrderMessageFile.objects.order_by("id")))
        .order_by("created_at", "id")
    )


def order_thread(*, order: Order, user: User) -> Thread:
    """`order`'s chat for one of its parties (chat_side says who may read it)."""
    side = chat_side(user, order)
    state = OrderThread.objects.filter(order=order).first()
    messages = list(thread_messages(order)) if state is not None else []
    read_at = None
    if state is not None:
        read_at = state.buyer_read_at if side == MessageSide.BUYER else state.shop_read_at
    unread = sum(
        1 for m in messages if m.side != side and (read_at is None or m.created_at > read_at)
    )
    return Thread(order=order, side=side, messages=messages, state=state, unread=unread)


def order_message_file(*, order: Order, user: User, file_id: int) -> OrderMessageFile:
    """One file of `order`'s chat, for one of its parties."""
    chat_side(user, order)
    found = OrderMessageFile.objects.filter(pk=file_id, message__order=order).first()
    if found is None:
        raise NotFound(_("No such file."))
    return found


def shop_chat_inbox(merchant: Merchant) -> QuerySet[OrderThread]:
    """The shop's orders with a buyer message it has not answered, the longest waiting first,
    each with its order, buyer and product and the last message (`last_body`): an index
    range on (merchant, waiting_since)."""
    last = OrderMessage.objects.filter(order_id=OuterRef("order_id")).order_by("-created_at", "-id")
    return (
        OrderThread.objects.filter(merchant=merchant, waiting_since__isnull=False)
        .select_related("order", "order__buyer", "order__product")
        .annotate(last_body=Subquery(last.values("body")[:1]))
        .order_by("waiting_since", "id")
    )


def shop_chat_waiting_count(merchant: Merchant) -> int:
    """How many of the shop's order chats wait for its answer (the dashboard's badge)."""
    return OrderThread.objects.filter(merchant=merchant, waiting_since__isnull=False).count()


def shop_first_answer_times(
    merchant_id: int, *, since: datetime, now: datetime
) -> list[tuple[datetime, float]]:
    """For each order chat of the shop whose buyer first wrote between `since` and `now`: when
    the buyer first wrote, and the seconds until the shop's first answer — or, not answered
    yet, the seconds waited so far (a question waiting three days counts as three days, not
    as nothing). The shop record's median first-answer time is computed from these
    (disputes.selectors.shop_records), for each of its windows."""
    rows = OrderThread.objects.filter(
        merchant_id=merchant_id, first_asked_at__gte=since, first_asked_at__lte=now
    ).values_list("first_asked_at", "first_answered_at")
    times: list[tuple[datetime, float]] = []
    for asked, answered in rows:
        if asked is None:  # pragma: no cover - the filter above excludes it
            continue
        end = answered if answered is not None and answered <= now else now
        times.append((asked, (end - asked).total_seconds()))
    return times
