"""The shop record (disputes.selectors.shop_record): hand-computed figures on a small data
set, the marketplace median, "not enough data", the cache; its pages and its public API;
and the rating API that feeds it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from disputes import selectors, services
from disputes.models import DisputeRating
from orders.models import Merchant, MerchantStatus, OrderStatus, Product
from tests.disputes.factories import file, funded_order, offered, resolved_by_refund
from tests.factories import OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def paid_orders(product: Product, n: int) -> None:
    """Sales history: paid, delivered orders (the record only counts them)."""
    for _ in range(n):
        OrderFactory(product=product, status=OrderStatus.DELIVERED, paid_at=timezone.now())


@pytest.fixture
def market() -> dict[str, Any]:
    """Shop A: 40 paid orders, 2 complaints — one answered in time (refund, rated 4), one the
    merchant let lapse (default judgment, rated 2). Shop B: 30 orders, no complaint. Shop C:
    10 orders (not enough data: left out of the median)."""
    a = ProductFactory(price=Decimal("48.00"))
    # Both sales before any complaint holds part of the deposit.
    orders = [funded_order(product=a), funded_order(product=a)]
    first = resolved_by_refund(order=orders[0])
    second = file(order=orders[1])
    paid_orders(a, 38)
    due = second.merchant_response_due
    assert due is not None
    with time_machine.travel(due + dt.timedelta(minutes=5)):
        services.dispute_default_judgment(dispute=second)
        services.dispute_rate(dispute=first, buyer=first.buyer, score=4)
        services.dispute_rate(dispute=second, buyer=second.buyer, score=2, comment="Slow.")
    b = ProductFactory()
    paid_orders(b, 30)
    c = ProductFactory()
    paid_orders(c, 10)
    OrderFactory(product=b)  # unpaid: never counted
    return {"a": a.merchant, "b": b.merchant, "c": c.merchant, "travel": due}


def test_hand_computed_figures_and_median(market: dict[str, Any]) -> None:
    with time_machine.travel(market["travel"] + dt.timedelta(minutes=10)):
        record = selectors.shop_record(market["a"].pk)
        b = selectors.shop_record(market["b"].pk)
    assert record["orders"] == 40
    assert record["complaints"] == 2
    assert record["complaints_per_1000"] == 50.0  # 2 × 1000 / 40
    assert record["answered_in_time"] == 0.5  # one answered, one lapsed
    assert record["resolved_share"] == 1.0
    assert record["satisfaction"] == 3.0  # (4 + 2) / 2
    assert record["enough_data"] is True
    assert b["complaints_per_1000"] == 0.0
    assert b["answered_in_time"] is None
    # Over A and B (C has 10 orders): the median of 50 and 0, and A's alone where B has none.
    assert record["marketplace_median"] == {
        "complaints_per_1000": 25.0,
        "answered_in_time": 0.5,
        "resolved_share": 1.0,
        "satisfaction": 3.0,
        # The merchant's own refund is no loss; the default judgment is: A 0.5, B none.
        "lost_share": 0.5,
        # A bore 2 × ¥48.00, B nothing: the median of ¥96.00 and ¥0.00.
        "paid_out": Decimal("48.00"),
    }


def test_median_of_an_odd_number_of_shops() -> None:
    for n_orders, n_complaints in ((30, 0), (40, 1), (50, 1)):
        product = ProductFactory()
        paid_orders(product, n_orders - n_complaints)
        for order in [funded_order(product=product) for _ in range(n_complaints)]:
            file(order=order)
    record = selectors.shop_record(product.merchant.pk)
    # 0, 25 and 20 per 1,000 → 20.
    assert record["marketplace_median"]["complaints_per_1000"] == 20.0


def test_not_enough_data(market: dict[str, Any], client: Client) -> None:
    record = selectors.shop_record(market["c"].pk)
    assert record["orders"] == 10
    assert record["enough_data"] is False
    body = client.get(reverse("disputes:shop", args=[market["c"].pk])).content.decode()
    assert "数据不足" in body
    assert "每千笔订单投诉数" not in body


def test_orders_outside_the_window_do_not_count() -> None:
    product = ProductFactory()
    with time_machine.travel(timezone.now() - dt.timedelta(days=91)):
        paid_orders(product, 5)
    paid_orders(product, 3)
    assert selectors.shop_record(product.merchant.pk)["orders"] == 3


def test_cached_with_its_time(market: dict[str, Any]) -> None:
    b = market["b"]
    first = selectors.shop_record(b.pk)
    file(order=funded_order(product=Product.objects.filter(merchant=b).first()))
    again = selectors.shop_record(b.pk)
    assert again == first  # from the cache: the page says when it was computed
    assert again["computed_at"] == first["computed_at"]
    fresh = selectors.shop_record(b.pk, fresh=True)
    assert fresh["complaints"] == 1
    assert fresh["computed_at"] >= first["computed_at"]


def test_shop_page_and_product_summary(market: dict[str, Any], client: Client) -> None:
    a: Merchant = market["a"]
    with time_machine.travel(market["travel"] + dt.timedelta(minutes=10)):
        body = client.get(reverse("disputes:shop", args=[a.pk])).content.decode()
        assert "50.0" in body and "25.0" in body and "50%" in body and "3.00" in body
        assert "统计于" in body
        product = Product.objects.filter(merchant=a).first()
        assert product is not None
        body = client.get(reverse("orders:product", args=[product.pk])).content.decode()
    assert "该店铺的投诉记录" in body
    assert reverse("disputes:shop", args=[a.pk]) in body


def test_shop_page_of_a_rejected_shop_is_404(client: Client) -> None:
    product = ProductFactory()
    Merchant.objects.filter(pk=product.merchant.pk).update(status=MerchantStatus.REJECTED)
    assert client.get(reverse("disputes:shop", args=[product.merchant.pk])).status_code == 404


# --- API ------------------------------------------------------------------------------------


def test_shop_record_api_is_public(market: dict[str, Any], client: Client) -> None:
    with time_machine.travel(market["travel"] + dt.timedelta(minutes=10)):
        data = client.get(f"/api/v1/shops/{market['a'].pk}/record/").json()
    assert data["window_days"] == 90
    assert data["orders"] == 40
    assert data["complaints_per_1000"] == 50.0
    assert data["answered_in_time"] == 0.5
    assert data["resolved_share"] == 1.0
    assert data["satisfaction"] == 3.0
    assert data["enough_data"] is True
    assert data["marketplace_median"]["complaints_per_1000"] == 25.0
    few = client.get(f"/api/v1/shops/{market['c'].pk}/record/").json()
    assert few["enough_data"] is False
    assert few["complaints_per_1000"] is None


def test_shop_record_api_404_for_a_shop_not_active(client: Client) -> None:
    product = ProductFactory()
    Merchant.objects.filter(pk=product.merchant.pk).update(
        status=MerchantStatus.PENDING_VERIFICATION
    )
    assert client.get(f"/api/v1/shops/{product.merchant.pk}/record/").status_code == 404
    assert client.get("/api/v1/shops/999999/record/").status_code == 404


def test_rating_api_once_after_resolution(client: Client) -> None:
    dispute = resolved_by_refund()
    url = f"/api/v1/disputes/{dispute.number}/rating/"
    client.force_login(dispute.buyer)
    assert client.post(url, {"score": 0}, content_type="application/json").status_code == 400
    assert client.post(url, {"score": 6}, content_type="application/json").status_code == 400
    response = client.post(url, {"score": 5, "comment": "Fast."}, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["rating"]["score"] == 5
    assert response.json()["rating"]["comment"] == "Fast."
    again = client.post(url, {"score": 1}, content_type="application/json")
    assert again.status_code == 409
    assert again.json()["code"] == "already_rated"
    detail = client.get(f"/api/v1/disputes/{dispute.number}/").json()
    assert detail["rating"]["score"] == 5


def test_rating_api_refused_before_resolution_and_for_others(client: Client) -> None:
    dispute = offered(Decimal("10.00"))
    url = f"/api/v1/disputes/{dispute.number}/rating/"
    client.force_login(dispute.buyer)
    response = client.post(url, {"score": 3}, content_type="application/json")
    assert response.status_code == 409
    assert client.get(f"/api/v1/disputes/{dispute.number}/").json()["rating"] is None
    done = resolved_by_refund()
    done_url = f"/api/v1/disputes/{done.number}/rating/"
    client.force_login(UserFactory())
    assert client.post(done_url, {"score": 3}, content_type="application/json").status_code == 404
    client.force_login(done.merchant.owner)
    assert client.post(done_url, {"score": 3}, content_type="application/json").status_code == 403
    client.logout()
    assert client.post(done_url, {"score": 3}, content_type="application/json").status_code in (
        401,
        403,
    )
    assert not DisputeRating.objects.exists()


def test_a_rating_is_append_only() -> None:
    dispute = resolved_by_refund()
    rating = services.dispute_rate(dispute=dispute, buyer=dispute.buyer, score=3)
    rating.score = 5
    with pytest.raises(PermissionError):
        rating.save()
    with pytest.raises(PermissionError):
        rating.delete()
