"""Complaints the buyer files on WeChat Pay (消费者投诉 2.0), against the emulator: the signed,
encrypted complaint notice is verified like a payment notice, the complaint's detail and images
are fetched from the channel, and the order's platform case is opened through the filing
service (the buyer the order's), the images kept as evidence with their SHA-256 and the origin
on the timeline; a forged or stale notice is refused and records nothing."""

from __future__ import annotations

import hashlib
import io
import time

import pytest
from PIL import Image

from disputes.models import Dispute, DisputeEvent, EventType, Evidence, Status
from orders.models import ChannelComplaint
from tests.factories import UserFactory
from tests.payments.conftest import key
from tests.payments.test_refunds import paid_through

pytestmark = pytest.mark.django_db

NOTIFY = "/api/v1/payments/wechatpay/complaints/notify/"


def jpeg(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def post(client, headers, body):
    return client.post(NOTIFY, body, content_type="application/json", headers=headers)


def test_a_wechat_complaint_opens_the_orders_case_with_its_images_as_evidence(wechatpay, client):
    buyer = UserFactory()
    order = paid_through("wechatpay", wechatpay, buyer, client)
    images = [jpeg("red"), jpeg("blue")]
    complaint_id = wechatpay.complain(order.number, "卡密提示已被使用，商家不回复", images)

    response = post(client, *wechatpay.complaint_notice(complaint_id))
    assert response.status_code == 204, response.content

    complaint = ChannelComplaint.objects.get()
    assert (complaint.channel, complaint.complaint_id, complaint.order) == (
        "wechatpay",
        complaint_id,
        order,
    )
    assert [i["sha256"] for i in complaint.images] == [
        hashlib.sha256(i).hexdigest() for i in images
    ]
    assert complaint.reply_due and complaint.complete_due
    dispute = Dispute.objects.get(pk=complaint.case_id)
    assert (dispute.order, dispute.buyer, dispute.status) == (
        order,
        buyer,
        Status.AWAITING_MERCHANT,
    )
    assert complaint_id in dispute.description
    assert "卡密提示已被使用" in dispute.description
    stored = sorted(
        Evidence.objects.filter(dispute=dispute, role="buyer").values_list("sha256", flat=True)
    )
    assert stored == sorted(hashlib.sha256(i).hexdigest() for i in images)
    # (the other note says the channel's earlier first-reply deadline now runs)
    origin = DisputeEvent.objects.exclude(data__has_key="deadline").get(
        dispute=dispute, type=EventType.NOTE
    )
    assert origin.data == {"origin": "wechatpay", "complaint_id": complaint_id}
    # The documented calls, signed (the emulator refuses an unsigned one with 401).
    paths = [c["path"] for c in wechatpay.calls if "merchant-service" in c["path"]]
    assert paths[0] == f"/v3/merchant-service/complaints-v2/{complaint_id}"
    assert len([p for p in paths if "/images/" in p]) == 2

    # The channel sends it again (or the buyer adds to it): still one complaint, one case.
    response = post(client, *wechatpay.complaint_notice(complaint_id, action_type="CONTINUE"))
    assert response.status_code == 204
    assert ChannelComplaint.objects.count() == 1
    assert Dispute.objects.count() == 1


def test_a_wechat_complaint_joins_the_case_the_buyer_already_opened(wechatpay, client):
    buyer = UserFactory()
    order = paid_through("wechatpay", wechatpay, buyer, client)
    first_id = wechatpay.complain(order.number, "第一次", [])
    post(client, *wechatpay.complaint_notice(first_id))
    case = Dispute.objects.get()
    second_id = wechatpay.complain(order.number, "又投诉了一次", [jpeg("green")])
    assert post(client, *wechatpay.complaint_notice(second_id)).status_code == 204
    assert Dispute.objects.count() == 1
    second = ChannelComplaint.objects.get(complaint_id=second_id)
    assert (second.case_id, second.case_note) == (case.pk, "joined")
    assert Evidence.objects.filter(dispute=case, role="buyer").count() == 1


@pytest.mark.parametrize("forgery", ["wrong key", "stale", "tampered"])
def test_a_forged_complaint_notice_is_refused_and_records_nothing(wechatpay, client, forgery):
    order = paid_through("wechatpay", wechatpay, UserFactory(), client)
    complaint_id = wechatpay.complain(order.number, "假的", [])
    if forgery == "wrong key":
        headers, body = wechatpay.complaint_notice(complaint_id, key=key("forger"))
    elif forgery == "stale":
        headers, body = wechatpay.complaint_notice(complaint_id, stamp=int(time.time()) - 600)
    else:
        headers, body = wechatpay.complaint_notice(complaint_id)
        body = body.replace(b"COMPLAINT.CREATE", b"COMPLAINT.UPDATE")
    response = post(client, headers, body)
    assert response.status_code == 400
    assert response.json()["code"] == "FAIL"
    assert not ChannelComplaint.objects.exists()
    assert not Dispute.objects.exists()
    assert not [c for c in wechatpay.calls if "complaints-v2" in c["path"]]


def test_the_channel_down_while_fetching_the_complaint_answers_fail_so_it_retries(
    wechatpay, client
):
    order = paid_through("wechatpay", wechatpay, UserFactory(), client)
    complaint_id = wechatpay.complain(order.number, "稍后再来", [jpeg("red")])
    headers, body = wechatpay.complaint_notice(complaint_id)
    wechatpay.down = True
    assert post(client, headers, body).status_code == 400
    assert not ChannelComplaint.objects.exists()
    wechatpay.down = False
    assert post(client, *wechatpay.complaint_notice(complaint_id)).status_code == 204
    assert Dispute.objects.count() == 1
