"""The complaints filed on the payment channels and the time to the platform's first reply
there, in the staff metrics (page and API, live beside the daily figures) and in the shop's
public record (disputes.selectors.channel_complaint_figures, the one computation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.template.loader import render_to_string
from django.utils import translation

from disputes.models import Dispute
from disputes.selectors import channel_complaint_figures, shop_record
from disputes.services import dispute_respond
from disputes.services.channel_complaints import channel_complaint_pushes_plan
from orders.models import Merchant, MerchantStatus
from orders.services.channel_complaints import channel_complaint_pushes_send
from tests.factories import StaffFactory, UserFactory
from tests.payments.test_channel_complaints import post
from tests.payments.test_refunds import paid_through

pytestmark = pytest.mark.django_db

ARRIVED = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def complained_and_answered(wechatpay, client, *, answer_after: timedelta | None):
    """An order paid through WeChat Pay, a complaint there at ARRIVED, and (if given) the
    shop's answer on the platform sent to the channel `answer_after` later."""
    with time_machine.travel(ARRIVED - timedelta(minutes=5), tick=False):
        order = paid_through("wechatpay", wechatpay, UserFactory(), client)
    with time_machine.travel(ARRIVED, tick=False):
        complaint_id = wechatpay.complain(order.number, "卡密无效", [])
        assert post(client, *wechatpay.complaint_notice(complaint_id)).status_code == 204
    if answer_after is not None:
        with time_machine.travel(ARRIVED + answer_after, tick=False):
            dispute_respond(
                dispute=Dispute.objects.get(order=order),
                merchant_user=order.merchant.owner,
                action="accept",
                remedy="refund",
            )
            channel_complaint_pushes_plan()
            for _round in range(4):
                channel_complaint_pushes_send()
    return order


def test_the_count_by_channel_and_the_median_time_to_the_first_reply(wechatpay, client):
    first = complained_and_answered(wechatpay, client, answer_after=timedelta(hours=1))
    complained_and_answered(wechatpay, client, answer_after=timedelta(hours=3))
    complained_and_answered(wechatpay, client, answer_after=None)  # not replied yet

    day = (ARRIVED - timedelta(hours=1), ARRIVED + timedelta(hours=1))
    figures = channel_complaint_figures(*day)
    assert figures == {
        "channel_complaints": 3,
        "by_channel": {"wechatpay": 3},
        "replied": 2,
        "median_first_reply_seconds": 2 * 3600,  # the middle of 1 h and 3 h
    }
    shop = channel_complaint_figures(*day, merchant_id=first.merchant_id)
    assert (shop["channel_complaints"], shop["median_first_reply_seconds"]) == (1, 3600)
    # Out of the range: none.
    later = channel_complaint_figures(ARRIVED + timedelta(hours=1), ARRIVED + timedelta(days=1))
    assert later["channel_complaints"] == 0 and later["median_first_reply_seconds"] is None


def test_the_staff_metrics_show_them_beside_the_daily_figures(wechatpay, client):
    order = complained_and_answered(wechatpay, client, answer_after=timedelta(minutes=90))
    staff = StaffFactory(perms=["disputes.view_metrics"])
    client.force_login(staff)
    with time_machine.travel(ARRIVED + timedelta(days=1), tick=False):
        body = client.get("/api/v1/staff/metrics/?from=2026-12-07&to=2026-12-07").json()
        assert body["channel_complaints"] == {
            "channel_complaints": 1,
            "by_channel": {"wechatpay": 1},
            "replied": 1,
            "median_first_reply_seconds": 5400,
        }
        other = client.get(
            f"/api/v1/staff/metrics/?from=2026-12-07&to=2026-12-07&merchant={order.merchant_id + 1}"
        )
        if other.status_code == 200:  # (an unknown shop may be refused by the range form)
            assert other.json()["channel_complaints"]["channel_complaints"] == 0
        with translation.override("zh-hans"):
            page = client.get(
                "/admin/disputes/metrics/?from=2026-12-07&to=2026-12-07",
                HTTP_ACCEPT_LANGUAGE="zh-hans",
            )
    assert page.status_code == 200
    text = page.content.decode()
    assert "支付渠道投诉" in text
    assert "1.5" in text and "微信支付 1" in text


def test_the_shops_public_record_counts_them(wechatpay, client):
    order = complained_and_answered(wechatpay, client, answer_after=timedelta(hours=2))
    # A shop the public may look up: active and verified (the tests' shop is not).
    Merchant.objects.filter(pk=order.merchant_id).update(
        status=MerchantStatus.ACTIVE, suspension_reason="", verified_at=ARRIVED
    )
    with time_machine.travel(ARRIVED + timedelta(days=2), tick=False):
        record = shop_record(order.merchant_id, 7, fresh=True)
        assert (record["channel_complaints"], record["channel_first_reply_seconds"]) == (1, 7200)
        public = client.get(f"/api/v1/shops/{order.merchant_id}/record/").json()
        assert (public["channel_complaints"], public["channel_first_reply_seconds"]) == (1, 7200)
        # The record's table (the shop page shows it once the shop has enough orders).
        with translation.override("zh-hans"):
            table = render_to_string("disputes/_shop_record_table.html", {"record": record})
    assert "支付渠道投诉" in table
    assert "渠道上首次回复用时中位数：2 小时" in table
    with time_machine.travel(ARRIVED + timedelta(days=10), tick=False):
        assert shop_record(order.merchant_id, 7, fresh=True)["channel_complaints"] == 0
        assert shop_record(order.merchant_id, 30, fresh=True)["channel_complaints"] == 1
