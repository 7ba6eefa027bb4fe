"""The other side of an order's chat is told of a new message (disputes.services.order_chat
.notify_order_message): in-app with a link to the thread on their side, by e-mail, once per
message whatever delivers the signal twice."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from disputes import notices
from disputes.models import Notification, NotificationKind
from disputes.services.notifications import notifications_send_pending
from disputes.services.order_chat import notify_order_message
from orders.services import chat
from tests.disputes.factories import agent_of
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order() -> Any:
    return OrderFactory()


def _inapp(user: Any) -> list[Notification]:
    return list(
        Notification.objects.filter(
            recipient=user, channel="inapp", kind=NotificationKind.ORDER_MESSAGE
        )
    )


def test_the_shop_is_told_of_a_buyers_message_with_a_link_to_the_thread(
    order, django_capture_on_commit_callbacks
):
    agent = agent_of(order.merchant)
    with django_capture_on_commit_callbacks(execute=True):
        message = chat.order_message_post(order=order, user=order.buyer, body="卡密无效  请处理")
    assert _inapp(order.buyer) == []  # not told of their own message
    for person in (order.merchant.owner, agent):
        (note,) = _inapp(person)
        assert note.dispute_id is None and note.params["order"] == order.number
        assert notices.link(note) == reverse("merchant:chat_thread", args=[order.number])
        with translation.override("zh-hans"):
            assert "卡密无效 请处理" in notices.sentence(note)
            assert order.number in notices.title(note)
    # The same message announced twice (a receiver re-run) is still one notice each.
    notify_order_message(sender=None, message=message)
    assert len(_inapp(order.merchant.owner)) == 1


def test_the_buyer_is_told_of_the_shops_answer_in_app_and_by_email(
    order, django_capture_on_commit_callbacks
):
    order.buyer.email = "buyer@example.com"
    order.buyer.save()
    with django_capture_on_commit_callbacks(execute=True):
        chat.order_message_post(order=order, user=order.merchant.owner, body="已补发，请查收" * 20)
    (note,) = _inapp(order.buyer)
    assert notices.link(note) == reverse("orders:chat", args=[order.number])
    assert _inapp(order.merchant.owner) == []
    excerpt = note.params["excerpt"]
    assert excerpt.endswith("…") and len(excerpt) == 61  # quoted, not the whole text
    # Delivered on commit (or by the sweep, if the broker lost it): one e-mail, not two.
    notifications_send_pending(now=note.created_at.replace(year=note.created_at.year + 1))
    assert [m.to for m in mail.outbox] == [["buyer@example.com"]]
    assert not Notification.objects.filter(recipient=order.buyer, sent_at__isnull=True).exists()
    assert order.number in mail.outbox[0].subject or order.number in mail.outbox[0].body
