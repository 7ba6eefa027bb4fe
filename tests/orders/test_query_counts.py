"""The catalogue, my-orders and the orders API answer in the same number of queries at 1 row
and at 50 rows (no N+1), measured both ways with django_assert_num_queries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import CardKeyFactory, MerchantFactory, ProductFactory, UserFactory
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db


def count_queries(fetch: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fetch()
    return len(ctx.captured_queries)


def assert_same_queries(django_assert_num_queries, grow: Callable[[int], None], fetch) -> None:
    grow(1)
    at_one = count_queries(fetch)
    grow(49)
    with django_assert_num_queries(at_one):  # 50 rows: the count measured at 1 row
        fetch()
    at_fifty = count_queries(fetch)
    with django_assert_num_queries(at_fifty):  # and the other way round
        fetch()
    assert at_one == at_fifty


def get_ok(client: APIClient, url: str) -> Callable[[], object]:
    def fetch() -> object:
        response = client.get(url)
        assert response.status_code == 200
        return response

    return fetch


def test_the_catalogue_api(django_assert_num_queries):
    def grow(n: int) -> None:
        for _ in range(n):
            product = ProductFactory(merchant=MerchantFactory())
            CardKeyFactory.create_batch(2, product=product)

    client = APIClient()
    fetch = get_ok(client, "/api/v1/products/?page_size=100")
    assert_same_queries(django_assert_num_queries, grow, fetch)
    assert client.get("/api/v1/products/?page_size=100").json()["count"] == 50


def test_my_orders_api(django_assert_num_queries):
    buyer = UserFactory()

    def grow(n: int) -> None:
        for _ in range(n):
            paid_order(buyer=buyer, quantity=2)

    client = APIClient()
    client.force_authenticate(buyer)
    fetch = get_ok(client, "/api/v1/orders/?page_size=100")
    assert_same_queries(django_assert_num_queries, grow, fetch)
    assert client.get("/api/v1/orders/?page_size=100").json()["count"] == 50


def test_the_shops_orders_api(django_assert_num_queries):
    product = ProductFactory()

    def grow(n: int) -> None:
        for _ in range(n):
            paid_order(product=product, quantity=2)

    client = APIClient()
    client.force_authenticate(product.merchant.owner)
    fetch = get_ok(client, "/api/v1/orders/?page_size=100")
    assert_same_queries(django_assert_num_queries, grow, fetch)
    assert client.get("/api/v1/orders/?page_size=100").json()["count"] == 50


def test_the_merchants_product_list_api(django_assert_num_queries):
    merchant = MerchantFactory()

    def grow(n: int) -> None:
        for _ in range(n):
            CardKeyFactory(product=ProductFactory(merchant=merchant))

    client = APIClient()
    client.force_authenticate(merchant.owner)
    fetch = get_ok(client, "/api/v1/merchant/products/?page_size=100")
    assert_same_queries(django_assert_num_queries, grow, fetch)
