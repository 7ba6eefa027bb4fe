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
from escrow.models import (
    Account,
    AccountKind,
    LedgerTransaction,
    Payout,
    PayoutStatus,
    ReconciliationRun,
    ReconciliationStatus,
    TransactionKind,
)
from escrow.services.reconciliation import SHANGHAI
from orders.models import ChannelComplaint, MerchantStatus, OrderStatus, Refund
from tests.disputes.factories import file as file_complaint
from tests.escrow.factories import balances
from tests.factories import StaffFactory, UserFactory
from tests.payments.test_channel_complaints import post
from tests.payments.test_refunds import paid_through

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FILED = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def headroom(order):
    with transaction.atomic():  # it locks the order, as settle does
        return headroom_fen([order.pk])[order.pk]


def deposit_fen(merchant) -> int:
    return Account.objects.get(kind=AccountKind.DEPOSIT, merchant=merchant).balance


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
        before = deposit_fen(order.merchant)
        recovered = LedgerTransaction.objects.get(key=f"dispute:{case.pk}:recovery")
        assert recovered.kind == TransactionKind.RECOVERY

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

        # The shop bears the forced refund too, from its deposit, through a recovery of its
        # own: 10.00 for the complaint's payout, 20.00 for the channel's — 30.00, the order.
        charged = LedgerTransaction.objects.get(
            key="channel-refund:wechatpay:WXCOMPLAINT1:recovery"
        )
        assert (charged.kind, charged.merchant_id) == (TransactionKind.RECOVERY, order.merchant_id)
        assert deposit_fen(order.merchant) == before - 2000 == 100000 - 1000 - 2000

        # Run again: booked once, charged once.
        call_command("reconcile", "--date", day.isoformat(), stdout=io.StringIO())
        assert Refund.objects.filter(payment__order=order).count() == 2
        assert deposit_fen(order.merchant) == before - 2000
        assert (
            LedgerTransaction.objects.filter(key__startswith="channel-refund:").count() == 2
        )  # the channel's refund out of the fund, and its recovery

        out = io.StringIO()
        call_command("check_ledger", stdout=out)
        assert "ledger clean" in out.getvalue()
        case.refresh_from_db()
        assert case.paid_out == Decimal("10.00")
        assert Dispute.objects.count() == 1


def test_a_forced_refund_the_deposit_cannot_cover_becomes_the_shops_debt(wechatpay, client):
    with time_machine.travel(FILED + timedelta(hours=1), tick=True):
        order = paid_through("wechatpay", wechatpay, UserFactory(), client)
        # Finance took all but 5.00 of the deposit back out (a correction).
        escrow_services.adjustment_post(
            merchant=order.merchant,
            amount=Decimal("-995.00"),
            reason="test: most of the deposit returned",
            staff=StaffFactory(perms=["escrow.post_adjustment"]),
            counterpart=AccountKind.BANK,
        )
        complaint_id = wechatpay.complain(order.number, "卡密无效，渠道退款", [])
        assert post(client, *wechatpay.complaint_notice(complaint_id)).status_code == 204
        case = Dispute.objects.get(order=order)
        left = balances(order.merchant)["deposit"] - balances(order.merchant)["held"]

        wechatpay.forced_refund(order.number, 3000, "WXCOMPLAINT2")
        day = datetime.now(SHANGHAI).date()
        for _run in range(2):
            call_command("reconcile", "--date", day.isoformat(), stdout=io.StringIO())
        assert ReconciliationRun.objects.get(channel="wechatpay", day=day).status == (
            ReconciliationStatus.CLEAN
        )
        after = balances(order.merchant)
        # What was not held is taken, the rest owed; the case's own hold stays for the case.
        assert after["receivable"] == -(3000 - left)
        assert after["deposit"] - after["held"] == 0
        order.merchant.refresh_from_db()
        assert order.merchant.status == MerchantStatus.SUSPENDED
        assert headroom(order) == 0
        case.refresh_from_db()
        assert case.paid_out == 0

        out = io.StringIO()
        call_command("check_ledger", stdout=out)
        assert "ledger clean" in out.getvalue(), out.getvalue()
