"""System checks of the SMS setup (registered when kamen_complaints.sms is imported, which
accounts' AppConfig.ready does):

- outside development, the sandbox provider sends nothing to anyone (codes and notices only
  land in var/sms/outbox.jsonl): a warning, unless KAMEN_DEMO_DEPLOYMENT says it is a demo;
- a real provider must load — its credentials and the sign name set — and every message kind
  must have a template code (the error names the setting, never a secret).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured


def sms_errors(config: Any) -> list[Error | Warning]:
    from kamen_complaints.sms.messages import TEMPLATES
    from kamen_complaints.sms.providers import PROVIDERS, provider

    name = getattr(config, "SMS_PROVIDER", "sandbox")
    if name == "sandbox":
        if getattr(config, "KAMEN_ENV", "production") == "development" or getattr(
            config, "KAMEN_DEMO_DEPLOYMENT", False
        ):
            return []
        return [
            Warning(
                "SMS_PROVIDER is the sandbox: codes and notices go to var/sms/outbox.jsonl, "
                "not to anyone's phone, and KAMEN_ENV is not 'development'.",
                hint="Set SMS_PROVIDER=aliyun or tencent with its credentials (docs/sms.md).",
                id="kamen_complaints.W101",
            )
        ]
    errors: list[Error | Warning] = []
    if name in PROVIDERS:
        codes = getattr(config, "SMS_TEMPLATES", {}) or {}
        missing = [
            kind
            for kind in TEMPLATES
            if not codes.get(kind) or str(codes[kind]).startswith("SANDBOX_")
        ]
        if missing:
            errors.append(
                Error(
                    f"SMS_TEMPLATES has no approved template code for {', '.join(missing)}.",
                    hint="SMS_TEMPLATES=verify_code=…,reset_code=…,… (docs/sms.md).",
                    id="kamen_complaints.E102",
                )
            )
    try:
        provider()
    except ImproperlyConfigured as exc:
        errors.append(Error(f"The SMS provider does not load: {exc}", id="kamen_complaints.E101"))
    return errors


@register()
def check_sms_setup(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    return sms_errors(settings)
