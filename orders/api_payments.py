"""The real payment channels' notices (docs/payments.md): POST /api/v1/payments/alipay/notify/
and /api/v1/payments/wechatpay/notify/, and their complaint notices under …/complaints/notify/.

No session, token or CSRF: the channel's signature is the authentication, checked with
everything else by orders.services.payments. Each is answered in the channel's own words
(Alipay the text `success`; WeChat Pay 204, or its JSON fail shape), and is a 404 while its
channel is not in PAYMENT_CHANNELS.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orders import payments
from orders.services import channel_complaints
from orders.services import payments as payment_services


def _notice_view(channel: str) -> Callable[[HttpRequest], HttpResponse]:
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        if not payments.is_redirect_channel(channel):
            raise Http404("no such payment channel")
        answer = payment_services.payment_notice_receive(
            channel=channel, headers=request.headers, body=request.body
        )
        return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)

    view.__name__ = f"{channel}_notify"
    return view


alipay_notify = _notice_view("alipay")
wechatpay_notify = _notice_view("wechatpay")


def _complaint_notice_view(channel: str) -> Callable[[HttpRequest], HttpResponse]:
    """A complaint notice of the channel (docs/channel-complaints.md): WeChat Pay 消费者投诉
    2.0's, signed and encrypted like a payment notice; Alipay's trade-complaint message
    (alipay.merchant.tradecomplain.changed), signed like one. Answered the same way."""

    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        if not payments.is_redirect_channel(channel):
            raise Http404("no such payment channel")
        answer = channel_complaints.channel_complaint_receive(
            channel=channel, headers=request.headers, body=request.body
        )
        return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)

    view.__name__ = f"{channel}_complaint_notify"
    return view


wechatpay_complaint_notify = _complaint_notice_view("wechatpay")
alipay_complaint_notify = _complaint_notice_view("alipay")
