"""The real payment channels behind orders.payments.ChannelProvider (docs/payments.md):
`alipay` (python-alipay-sdk, RSA2) and `wechatpay` (wechatpayv3, API v3). Each reads its own
settings; keys and certificates come from files named in the environment, never from the
repository."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.urls import reverse

from orders.payments import PaymentError


def read_secret_file(setting: str) -> str:
    """The content of the file a setting names, or PaymentError naming the setting."""
    path = getattr(settings, setting, "")
    if not path:
        raise PaymentError(f"{setting} is not set")
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PaymentError(f"{setting}: cannot read {path}: {exc.strerror}") from exc


def require(*names: str) -> None:
    missing = [name for name in names if not getattr(settings, name, "")]
    if missing:
        raise PaymentError(f"not set: {', '.join(missing)}")


def public_url(path: str) -> str:
    """An absolute URL the channel reaches from outside (PAYMENT_NOTIFY_BASE_URL, else
    SITE_URL)."""
    base = settings.PAYMENT_NOTIFY_BASE_URL or settings.SITE_URL
    return f"{base}{path}"


def notify_url(channel: str) -> str:
    return public_url(reverse(f"api-payments-{channel}-notify"))
