"""The order chat's pages (orders/chat_pages.py): 联系商家 on the buyer's order page, the
thread with a form that works without JavaScript (POST → redirect → GET), the merchant's
inbox of unanswered messages and its thread page; refusals shown inside the page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.models import OrderMessage
from orders.services import chat
from tests.disputes.factories import agent_of, png
from tests.factories import MerchantFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_order_page_offers_contact_the_shop_and_counts_new_answers():
    order = OrderFactory()
    client = logged_in(order.buyer)
    page = client.get(reverse("orders:order", args=[order.number])).content.decode()
    chat_url = reverse("orders:chat", args=[order.number])
    assert f'href="{chat_url}"' in page and 'id="contact-shop"' in page
    chat.order_message_post(order=order, user=order.buyer, body="在吗")
    chat.order_message_post(order=order, user=order.merchant.owner, body="在")
    page = client.get(reverse("orders:order", args=[order.number])).content.decode()
    assert "chat-unread" in page


def test_the_buyer_writes_without_javascript_and_lands_on_the_thread():
    order = OrderFactory()
    client = logged_in(order.buyer)
    url = reverse("orders:chat", args=[order.number])
    response = client.post(url, {"body": "卡密提示已使用", "attachments": [png("proof.png")]})
    assert response.status_code == 302 and response["Location"] == f"{url}#latest"
    page = client.get(url).content.decode()
    assert "卡密提示已使用" in page and 'id="latest"' in page
    message = OrderMessage.objects.get()
    image = message.files.get()
    file_url = reverse("orders:chat_file", args=[order.number, image.pk])
    assert f'src="{file_url}"' in page
    download = client.get(file_url)
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    # The thread part htmx polls.
    part = client.get(url, {"part": "thread"}).content.decode()
    assert part.lstrip().startswith('<div id="chat-messages"') and "卡密提示已使用" in part


def test_a_refusal_is_shown_in_the_page_and_keeps_the_text():
    order = OrderFactory()
    client = logged_in(order.buyer)
    url = reverse("orders:chat", args=[order.number])
    fake = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    response = client.post(url, {"body": "我写了很长一段话", "attachments": [fake]})
    assert response.status_code == 400
    page = response.content.decode()
    assert "我写了很长一段话" in page and "field__error" in page
    empty = client.post(url, {"body": "  "})
    assert empty.status_code == 400 and "form-errors" in empty.content.decode()
    assert not OrderMessage.objects.exists()


def test_other_people_get_404_on_the_buyers_chat():
    order = OrderFactory()
    url = reverse("orders:chat", args=[order.number])
    for user in (UserFactory(), order.merchant.owner):
        assert logged_in(user).get(url).status_code == 404
        assert logged_in(user).post(url, {"body": "x"}).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page


def test_the_merchant_inbox_lists_waiting_buyers_oldest_first_and_the_thread_answers():
    merchant = MerchantFactory()
    old, new = (OrderFactory(product__merchant=merchant) for _ in range(2))
    t0 = timezone.now()
    with time_machine.travel(t0 - timedelta(hours=3), tick=False):
        chat.order_message_post(order=old, user=old.buyer, body="三小时前的问题")
    with time_machine.travel(t0 - timedelta(minutes=10), tick=False):
        chat.order_message_post(order=new, user=new.buyer, body="十分钟前的问题")
    agent = logged_in(agent_of(merchant))
    with time_machine.travel(t0, tick=False):
        page = agent.get(reverse("merchant:chat")).content.decode()
    assert page.index(old.number) < page.index(new.number)
    assert "三小时前的问题" in page
    home = agent.get(reverse("merchant:home")).content.decode()
    assert reverse("merchant:chat_thread", args=[old.number]) in home
    assert f'href="{reverse("merchant:chat")}"' in home  # the nav and the card

    url = reverse("merchant:chat_thread", args=[old.number])
    response = agent.post(url, {"body": "已为您补发"})
    assert response.status_code == 302 and response["Location"] == f"{url}#latest"
    page = agent.get(reverse("merchant:chat")).content.decode()
    assert old.number not in page and new.number in page


def test_another_shops_order_is_404_on_the_merchant_thread():
    order = OrderFactory()
    other = logged_in(MerchantFactory().owner)
    url = reverse("merchant:chat_thread", args=[order.number])
    assert other.get(url).status_code == 404
    assert other.post(url, {"body": "x"}).status_code == 404
    assert not OrderMessage.objects.exists()
