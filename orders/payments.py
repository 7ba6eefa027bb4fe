"""Payment providers and top-up upstreams behind small interfaces.

The sandbox implementations are what `make run` and the tests use. A real gateway (Alipay,
WeChat Pay) implements `PaymentProvider` and is named in the PAYMENT_PROVIDER setting; orders
never change. Both calls are idempotent on the key the caller passes, as real gateways are
(out_trade_no / out_refund_no), so a retried task never charges or refunds twice.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class ChargeResult:
    reference: str
    succeeded: bool


class PaymentError(Exception):
    """The provider refused or failed; the caller records it and retries later."""


class PaymentProvider(Protocol):
    channel: str

    def charge(self, *, amount: Decimal, description: str, idempotency_key: str) -> ChargeResult:
        """Take `amount` from the payer. Same key → same result, charged once."""
        ...

    def refund(self, *, reference: str, amount: Decimal, idempotency_key: str) -> str:
        """Send `amount` of payment `reference` back; return the provider's refund id.
        Same key → same refund id, refunded once."""
        ...


class SandboxProvider:
    """Always succeeds; references are random, refund ids derived from the idempotency key."""

    channel = "sandbox"

    def charge(self, *, amount: Decimal, description: str, idempotency_key: str) -> ChargeResult:
        if amount <= 0:
            raise PaymentError("amount must be positive")
        return ChargeResult(reference=f"SBX{secrets.token_hex(10).upper()}", succeeded=True)

    def refund(self, *, reference: str, amount: Decimal, idempotency_key: str) -> str:
        if amount <= 0:
            raise PaymentError("amount must be positive")
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:20].upper()
        return f"SBXR{digest}"


class TopupUpstream(Protocol):
    def deliver(self, *, reference: str, target: str, amount: Decimal) -> bool:
        """Top up `target`; True when credited. Idempotent on `reference`."""
        ...


class SandboxTopupUpstream:
    """A phone top-up supplier that can succeed, fail or be slow, chosen by the number:
    ending in 0000 fails, ending in 8888 is slow (SANDBOX_TOPUP_SLOW_SECONDS), else succeeds."""

    def deliver(self, *, reference: str, target: str, amount: Decimal) -> bool:
        if target.endswith("8888"):
            time.sleep(settings.SANDBOX_TOPUP_SLOW_SECONDS)
        return not target.endswith("0000")


def get_provider(channel: str = "sandbox") -> PaymentProvider:
    provider: PaymentProvider = import_string(settings.PAYMENT_PROVIDER)()
    if provider.channel != channel:
        raise PaymentError(f"unknown payment channel {channel!r}")
    return provider


def get_topup_upstream() -> TopupUpstream:
    upstream: TopupUpstream = import_string(settings.TOPUP_UPSTREAM)()
    return upstream
