"""Refunds by the original route (原路退回): a compensation payout goes back through the channel
and the trade the buyer paid with, its ledger key as the channel's refund number, so a payout
retried after a timeout refunds once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from escrow import services as escrow_services
from escrow.models import Payout, PayoutStatus
from orders.models import OrderStatus, Refund
from orders.payments import out_refund_number
from tests.escrow.factories import assert_ledger_clean, funded_merchant
from tests.factories import CardKeyFactory, OrderFactory, ProductFactory

NOTIFY = {
    "alipay": "/api/v1/payments/alipay/notify/",
    "wechatpay": "/api/v1/payments/wechatpay/notify/",
}


def paid_through(channel, gateway, buyer, client):
    """An order of a funded shop, paid through `channel` as a buyer pays: the pay page, the
    channel's page, its notice."""
    merchant = funded_merchant("1000.00")
    product = ProductFactory(merchant=merchant, price=Decimal("30.00"))
    CardKeyFactory(product=product)
    order = OrderFactory(product=product, merchant=merchant, buyer=buyer)
    client.force_login(buyer)
    client.post(reverse("orders:pay", args=[order.number]), {"channel": channel})
    if channel == "alipay":
        gateway._page("", {"out_trade_no": order.number, "total_amount": "30.00"}, {})
        gateway.pay(order.number)
        response = client.post(
            NOTIFY[channel],
            gateway.notice(order.number),
            content_type="application/x-www-form-urlencoded",
        )
    else:
        gateway.pay(order.number)
        headers, body = gateway.notice(order.number)
        response = client.post(
            NOTIFY[channel], body, content_type="application/json", headers=headers
        )
    assert response.status_code in (200, 204)
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    return order


@pytest.mark.parametrize("channel", ["alipay", "wechatpay"])
def test_a_payout_retried_after_a_timeout_refunds_once(channel, request, buyer, client):
    gateway = request.getfixturevalue(channel)
    order = paid_through(channel, gateway, buyer, client)
    escrow_services.compensation_pay(dispute_id=1, order=order, amount=Decimal("12.50"))
    payout = Payout.objects.get()

    # The channel makes the refund, then answers after the client stopped waiting (1 s).
    gateway.refund_delay = 2.0
    escrow_services.payout_send(payout_id=payout.pk)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED
    assert payout.last_error
    assert len(gateway.refunds) == 1  # made at the channel all the same
    assert not Refund.objects.exists()

    escrow_services.payout_send(payout_id=payout.pk)  # the retry, same key, same number
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SENT
    assert len(gateway.refunds) == 1  # one refund in all
    refund = Refund.objects.get()
    assert refund.amount == Decimal("12.50")
    assert refund.payment.channel == channel
    assert refund.payment.reference == order.payment_reference  # the original trade
    order.refresh_from_db()
    assert (order.refunded_amount, order.refund_reserved) == (Decimal("12.50"), Decimal("0.00"))
    assert_ledger_clean()

    refund_calls = [c for c in gateway.calls if "refund" in str(c.get("path", c.get("params")))]
    assert len(refund_calls) == 2
    number = out_refund_number(payout.key)
    if channel == "alipay":
        for call in refund_calls:
            assert call["biz_content"] == {
                "trade_no": order.payment_reference,
                "refund_amount": "12.50",
                "out_request_no": number,
            }
    else:
        for call in refund_calls:
            assert call["body"] == {
                "out_refund_no": number,
                "amount": {"refund": 1250, "total": 3000, "currency": "CNY"},
                "transaction_id": order.payment_reference,
            }


def test_the_refund_number_is_the_ledger_key_in_the_channels_alphabet():
    assert out_refund_number("payout:42") == "payout|42"
    assert out_refund_number("order:KM2612070123456789:delivery-failed") == (
        "order|KM2612070123456789|delivery-failed"
    )
    long_key = "payment:" + "A" * 64 + ":duplicate"
    assert out_refund_number(long_key) == out_refund_number(long_key)
    assert len(out_refund_number(long_key)) <= 64
