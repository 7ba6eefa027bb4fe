"""Collective cases, what the core left: a refunded order says how it was refunded (the order
API's `refund_reason` and `refunds`, the order page's context), the shop's debt notice for a
case's shortfall names the case, and the case's notices read in Chinese
(docs/collective-cases.md)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from disputes import notices
from disputes.models import CollectiveCase, Finding, Notification, NotificationKind
from escrow.signals import debt_recorded
from orders.models import Merchant
from tests.disputes.factories import file
from tests.disputes.test_collective import PRICE, _bad_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    def run(function: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


def _settled_case(on_commit: Any, sold: int = 10) -> tuple[CollectiveCase, list[Any], list[Any]]:
    _product, _batch, orders = _bad_batch(sold=sold)
    disputes = [on_commit(file, order) for order in orders[:3]]
    case = CollectiveCase.objects.get()
    assert case.refunded_count == 3  # orders 4–6: the other unknown keys
    return case, orders, disputes


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_order_api_says_a_refund_was_the_collective_case_or_the_complaint(on_commit):
    case, orders, disputes = _settled_case(on_commit)
    # Refunded by the case, without a complaint.
    order = orders[3]
    body = _api(order.buyer).get(reverse("api-order", args=[order.number])).json()
    reason = body["refund_reason"]
    assert reason["by"] == "collective_case" and reason["reference"] == case.number
    assert reason["detail"] == Finding.KEY_UNKNOWN and reason["amount"] == str(PRICE)
    assert case.number in reason["text"] and reason["at"]
    assert body["refunds"] == [reason]
    # Refunded through the buyer's own complaint: the complaint, not the case.
    order, dispute = orders[0], disputes[0]
    body = _api(order.buyer).get(reverse("api-order", args=[order.number])).json()
    assert body["refund_reason"]["by"] == "complaint"
    assert body["refund_reason"]["reference"] == dispute.number
    assert [r["by"] for r in body["refunds"]] == ["complaint"]
    # A good key: not refunded.
    order = orders[8]
    body = _api(order.buyer).get(reverse("api-order", args=[order.number])).json()
    assert body["refund_reason"] is None and body["refunds"] == []


def test_the_reason_is_in_words_in_chinese_and_on_the_order_page(client, on_commit):
    case, orders, _disputes = _settled_case(on_commit)
    order = orders[4]
    body = (
        _api(order.buyer)
        .get(reverse("api-order", args=[order.number]), HTTP_ACCEPT_LANGUAGE="zh-hans")
        .json()
    )
    with translation.override("zh-hans"):
        finding = str(Finding.KEY_UNKNOWN.label)
    assert body["refund_reason"]["text"] == f"由平台在集体案件 {case.number} 中退款：{finding}。"
    client.force_login(order.buyer)
    page = client.get(reverse("orders:order", args=[order.number]))
    assert page.status_code == 200
    [reason] = page.context["refund_reasons"]
    assert (reason.by, reason.reference, reason.amount) == ("collective_case", case.number, PRICE)


def test_a_list_of_orders_asks_for_the_reasons_once(on_commit):
    """The buyer's order list: the reasons of the whole page in a fixed number of queries."""
    _case, orders, _disputes = _settled_case(on_commit)
    client = _api(orders[3].buyer)
    url = reverse("api-orders")
    with CaptureQueriesContext(connection) as one:
        body = client.get(url).json()
    rows = body["results"] if isinstance(body, dict) else body
    assert [r["refund_reason"]["by"] for r in rows] == ["collective_case"]
    # The same buyer with more refunded orders: no more queries.
    buyer = orders[3].buyer
    for order in orders[4:6]:
        type(order).objects.filter(pk=order.pk).update(buyer=buyer)
    with CaptureQueriesContext(connection) as three:
        body = client.get(url).json()
    rows = body["results"] if isinstance(body, dict) else body
    assert [r["refund_reason"]["by"] for r in rows] == ["collective_case"] * 3
    assert len(three.captured_queries) == len(one.captured_queries)


def test_the_shops_debt_notice_for_a_cases_shortfall_names_the_case(on_commit):
    case, _orders, _disputes = _settled_case(on_commit)
    merchant = Merchant.objects.get(pk=case.merchant_id)
    # What escrow.batch sends for a collective refund its deposit could not cover.
    debt_recorded.send(
        sender=Merchant,
        merchant=merchant,
        dispute_id=None,
        reference=f"collective:{case.pk}",
        shortfall=4800,
        owed=9600,
    )
    note = Notification.objects.get(
        kind=NotificationKind.DEBT_RECORDED, recipient=merchant.owner, channel="inapp"
    )
    with translation.override("en"):
        english = notices.sentence(note)
    with translation.override("zh-hans"):
        chinese = notices.sentence(note)
    assert english.startswith(f"The refunds of collective case {case.number} cost ¥48.00")
    assert "Complaint" not in english and "¥96.00" in english
    assert chinese.startswith(f"集体案件 {case.number} 的退款超出保证金可承担部分 ¥48.00")


@pytest.mark.parametrize(
    "finding,amount",
    [("key_unknown", "48.00"), ("key_unknown", "0"), ("no_answer", "0"), ("key_valid", "0")],
)
def test_the_buyers_finding_reads_in_chinese(finding, amount):
    params = {
        "case": "JT000007",
        "order": "KM2611020001",
        "product": "Steam ¥50",
        "finding": finding,
        "amount": amount,
    }
    note = Notification(kind=NotificationKind.COLLECTIVE_FINDING, params=params, role="buyer")
    with translation.override("zh-hans"):
        chinese = notices.sentence(note)
    assert chinese.startswith("集体案件 JT000007：") and "KM2611020001" in chinese
    assert "the issuer" not in chinese


def test_the_threshold_is_published_recorded_and_applied_like_every_policy_value(
    on_commit, time_machine
):
    """The collective values go through the policy's publishing (7 days' notice, the history
    keeps old and new); once in force, the product kind's threshold decides when a case
    opens."""
    from datetime import timedelta

    from django.utils import timezone

    from disputes.models import PolicyChange
    from disputes.services import policy as policy_services
    from tests.factories import StaffFactory

    staff = StaffFactory()
    effective = timezone.now() + timedelta(days=8)
    published = policy_services.policy_publish(
        staff=staff,
        product_kind="game_card",
        effective_from=effective,
        values={"collective_threshold": 4, "collective_window_hours": 12},
        note="Card lots: one more complaint before a case, within half a day",
    )
    change = PolicyChange.objects.get(policy=published)
    assert (change.old["collective_threshold"], change.new["collective_threshold"]) == (3, 4)
    assert (change.old["collective_window_hours"], change.new["collective_window_hours"]) == (
        24,
        12,
    )
    time_machine.move_to(effective + timedelta(minutes=1), tick=False)
    _product, _batch, orders = _bad_batch(sold=10)
    for order in orders[:3]:
        on_commit(file, order)
    assert not CollectiveCase.objects.exists()  # 3 upheld: under this kind's 4
    on_commit(file, orders[3])
    case = CollectiveCase.objects.get()
    assert (case.threshold, case.window_hours, case.policy_id) == (4, 12, published.pk)
