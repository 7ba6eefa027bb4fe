"""The buyer–shop chat on an order (orders.services.chat): who may write, the limits, the
thread's state, the shop's inbox, read marks, the signal on commit, append-only rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction
from django.utils import timezone, translation

from kamen_complaints.errors import DomainError, Forbidden, NotFound
from orders.models import OrderMessage, OrderMessageFile, OrderThread
from orders.services import chat
from orders.signals import order_message_posted
from tests.disputes.factories import agent_of, png, png_bytes
from tests.factories import MerchantFactory, OrderFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Any:
    """The refusals are read in English here (the catalogue's Chinese is checked elsewhere)."""
    with translation.override("en"):
        yield


@pytest.fixture
def order() -> Any:
    return OrderFactory()


def test_the_buyer_and_any_member_of_the_shop_may_write(order):
    agent = agent_of(order.merchant)
    first = chat.order_message_post(order=order, user=order.buyer, body=" 卡密无效，请处理 ")
    second = chat.order_message_post(order=order, user=agent, body="已收到，马上查")
    third = chat.order_message_post(order=order, user=order.merchant.owner, body="已补发")
    assert [m.side for m in (first, second, third)] == ["buyer", "shop", "shop"]
    assert first.body == "卡密无效，请处理"  # trimmed
    thread = chat.order_thread(order=order, user=order.buyer)
    assert [m.pk for m in thread.messages] == [first.pk, second.pk, third.pk]


@pytest.mark.parametrize("who", ["stranger", "other_shop", "anonymous"])
def test_anyone_else_is_told_the_order_does_not_exist(order, who):
    from django.contrib.auth.models import AnonymousUser

    user = {
        "stranger": lambda: UserFactory(),
        "other_shop": lambda: MerchantFactory().owner,
        "anonymous": AnonymousUser,
    }[who]()
    with pytest.raises(NotFound):
        chat.order_message_post(order=order, user=user, body="hello")
    with pytest.raises(NotFound):
        chat.order_thread(order=order, user=user)
    assert not OrderMessage.objects.exists()


def test_staff_never_write_in_an_order_chat(order):
    staff = StaffFactory(perms=["orders.view_order"])
    with pytest.raises(Forbidden) as exc:
        chat.order_message_post(order=order, user=staff, body="platform here")
    assert exc.value.status_code == 403
    assert not OrderMessage.objects.exists()


def test_a_message_needs_text_or_a_file_and_has_a_length_limit(order):
    with pytest.raises(DomainError, match="Write a message"):
        chat.order_message_post(order=order, user=order.buyer, body="   ")
    with pytest.raises(DomainError, match=str(chat.BODY_MAX_CHARS)):
        chat.order_message_post(
            order=order, user=order.buyer, body="字" * (chat.BODY_MAX_CHARS + 1)
        )
    kept = chat.order_message_post(order=order, user=order.buyer, body="字" * chat.BODY_MAX_CHARS)
    assert len(kept.body) == chat.BODY_MAX_CHARS


def test_files_follow_the_evidence_rules(order):
    message = chat.order_message_post(order=order, user=order.buyer, files=[png("shot.png")])
    stored = message.files.get()
    assert stored.content_type == "image/png" and stored.original_name == "shot.png"
    assert len(stored.sha256) == 64 and stored.stored_name.startswith(f"order-chat/{order.number}/")
    fake = SimpleUploadedFile("shot.png", b"<html>not an image</html>", content_type="image/png")
    with pytest.raises(DomainError) as exc:
        chat.order_message_post(order=order, user=order.buyer, body="see", files=[fake])
    assert exc.value.code == "evidence_invalid"
    too_many = [png(f"{i}.png") for i in range(chat.FILES_PER_MESSAGE + 1)]
    with pytest.raises(DomainError, match="at most"):
        chat.order_message_post(order=order, user=order.buyer, files=too_many)
    # A refused message leaves nothing behind.
    assert OrderMessage.objects.count() == 1 and OrderMessageFile.objects.count() == 1


def test_the_evidence_size_limit_of_the_policy_applies(order, settings):
    from disputes.selectors import policy_for

    limit = policy_for(order.product.kind).max_evidence_bytes
    big = SimpleUploadedFile("big.png", png_bytes() + b"\0" * limit, content_type="image/png")
    with pytest.raises(DomainError) as exc:
        chat.order_message_post(order=order, user=order.buyer, files=[big])
    assert exc.value.code == "evidence_invalid"


def test_an_account_posts_at_most_the_rate_and_may_again_after_the_window(order):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for i in range(chat.RATE_MESSAGES):
            chat.order_message_post(order=order, user=order.buyer, body=f"m{i}")
        with pytest.raises(DomainError) as exc:
            chat.order_message_post(order=order, user=order.buyer, body="one more")
        assert exc.value.code == "throttled" and exc.value.status_code == 429
        # The shop is not held back by the buyer's rate.
        chat.order_message_post(order=order, user=order.merchant.owner, body="slow down")
    with time_machine.travel(start + chat.RATE_WINDOW + timedelta(seconds=1), tick=False):
        chat.order_message_post(order=order, user=order.buyer, body="later")


def test_the_thread_state_follows_the_messages(order):
    t0 = timezone.now()
    with time_machine.travel(t0, tick=False):
        chat.order_message_post(order=order, user=order.buyer, body="在吗")
    with time_machine.travel(t0 + timedelta(minutes=5), tick=False):
        chat.order_message_post(order=order, user=order.buyer, body="卡密无效")
    state = OrderThread.objects.get(order=order)
    assert state.waiting_since == t0 and state.first_asked_at == t0
    assert state.first_answered_at is None
    with time_machine.travel(t0 + timedelta(minutes=30), tick=False):
        chat.order_message_post(order=order, user=order.merchant.owner, body="在")
    state.refresh_from_db()
    assert state.waiting_since is None
    assert state.first_answered_at == t0 + timedelta(minutes=30)
    with time_machine.travel(t0 + timedelta(hours=2), tick=False):
        chat.order_message_post(order=order, user=order.buyer, body="还是不行")
    with time_machine.travel(t0 + timedelta(hours=3), tick=False):
        chat.order_message_post(order=order, user=order.merchant.owner, body="换一张")
    state.refresh_from_db()
    # The first answer is the first one only.
    assert state.first_answered_at == t0 + timedelta(minutes=30)


def test_read_marks_and_unread_counts(order):
    t0 = timezone.now()
    with time_machine.travel(t0, tick=False):
        chat.order_message_post(order=order, user=order.buyer, body="1")
        chat.order_message_post(order=order, user=order.buyer, body="2")
    assert chat.order_thread(order=order, user=order.merchant.owner).unread == 2
    assert chat.order_thread(order=order, user=order.buyer).unread == 0
    with time_machine.travel(t0 + timedelta(minutes=1), tick=False):
        chat.order_thread_mark_read(order=order, user=order.merchant.owner)
    assert chat.order_thread(order=order, user=order.merchant.owner).unread == 0
    with time_machine.travel(t0 + timedelta(minutes=2), tick=False):
        chat.order_message_post(order=order, user=order.merchant.owner, body="3")
    assert chat.order_thread(order=order, user=order.buyer).unread == 1


def test_the_inbox_lists_unanswered_chats_oldest_first_with_their_age():
    merchant = MerchantFactory()
    orders = [OrderFactory(product__merchant=merchant) for _ in range(3)]
    elsewhere = OrderFactory()
    t0 = timezone.now()
    for minutes, order in zip((20, 0, 10), orders, strict=True):
        with time_machine.travel(t0 + timedelta(minutes=minutes), tick=False):
            chat.order_message_post(order=order, user=order.buyer, body=f"q{minutes}")
    with time_machine.travel(t0 + timedelta(minutes=1), tick=False):
        chat.order_message_post(order=elsewhere, user=elsewhere.buyer, body="not this shop")
    with time_machine.travel(t0 + timedelta(minutes=30), tick=False):
        inbox = list(chat.shop_chat_inbox(merchant))
        assert [row.order_id for row in inbox] == [orders[1].pk, orders[2].pk, orders[0].pk]
        assert [row.last_body for row in inbox] == ["q0", "q10", "q20"]
        assert timezone.now() - inbox[0].waiting_since == timedelta(minutes=30)
        assert chat.shop_chat_waiting_count(merchant) == 3
        # Answered: off the inbox; the buyer writes again: back on, waiting from then.
        chat.order_message_post(order=orders[1], user=merchant.owner, body="ok")
    assert [row.order_id for row in chat.shop_chat_inbox(merchant)] == [orders[2].pk, orders[0].pk]
    with time_machine.travel(t0 + timedelta(minutes=40), tick=False):
        chat.order_message_post(order=orders[1], user=orders[1].buyer, body="again")
    rows = list(chat.shop_chat_inbox(merchant))
    assert [row.order_id for row in rows][-1] == orders[1].pk
    assert rows[-1].waiting_since == t0 + timedelta(minutes=40)


def test_the_inbox_query_count_does_not_grow_with_the_rows(django_assert_num_queries):
    merchant = MerchantFactory()
    for _ in range(5):
        order = OrderFactory(product__merchant=merchant)
        chat.order_message_post(order=order, user=order.buyer, body="?")
    with django_assert_num_queries(1):
        rows = list(chat.shop_chat_inbox(merchant))
        assert all(r.order.buyer.username and r.order.product.name for r in rows)


def test_the_signal_is_sent_once_on_commit_and_not_for_a_refused_message(
    order, django_capture_on_commit_callbacks
):
    received: list[Any] = []

    def receiver(sender: Any, message: OrderMessage, **kwargs: Any) -> None:
        received.append((sender, message.pk, transaction.get_connection().in_atomic_block))

    order_message_posted.connect(receiver, dispatch_uid="test-chat-receiver")
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            message = chat.order_message_post(order=order, user=order.buyer, body="hi")
        assert received == []  # not before the commit
        for callback in callbacks:
            callback()
        assert [(s, pk) for s, pk, _ in received] == [(OrderMessage, message.pk)]
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError):
            chat.order_message_post(order=order, user=order.buyer, body="")
        assert len(received) == 1
    finally:
        order_message_posted.disconnect(dispatch_uid="test-chat-receiver")


def test_a_failing_receiver_does_not_undo_the_message(order, django_capture_on_commit_callbacks):
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("webhook down")

    order_message_posted.connect(broken, dispatch_uid="test-chat-broken")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            message = chat.order_message_post(order=order, user=order.buyer, body="hi")
    finally:
        order_message_posted.disconnect(dispatch_uid="test-chat-broken")
    assert OrderMessage.objects.filter(pk=message.pk).exists()


def test_messages_and_files_are_append_only(order):
    message = chat.order_message_post(order=order, user=order.buyer, body="x", files=[png()])
    with pytest.raises(PermissionError):
        message.save()
    with pytest.raises(PermissionError):
        OrderMessage.objects.filter(pk=message.pk).update(body="changed")
    with pytest.raises(PermissionError):
        message.files.get().delete()
    from django.db import connection

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE orders_ordermessage SET body = 'changed'")
    message.refresh_from_db()
    assert message.body == "x"


def test_first_answer_times_count_a_waiting_question_as_waited_so_far():
    merchant = MerchantFactory()
    answered, waiting = (OrderFactory(product__merchant=merchant) for _ in range(2))
    t0 = timezone.now()
    with time_machine.travel(t0, tick=False):
        chat.order_message_post(order=answered, user=answered.buyer, body="?")
        chat.order_message_post(order=waiting, user=waiting.buyer, body="?")
    with time_machine.travel(t0 + timedelta(minutes=6), tick=False):
        chat.order_message_post(order=answered, user=merchant.owner, body="!")
    times = chat.shop_first_answer_times(
        merchant.pk, since=t0 - timedelta(days=1), now=t0 + timedelta(hours=1)
    )
    assert sorted(seconds for _at, seconds in times) == [360.0, 3600.0]
