"""A merchant's deposit top-up and the buyer's pay API through a real channel: nothing is
credited or paid at the request, only when the channel confirms."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse
from rest_framework.test import APIClient

from escrow.models import AccountKind
from orders.models import OrderStatus, PaymentIntent
from tests.escrow.factories import assert_ledger_clean, balances, funded_merchant

NOTIFY = "/api/v1/payments/wechatpay/notify/"


def test_a_deposit_top_up_through_wechat_pay_is_credited_when_the_channel_confirms(
    wechatpay, client, db
):
    merchant = funded_merchant("100.00")
    client.force_login(merchant.owner)
    before = balances(merchant)[AccountKind.DEPOSIT]
    response = client.post(
        reverse("merchant:deposit"),
        {"action": "topup", "amount": "50.00", "channel": "wechatpay"},
    )
    assert response.status_code == 200
    intent = PaymentIntent.objects.get()
    assert (intent.purpose, intent.merchant, intent.amount) == (
        "topup",
        merchant,
        Decimal("50.00"),
    )
    assert intent.code_url in response.content.decode()
    assert balances(merchant)[AccountKind.DEPOSIT] == before  # asked, not paid

    wechatpay.pay(intent.out_trade_no)
    headers, body = wechatpay.notice(intent.out_trade_no)
    assert (
        client.post(NOTIFY, body, content_type="application/json", headers=headers).status_code
        == 204
    )
    assert (
        client.post(NOTIFY, body, content_type="application/json", headers=headers).status_code
        == 204
    )
    assert balances(merchant)[AccountKind.DEPOSIT] == before + 5000  # credited once
    assert_ledger_clean()


def test_the_pay_api_answers_202_with_where_to_pay_and_the_order_stays_pending(
    alipay, order, buyer
):
    api = APIClient()
    api.force_authenticate(buyer)
    response = api.post(
        f"/api/v1/orders/{order.number}/pay/", {"channel": "alipay", "scene": "wap"}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == OrderStatus.PENDING_PAYMENT
    assert body["payment"]["channel"] == "alipay"
    assert body["payment"]["out_trade_no"] == order.number
    assert body["payment"]["pay_url"].startswith(alipay.url + "/gateway.do?")
    assert "alipay.trade.wap.pay" in body["payment"]["pay_url"]


def test_a_channel_not_configured_is_refused_with_a_clear_error(order, buyer, db):
    api = APIClient()
    api.force_authenticate(buyer)
    response = api.post(f"/api/v1/orders/{order.number}/pay/", {"channel": "alipay"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "channel_invalid"
    assert (
        api.post("/api/v1/payments/alipay/notify/", b"x=1", content_type="text/plain").status_code
        == 404
    )
