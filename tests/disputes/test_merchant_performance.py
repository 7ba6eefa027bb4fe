"""The merchant's performance page (/merchant/performance/) and GET /api/v1/merchant/stats/:
the shop record (disputes.selectors.shop_record) over 7, 30 and 90 days with the share lost
and the money paid out, hand-computed on a small history; who may see it; the charts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from disputes import selectors, services
from disputes.models import Dispute
from orders.models import Merchant, OrderStatus, Product
from tests.disputes.factories import (
    agent_of,
    contest,
    file,
    fund,
    funded_order,
    resolved_by_refund,
)
from tests.factories import OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def paid_orders(product: Product, n: int) -> None:
    for _ in range(n):
        OrderFactory(product=product, status=OrderStatus.DELIVERED, paid_at=timezone.now())


def lapse(dispute: Dispute, score: int) -> None:
    """The merchant lets the deadline pass: default judgment (lost, the claim recovered)."""
    due = dispute.merchant_response_due
    assert due is not None
    with time_machine.travel(due + dt.timedelta(minutes=5)):
        services.dispute_default_judgment(dispute=dispute)
        dispute.refresh_from_db()
        services.dispute_rate(dispute=dispute, buyer=dispute.buyer, score=score)


@pytest.fixture
def history() -> dict[str, Any]:
    """Shop A (every complaint ¥48.00):

    - 100 days ago: 10 paid orders (outside every window);
    - 60 days ago: 20 paid orders, and complaint X on a 21st, let lapse (lost, ¥48), rated 2;
    - 20 days ago: 10 paid orders, and complaint Y on an 11th, refunded by the merchant
      at once (answered in time, not lost, ¥48), rated 5;
    - 5 days ago: complaint W on an order, contested (answered in time, under review);
    - 3 days ago: 5 paid orders, and complaint Z on a 6th, let lapse (lost, ¥48), rated 1.

    Shop B: 30 paid orders a day ago, no complaint (in every window's median)."""
    now = timezone.now()
    a = ProductFactory(price=Decimal("48.00"))
    with time_machine.travel(now - dt.timedelta(days=100)):
        fund(a.merchant, Decimal("5000.00"))  # never under the minimum after recoveries
        paid_orders(a, 10)
    with time_machine.travel(now - dt.timedelta(days=60)):
        paid_orders(a, 20)
        x = file(order=funded_order(product=a, deposit_amount=Decimal(0)))
    lapse(x, 2)
    with time_machine.travel(now - dt.timedelta(days=20)):
        paid_orders(a, 10)
        y = resolved_by_refund(order=funded_order(product=a, deposit_amount=Decimal(0)))
        services.dispute_rate(dispute=y, buyer=y.buyer, score=5)
    with time_machine.travel(now - dt.timedelta(days=5)):
        contest(file(order=funded_order(product=a, deposit_amount=Decimal(0))))
    with time_machine.travel(now - dt.timedelta(days=3)):
        paid_orders(a, 5)
        z = file(order=funded_order(product=a, deposit_amount=Decimal(0)))
    lapse(z, 1)
    b = ProductFactory()
    with time_machine.travel(now - dt.timedelta(days=1)):
        paid_orders(b, 30)
    return {"a": a.merchant, "b": b.merchant}


def test_hand_computed_figures_over_7_30_and_90_days(history: dict[str, Any]) -> None:
    a = history["a"].pk
    seven, thirty, ninety = (selectors.shop_record(a, days) for days in (7, 30, 90))
    # 7 days: W's and Z's orders and 5 more = 7 orders; W answered, Z lapsed (lost, ¥48).
    assert (seven["orders"], seven["complaints"]) == (7, 2)
    assert seven["complaints_per_1000"] == 285.7  # 2 × 1000 / 7
    assert seven["answered_in_time"] == 0.5
    assert seven["resolved_share"] == 0.5  # Z of W and Z
    assert seven["lost_share"] == 1.0  # Z of the resolved Z
    assert seven["paid_out"] == Decimal("48.00")
    assert seven["satisfaction"] == 1.0
    assert seven["enough_data"] is False
    # 30 days: + Y and 10 orders = 18 orders, 3 complaints; Y refunded by the merchant.
    assert (thirty["orders"], thirty["complaints"]) == (18, 3)
    assert thirty["complaints_per_1000"] == 166.7
    assert thirty["answered_in_time"] == 0.667  # W and Y of 3
    assert thirty["resolved_share"] == 0.667  # Y and Z of 3
    assert thirty["lost_share"] == 0.5  # Z of Y and Z
    assert thirty["paid_out"] == Decimal("96.00")
    assert thirty["satisfaction"] == 3.0  # (5 + 1) / 2
    # 90 days: + X and 20 orders = 39 orders, 4 complaints; the orders of 100 days ago left out.
    assert (ninety["orders"], ninety["complaints"]) == (39, 4)
    assert ninety["complaints_per_1000"] == 102.6  # 4000 / 39
    assert ninety["answered_in_time"] == 0.5  # W and Y of 4
    assert ninety["resolved_share"] == 0.75  # X, Y, Z of 4
    assert ninety["lost_share"] == 0.667  # X and Z of 3
    assert ninety["paid_out"] == Decimal("144.00")
    assert ninety["satisfaction"] == 2.67  # (2 + 5 + 1) / 3
    assert ninety["enough_data"] is True
    # Medians: over B alone at 7 and 30 days (A has fewer than 30 orders), A and B at 90.
    assert seven["marketplace_median"] == {
        "complaints_per_1000": 0.0,
        "answered_in_time": None,
        "resolved_share": None,
        "satisfaction": None,
        "lost_share": None,
        "paid_out": Decimal("0.00"),
    }
    assert ninety["marketplace_median"] == {
        "complaints_per_1000": 51.3,  # (102.56 + 0) / 2
        "answered_in_time": 0.5,
        "resolved_share": 0.75,
        "satisfaction": 2.67,
        "lost_share": 0.667,
        "paid_out": Decimal("72.00"),  # (¥144 + ¥0) / 2
    }


def test_an_unknown_window_is_refused() -> None:
    with pytest.raises(ValueError, match="days"):
        selectors.shop_record(1, 14)


def test_the_record_is_aggregate_sql_whatever_the_history() -> None:
    """The same number of queries for 1 order and for 40 orders with complaints: no loop
    over rows (bench/bench_merchant_pages.py times it on 200,000 orders)."""
    product = ProductFactory()
    paid_orders(product, 1)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            selectors.shop_record(product.merchant.pk, 30, fresh=True)
        return len(ctx.captured_queries)

    few = queries()
    paid_orders(product, 30)
    for _ in range(3):
        contest(file(order=funded_order(product=product)))
    # The medians, the shop's figures, the order chat's first-answer times, the collective
    # cases, the payment channels' complaints: one query each, whatever the history.
    assert queries() == few == 5


# --- The page -----------------------------------------------------------------------------


def test_performance_page_numbers_beside_svg_bars(client: Client, history: dict[str, Any]) -> None:
    a: Merchant = history["a"]
    client.force_login(a.owner)
    response = client.get("/merchant/performance/?days=90")
    assert response.status_code == 200
    body = response.content.decode()
    for text in ("102.6", "51.3", "66.7%", "¥144.00", "¥72.00", "2.67"):
        assert text in body, text
    assert body.count("<svg") == 10  # five charts, two bars each
    assert 'width="100.0"' in body  # A's ¥144.00 is the longest bar of its chart
    assert 'width="50.0"' in body  # and the median's ¥72.00 half of it
    assert "style=" not in body  # the CSP allows no inline style: attributes only
    assert 'aria-current="page" ' not in body or 'href="?days=90" aria-current="page"' in body
    seven = client.get("/merchant/performance/?days=7").content.decode()
    assert "285.7" in seven
    assert "notice" in seven  # fewer than 30 orders in 7 days: said so
    default = client.get("/merchant/performance/")
    assert default.status_code == 200 and default.context["days"] == 30
    assert "166.7" in default.content.decode()


def test_performance_page_refuses_another_window_with_400(
    client: Client, history: dict[str, Any]
) -> None:
    client.force_login(history["a"].owner)
    for value in ("14", "abc", "-7"):
        response = client.get(f"/merchant/performance/?days={value}")
        assert response.status_code == 400
        assert response.context["days"] == 30


def test_performance_page_who_sees_what(client: Client, history: dict[str, Any]) -> None:
    a: Merchant = history["a"]
    client.force_login(agent_of(a))
    assert "102.6" in client.get("/merchant/performance/?days=90").content.decode()
    client.force_login(history["b"].owner)  # another shop sees its own figures only
    body = client.get("/merchant/performance/?days=90").content.decode()
    assert "102.6" not in body and "¥144.00" not in body and "51.3" in body
    client.force_login(UserFactory())
    response = client.get("/merchant/performance/")
    assert response.status_code == 302 and response["Location"] == "/merchant/apply/"
    client.logout()
    response = client.get("/merchant/performance/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- The API ------------------------------------------------------------------------------


def _api(user: Any) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_stats_api_for_owner_and_team(history: dict[str, Any]) -> None:
    a: Merchant = history["a"]
    for user in (a.owner, agent_of(a)):
        data = _api(user).get("/api/v1/merchant/stats/?days=30").json()
        assert data["window_days"] == 30
        assert data["orders"] == 18 and data["complaints"] == 3
        assert data["complaints_per_1000"] == 166.7
        assert data["answered_in_time"] == 0.667
        assert data["lost_share"] == 0.5
        assert data["paid_out"] == "96.00"
        assert data["satisfaction"] == 3.0
        assert data["enough_data"] is False  # own figures still given
        assert data["marketplace_median"]["paid_out"] == "0.00"
        assert data["marketplace_median"]["lost_share"] is None
    ninety = _api(a.owner).get("/api/v1/merchant/stats/?days=90").json()
    assert ninety["paid_out"] == "144.00"
    assert ninety["marketplace_median"]["paid_out"] == "72.00"
    assert _api(a.owner).get("/api/v1/merchant/stats/").json()["window_days"] == 30
    # An empty value is no value: the default window, as on the page.
    assert _api(a.owner).get("/api/v1/merchant/stats/?days=").json()["window_days"] == 30


def test_stats_api_refusals(history: dict[str, Any]) -> None:
    a: Merchant = history["a"]
    for value in ("14", "abc", "90.0", "-7", "7,30"):
        response = _api(a.owner).get(f"/api/v1/merchant/stats/?days={value}")
        assert response.status_code == 400, value
        assert "days" in response.json()
    other = _api(history["b"].owner).get("/api/v1/merchant/stats/?days=90").json()
    assert other["orders"] == 30 and other["paid_out"] == "0.00"  # its own, never A's
    assert _api(UserFactory()).get("/api/v1/merchant/stats/").status_code == 404
    assert _api(None).get("/api/v1/merchant/stats/").status_code == 401


def test_public_record_keeps_its_fields(history: dict[str, Any], client: Client) -> None:
    data = client.get(f"/api/v1/shops/{history['a'].pk}/record/").json()
    assert data["window_days"] == 90 and data["complaints_per_1000"] == 102.6
    assert "paid_out" not in data and "lost_share" not in data
    assert "paid_out" not in data["marketplace_median"]
