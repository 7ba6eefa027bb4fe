"""Complaints the buyer files on Alipay (交易投诉), against the emulator: the RSA2-signed
`alipay.merchant.tradecomplain.changed` message is verified like a payment notice (python-
alipay-sdk's verify, the app id), the detail fetched by `alipay.merchant.tradecomplain.query`
(the answer's signature verified), and the order's case opened or joined through the same
service as WeChat Pay's; a forged, another app's or a replayed message changes nothing."""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from disputes.models import Dispute, DisputeEvent, EventType, Evidence, Status
from disputes.services import dispute_respond
from disputes.services.channel_complaints import channel_complaint_pushes_plan
from orders.models import ChannelComplaint
from orders.services.channel_complaints import channel_complaint_pushes_send
from tests.factories import UserFactory
from tests.payments.conftest import key
from tests.payments.test_channel_complaints import jpeg
from tests.payments.test_refunds import paid_through

pytestmark = pytest.mark.django_db

NOTIFY = "/api/v1/payments/alipay/complaints/notify/"


def post(client, body):
    return client.post(NOTIFY, body, content_type="application/x-www-form-urlencoded")


def test_an_alipay_complaint_opens_the_orders_case_with_origin_alipay(alipay, client):
    buyer = UserFactory()
    order = paid_through("alipay", alipay, buyer, client)
    images = [jpeg("red")]
    event_id = alipay.complain(
        order.number, "充值卡密提示无效", images, overdue="2026-12-08 10:00:00"
    )

    response = post(client, alipay.complaint_notice(event_id))
    assert (response.status_code, response.content) == (200, b"success")

    complaint = ChannelComplaint.objects.get()
    assert (complaint.channel, complaint.complaint_id, complaint.order) == (
        "alipay",
        event_id,
        order,
    )
    assert complaint.out_trade_no == order.number
    assert complaint.reference == alipay.trades[order.number]["trade_no"]
    assert str(complaint.amount) == "30.00"
    assert "充值卡密提示无效" in complaint.text
    assert complaint.state == "MERCHANT_PROCESSING"
    assert [i["sha256"] for i in complaint.images] == [hashlib.sha256(images[0]).hexdigest()]
    # Alipay's deadline, written in Beijing time.
    assert complaint.reply_due == datetime(2026, 12, 8, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    dispute = Dispute.objects.get(pk=complaint.case_id)
    assert (dispute.order, dispute.buyer, dispute.status) == (
        order,
        buyer,
        Status.AWAITING_MERCHANT,
    )
    assert event_id in dispute.description
    assert list(
        Evidence.objects.filter(dispute=dispute, role="buyer").values_list("sha256", flat=True)
    ) == [hashlib.sha256(images[0]).hexdigest()]
    assert DisputeEvent.objects.filter(
        dispute=dispute,
        type=EventType.NOTE,
        data={"origin": "alipay", "complaint_id": event_id},
    ).exists()
    client.force_login(buyer)
    detail = client.get(f"/api/v1/disputes/{dispute.number}/").json()
    assert (detail["origin"], detail["origin_complaint_id"]) == ("alipay", event_id)
    # The documented call, signed by the app's key (the emulator refuses an unsigned one).
    queried = [
        c
        for c in alipay.calls
        if c.get("params", {}).get("method", "").startswith("alipay.merchant.tradecomplain")
    ]
    assert [c["biz_content"] for c in queried] == [{"complain_event_id": event_id}]


def test_an_alipay_complaint_joins_the_case_the_buyer_already_opened(alipay, client):
    order = paid_through("alipay", alipay, UserFactory(), client)
    first = alipay.complain(order.number, "第一次", [])
    assert post(client, alipay.complaint_notice(first)).content == b"success"
    case = Dispute.objects.get()
    second = alipay.complain(order.number, "又来一次", [jpeg("blue")])
    assert post(client, alipay.complaint_notice(second)).content == b"success"
    assert Dispute.objects.count() == 1
    joined = ChannelComplaint.objects.get(complaint_id=second)
    assert (joined.case_id, joined.case_note) == (case.pk, "joined")


@pytest.mark.parametrize("forgery", ["wrong key", "wrong app", "not a complaint", "tampered"])
def test_a_forged_alipay_complaint_notice_is_refused_and_records_nothing(alipay, client, forgery):
    order = paid_through("alipay", alipay, UserFactory(), client)
    event_id = alipay.complain(order.number, "假的", [])
    if forgery == "wrong key":
        body = alipay.complaint_notice(event_id, key=key("forger"))
    elif forgery == "wrong app":
        body = alipay.complaint_notice(event_id, app_id="2021000000009999")
    elif forgery == "not a complaint":
        body = alipay.complaint_notice(event_id, msg_method="alipay.trade.refund.depositback")
    else:
        other = alipay.complain(order.number, "另一笔", [])
        body = alipay.complaint_notice(event_id).replace(event_id.encode(), other.encode())
    response = post(client, body)
    assert (response.status_code, response.content) == (400, b"fail")
    assert not ChannelComplaint.objects.exists()
    assert not Dispute.objects.exists()
    assert not [
        c
        for c in alipay.calls
        if c.get("params", {}).get("method") == "alipay.merchant.tradecomplain.query"
    ]


def test_a_replayed_alipay_complaint_notice_is_harmless(alipay, client):
    order = paid_through("alipay", alipay, UserFactory(), client)
    event_id = alipay.complain(order.number, "重复推送", [jpeg("green")])
    body = alipay.complaint_notice(event_id)
    assert post(client, body).content == b"success"
    alipay.complaints[event_id]["status"] = "MERCHANT_FEEDBACKED"
    assert post(client, body).content == b"success"  # the very same message again
    assert post(client, alipay.complaint_notice(event_id)).content == b"success"
    assert ChannelComplaint.objects.count() == 1
    assert Dispute.objects.count() == 1
    assert Evidence.objects.filter(role="buyer").count() == 1
    assert ChannelComplaint.objects.get().state == "MERCHANT_FEEDBACKED"


def test_alipay_down_while_fetching_answers_fail_so_it_sends_again(alipay, client):
    order = paid_through("alipay", alipay, UserFactory(), client)
    event_id = alipay.complain(order.number, "稍后", [])
    body = alipay.complaint_notice(event_id)
    alipay.down = True
    assert post(client, body).content == b"fail"
    alipay.down = False
    assert not ChannelComplaint.objects.exists()
    assert post(client, body).content == b"success"
    assert Dispute.objects.count() == 1


def test_the_platforms_answer_and_outcome_go_back_to_alipay_once(alipay, client):
    order = paid_through("alipay", alipay, UserFactory(), client)
    event_id = alipay.complain(order.number, "卡密无效", [])
    assert post(client, alipay.complaint_notice(event_id)).content == b"success"
    case = Dispute.objects.get()
    dispute_respond(
        dispute=case, merchant_user=order.merchant.owner, action="accept", remedy="refund"
    )
    assert channel_complaint_pushes_plan() == 4
    for _round in range(4):
        channel_complaint_pushes_send()
    told = [
        (c["params"]["method"].removeprefix("alipay.merchant.tradecomplain."), c["biz_content"])
        for c in alipay.calls
        if c.get("params", {}).get("method", "").endswith(".submit")
    ]
    assert [method for method, _biz in told] == [
        "reply.submit",  # the shop answered
        "reply.submit",  # the refund (Alipay has no refund decision call of its own)
        "reply.submit",  # the outcome
        "feedback.submit",  # complete
    ]
    assert all(biz["complain_event_id"] == event_id for _m, biz in told)
    assert told[2][1]["reply_content"] == f"投诉 {case.number} 已处理完毕：已向买家退款 ¥30.00。"
    complaint = ChannelComplaint.objects.get()
    assert complaint.replied_at and complaint.completed_at
    assert channel_complaint_pushes_plan() == 0
    assert channel_complaint_pushes_send() == 0
