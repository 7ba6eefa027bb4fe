"""Alipay end to end against its emulator: the pay page sends the buyer to a correctly signed
cashier URL; the order becomes paid only by a verified notice or the sweep's verified query;
forged, replayed, wrong-amount and wrong-app notices are refused or harmless."""

from __future__ import annotations

import urllib.request
from datetime import date, timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from orders import payments
from orders.models import (
    Order,
    OrderStatus,
    Payment,
    PaymentIntent,
    PaymentNotice,
    PaymentNoticeOutcome,
)
from orders.services.payments import payments_query_pending
from tests.payments.conftest import key

NOTIFY = "/api/v1/payments/alipay/notify/"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


def start(buyer_client, order, **headers):
    response = buyer_client.post(
        reverse("orders:pay", args=[order.number]), {"channel": "alipay"}, **headers
    )
    assert response.status_code == 302, response.content
    return response["Location"]


def open_cashier(url: str) -> None:
    """The buyer's browser opens the cashier page the pay page redirected to."""
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - the loopback emulator
        assert answer.status == 200


def notify(client, body: bytes):
    return client.post(NOTIFY, body, content_type="application/x-www-form-urlencoded")


def test_pay_page_sends_the_buyer_to_a_signed_page_pay_and_a_verified_notice_pays(
    alipay, buyer_client, order, client
):
    url = start(buyer_client, order)
    assert url.startswith(alipay.url + "/gateway.do?")
    open_cashier(url)
    # The documented request of alipay.trade.page.pay, signed with the app's key (the emulator
    # refuses a wrong signature with an unsigned error_response).
    call = alipay.calls[-1]
    assert call["params"]["method"] == "alipay.trade.page.pay"
    assert call["params"]["sign_type"] == "RSA2"
    assert call["params"]["notify_url"] == "https://kamen.test" + NOTIFY
    assert call["params"]["return_url"].endswith(f"/orders/{order.number}/pay/")
    assert call["biz_content"] == {
        "subject": f"{order.product.name} x1",
        "out_trade_no": order.number,
        "total_amount": f"{order.amount:.2f}",
        "product_code": "FAST_INSTANT_TRADE_PAY",
    }
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT  # redirected is not paid

    alipay.pay(order.number)
    response = notify(client, alipay.notice(order.number))
    assert (response.status_code, response.content) == (200, b"success")
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    assert order.payment_channel == "alipay"
    assert order.payment_reference == alipay.trades[order.number]["trade_no"]
    assert PaymentNotice.objects.get().outcome == PaymentNoticeOutcome.APPLIED


def test_a_phone_gets_mobile_web_pay(alipay, buyer_client, order):
    open_cashier(start(buyer_client, order, HTTP_USER_AGENT=PHONE))
    call = alipay.calls[-1]
    assert call["params"]["method"] == "alipay.trade.wap.pay"
    assert call["biz_content"]["product_code"] == "QUICK_WAP_PAY"


def test_a_replayed_notice_is_acted_on_once(alipay, buyer_client, order, client):
    open_cashier(start(buyer_client, order))
    alipay.pay(order.number)
    body = alipay.notice(order.number, notify_id="replayed-1")
    assert notify(client, body).content == b"success"
    assert notify(client, body).content == b"success"  # the channel hears "received" again
    notice = PaymentNotice.objects.get()
    assert (notice.times_received, notice.outcome) == (2, PaymentNoticeOutcome.APPLIED)
    assert Payment.objects.filter(order=order).count() == 1
    # A second notice of the same trade (another notify_id, Alipay's own retry) changes nothing.
    assert notify(client, alipay.notice(order.number)).content == b"success"
    assert PaymentNotice.objects.order_by("id").last().outcome == PaymentNoticeOutcome.DUPLICATE
    assert Payment.objects.filter(order=order).count() == 1


def test_a_forged_notice_is_refused_and_stored_nowhere(alipay, buyer_client, order, client):
    open_cashier(start(buyer_client, order))
    alipay.pay(order.number)
    forged = alipay.notice(order.number, key=key("someone-else"))
    response = notify(client, forged)
    assert (response.status_code, response.content) == (400, b"fail")
    tampered = alipay.notice(order.number).replace(b"total_amount=", b"total_amount=0")
    assert notify(client, tampered).content == b"fail"
    assert notify(client, b"not=a&valid=notice").content == b"fail"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert not PaymentNotice.objects.exists()


def test_a_signed_notice_of_a_wrong_amount_or_app_is_refused_and_kept_for_finance(
    alipay, buyer_client, order, client
):
    open_cashier(start(buyer_client, order))
    alipay.pay(order.number)
    assert notify(client, alipay.notice(order.number, amount="0.01")).content == b"fail"
    assert notify(client, alipay.notice(order.number, app_id="2021999999999999")).content == b"fail"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    outcomes = list(PaymentNotice.objects.values_list("outcome", flat=True))
    assert outcomes == [PaymentNoticeOutcome.REFUSED] * 2
    assert not Payment.objects.exists()


def test_a_notice_of_an_unknown_payment_is_acknowledged_and_kept_for_finance(alipay, client, db):
    alipay.trades["KM000000UNKNOWN"] = {
        "total_amount": "9.00",
        "trade_no": "2026000000000000001",
        "status": "TRADE_SUCCESS",
    }
    response = notify(client, alipay.notice("KM000000UNKNOWN"))
    assert response.content == b"success"  # else Alipay repeats it for 25 hours
    notice = PaymentNotice.objects.get()
    assert (notice.outcome, notice.out_trade_no) == (
        PaymentNoticeOutcome.UNKNOWN,
        "KM000000UNKNOWN",
    )


def test_a_pending_payment_is_paid_by_the_sweeps_query(alipay, buyer_client, order):
    open_cashier(start(buyer_client, order))
    assert payments_query_pending() == 0  # too fresh, and not paid anyway
    alipay.pay(order.number)  # … and the notice never arrives
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        assert payments_query_pending() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    query = [c for c in alipay.calls if c["params"]["method"] == "alipay.trade.query"]
    assert query[-1]["biz_content"] == {"out_trade_no": order.number}
    intent = PaymentIntent.objects.get()
    assert intent.reference == alipay.trades[order.number]["trade_no"]


def test_an_outage_leaves_the_order_pending_until_the_channel_answers(alipay, buyer_client, order):
    open_cashier(start(buyer_client, order))
    alipay.pay(order.number)
    alipay.down = True
    moment = timezone.now() + timedelta(minutes=1)
    with time_machine.travel(moment, tick=False):
        assert payments_query_pending() == 0
    intent = PaymentIntent.objects.get()
    assert intent.last_error and intent.query_attempts == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    alipay.down = False
    with time_machine.travel(moment + timedelta(seconds=30), tick=False):
        assert payments_query_pending() == 0  # asked a minute apart at most
    with time_machine.travel(moment + timedelta(minutes=1), tick=False):
        assert payments_query_pending() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED


def test_i_have_paid_asks_the_channel_now(alipay, buyer_client, order):
    open_cashier(start(buyer_client, order))
    page = buyer_client.get(reverse("orders:pay", args=[order.number]))
    assert "I have paid" in page.content.decode() or "我已付款" in page.content.decode()
    check = buyer_client.post(reverse("orders:pay", args=[order.number]), {"action": "check"})
    assert check["Location"] == reverse("orders:pay", args=[order.number])  # not yet
    alipay.pay(order.number)
    check = buyer_client.post(reverse("orders:pay", args=[order.number]), {"action": "check"})
    assert check["Location"] == reverse("orders:order", args=[order.number])
    assert Order.objects.get(pk=order.pk).status == OrderStatus.DELIVERED


def test_the_bill_download_url_is_asked_as_documented(alipay):
    url = payments.get_provider("alipay").bill_download_url(day=date(2026, 12, 6))
    assert url == f"{alipay.url}/bills/trade_2026-12-06.csv.zip"
    call = alipay.calls[-1]
    assert call["params"]["method"] == "alipay.data.dataservice.bill.downloadurl.query"
    assert call["biz_content"] == {"bill_type": "trade", "bill_date": "2026-12-06"}
