"""The merchant's sales orders are found by any part of the order number or by the buyer
(orders.selectors.merchant_orders): the same number of queries whatever the shop's size, and on
PostgreSQL the number is searched through its trigram index."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orders import selectors
from orders.models import Order
from tests.factories import MerchantFactory, ProductFactory, UserFactory
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db


def _shop_orders(count: int, **kwargs) -> list[Order]:
    product = ProductFactory(**kwargs)
    return [paid_order(product=product) for _ in range(count)]


def _numbers(client: Client, q: str) -> list[str]:
    response = client.get("/merchant/orders/", {"q": q})
    assert response.status_code == 200
    return [row["order"].number for row in response.context["rows"]]


def test_a_part_of_the_number_or_the_buyer_finds_the_order():
    first, second, third = _shop_orders(3)
    other_shop = paid_order(buyer=second.buyer)
    client = Client()
    client.force_login(first.merchant.owner)

    assert _numbers(client, second.number[-6:].lower()) == [second.number]
    assert _numbers(client, second.number[5:11]) == [second.number]
    assert _numbers(client, second.buyer.username) == [second.number]
    assert other_shop.number not in _numbers(client, second.buyer.username)
    assert _numbers(client, third.payment_reference) == [third.number]
    # Two characters are not a part to search by: only a whole number matches them.
    assert _numbers(client, "KM") == []
    assert _numbers(client, "nobody-by-that-name") == []


def test_a_search_costs_the_same_queries_in_a_small_and_a_bigger_shop():
    small = _shop_orders(1)
    big = _shop_orders(12)
    counts = []
    for orders in (small, big):
        client = Client()
        client.force_login(orders[0].merchant.owner)
        with CaptureQueriesContext(connection) as queries:
            assert _numbers(client, orders[0].number[-5:]) == [orders[0].number]
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_search_by_a_username_that_is_not_a_buyer_of_the_shop_finds_nothing():
    order = _shop_orders(1)[0]
    stranger = UserFactory()
    merchant = MerchantFactory()
    assert list(selectors.merchant_orders(order.merchant, search=stranger.username)) == []
    assert list(selectors.merchant_orders(merchant, search=order.buyer.username)) == []


@pytest.mark.postgres
def test_on_postgresql_a_part_of_the_number_is_searched_through_the_trigram_index():
    order = _shop_orders(1)[0]
    part = order.number[-6:]
    assert list(selectors.merchant_orders(order.merchant, search=part)) == [order]
    # A test table is too small for the planner to prefer any index on its own; without a
    # sequential scan, `LIKE '%…%'` has only the trigram index to go through (a b-tree
    # cannot serve a match in the middle).
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = Order.objects.filter(number__contains=part).order_by().explain()
    assert "order_number_trgm_idx" in plan
