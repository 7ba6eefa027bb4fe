"""Where an SMS goes: one small interface, `send(phone, template, params)`, and three
implementations chosen by settings.SMS_PROVIDER (docs/sms.md):

- `sandbox` (development and tests): writes the message to the log and appends it as one JSON
  line to var/sms/outbox.jsonl under KAMEN_VAR_DIR; nothing leaves the machine;
- `aliyun`: Aliyun SMS (阿里云短信服务) through its official SDK, `SendSms` with the sign name,
  the template code and the variables as a JSON object;
- `tencent`: Tencent Cloud SMS (腾讯云短信) through its official SDK, `SendSms` with the
  SmsSdkAppId, the sign name, the template id and the variables as a list in template order.

Credentials come from the environment only (settings read them; nothing has a default). Each
SDK is pointed at its endpoint setting, so the tests answer in place of the provider on a
loopback HTTP server while the SDK builds and signs the real request. A refusal or a transport
failure raises `SmsNotSent`; the caller decides whether it is retried.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

logger = logging.getLogger(__name__)


class SmsNotSent(Exception):
    """The provider did not take the message (refused it, or could not be reached)."""


class Provider:
    name = ""

    def send(self, phone: str, template: str, params: dict[str, str]) -> str:
        """Send one templated message to `phone` (E.164, +86…). Returns the provider's id of
        the message; raises SmsNotSent."""
        raise NotImplementedError


def _required(*names: str) -> list[str]:
    values = [str(getattr(settings, name, "") or "") for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        raise ImproperlyConfigured(
            f"SMS_PROVIDER={settings.SMS_PROVIDER} needs {', '.join(missing)} in the environment"
        )
    return values


def _endpoint(url: str) -> tuple[str, str]:
    """("https", "host[:port]") of an endpoint setting: a URL, or a bare host (https)."""
    parts = urlsplit(url if "//" in url else f"https://{url}")
    return parts.scheme or "https", parts.netloc


def outbox_path() -> Path:
    return Path(settings.VAR_DIR) / "sms" / "outbox.jsonl"


class SandboxProvider(Provider):
    """Development and tests: the message is logged and appended to var/sms/outbox.jsonl, with
    its text as the registered template would render it."""

    name = "sandbox"

    def send(self, phone: str, template: str, params: dict[str, str]) -> str:
        from kamen_complaints.sms.messages import TEMPLATES, Message

        kind = next(
            (
                k
                for k, code in settings.SMS_TEMPLATES.items()
                if code == template and k in TEMPLATES
            ),
            "",
        )
        text = Message(kind, template, params).text() if kind else ""
        at = timezone.now()
        message_id = f"sandbox-{at.timestamp():.6f}"
        record = {
            "id": message_id,
            "at": at.isoformat(),
            "phone": phone,
            "template": template,
            "kind": kind,
            "params": params,
            "text": text,
        }
        path = outbox_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as outbox:
            outbox.write(json.dumps(record, ensure_ascii=False) + "\n")
        logger.info("[sms sandbox to %s] %s %s", phone, template, text or params)
        return message_id


class AliyunProvider(Provider):
    """Aliyun SMS, API version 2017-05-25, through alibabacloud_dysmsapi20170525."""

    name = "aliyun"

    def __init__(self) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as openapi

        key_id, secret = _required("ALIYUN_SMS_ACCESS_KEY_ID", "ALIYUN_SMS_ACCESS_KEY_SECRET")
        self.sign_name = _required("SMS_SIGN_NAME")[0]
        protocol, host = _endpoint(settings.ALIYUN_SMS_ENDPOINT)
        self.client = Client(
            openapi.Config(
                access_key_id=key_id,
                access_key_secret=secret,
                endpoint=host,
                protocol=protocol,
            )
        )

    def send(self, phone: str, template: str, params: dict[str, str]) -> str:
        from alibabacloud_dysmsapi20170525 import models
        from darabonba.runtime import RuntimeOptions

        timeout_ms = int(settings.SMS_TIMEOUT_SECONDS * 1000)
        request = models.SendSmsRequest(
            # Mainland numbers as 11 digits (the API takes them with or without 86).
            phone_numbers=phone.removeprefix("+86"),
            sign_name=self.sign_name,
            template_code=template,
            template_param=json.dumps(params, ensure_ascii=False),
        )
        try:
            response = self.client.send_sms_with_options(
                request,
                RuntimeOptions(
                    connect_timeout=timeout_ms, read_timeout=timeout_ms, autoretry=False
                ),
            )
        except Exception as exc:  # the SDK's ClientException / ServerException, or transport
            raise SmsNotSent(f"aliyun: {exc}") from exc
        body: Any = response.body
        if body is None or body.code != "OK":
            code = getattr(body, "code", None)
            message = getattr(body, "message", None)
            raise SmsNotSent(f"aliyun refused: {code} {message}")
        return str(body.biz_id or "")


class TencentProvider(Provider):
    """Tencent Cloud SMS, API version 2021-01-11, through tencentcloud-sdk-python-sms."""

    name = "tencent"

    def __init__(self) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        secret_id, secret_key, self.app_id = _required(
            "TENCENT_SMS_SECRET_ID", "TENCENT_SMS_SECRET_KEY", "TENCENT_SMS_SDK_APP_ID"
        )
        self.sign_name = _required("SMS_SIGN_NAME")[0]
        protocol, host = _endpoint(settings.TENCENT_SMS_ENDPOINT)
        profile = ClientProfile(
            httpProfile=HttpProfile(
                protocol=protocol, endpoint=host, reqTimeout=int(settings.SMS_TIMEOUT_SECONDS)
            )
        )
        self.client = sms_client.SmsClient(
            credential.Credential(secret_id, secret_key), settings.TENCENT_SMS_REGION, profile
        )

    def send(self, phone: str, template: str, params: dict[str, str]) -> str:
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.SmsSdkAppId = self.app_id
        request.SignName = self.sign_name
        request.TemplateId = template
        request.TemplateParamSet = list(params.values())
        request.PhoneNumberSet = [phone]
        try:
            response = self.client.SendSms(request)
        except Exception as exc:  # TencentCloudSDKException (refusal) or transport
            raise SmsNotSent(f"tencent: {exc}") from exc
        statuses = response.SendStatusSet or []
        if not statuses or statuses[0].Code != "Ok":
            detail = f"{statuses[0].Code} {statuses[0].Message}" if statuses else "no status"
            raise SmsNotSent(f"tencent refused: {detail}")
        return str(statuses[0].SerialNo or "")


PROVIDERS: dict[str, type[Provider]] = {
    "sandbox": SandboxProvider,
    "aliyun": AliyunProvider,
    "tencent": TencentProvider,
}


def provider() -> Provider:
    """The provider settings.SMS_PROVIDER names, built from the settings as they are now (a
    client is cheap to build; SMS are few)."""
    name = settings.SMS_PROVIDER
    try:
        provider_class = PROVIDERS[name]
    except KeyError as exc:
        raise ImproperlyConfigured(
            f"SMS_PROVIDER={name!r}: use one of {', '.join(PROVIDERS)}"
        ) from exc
    return provider_class()
