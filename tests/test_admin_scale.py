"""The staff admin's lists at scale (docs/benchmarks.md, bench/bench_admin.py): query counts
that do not grow with the page, the estimating paginator, indexed search and the shop filter."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from disputes.models import Dispute, Status
from kamen_complaints.admin_paginator import EstimatedCountPaginator
from orders.models import Merchant, Order
from tests.disputes.factories import funded_order, under_review

pytestmark = pytest.mark.django_db

ORDERS = "/admin/orders/order/"


def _clone_orders(order: Order, n: int) -> list[Order]:
    row = Order.objects.filter(pk=order.pk).values().get()
    row.pop("id")
    copies = []
    for i in range(n):
        fields = {**row, "number": f"{order.number[:16]}X{i:05d}"}
        fields["payment_reference"] = f"{order.payment_reference}-X{i}"
        copies.append(Order(**fields))
    return Order.objects.bulk_create(copies)


def _clone_reviews(dispute: Dispute, n: int) -> None:
    """n more complaints under review like `dispute`, each on its own order."""
    row = Dispute.objects.filter(pk=dispute.pk).values().get()
    row.pop("id")
    now = timezone.now()
    Dispute.objects.bulk_create(
        Dispute(
            **{
                **row,
                "number": f"{dispute.number[:16]}X{i:05d}",
                "order_id": order.pk,
                "status": Status.UNDER_REVIEW,
                "review_due": now + timedelta(hours=1, minutes=i),
            }
        )
        for i, order in enumerate(_clone_orders(dispute.order, n))
    )


def _queries(client: Any, url: str, rows: int) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == rows
    return len(ctx.captured_queries)


def _dispute_list(view_all: bool = False) -> str:
    url = reverse("admin:disputes_dispute_changelist")
    return url + "?view=all" if view_all else url


@pytest.mark.parametrize("view_all", [False, True], ids=["review queue", "all complaints"])
def test_complaint_lists_run_the_same_queries_at_1_and_50_rows(admin_client, view_all):
    dispute = under_review()
    one = _queries(admin_client, _dispute_list(view_all), 1)
    _clone_reviews(dispute, 49)
    assert _queries(admin_client, _dispute_list(view_all), 50) == one


def test_the_orders_list_runs_the_same_queries_at_1_and_50_rows(admin_client):
    order = funded_order()
    one = _queries(admin_client, ORDERS, 1)
    _clone_orders(order, 49)
    assert _queries(admin_client, ORDERS, 50) == one


def test_the_merchants_list_runs_the_same_queries_at_1_and_3_shops(admin_client):
    funded_order()
    url = reverse("admin:orders_merchant_changelist")
    one = _queries(admin_client, url, 1)
    funded_order(), funded_order()
    assert _queries(admin_client, url, 3) == one


def test_no_list_counts_the_whole_table_a_second_time(admin_client):
    """Django's `show_full_result_count` adds an unfiltered COUNT(*) to every page; only the
    paginator's count is left (unfiltered only where the list itself is: on a small table, or
    the planner's estimate on PostgreSQL)."""
    under_review()
    lists = [
        (ORDERS, 1),
        (reverse("admin:orders_merchant_changelist"), 1),
        (_dispute_list(), 0),  # the review queue: its own count is filtered
    ]
    for url, allowed in lists:
        with CaptureQueriesContext(connection) as ctx:
            admin_client.get(url)
        whole = [
            q["sql"]
            for q in ctx.captured_queries
            if "COUNT(" in q["sql"].upper() and " WHERE " not in q["sql"].upper()
        ]
        assert len(whole) <= allowed, (url, whole)


def test_all_three_lists_use_the_estimating_paginator(admin_client):
    under_review()
    for url in (ORDERS, _dispute_list(), reverse("admin:orders_merchant_changelist")):
        assert isinstance(admin_client.get(url).context["cl"].paginator, EstimatedCountPaginator)


# --- The paginator's count ----------------------------------------------------------------


def _analyze_orders() -> None:
    with connection.cursor() as cur:
        cur.execute(f"ANALYZE {Order._meta.db_table}")
        cur.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [Order._meta.db_table]
        )
        assert cur.fetchone()[0] > 5


@pytest.mark.postgres
def test_an_unfiltered_big_table_is_counted_by_the_planners_estimate(admin_client, settings):
    settings.KAMEN_ADMIN_ESTIMATE_ABOVE = 5
    _clone_orders(funded_order(), 20)
    _analyze_orders()
    with CaptureQueriesContext(connection) as ctx:
        response = admin_client.get(ORDERS)
    paginator = response.context["cl"].paginator
    assert paginator.count_method == "estimate"
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert "pg_class" in sql and "COUNT(" not in sql.upper()
    assert len(response.context["cl"].result_list) == 21  # the rows are the real ones


@pytest.mark.postgres
def test_a_filtered_or_searched_list_is_counted_exactly(admin_client, settings):
    settings.KAMEN_ADMIN_ESTIMATE_ABOVE = 5
    order = funded_order()
    _clone_orders(order, 20)
    _analyze_orders()
    searched = admin_client.get(ORDERS, {"q": order.number})
    assert searched.context["cl"].paginator.count_method == "exact"
    assert searched.context["cl"].result_count == 1
    filtered = admin_client.get(ORDERS, {"status__exact": "cancelled"})
    assert filtered.context["cl"].paginator.count_method == "exact"
    assert filtered.context["cl"].result_count == 0


@pytest.mark.postgres
def test_a_table_under_the_threshold_is_counted_exactly(admin_client):
    _clone_orders(funded_order(), 20)
    _analyze_orders()
    response = admin_client.get(ORDERS)  # default threshold 10,000
    assert response.context["cl"].paginator.count_method == "exact"
    assert response.context["cl"].result_count == 21


def test_sqlite_always_counts_exactly(admin_client, settings):
    if connection.vendor == "postgresql":
        pytest.skip("SQLite's branch")
    settings.KAMEN_ADMIN_ESTIMATE_ABOVE = 0
    _clone_orders(funded_order(), 3)
    response = admin_client.get(ORDERS)
    assert response.context["cl"].paginator.count_method == "exact"
    assert response.context["cl"].result_count == 4


# --- Search and the shop filter -------------------------------------------------------------


def test_orders_are_found_by_the_buyers_exact_username_only(admin_client):
    order = funded_order()
    other = funded_order()
    found = admin_client.get(ORDERS, {"q": order.buyer.username}).context["cl"].result_list
    assert list(found) == [order]
    part = order.buyer.username[:-1]
    assert other.buyer.username != order.buyer.username
    assert order not in admin_client.get(ORDERS, {"q": part}).context["cl"].result_list


def test_complaints_are_searched_by_number_order_buyer_and_part_of_the_shop(admin_client):
    dispute, other = under_review(), under_review()
    Merchant.objects.filter(pk=dispute.merchant_id).update(shop_name="星光点卡铺")
    Merchant.objects.filter(pk=other.merchant_id).update(shop_name="月影数码")
    dispute.refresh_from_db()
    url = _dispute_list(view_all=True)
    for term in (
        dispute.number,
        dispute.order.number,
        dispute.buyer.username,
        dispute.merchant.shop_name[1:-1],
    ):
        assert list(admin_client.get(url, {"q": term}).context["cl"].result_list) == [dispute], term
    assert other.merchant_id != dispute.merchant_id


def test_the_shop_filter_loads_only_the_chosen_shop(admin_client):
    dispute, other = under_review(), under_review()
    page = admin_client.get(_dispute_list(), {"merchant": dispute.merchant_id})
    assert list(page.context["cl"].result_list) == [dispute]
    body = page.content.decode()
    assert dispute.merchant.shop_name in body and other.number not in body
    # Its link in the list:
    queue = admin_client.get(_dispute_list()).content.decode()
    assert f'href="?merchant={dispute.merchant_id}"' in queue


def test_all_complaints_are_listed_newest_first(admin_client):
    older, newer = under_review(), under_review()
    Dispute.objects.filter(pk=older.pk).update(filed_at=timezone.now() - timedelta(days=2))
    listed = list(admin_client.get(_dispute_list(view_all=True)).context["cl"].result_list)
    assert listed == [newer, older]


@pytest.mark.parametrize("value", ["abc", "999999", ""])
def test_a_bad_shop_filter_value_is_not_a_500(admin_client, value):
    dispute = under_review()
    page = admin_client.get(_dispute_list(), {"merchant": value})
    assert page.status_code == 200
    listed = list(page.context["cl"].result_list)
    assert listed == ([] if value == "999999" else [dispute])  # unknown shop: nothing
