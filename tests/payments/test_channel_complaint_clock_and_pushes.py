"""A complaint filed on WeChat Pay joins the case's clock (the earlier of the platform's and
the channel's first-reply deadline runs) and the platform's answers go back to the channel
through the outbox: a reply when the shop answers, the refund decision when the case pays the
buyer, a reply with the result and complete when it ends — each once, in that order, retried
while the channel is down (docs/channel-complaints.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from disputes.models import Dispute, DisputeEvent, EventType, Status
from disputes.services import dispute_respond
from disputes.services.channel_complaints import channel_complaint_pushes_plan
from disputes.services.sweep import deadlines_sweep
from orders.models import ChannelComplaint, ChannelComplaintPush
from orders.services.channel_complaints import channel_complaint_pushes_send
from tests.disputes.factories import file as file_complaint
from tests.factories import UserFactory
from tests.payments.test_channel_complaints import post
from tests.payments.test_refunds import paid_through

pytestmark = pytest.mark.django_db

# The emulator's complaints are filed at 2026-12-07 18:00 Beijing time (10:00 UTC).
FILED = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def merchant_paths(gateway, complaint_id):
    prefix = f"/v3/merchant-service/complaints-v2/{complaint_id}/"
    return [c["path"].removeprefix(prefix) for c in gateway.calls if c["path"].startswith(prefix)]


def test_the_channels_earlier_deadline_runs_and_is_said_on_the_timeline(wechatpay, client):
    with time_machine.travel(FILED + timedelta(hours=5), tick=True):
        order = paid_through("wechatpay", wechatpay, UserFactory(), client)
        complaint_id = wechatpay.complain(order.number, "不回复", [])
        assert post(client, *wechatpay.complaint_notice(complaint_id)).status_code == 204
        complaint = ChannelComplaint.objects.get()
        case = Dispute.objects.get(pk=complaint.case_id)
        # The platform's own would be 24 h from filing (15:00 UTC tomorrow); WeChat Pay's
        # first reply is due 24 h after the buyer complained there (10:00 UTC tomorrow).
        assert complaint.reply_due == FILED + timedelta(hours=24)
        assert case.merchant_response_due == complaint.reply_due
        assert case.merchant_response_due < timezone.now() + timedelta(hours=23)
        note = DisputeEvent.objects.get(dispute=case, data__deadline="merchant_response_due")
        assert note.data["complaint_id"] == complaint_id

    # The sweep enforces it at the channel's time, not the platform's.
    with time_machine.travel(complaint.reply_due + timedelta(minutes=1), tick=False):
        deadlines_sweep()
    case.refresh_from_db()
    assert case.status != Status.AWAITING_MERCHANT
    assert DisputeEvent.objects.filter(dispute=case, type=EventType.DEFAULT_JUDGMENT).exists()


def test_a_later_channel_deadline_leaves_the_platforms_running(wechatpay, client):
    with time_machine.travel(FILED - timedelta(hours=3), tick=True):
        order = paid_through("wechatpay", wechatpay, UserFactory(), client)
        complaint_id = wechatpay.complain(order.number, "第一次", [])
        # The buyer opened the case on the platform 3 h before complaining on the channel.
        case = file_complaint(order=order, buyer=order.buyer)
        platform_due = case.merchant_response_due
    with time_machine.travel(FILED + timedelta(minutes=1), tick=True):
        assert post(client, *wechatpay.complaint_notice(complaint_id)).status_code == 204
    case.refresh_from_db()
    assert case.merchant_response_due == platform_due
    assert not DisputeEvent.objects.filter(dispute=case, data__deadline="merchant_response_due")


def test_the_platforms_answer_and_outcome_go_back_to_the_channel_once(wechatpay, client):
    with time_machine.travel(FILED + timedelta(hours=1), tick=True):
        order = paid_through("wechatpay", wechatpay, UserFactory(), client)
        complaint_id = wechatpay.complain(order.number, "卡密无效", [])
        assert post(client, *wechatpay.complaint_notice(complaint_id)).status_code == 204
        case = Dispute.objects.get()
        assert channel_complaint_pushes_plan() == 0  # nothing to say yet

        # The shop accepts on the platform: the case refunds the buyer and ends.
        dispute_respond(
            dispute=case, merchant_user=order.merchant.owner, action="accept", remedy="refund"
        )
        case.refresh_from_db()
        assert case.status == Status.RESOLVED and case.paid_out > 0

        wechatpay.down = True
        assert channel_complaint_pushes_plan() == 4
        assert channel_complaint_pushes_plan() == 0  # planned again: nothing twice
        assert channel_complaint_pushes_send() == 0
        failed = ChannelComplaintPush.objects.order_by("pk").first()
        assert failed.attempts == 1 and failed.last_error
        assert failed.next_try_at > timezone.now()
        # The rows after it wait for it: the channel hears them in order.
        assert ChannelComplaintPush.objects.filter(attempts=0).count() == 3

    wechatpay.down = False
    with time_machine.travel(FILED + timedelta(hours=2), tick=True):
        for _round in range(4):
            channel_complaint_pushes_send()
    assert merchant_paths(wechatpay, complaint_id) == [
        "response",
        "update-refund-progress",
        "response",
        "complete",
    ]
    stored = wechatpay.complaints[complaint_id]
    assert stored["responses"][0]["response_content"].startswith("商家已在平台回复")
    assert (
        stored["responses"][1]["response_content"]
        == f"投诉 {case.number} 已处理完毕：已向买家退款 ¥30.00。"
    )
    assert stored["refund_progress"][0]["action"] == "APPROVE"
    assert stored["completed"] is True
    complaint = ChannelComplaint.objects.get()
    assert complaint.replied_at and complaint.completed_at
    assert not ChannelComplaintPush.objects.filter(sent_at__isnull=True).exists()

    # Sending and planning again tells the channel nothing more.
    calls = len(wechatpay.calls)
    assert channel_complaint_pushes_plan() == 0
    assert channel_complaint_pushes_send() == 0
    assert len(wechatpay.calls) == calls
