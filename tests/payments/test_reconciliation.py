"""Reconciliation (docs/reconciliation.md): each emulated channel serves its bill in its
documented shape (Alipay: a zip of GBK CSVs; WeChat Pay: a gzipped backtick CSV with its SHA1
in the signed answer), and the day's payments and refunds are compared with the ledger: matched,
missing on either side, a different amount, a refund without a payout — listed for finance; the
same rows when run twice; `check_ledger` reports the day until it is reconciled clean."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from escrow import services as escrow_services
from escrow.models import (
    Payout,
    PayoutStatus,
    ReconciliationItem,
    ReconciliationResult,
    ReconciliationRun,
    ReconciliationStatus,
)
from escrow.selectors import unreconciled_days
from escrow.services.reconciliation import SHANGHAI
from orders.channels.bills import BillError, parse_alipay_bill, parse_wechat_bill
from orders.models import Payment, PaymentStatus
from orders.payments import out_refund_number
from tests.factories import CardKeyFactory, OrderFactory, ProductFactory, UserFactory
from tests.payments.test_refunds import paid_through

pytestmark = pytest.mark.django_db


def today():
    return timezone.now().astimezone(SHANGHAI).date()


def rows(day):
    return sorted(
        (i.kind, i.result, i.out_trade_no, i.refund_number, i.ledger_amount, i.bill_amount)
        for i in ReconciliationItem.objects.filter(run__day=day)
    )


def reconcile(day, channel):
    out = io.StringIO()
    call_command("reconcile", "--date", day.isoformat(), "--channel", channel, stdout=out)
    return out.getvalue()


def check_ledger():
    out = io.StringIO()
    try:
        call_command("check_ledger", stdout=out)
    except CommandError:
        return False, out.getvalue()
    return True, out.getvalue()


def paid_at_the_channel_only(channel, gateway, client):
    """The buyer paid at the channel, and neither its notice nor the sweep reached us."""
    buyer = UserFactory()
    product = ProductFactory(price=Decimal("8.00"))
    CardKeyFactory(product=product)
    order = OrderFactory(product=product, merchant=product.merchant, buyer=buyer)
    client.force_login(buyer)
    client.post(reverse("orders:pay", args=[order.number]), {"channel": channel})
    if channel == "alipay":
        gateway._page("", {"out_trade_no": order.number, "total_amount": "8.00"}, {})
    gateway.pay(order.number)
    return order


@pytest.mark.parametrize("channel", ["alipay", "wechatpay"])
def test_the_days_bill_against_the_ledger_every_kind_of_difference_listed(channel, request, client):
    gateway = request.getfixturevalue(channel)
    buyer = UserFactory()
    matched = paid_through(channel, gateway, buyer, client)  # paid, then a payout refunded
    escrow_services.compensation_pay(dispute_id=1, order=matched, amount=Decimal("12.50"))
    payout = Payout.objects.get()
    escrow_services.payout_send(payout_id=payout.pk)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SENT

    wrong = paid_through(channel, gateway, UserFactory(), client)  # the bill says 29.00
    if channel == "alipay":
        gateway.trades[wrong.number]["bill_amount"] = "29.00"
    else:
        gateway.trades[wrong.number]["bill_total"] = 2900
    forced = paid_through(channel, gateway, UserFactory(), client)  # the channel refunded
    if channel == "alipay":
        gateway.forced_refund(forced.number, "30.00", "ALIPAY-COMPLAINT-1")
    else:
        gateway.forced_refund(forced.number, 3000, "WXCOMPLAINT1")
    unknown = paid_at_the_channel_only(channel, gateway, client)
    ghost = Payment.objects.create(  # the ledger has it; the channel never saw it
        order=None,
        payer=buyer,
        purpose="topup",
        channel=channel,
        reference="GHOST0001",
        amount=Decimal("100.00"),
        status=PaymentStatus.SUCCEEDED,
    )

    day = today()
    output = reconcile(day, channel)
    assert f"{channel} {day}: differences, 3 matched, 4 difference(s)" in output
    run = ReconciliationRun.objects.get(channel=channel, day=day)
    assert run.status == ReconciliationStatus.DIFFERENCES
    first = rows(day)
    assert first == sorted(
        [
            ("payment", "matched", matched.number, "", Decimal("30.00"), Decimal("30.00")),
            (
                "refund",
                "matched",
                matched.number,
                out_refund_number(payout.key),
                Decimal("12.50"),
                Decimal("12.50"),
            ),
            ("payment", "amount_differs", wrong.number, "", Decimal("30.00"), Decimal("29.00")),
            ("payment", "matched", forced.number, "", Decimal("30.00"), Decimal("30.00")),
            (
                "refund",
                "refund_without_payout",
                forced.number,
                "ALIPAY-COMPLAINT-1" if channel == "alipay" else "WXCOMPLAINT1",
                None,
                Decimal("30.00"),
            ),
            ("payment", "missing_in_ledger", unknown.number, "", None, Decimal("8.00")),
            ("payment", "missing_in_bill", "", "", Decimal("100.00"), None),
        ]
    )
    assert (run.matched, run.differences) == (3, 4)
    ghost_row = ReconciliationItem.objects.get(reference=ghost.reference)
    assert "GHOST0001" in ghost_row.ledger_row and ghost_row.bill_row == {}
    bill_side = ReconciliationItem.objects.get(result="amount_differs").bill_row
    assert bill_side  # the bill's own row, for finance to read beside the ledger's

    # Idempotent: the same bill and ledger give the same rows, not twice as many.
    reconcile(day, channel)
    assert rows(day) == first
    assert ReconciliationRun.objects.get(pk=run.pk).runs == 2

    # The next day, check_ledger names the day until it is reconciled clean.
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        ok, report = check_ledger()
        assert not ok
        assert f"{channel} {day.isoformat()}: 4 difference(s)" in report


def test_check_ledger_reports_a_day_never_reconciled_and_a_clean_day_passes(alipay, client):
    order = paid_through("alipay", alipay, UserFactory(), client)
    day = today()
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        ok, report = check_ledger()
        assert not ok
        assert f"alipay {day.isoformat()}: not reconciled" in report
        assert [d.day for d in unreconciled_days()] == [day]
        reconcile(day, "alipay")
        ok, report = check_ledger()
        assert ok, report
        assert "ok    every past day's channel bill reconciled" in report
    item = ReconciliationItem.objects.get()
    assert (item.result, item.out_trade_no) == (ReconciliationResult.MATCHED, order.number)


def test_a_bill_the_channel_does_not_give_leaves_the_day_unreconciled(wechatpay, client):
    paid_through("wechatpay", wechatpay, UserFactory(), client)
    wechatpay.down = True
    with pytest.raises(CommandError, match="could not be had"):
        reconcile(today(), "wechatpay")
    run = ReconciliationRun.objects.get()
    assert run.status == ReconciliationStatus.FAILED and run.error
    wechatpay.down = False
    reconcile(today(), "wechatpay")
    assert ReconciliationRun.objects.get().status == ReconciliationStatus.CLEAN


def test_the_wechat_bill_is_checked_against_its_signed_sha1(wechatpay, client):
    paid_through("wechatpay", wechatpay, UserFactory(), client)

    class Tampered(dict):  # the file served is not the one the signed answer hashed
        def __setitem__(self, key, value):
            super().__setitem__(key, value.replace(b"`30.00", b"`3.00"))

    wechatpay.bills = Tampered()
    with pytest.raises(CommandError):
        reconcile(today(), "wechatpay")
    assert "SHA1" in ReconciliationRun.objects.get().error
    assert not ReconciliationItem.objects.exists()


def test_the_command_refuses_a_bad_date_and_an_unknown_channel(alipay):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("reconcile", "--date", "2026-13-01")
    with pytest.raises(CommandError, match="not configured"):
        call_command("reconcile", "--date", "2026-12-01", "--channel", "unionpay")


def test_the_parsers_refuse_what_is_not_the_documented_shape():
    with pytest.raises(BillError):
        parse_alipay_bill(b"not a zip")
    with pytest.raises(BillError):
        parse_wechat_bill("交易时间,商户号\n`x,`y\n".encode())


def test_the_daily_task_reconciles_yesterday(alipay, client):
    paid_through("alipay", alipay, UserFactory(), client)
    day = today()
    from escrow.tasks import reconcile_yesterday

    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert reconcile_yesterday() == [f"alipay {day}: clean"]
    # Finance reads the runs and the rows in the admin.
    staff = User.objects.create_superuser("finance-recon", "f@example.com", "x")
    client.force_login(staff)
    page = client.get(reverse("admin:escrow_reconciliationrun_changelist"))
    assert page.status_code == 200 and day.isoformat() in page.content.decode()
    page = client.get(
        reverse("admin:escrow_reconciliationitem_changelist") + "?result__exact=matched"
    )
    assert page.status_code == 200
