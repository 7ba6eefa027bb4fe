"""The case shows where it was opened (issue 21): `origin` (platform | wechatpay | alipay) and
the channel's complaint number in the complaint API for the buyer, the shop and staff, in the
list as in the detail, and a small line on the buyer's and the shop's complaint pages and on
the desk's case screen — all read from disputes.selectors.case_origin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.urls import reverse
from django.utils import translation

from disputes.models import Dispute
from disputes.selectors import case_origin
from orders.models import ChannelComplaint
from tests.factories import StaffFactory, UserFactory
from tests.payments.test_channel_complaints import post
from tests.payments.test_refunds import paid_through

pytestmark = pytest.mark.django_db


def arbitrator() -> User:
    user = StaffFactory()
    user.groups.add(Group.objects.get(name="arbitrator"))
    return User.objects.get(pk=user.pk)


def opened_on_wechat(wechatpay, client) -> tuple[Dispute, str]:
    order = paid_through("wechatpay", wechatpay, UserFactory(), client)
    complaint_id = wechatpay.complain(order.number, "卡密无效", [])
    assert post(client, *wechatpay.complaint_notice(complaint_id)).status_code == 204
    return Dispute.objects.get(order=order), complaint_id


def test_a_case_a_wechat_complaint_opened_says_so_to_every_reader(wechatpay, client):
    dispute, complaint_id = opened_on_wechat(wechatpay, client)
    readers = [dispute.buyer, dispute.merchant.owner, arbitrator()]
    for reader in readers:
        client.force_login(reader)
        detail = client.get(f"/api/v1/disputes/{dispute.number}/").json()
        assert (detail["origin"], detail["origin_complaint_id"]) == ("wechatpay", complaint_id)
        listed = client.get("/api/v1/disputes/").json()["results"]
        assert [(r["number"], r["origin"]) for r in listed] == [(dispute.number, "wechatpay")]

    line = f"来自微信支付消费者投诉，投诉编号 {complaint_id}"
    pages = [
        (dispute.buyer, reverse("disputes:complaint", args=[dispute.number])),
        (dispute.merchant.owner, reverse("merchant:complaint", args=[dispute.number])),
        (readers[2], reverse("admin:disputes_dispute_case", args=[dispute.pk])),
    ]
    with translation.override("zh-hans"):
        for reader, url in pages:
            client.force_login(reader)
            page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
            assert page.status_code == 200, url
            assert line in page.content.decode(), url


def test_a_case_filed_here_is_from_the_platform_even_when_a_channel_complaint_joins_it(
    wechatpay, client
):
    dispute, first_id = opened_on_wechat(wechatpay, client)
    # Pretend the buyer had filed here first: the opening complaint's link is taken away, so
    # the case was the platform's; a later channel complaint only joins it.
    ChannelComplaint.objects.filter(complaint_id=first_id).update(case_note="joined")
    assert case_origin(Dispute.objects.get(pk=dispute.pk)).origin == "platform"
    second = wechatpay.complain(dispute.order.number, "再投诉", [])
    assert post(client, *wechatpay.complaint_notice(second)).status_code == 204
    assert ChannelComplaint.objects.get(complaint_id=second).case_note == "joined"

    client.force_login(dispute.buyer)
    detail = client.get(f"/api/v1/disputes/{dispute.number}/").json()
    assert (detail["origin"], detail["origin_complaint_id"]) == ("platform", None)
    page = client.get(reverse("disputes:complaint", args=[dispute.number])).content.decode()
    assert 'class="case-origin"' not in page


def queries_of(client, url: str) -> tuple[int, dict]:
    """How many queries one GET of `url` makes (counted by a wrapper: a request resets
    connection.queries, which would fool a capture around it), and its JSON."""
    count = [0]

    def counting(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counting):
        response = client.get(url)
    assert response.status_code == 200
    return count[0], response.json()


def test_the_list_reads_the_origin_without_a_query_per_complaint(wechatpay, client):
    dispute, _ = opened_on_wechat(wechatpay, client)
    client.force_login(dispute.buyer)
    one, _ = queries_of(client, "/api/v1/disputes/")
    for _ in range(3):
        opened_on_wechat(wechatpay, client)
    Dispute.objects.update(buyer=dispute.buyer)  # all four the same buyer's
    client.force_login(dispute.buyer)
    four, page = queries_of(client, "/api/v1/disputes/")
    assert [r["origin"] for r in page["results"]] == ["wechatpay"] * 4
    assert four == one
