"""The shop's median first-answer time on the order chat in its public record
(disputes.selectors.shop_records, `_chat_figures`): computed with the other figures, per
window, a question still waiting counted with its wait so far; on the API and the pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from disputes import selectors
from orders.models import OrderStatus
from orders.services import chat
from tests.factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def test_median_first_answer_per_window_with_waiting_questions_counted():
    product = ProductFactory()
    merchant = product.merchant
    owner = merchant.owner
    now = timezone.now()
    # Five questions: answered after 6 min, 10 min and 2 h (the last 20 days ago), one
    # waiting 60 min so far, one 100 days ago (outside every window).
    plan = [
        (now - timedelta(hours=3), timedelta(minutes=6)),
        (now - timedelta(hours=2), timedelta(minutes=10)),
        (now - timedelta(days=20), timedelta(hours=2)),
        (now - timedelta(minutes=60), None),
        (now - timedelta(days=100), timedelta(minutes=1)),
    ]
    for asked, answer_after in plan:
        order = OrderFactory(product=product, status=OrderStatus.DELIVERED, paid_at=asked)
        with time_machine.travel(asked, tick=False):
            chat.order_message_post(order=order, user=order.buyer, body="?")
        if answer_after is not None:
            with time_machine.travel(asked + answer_after, tick=False):
                chat.order_message_post(order=order, user=owner, body="!")
    with time_machine.travel(now, tick=False):
        records = selectors.shop_records(merchant.pk, fresh=True)
    # 7 days: 6 min, 10 min, 60 min waiting → 10 min.
    assert records[7]["chat_questions"] == 3
    assert records[7]["chat_first_answer_seconds"] == 600
    # 30 and 90 days: also the 2 h one → the mean of the middle two, (10 + 60) / 2 min.
    assert records[30]["chat_questions"] == records[90]["chat_questions"] == 4
    assert records[90]["chat_first_answer_seconds"] == 35 * 60


def test_a_shop_nobody_wrote_to_has_no_figure_and_the_api_and_pages_show_it():
    product = ProductFactory()
    merchant = product.merchant
    record = selectors.shop_record(merchant.pk, fresh=True)
    assert record["chat_questions"] == 0 and record["chat_first_answer_seconds"] is None
    cache.clear()
    order = OrderFactory(product=product, status=OrderStatus.DELIVERED, paid_at=timezone.now())
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        chat.order_message_post(order=order, user=order.buyer, body="?")
    with time_machine.travel(start + timedelta(minutes=125), tick=False):
        chat.order_message_post(order=order, user=merchant.owner, body="!")
        data = Client().get(f"/api/v1/shops/{merchant.pk}/record/").json()
        assert data["chat_questions"] == 1 and data["chat_first_answer_seconds"] == 125 * 60
        client = Client()
        client.force_login(merchant.owner)
        page = client.get(reverse("merchant:performance")).content.decode()
    assert "2 h 5 min" in page or "2 小时 5 分钟" in page
