"""Payment providers and top-up upstreams behind small interfaces.

The sandbox implementations are what `make run` and the tests use. A real gateway (Alipay,
WeChat Pay) implements `PaymentProvider` and is named in the PAYMENT_PROVIDER setting; orders
never change. Both calls are idempotent on the key the caller passes, as real gateways are
(out_trade_no / out_refund_no), so a retried task never charges or refunds twice.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils.crypto import salted_hmac
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


# The PAYMENT_PROVIDER value that means "the sandbox" (orders/api_urls.py mounts its callback).
SANDBOX_PROVIDER = "orders.payments.SandboxProvider"


class SandboxProvider:
    """Always succeeds. Like a real gateway (out_trade_no), the same idempotency key gives the
    same reference: a double-clicked "pay" is one charge, not two. Callers therefore pass a key
    unique per intended charge (orders use `order:<number>`). Refund ids derive from the
    refund's idempotency key the same way."""

    channel = "sandbox"

    def charge(self, *, amount: Decimal, description: str, idempotency_key: str) -> ChargeResult:
        if amount <= 0:
            raise PaymentError("amount must be positive")
        digest = hashlib.sha256(f"charge:{idempotency_key}".encode()).hexdigest()[:20].upper()
        return ChargeResult(reference=f"SBX{digest}", succeeded=True)

    def refund(self, *, reference: str, amount: Decimal, idempotency_key: str) -> str:
        if amount <= 0:
            raise PaymentError("amount must be positive")
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:20].upper()
        return f"SBXR{digest}"


def sandbox_callback_signature(*, order: str, reference: str, amount: Decimal) -> str:
    """HMAC-SHA256 the sandbox provider puts on its payment callbacks.

    The key is derived from SECRET_KEY (Django's salted_hmac), so no extra setting is needed;
    a real gateway verifies its own signature scheme (RSA for Alipay, HMAC for WeChat Pay) in
    its own view. The amount is signed in its canonical 2-place form ("12.50")."""
    message = f"{order}\n{reference}\n{amount:.2f}"
    return salted_hmac("kamen_complaints.sandbox-callback", message, algorithm="sha256").hexdigest()


def sandbox_callback_signature_valid(
    *, order: str, reference: str, amount: Decimal, signature: str
) -> bool:
    expected = sandbox_callback_signature(order=order, reference=reference, amount=amount)
    given = signature.strip().lower().encode("utf-8", "surrogatepass")
    return hmac.compare_digest(expected.encode("ascii"), given)


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
