"""`manage.py seed_demo` writes two short order chats (disputes.demo.catalogue.ORDER_CHATS)
through the chat service: one the shop answered, one waiting in the shop's inbox."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from disputes.demo.catalogue import ORDER_CHATS
from orders.models import Order, OrderMessage
from orders.services import chat

pytestmark = pytest.mark.django_db


def test_the_demo_has_an_answered_chat_and_one_in_the_shops_inbox():
    call_command("seed_demo", stdout=StringIO())
    for buyer, product, lines in ORDER_CHATS:
        order = (
            Order.objects.filter(buyer__username=buyer, product__name=product)
            .order_by("id")
            .first()
        )
        assert order is not None
        thread = chat.order_thread(order=order, user=order.buyer)
        assert [(m.side, m.body) for m in thread.messages] == lines
        waiting = [t.order_id for t in chat.shop_chat_inbox(order.merchant)]
        assert (order.pk in waiting) == (lines[-1][0] == "buyer")
    count = OrderMessage.objects.count()
    call_command("seed_demo", stdout=StringIO())
    assert OrderMessage.objects.count() == count
