"""The integrations page, /merchant/integrations/: the owner's forms (no JavaScript needed),
the secret shown once, a refused URL explained in Chinese beside the field, the delivery log;
a team member gets the 403 page, GET or POST."""

from __future__ import annotations

import pytest
from django.test import Client

from integrations.models import Delivery, Endpoint
from tests.disputes.factories import agent_of
from tests.factories import PASSWORD, MerchantFactory
from tests.loopback import loopback_server

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private", "zh_catalogue")]

PAGE = "/merchant/integrations/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def shop():
    return MerchantFactory()


def test_the_owner_adds_a_webhook_sees_its_secret_once_and_sends_a_test_event(
    shop, django_capture_on_commit_callbacks
):
    owner = _client(shop.owner)
    page = owner.get(PAGE)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Webhook 与群机器人" in text and "还没有 Webhook。" in text
    with loopback_server() as receiver:
        added = owner.post(
            "/merchant/integrations/webhooks/",
            {"url": receiver.url + "/kamen", "events": ["complaint.filed", "complaint.updated"]},
        )
        assert added.status_code == 200
        endpoint = Endpoint.objects.get()
        secret = added.context["secret"][1]
        assert secret.startswith("whsec_") and secret in added.content.decode()
        assert endpoint.events == ["complaint.filed", "complaint.updated"]
        assert secret not in owner.get(PAGE).content.decode()

        with django_capture_on_commit_callbacks(execute=True):
            sent = owner.post(f"/merchant/integrations/{endpoint.pk}/test/")
        assert sent.status_code == 302 and sent["Location"] == PAGE
        assert receiver.wait_for(1)[0].json()["type"] == "ping"
        log = owner.get(PAGE).content.decode()
        assert "已送达" in log and "<code>ping</code>" in log and ">200<" in log

        rotated = owner.post(f"/merchant/integrations/{endpoint.pk}/rotate/")
        assert rotated.status_code == 200
        assert rotated.context["secret"][1] not in (secret, "")
        owner.post(f"/merchant/integrations/{endpoint.pk}/enabled/", {"enabled": "0"})
        endpoint.refresh_from_db()
        assert not endpoint.enabled
        assert "已关闭" in owner.get(PAGE).content.decode()
        owner.post(f"/merchant/integrations/{endpoint.pk}/enabled/", {"enabled": "1"})
        endpoint.refresh_from_db()
        assert endpoint.enabled
        owner.post(f"/merchant/integrations/{endpoint.pk}/delete/")
    assert not Endpoint.objects.exists() and not Delivery.objects.exists()


def test_a_refused_url_is_explained_beside_the_field_and_nothing_is_kept(shop, settings):
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = False
    answer = _client(shop.owner).post(
        "/merchant/integrations/webhooks/", {"url": "http://169.254.169.254/latest/"}
    )
    assert answer.status_code == 400
    assert "链路本地地址（如 169.254.169.254）一律不接受。" in answer.content.decode()
    assert answer.context["webhook_form"].errors["url"]
    assert not Endpoint.objects.exists()


def test_the_owner_adds_a_group_robot_with_its_secret(shop):
    with loopback_server() as robot:
        answer = _client(shop.owner).post(
            "/merchant/integrations/robots/",
            {
                "kind": "dingtalk",
                "url": robot.url + "/robot/send?access_token=tok",
                "secret": "SEC123",
            },
        )
    assert answer.status_code == 302
    robot_row = Endpoint.objects.get()
    assert robot_row.kind == "dingtalk" and robot_row.secret_encrypted
    # The token in the robot's URL is not shown back.
    assert "tok" not in robot_row.url_hint
    page = _client(shop.owner).get(PAGE).content.decode()
    assert "钉钉群机器人" in page and "发送测试消息" in page and "SEC123" not in page


def test_a_team_member_gets_the_403_page(shop):
    with loopback_server() as receiver:
        _client(shop.owner).post("/merchant/integrations/webhooks/", {"url": receiver.url})
    endpoint = Endpoint.objects.get()
    member = Client()
    assert member.login(username=agent_of(shop).username, password=PASSWORD)
    assert member.get(PAGE).status_code == 403
    assert (
        member.post("/merchant/integrations/webhooks/", {"url": "https://a.example/"}).status_code
        == 403
    )
    assert member.post(f"/merchant/integrations/{endpoint.pk}/delete/").status_code == 403
    assert Endpoint.objects.count() == 1
    other = _client(MerchantFactory().owner)
    assert other.post(f"/merchant/integrations/{endpoint.pk}/delete/").status_code == 404
    assert Endpoint.objects.count() == 1
