"""A refund WeChat Pay forces for a complaint filed there, after the platform's own payout:
reconciliation finds it in the bill, books it on the order like any other refund, the order
may give back nothing more, a later ruling pays the buyer nothing twice, and check_ledger is
clean (PostgreSQL: the money tests run on it)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction

from disputes.models import Dispute
from disputes.services import dispute_respond
from disputes.services.money import headroom_fen
from escrow import services as escrow_services
from escrow.models import Payout, PayoutStatus, ReconciliationRun, ReconciliationStatus
from escrow.services.reconciliation import SHANGHAI
from orders.models import ChannelComplaint, OrderStatus, Refund
from tests.disputes.factories import file as file_complaint
from tests.factories import UserFactory
from tests.payments.test_channel_complaints import post
from tests.payments.test_refunds import paid_through

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FILED = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def headroom(order):
    with transaction.atomic():  # it locks the order, as settle does
        return headroom_fen([order.pk])[order.pk]


def test_a_channel_forced_refund_after_a_platform_payout_leaves_headroom_at_zero(wechatpay, client):
    with time_machine.travel(FILED + timedelta(hours=1), tick=True):
        order = paid_through("wechatpay", wechatpay, UserFactory(), client)
        case = file_complaint(order=order, buyer=order.buyer, claimed_amount=Decimal("10.00"))
        complaint_id = wechatpay.complain(order.number, "还要退剩下的钱", [])
        assert post(client, *wechatpay.complaint_notice(complaint_id)).status_code == 204
        assert ChannelComplaint.objects.get().case_id == case.pk

        # The platform pays its part first (the shop accepts the 10.00 claim)…
        dispute_respond(
            dispute=case, merchant_user=order.merchant.owner, action="accept", remedy="refund"
        )
        payout = Payout.objects.get()
        escrow_services.payout_send(payout_id=payout.pk)
        payout.refresh_from_db()
        assert payout.status == PayoutStatus.SENT
        assert headroom(order) == 2000

        # …then WeChat Pay refunds the rest by itself for the complaint filed there.
        wechatpay.forced_refund(order.number, 2000, "WXCOMPLAINT1")
        day = datetime.now(SHANGHAI).date()
        call_command("reconcile", "--date", day.isoformat(), stdout=io.StringIO())
        run = ReconciliationRun.objects.get(channel="wechatpay", day=day)
        assert run.status == ReconciliationStatus.CLEAN, list(run.items.values())

        forced = Refund.objects.get(idempotency_key="WXCOMPLAINT1")
        assert forced.amount == Decimal("20.00")
        order.refresh_from_db()
        assert (order.refunded_amount, order.refund_reserved) == (Decimal("30.00"), 0)
        assert order.status == OrderStatus.REFUNDED
        assert headroom(order) == 0

        # Run again: booked once.
        call_command("reconcile", "--date", day.isoformat(), stdout=io.StringIO())
        assert Refund.objects.filter(payment__order=order).count() == 2

        out = io.StringIO()
        call_command("check_ledger", stdout=out)
        assert "ledger clean" in out.getvalue()
        case.refresh_from_db()
        assert case.paid_out == Decimal("10.00")
        assert Dispute.objects.count() == 1
