"""SMS behind a provider interface (kamen_complaints/sms/, docs/sms.md): the development
sandbox's file, the Aliyun and Tencent Cloud adapters through their official SDKs against a
provider answering on loopback (the SDK builds and signs the real request; the test checks the
signature as the provider would), the per-number limits, and the templates' shapes."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone, translation

from kamen_complaints import sms
from kamen_complaints.sms import limits, messages
from kamen_complaints.sms.providers import SmsNotSent, provider
from tests.loopback import Recorded, loopback_server

PHONE = "+8613800138000"
START = "2026-11-02 10:00:05 +08:00"
CODE = {"code": "204617", "minutes": 10}

# --- The sandbox --------------------------------------------------------------------------


def test_sandbox_writes_each_message_to_the_log_and_the_outbox_file(sms_outbox, caplog):
    with caplog.at_level(logging.INFO, logger="kamen_complaints.sms.providers"):
        message_id = sms.send(phone=PHONE, kind=sms.VERIFY_CODE, figures=CODE, purpose=sms.CODE)
        sms.send(
            phone="+8613900139000",
            kind=sms.COMPLAINT_FILED,
            figures={"number": "TS261102ABCDEFGH23", "amount": "48.00", "due": "11-03 10:00"},
            purpose=sms.NOTICE,
        )
    first, second = sms_outbox()
    assert first["id"] == message_id
    assert first["phone"] == PHONE and first["template"] == "SANDBOX_VERIFY_CODE"
    assert first["kind"] == "verify_code"
    assert list(first["params"].items()) == [("code", "204617"), ("minutes", "10")]
    # The text as the registered template renders it, in the platform's language.
    assert "204617" in first["text"] and "10" in first["text"] and "${" not in first["text"]
    assert second["params"] == {
        "number": "TS261102ABCDEFGH23",
        "amount": "48.00",
        "due": "11-03 10:00",
    }
    assert "TS261102ABCDEFGH23" in second["text"]
    assert any("204617" in record.getMessage() for record in caplog.records)


def test_the_template_code_comes_from_the_setting(sms_outbox, settings):
    settings.SMS_TEMPLATES = {**settings.SMS_TEMPLATES, "verify_code": "SMS_465870123"}
    sms.send(phone=PHONE, kind=sms.VERIFY_CODE, figures=CODE, purpose=sms.CODE)
    assert sms_outbox()[0]["template"] == "SMS_465870123"
    settings.SMS_TEMPLATES = {"reset_code": "SMS_1"}
    with pytest.raises(ImproperlyConfigured, match="verify_code"):
        sms.send(phone=PHONE, kind=sms.VERIFY_CODE, figures=CODE, purpose=sms.CODE)


# --- Aliyun -------------------------------------------------------------------------------

ALIYUN_OK = {
    "Code": "OK",
    "Message": "OK",
    "BizId": "9006197469364984^0",
    "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990",
}


def _acs3_signature(request: Recorded, secret: str) -> str:
    """Aliyun's ACS3-HMAC-SHA256, computed as the service does from the request received."""
    parts = urlsplit(request.path)
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query)
    headers = {name.lower(): value.strip() for name, value in request.headers.items()}
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0]
    canonical_headers = "".join(f"{name}:{headers[name]}\n" for name in signed.split(";"))
    payload = hashlib.sha256(request.body).hexdigest()
    canonical = "\n".join(
        [request.method, parts.path or "/", canonical_query, canonical_headers, signed, payload]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def aliyun(settings: Any):
    settings.SMS_PROVIDER = "aliyun"
    settings.SMS_SIGN_NAME = "卡门投诉"
    settings.ALIYUN_SMS_ACCESS_KEY_ID = "LTAI5tTestKeyId"
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = "aliyun-test-secret"
    settings.SMS_TEMPLATES = {**settings.SMS_TEMPLATES, "complaint_filed": "SMS_465870001"}
    with loopback_server() as server:
        settings.ALIYUN_SMS_ENDPOINT = server.url
        yield server


def _aliyun_provider(request: Recorded) -> tuple[int, bytes, dict[str, str]]:
    """Answers like dysmsapi.aliyuncs.com: 400 for a bad signature, else the documented OK."""
    claimed = request.headers["Authorization"].split("Signature=")[1]
    if claimed != _acs3_signature(request, "aliyun-test-secret"):
        body = {"Code": "SignatureDoesNotMatch", "Message": "bad signature", "RequestId": "r"}
        return 400, json.dumps(body).encode(), {"Content-Type": "application/json"}
    return 200, json.dumps(ALIYUN_OK).encode(), {"Content-Type": "application/json"}


def test_aliyun_sends_sendsms_signed_with_the_template_and_its_variables(aliyun):
    aliyun.handler = _aliyun_provider
    figures = {"number": "TS261102ABCDEFGH23", "amount": "48.00", "due": "11-03 10:00"}
    biz_id = sms.send(phone=PHONE, kind=sms.COMPLAINT_FILED, figures=figures, purpose=sms.NOTICE)
    assert biz_id == "9006197469364984^0"  # the provider's answer, read back by the SDK
    (request,) = aliyun.requests
    assert request.method == "POST"
    assert request.headers["x-acs-action"] == "SendSms"
    assert request.headers["x-acs-version"] == "2017-05-25"
    assert request.headers["Authorization"].startswith(
        "ACS3-HMAC-SHA256 Credential=LTAI5tTestKeyId,"
    )
    query = dict(parse_qsl(urlsplit(request.path).query))
    assert query["PhoneNumbers"] == "13800138000"
    assert query["SignName"] == "卡门投诉"
    assert query["TemplateCode"] == "SMS_465870001"
    assert json.loads(query["TemplateParam"]) == figures


def test_aliyun_wrong_secret_is_refused_by_the_provider(aliyun, settings):
    aliyun.handler = _aliyun_provider
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = "not-the-secret"
    with pytest.raises(SmsNotSent, match="SignatureDoesNotMatch"):
        sms.send(phone=PHONE, kind=sms.VERIFY_CODE, figures=CODE, purpose=sms.CODE)


def test_aliyun_refusal_in_a_200_answer_is_not_sent(aliyun):
    refused = {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1"}
    aliyun.default = (200, json.dumps({**refused, "RequestId": "r"}).encode())
    with pytest.raises(SmsNotSent, match="isv.BUSINESS_LIMIT_CONTROL"):
        sms.send(phone=PHONE, kind=sms.VERIFY_CODE, figures=CODE, purpose=sms.CODE)


def test_aliyun_needs_its_credentials_from_the_environment(settings):
    settings.SMS_PROVIDER = "aliyun"
    settings.SMS_SIGN_NAME = "卡门投诉"
    settings.ALIYUN_SMS_ACCESS_KEY_ID = ""
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = ""
    with pytest.raises(ImproperlyConfigured, match="ALIYUN_SMS_ACCESS_KEY_ID"):
        provider()


# --- Tencent Cloud ------------------------------------------------------------------------

TENCENT_OK = {
    "Response": {
        "SendStatusSet": [
            {
                "SerialNo": "5000:1045710669157053657849499619",
                "PhoneNumber": PHONE,
                "Fee": 1,
                "SessionContext": "",
                "Code": "Ok",
                "Message": "send success",
                "IsoCode": "CN",
            }
        ],
        "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
    }
}
JSON = {"Content-Type": "application/json"}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _tc3_signature(request: Recorded, secret_key: str) -> str:
    """Tencent Cloud's TC3-HMAC-SHA256, computed as the service does from the request."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    authorization = headers["authorization"]
    scope = authorization.split("Credential=")[1].split(",")[0].split("/", 1)[1]
    date, service, _terminator = scope.split("/")
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].strip()
    canonical_headers = "".join(f"{h}:{headers[h].lower()}\n" for h in signed.split(";"))
    canonical = "\n".join(
        ["POST", "/", "", canonical_headers, signed, hashlib.sha256(request.body).hexdigest()]
    )
    to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            headers["x-tc-timestamp"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def tencent(settings: Any):
    settings.SMS_PROVIDER = "tencent"
    settings.SMS_SIGN_NAME = "卡门投诉"
    settings.TENCENT_SMS_SECRET_ID = "AKIDtestsecretid"
    settings.TENCENT_SMS_SECRET_KEY = "tencent-test-key"
    settings.TENCENT_SMS_SDK_APP_ID = "1400006666"
    settings.SMS_TEMPLATES = {**settings.SMS_TEMPLATES, "complaint_filed": "449739"}
    with loopback_server() as server:
        settings.TENCENT_SMS_ENDPOINT = server.url
        yield server


def _tencent_provider(request: Recorded) -> tuple[int, bytes, dict[str, str]]:
    claimed = request.headers["Authorization"].split("Signature=")[1]
    if claimed != _tc3_signature(request, "tencent-test-key"):
        error = {"Code": "AuthFailure.SignatureFailure", "Message": "signature mismatch"}
        return 200, json.dumps({"Response": {"Error": error, "RequestId": "r"}}).encode(), JSON
    return 200, json.dumps(TENCENT_OK).encode(), JSON


def test_tencent_sends_sendsms_signed_with_tc3_and_the_variables_in_order(tencent):
    tencent.handler = _tencent_provider
    figures = {"due": "11-03 10:00", "number": "TS261102ABCDEFGH23", "amount": "48.00"}
    serial = sms.send(phone=PHONE, kind=sms.COMPLAINT_FILED, figures=figures, purpose=sms.NOTICE)
    assert serial == "5000:1045710669157053657849499619"
    (request,) = tencent.requests
    assert request.headers["X-TC-Action"] == "SendSms"
    assert request.headers["X-TC-Version"] == "2021-01-11"
    assert request.headers["X-TC-Region"] == "ap-guangzhou"
    assert request.headers["Authorization"].startswith(
        "TC3-HMAC-SHA256 Credential=AKIDtestsecretid/"
    )
    assert request.json() == {
        "PhoneNumberSet": [PHONE],
        "SmsSdkAppId": "1400006666",
        "SignName": "卡门投诉",
        "TemplateId": "449739",
        # The template's order, whatever order the figures came in.
        "TemplateParamSet": ["TS261102ABCDEFGH23", "48.00", "11-03 10:00"],
    }


def test_tencent_wrong_key_and_per_number_refusals_are_not_sent(tencent, settings):
    tencent.handler = _tencent_provider
    settings.TENCENT_SMS_SECRET_KEY = "not-the-key"
    with pytest.raises(SmsNotSent, match="AuthFailure.SignatureFailure"):
        sms.send(phone=PHONE, kind=sms.VERIFY_CODE, figures=CODE, purpose=sms.CODE)
    settings.TENCENT_SMS_SECRET_KEY = "tencent-test-key"
    refused = json.loads(json.dumps(TENCENT_OK))
    refused["Response"]["SendStatusSet"][0].update(
        Code="LimitExceeded.PhoneNumberDailyLimit", Message="the number's daily limit"
    )
    tencent.handler = lambda request: (200, json.dumps(refused).encode(), JSON)
    with pytest.raises(SmsNotSent, match="LimitExceeded.PhoneNumberDailyLimit"):
        sms.send(phone=PHONE, kind=sms.VERIFY_CODE, figures=CODE, purpose=sms.NOTICE)


def test_an_unreachable_provider_is_not_sent(settings):
    settings.SMS_PROVIDER = "tencent"
    settings.SMS_SIGN_NAME = "卡门投诉"
    settings.TENCENT_SMS_SECRET_ID = "id"
    settings.TENCENT_SMS_SECRET_KEY = "key"
    settings.TENCENT_SMS_SDK_APP_ID = "1400006666"
    with loopback_server() as server:
        settings.TENCENT_SMS_ENDPOINT = server.url
    # The server is gone: nothing listens there any more.
    with pytest.raises(SmsNotSent):
        sms.send(phone=PHONE, kind=sms.VERIFY_CODE, figures=CODE, purpose=sms.CODE)


def test_an_unknown_provider_name_is_a_configuration_error(settings):
    settings.SMS_PROVIDER = "carrier-pigeon"
    with pytest.raises(ImproperlyConfigured, match="sandbox, aliyun, tencent"):
        provider()


# --- Per-number limits --------------------------------------------------------------------


def _code(phone: str = PHONE) -> str:
    return sms.send(phone=phone, kind=sms.VERIFY_CODE, figures=CODE, purpose=sms.CODE)


def test_codes_per_number_one_a_minute(sms_outbox, time_machine):
    time_machine.move_to(START, tick=False)
    _code()
    with pytest.raises(sms.SmsRateLimited) as refused:
        _code()
    assert refused.value.status_code == 429 and refused.value.code == "sms_rate_limited"
    assert refused.value.retry_after == 55  # the minute ends at 10:01:00
    with translation.override("zh-hans"):
        assert "55 秒" in str(sms.SmsRateLimited(55).message)
    _code("+8613900139000")  # another number has its own count
    time_machine.move_to(timezone.now() + timedelta(minutes=1), tick=False)
    _code()
    assert [m["phone"] for m in sms_outbox()] == [PHONE, "+8613900139000", PHONE]


def test_codes_per_number_five_an_hour_ten_a_day(sms_outbox, time_machine):
    time_machine.move_to(START, tick=False)
    for _n in range(5):
        _code()
        time_machine.move_to(timezone.now() + timedelta(minutes=2), tick=False)
    with pytest.raises(sms.SmsRateLimited) as refused:
        _code()  # 10:10:05, the sixth this hour
    assert refused.value.retry_after == 50 * 60 - 5
    time_machine.move_to("2026-11-02 11:00:05 +08:00", tick=False)
    for _n in range(5):
        _code()
        time_machine.move_to(timezone.now() + timedelta(minutes=2), tick=False)
    time_machine.move_to("2026-11-02 12:00:05 +08:00", tick=False)
    with pytest.raises(sms.SmsRateLimited) as refused:
        _code()  # the eleventh today
    assert refused.value.retry_after > 3600
    assert len(sms_outbox()) == 10
    # Refused messages are not counted: the next day starts afresh.
    time_machine.move_to("2026-11-03 00:00:05 +08:00", tick=False)
    _code()
    assert len(sms_outbox()) == 11


def test_notices_have_their_own_limit(sms_outbox, settings, time_machine):
    time_machine.move_to(START, tick=False)
    settings.SMS_RATE_LIMITS = {**settings.SMS_RATE_LIMITS, "notice": {3600: 2}}
    figures = {"number": "TS261102ABCDEFGH23", "due": "11-03 10:00"}
    for _n in range(2):
        sms.send(phone=PHONE, kind=sms.LAST_REMINDER, figures=figures, purpose=sms.NOTICE)
    with pytest.raises(sms.SmsRateLimited):
        sms.send(phone=PHONE, kind=sms.LAST_REMINDER, figures=figures, purpose=sms.NOTICE)
    _code()  # codes are counted apart
    assert len(sms_outbox()) == 3


def test_limits_hold_whatever_the_wait_message_language(time_machine):
    time_machine.move_to(START, tick=False)
    assert limits.take(PHONE, limits.CODE) is None
    assert limits.take(PHONE, limits.CODE) == 55
    with translation.override("zh-hans"):
        assert "2 小时" in limits.wait_message(7200)
        assert "3 分钟" in limits.wait_message(150)


# --- What an SMS may carry ----------------------------------------------------------------

CARD_KEY = "KMCD-7Q4X-29PA-MZ8R"
ID_NUMBER = "11010519491231002X"
SECRETS = (CARD_KEY, ID_NUMBER, ID_NUMBER[:17])


@pytest.mark.parametrize("kind", sorted(messages.TEMPLATES))
def test_no_message_carries_a_card_key_or_an_identity_number(kind):
    valid = {
        "code": "204617",
        "minutes": "10",
        "number": "TS261102ABCDEFGH23",
        "amount": "48.00",
        "due": "11-03 10:00",
        "outcome": "全额退款",
    }
    noise = {
        "card_key": CARD_KEY,
        "id_number": ID_NUMBER,
        "line": f"卡密 {CARD_KEY} 身份证 {ID_NUMBER}",
        "description": CARD_KEY,
    }
    message = messages.build(kind, {**valid, **noise})
    with translation.override("zh-hans"):
        sent = json.dumps(message.params, ensure_ascii=False) + message.text()
    for secret in SECRETS:
        assert secret not in sent
    # Put in a variable's own place, a key or an identity number is refused, never sent.
    for name, _shape in messages.TEMPLATES[kind].variables:
        for secret in SECRETS:
            with pytest.raises(messages.MessageRefused):
                messages.build(kind, {**valid, name: secret})


def test_a_variable_must_have_its_shape():
    with pytest.raises(messages.MessageRefused):
        messages.build(sms.VERIFY_CODE, {"code": "12345", "minutes": "10"})
    with pytest.raises(messages.MessageRefused):
        messages.build("marketing", {})
    with pytest.raises(messages.MessageRefused):
        messages.build(sms.COMPLAINT_OUTCOME, {"number": "TS261102ABCDEFGH23", "outcome": ""})
    ok = messages.build(
        sms.COMPLAINT_OUTCOME, {"number": "TS261102ABCDEFGH23", "outcome": "partially refunded"}
    )
    assert ok.params["outcome"] == "partially refunded"


# --- System checks --------------------------------------------------------------------------


def test_system_checks_of_the_sms_setup(settings):
    from kamen_complaints.sms.checks import sms_errors

    assert sms_errors(settings) == []  # the sandbox, in development
    settings.KAMEN_ENV = "production"
    assert [e.id for e in sms_errors(settings)] == ["kamen_complaints.W101"]
    settings.KAMEN_DEMO_DEPLOYMENT = True
    assert sms_errors(settings) == []
    settings.SMS_PROVIDER = "tencent"
    settings.TENCENT_SMS_SECRET_ID = ""
    found = {e.id: e.msg for e in sms_errors(settings)}
    assert set(found) == {"kamen_complaints.E101", "kamen_complaints.E102"}
    assert "TENCENT_SMS_SECRET_ID" in found["kamen_complaints.E101"]
    settings.SMS_SIGN_NAME = "卡门投诉"
    settings.TENCENT_SMS_SECRET_ID = "id"
    settings.TENCENT_SMS_SECRET_KEY = "key"
    settings.TENCENT_SMS_SDK_APP_ID = "1400006666"
    settings.SMS_TEMPLATES = {kind: f"4497{n}" for n, kind in enumerate(messages.TEMPLATES)}
    assert sms_errors(settings) == []
