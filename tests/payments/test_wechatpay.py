"""WeChat Pay API v3 end to end against its emulator: every request signed with the merchant
key (the emulator refuses anything else), every answer and notice verified with the local
platform certificate, the notice's resource decrypted with the APIv3 key; forged, stale,
replayed, wrong-amount and wrong-merchant notices refused or harmless."""

from __future__ import annotations

import json
from datetime import date, timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from orders import payments
from orders.models import OrderStatus, Payment, PaymentNotice, PaymentNoticeOutcome
from orders.services.payments import payments_query_pending
from tests.payments.conftest import key

NOTIFY = "/api/v1/payments/wechatpay/notify/"
PHONE = "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36"


def start(buyer_client, order, **headers):
    return buyer_client.post(
        reverse("orders:pay", args=[order.number]), {"channel": "wechatpay"}, **headers
    )


def notify(client, notice):
    headers, body = notice
    return client.post(
        NOTIFY,
        body,
        content_type="application/json",
        headers=headers,
    )


def test_native_pay_shows_the_code_and_a_verified_notice_pays(
    wechatpay, buyer_client, order, client
):
    response = start(buyer_client, order)
    assert response["Location"] == reverse("orders:pay", args=[order.number])
    page = buyer_client.get(response["Location"]).content.decode()
    code_url = f"weixin://wxpay/bizpayurl?pr={wechatpay.trades[order.number]['prepay']}"
    assert code_url in page
    call = wechatpay.calls[-1]
    assert (call["http"], call["path"]) == ("POST", "/v3/pay/transactions/native")
    assert call["body"] == {
        "notify_url": "https://kamen.test" + NOTIFY,
        "description": f"{order.product.name} x1",
        "out_trade_no": order.number,
        "amount": {"total": int(order.amount * 100), "currency": "CNY"},
        "appid": wechatpay.app_id,
        "mchid": wechatpay.mch_id,
    }
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT

    wechatpay.pay(order.number)
    response = notify(client, wechatpay.notice(order.number))
    assert (response.status_code, response.content) == (204, b"")
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    assert order.payment_reference == wechatpay.trades[order.number]["transaction_id"]
    assert PaymentNotice.objects.get().outcome == PaymentNoticeOutcome.APPLIED


def test_a_phone_gets_h5_pay_and_is_sent_to_its_page(wechatpay, buyer_client, order):
    response = start(buyer_client, order, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="203.0.113.7")
    assert response["Location"].startswith("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb")
    call = wechatpay.calls[-1]
    assert call["path"] == "/v3/pay/transactions/h5"
    assert call["body"]["scene_info"] == {
        "payer_client_ip": "203.0.113.7",
        "h5_info": {"type": "Wap"},
    }


def test_forged_tampered_and_stale_notices_are_refused(wechatpay, buyer_client, order, client):
    start(buyer_client, order)
    wechatpay.pay(order.number)
    forged = notify(client, wechatpay.notice(order.number, key=key("someone-else")))
    assert forged.status_code == 400
    assert json.loads(forged.content)["code"] == "FAIL"
    headers, body = wechatpay.notice(order.number)
    assert notify(client, (headers, body.replace(b"EV-", b"EV-X"))).status_code == 400
    wrong_key = wechatpay.notice(order.number, apiv3_key="0" * 32)  # does not decrypt
    assert notify(client, wrong_key).status_code == 400
    stale = wechatpay.notice(order.number, stamp=int(timezone.now().timestamp()) - 600)
    assert notify(client, stale).status_code == 400
    unsigned = {k: v for k, v in headers.items() if k != "Wechatpay-Signature"}
    assert notify(client, (unsigned, body)).status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert not PaymentNotice.objects.exists()


def test_a_replayed_notice_is_acted_on_once(wechatpay, buyer_client, order, client):
    start(buyer_client, order)
    wechatpay.pay(order.number)
    notice = wechatpay.notice(order.number, notice_id="EV-2026120700001")
    assert notify(client, notice).status_code == 204
    assert notify(client, notice).status_code == 204
    assert PaymentNotice.objects.get().times_received == 2
    assert Payment.objects.filter(order=order).count() == 1


def test_signed_notices_of_a_wrong_amount_or_merchant_are_refused_and_kept(
    wechatpay, buyer_client, order, client
):
    start(buyer_client, order)
    wechatpay.pay(order.number)
    assert notify(client, wechatpay.notice(order.number, total=1)).status_code == 400
    assert notify(client, wechatpay.notice(order.number, mch_id="1900000000")).status_code == 400
    assert (
        notify(client, wechatpay.notice(order.number, app_id="wx0000000000000000")).status_code
        == 400
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert set(PaymentNotice.objects.values_list("outcome", flat=True)) == {
        PaymentNoticeOutcome.REFUSED
    }
    assert PaymentNotice.objects.count() == 3


def test_a_pending_payment_is_paid_by_the_sweeps_query(wechatpay, buyer_client, order):
    start(buyer_client, order)
    wechatpay.pay(order.number)
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        assert payments_query_pending() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    query = wechatpay.calls[-1]
    assert query["http"] == "GET"
    assert query["path"] == (
        f"/v3/pay/transactions/out-trade-no/{order.number}?mchid={wechatpay.mch_id}"
    )


def test_the_trade_bill_is_asked_as_documented(wechatpay):
    url = payments.get_provider("wechatpay").bill_download_url(day=date(2026, 12, 6))
    assert url.startswith(f"{wechatpay.url}/v3/billdownload/file?token=")
    call = wechatpay.calls[-1]
    assert call["path"] == "/v3/bill/tradebill?bill_date=2026-12-06&bill_type=ALL&tar_type=GZIP"
