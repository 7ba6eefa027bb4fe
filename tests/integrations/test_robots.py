"""The group robots against their documented protocols, each a real server on loopback that
checks the signature the way the platform's documentation computes it, answers like the
platform (errcode / code), and sees a refusal retried (integrations/robots.py cites the docs)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from integrations import events, robots, services
from integrations.models import Delivery, DeliveryStatus
from tests.factories import MerchantFactory
from tests.loopback import Recorded, loopback_server

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private", "zh_catalogue")]

SECRET = "SECexample0123456789"


def complaint_data(due_in: timedelta) -> dict:
    return {
        "complaint": "TS202612070001",
        "order": "K202612070042",
        "status": "awaiting_merchant",
        "status_label": "待商家处理",
        "amount": "48.00",
        "due": (timezone.now() + due_in).isoformat(),
        "url": "https://kamen.example/merchant/complaints/TS202612070001/",
    }


def _robot(merchant, kind: str, url: str, secret: str = ""):
    return services.endpoint_create(
        actor=merchant.owner, merchant=merchant, url=url, kind=kind, secret=secret
    ).endpoint


# --- The documented signature algorithms, written out as the docs show them ------------------


def dingtalk_doc_sign(timestamp: str, secret: str) -> str:
    # open.dingtalk.com, "自定义机器人安全设置", the Python example.
    secret_enc = secret.encode("utf-8")
    string_to_sign = f"{timestamp}\n{secret}"
    hmac_code = hmac.new(secret_enc, string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(hmac_code))


def feishu_doc_sign(timestamp: str, secret: str) -> str:
    # open.feishu.cn, "自定义机器人使用指南", gen_sign: the key is "<timestamp>\n<secret>".
    string_to_sign = f"{timestamp}\n{secret}"
    hmac_code = hmac.new(string_to_sign.encode("utf-8"), digestmod=hashlib.sha256).digest()
    return base64.b64encode(hmac_code).decode("utf-8")


def test_the_signatures_match_the_documented_examples():
    assert robots.dingtalk_sign(SECRET, 1700000000000) == dingtalk_doc_sign("1700000000000", SECRET)
    assert robots.feishu_sign(SECRET, 1700000000) == feishu_doc_sign("1700000000", SECRET)
    # Not the same algorithm: DingTalk keys with the secret, Feishu with the signed string.
    assert robots.feishu_sign(SECRET, 1700) != urllib.parse.unquote_plus(
        robots.dingtalk_sign(SECRET, 1700)
    )


def test_the_message_names_the_complaint_the_amount_the_time_left_and_the_link():
    with time_machine.travel(timezone.now(), tick=False):
        text = robots.message("complaint.filed", complaint_data(timedelta(hours=5, minutes=20)))
    assert text["title"] == "新投诉 TS202612070001"
    body = text["text"]
    assert "订单：K202612070042" in body
    assert "申请金额：¥48.00" in body
    assert "剩余时间：5 小时 20 分钟" in body
    assert "https://kamen.example/merchant/complaints/TS202612070001/" in body
    assert (
        "[在平台上查看](https://kamen.example/merchant/complaints/TS202612070001/)"
        in (text["markdown"])
    )


def test_the_digest_lists_the_complaints_and_the_staff_reminder_has_its_title():
    with time_machine.travel(timezone.now(), tick=False):
        due = (timezone.now() + timedelta(hours=2)).isoformat()
        digest = robots.message(
            "complaint.digest",
            {"complaints": [{"number": "TS1", "due": due}, {"number": "TS2", "due": None}]},
        )["text"]
        review = robots.message("complaint.review_reminder", {"complaint": "TS3"})["title"]
    assert digest.splitlines() == ["未结投诉（按截止时间）", "TS1 · 剩余 2 小时 0 分钟", "TS2"]
    assert review == "投诉 TS3 的审核即将到期"


def _dingtalk_handler(request: Recorded):
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
    stamp = query["timestamp"][0]
    ok = (
        query["access_token"] == ["tok123"]
        and urllib.parse.quote_plus(query["sign"][0]) == dingtalk_doc_sign(stamp, SECRET)
        and abs(int(stamp) - time.time() * 1000) < 3600 * 1000
    )
    answer = {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 310000, "errmsg": "sign"}
    return 200, json.dumps(answer).encode(), {"Content-Type": "application/json"}


def test_dingtalk_gets_a_signed_markdown_message():
    merchant = MerchantFactory()
    with loopback_server() as robot:
        robot.handler = _dingtalk_handler
        _robot(merchant, "dingtalk", robot.url + "/robot/send?access_token=tok123", SECRET)
        events.emit(
            merchant_id=merchant.pk,
            type="complaint.filed",
            data=complaint_data(timedelta(hours=3)),
            key="d1",
        )
        services.deliveries_sweep()
        request = robot.wait_for(1)[0]
    body = request.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "新投诉 TS202612070001"
    assert "申请金额：¥48.00" in body["markdown"]["text"]
    assert Delivery.objects.get().status == DeliveryStatus.DELIVERED


def test_a_robot_answering_a_nonzero_errcode_is_a_failure_and_retried():
    merchant = MerchantFactory()
    start = timezone.now()
    with loopback_server() as robot, time_machine.travel(start, tick=False) as clock:
        robot.handler = _dingtalk_handler
        # The wrong secret: DingTalk answers HTTP 200 with errcode 310000.
        _robot(merchant, "dingtalk", robot.url + "/robot/send?access_token=tok123", "SECwrong")
        events.emit(merchant_id=merchant.pk, type="complaint.filed", data={}, key="d2")
        services.deliveries_sweep()
        robot.wait_for(1)
        row = Delivery.objects.get()
        assert row.status == DeliveryStatus.PENDING and row.last_status == 200
        assert row.last_error == "code 310000: sign"
        assert row.next_try_at == start + timedelta(seconds=15)
        clock.shift(timedelta(seconds=15))
        services.deliveries_sweep()
        assert len(robot.wait_for(2)) == 2
    assert Delivery.objects.get().attempts == 2


def test_feishu_gets_a_signed_text_message():
    merchant = MerchantFactory()

    def handler(request: Recorded):
        body = request.json()
        ok = body["sign"] == feishu_doc_sign(body["timestamp"], SECRET)
        answer = {"code": 0, "msg": "success", "data": {}} if ok else {"code": 19021, "msg": "x"}
        return 200, json.dumps(answer).encode(), {}

    with loopback_server() as robot, time_machine.travel(timezone.now(), tick=False):
        robot.handler = handler
        _robot(merchant, "feishu", robot.url + "/open-apis/bot/v2/hook/abc", SECRET)
        events.emit(
            merchant_id=merchant.pk,
            type="complaint.deadline_reminder",
            data=complaint_data(timedelta(minutes=50)),
            key="f1",
        )
        services.deliveries_sweep()
        body = robot.wait_for(1)[0].json()
    assert body["msg_type"] == "text"
    assert set(body) == {"timestamp", "sign", "msg_type", "content"}
    assert abs(int(body["timestamp"]) - time.time()) < 3600
    assert body["content"]["text"].startswith("投诉 TS202612070001 即将到期")
    assert "剩余时间：50 分钟" in body["content"]["text"]
    assert Delivery.objects.get().status == DeliveryStatus.DELIVERED


def test_wechat_work_gets_markdown_and_its_errcode_is_read():
    merchant = MerchantFactory()
    with loopback_server() as robot:
        robot.respond(200, b'{"errcode":93000,"errmsg":"invalid webhook url"}')
        robot.default = (200, b'{"errcode":0,"errmsg":"ok"}')
        _robot(merchant, "wecom", robot.url + "/cgi-bin/webhook/send?key=k-1")
        events.emit(merchant_id=merchant.pk, type="order.message", data={"order": "K1"}, key="w")
        services.deliveries_sweep()
        first = robot.wait_for(1)[0]
    assert first.path == "/cgi-bin/webhook/send?key=k-1"
    body = first.json()
    assert body == {"msgtype": "markdown", "markdown": {"content": body["markdown"]["content"]}}
    assert body["markdown"]["content"].startswith("**订单 K1 有新消息**")
    row = Delivery.objects.get()
    assert row.status == DeliveryStatus.PENDING
    assert row.last_error == "code 93000: invalid webhook url"


def test_the_arbitration_teams_robot_comes_from_the_settings(settings):
    with loopback_server() as robot:
        robot.default = (200, b'{"errcode":0,"errmsg":"ok"}')
        settings.ARBITRATION_ROBOT_KIND = "wecom"
        settings.ARBITRATION_ROBOT_URL = robot.url + "/cgi-bin/webhook/send?key=staff"
        assert events.emit_staff(type="complaint.deadline_reminder", data={}, key="s") == 1
        assert events.emit_staff(type="complaint.deadline_reminder", data={}, key="s") == 0
        services.deliveries_sweep()
        assert robot.wait_for(1)[0].path.endswith("key=staff")
    row = Delivery.objects.get()
    assert row.target == "staff" and row.merchant_id is None
    assert row.status == DeliveryStatus.DELIVERED
    settings.ARBITRATION_ROBOT_URL = ""
    assert events.emit_staff(type="complaint.deadline_reminder", data={}, key="t") == 0
