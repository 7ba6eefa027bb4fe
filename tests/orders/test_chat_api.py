"""GET/POST /api/v1/orders/{number}/messages/ (orders/api_chat.py): the buyer and the shop's
members read and write; anyone else gets a 404, staff a 403; refusals are the service's."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from orders.models import OrderMessage, OrderThread
from orders.services import chat
from tests.disputes.factories import agent_of, png
from tests.factories import MerchantFactory, OrderFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(order: Any) -> str:
    return f"/api/v1/orders/{order.number}/messages/"


def test_the_buyer_writes_and_the_shop_reads_and_answers():
    order = OrderFactory()
    buyer = client_for(order.buyer)
    response = buyer.post(url(order), {"body": "卡密无效"}, format="json")
    assert response.status_code == 201, response.json()
    posted = response.json()
    assert posted["side"] == "buyer" and posted["body"] == "卡密无效"
    assert posted["author"] == order.buyer.username and posted["files"] == []

    agent = agent_of(order.merchant)
    shop = client_for(agent)
    thread = shop.get(url(order)).json()
    assert thread["side"] == "shop" and thread["unread"] == 1
    assert thread["waiting_since"] is not None
    assert [m["body"] for m in thread["results"]] == ["卡密无效"]
    # Reading marked it read.
    assert shop.get(url(order)).json()["unread"] == 0

    answer = shop.post(url(order), {"body": "已补发"}, format="json")
    assert answer.status_code == 201
    seen = buyer.get(url(order)).json()
    assert seen["waiting_since"] is None and seen["unread"] == 1
    # The buyer sees the shop's name, the shop sees which member answered.
    assert seen["results"][1]["author"] == order.merchant.shop_name
    assert shop.get(url(order)).json()["results"][1]["author"] == agent.username


def test_files_by_multipart_and_their_download():
    order = OrderFactory()
    buyer = client_for(order.buyer)
    response = buyer.post(
        url(order), {"body": "截图", "files": [png("a.png"), png("b.png")]}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    files = response.json()["files"]
    assert [f["name"] for f in files] == ["a.png", "b.png"]
    download = client_for(order.merchant.owner).get(files[0]["url"])
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    assert download["Content-Security-Policy"].endswith("sandbox")
    assert client_for(UserFactory()).get(files[0]["url"]).status_code == 404


@pytest.mark.parametrize("payload", [{"body": ""}, {"body": "字" * (chat.BODY_MAX_CHARS + 1)}])
def test_bad_messages_are_refused_with_a_reason(payload):
    order = OrderFactory()
    response = client_for(order.buyer).post(url(order), payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["detail"]
    assert not OrderMessage.objects.exists()


def test_a_body_that_is_not_text_is_a_field_error():
    order = OrderFactory()
    response = client_for(order.buyer).post(url(order), {"body": 12}, format="json")
    assert response.status_code == 400 and "body" in response.json()
    assert not OrderMessage.objects.exists()


def test_a_fake_image_is_refused_as_evidence_would_be():
    from django.core.files.uploadedfile import SimpleUploadedFile

    order = OrderFactory()
    fake = SimpleUploadedFile("x.png", b"MZ not an image", content_type="image/png")
    response = client_for(order.buyer).post(
        url(order), {"body": "see", "files": [fake]}, format="multipart"
    )
    assert response.status_code == 400 and response.json()["code"] == "evidence_invalid"
    assert not OrderThread.objects.exists()


def test_strangers_get_404_and_staff_403():
    order = OrderFactory()
    chat.order_message_post(order=order, user=order.buyer, body="secret")
    for user in (UserFactory(), MerchantFactory().owner):
        client = client_for(user)
        assert client.get(url(order)).status_code == 404
        assert client.post(url(order), {"body": "x"}, format="json").status_code == 404
    staff = client_for(StaffFactory(perms=["orders.view_order"]))
    assert staff.post(url(order), {"body": "x"}, format="json").status_code == 403
    assert staff.get(url(order)).status_code == 403
    assert APIClient().get(url(order)).status_code in (401, 403)
    assert OrderMessage.objects.count() == 1


def test_the_rate_limit_answers_429():
    order = OrderFactory()
    client = client_for(order.buyer)
    for i in range(chat.RATE_MESSAGES):
        assert client.post(url(order), {"body": f"m{i}"}, format="json").status_code == 201
    response = client.post(url(order), {"body": "more"}, format="json")
    assert response.status_code == 429 and response.json()["code"] == "throttled"


def test_the_schema_documents_the_endpoints():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    if schema.status_code != 200:
        pytest.skip("schema endpoint not at /api/schema/")
    paths = schema.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/orders/{number}/messages/"])
