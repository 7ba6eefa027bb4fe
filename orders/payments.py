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
from django.utils.translation import gettext as _

from kamen_complaints.errors import DomainError


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


class UpstreamError(Exception):
    """An upstream (top-up supplier, card issuer) did not answer: timed out, unreachable or
    refused. The caller records it and asks again later (the sweep); never a web request."""


class TopupStatus:
    CREDITED = "credited"
    FAILED = "failed"  # failed or never credited: the buyer did not get it
    PENDING = "pending"  # the upstream is still working on it


@dataclass(frozen=True)
class TopupAnswer:
    """The upstream's answer about one top-up, with its own record (kept as evidence)."""

    status: str
    record: dict[str, object]


class TopupUpstream(Protocol):
    def deliver(self, *, reference: str, target: str, amount: Decimal) -> bool:
        """Top up `target`; True when credited. Idempotent on `reference`."""
        ...

    def query(self, *, reference: str, timeout: float) -> TopupAnswer:
        """What the upstream's own records say of the top-up `reference` (the order number):
        credited, failed (or not credited) or pending. Answers within `timeout` seconds or
        raises UpstreamError. Never changes anything."""
        ...


class SandboxTopupUpstream:
    """A phone top-up supplier whose answers follow from the number topped up (the sandbox
    stands for the supplier's own books, so `query` looks the order up by its number):

    | number ends in | deliver | query |
    | --- | --- | --- |
    | `0000` | fails | failed |
    | `1111` | accepted | **not credited** (failed): the delivery said yes, the books say no |
    | `2222` | accepted | pending (the supplier is still working on it) |
    | `9999` | accepted | no answer (UpstreamError, as a timeout) |
    | `8888` | slow (SANDBOX_TOPUP_SLOW_SECONDS), accepted | credited |
    | anything else | accepted | credited |

    A top-up whose delivery is still running is pending, one whose delivery failed is failed,
    whatever the number."""

    def deliver(self, *, reference: str, target: str, amount: Decimal) -> bool:
        if target.endswith("8888"):
            time.sleep(settings.SANDBOX_TOPUP_SLOW_SECONDS)
        return not target.endswith("0000")

    def query(self, *, reference: str, timeout: float) -> TopupAnswer:
        from orders.models import Order

        order = (
            Order.objects.filter(number=reference).only("topup_target", "amount", "status").first()
        )
        if order is None:
            return TopupAnswer(
                TopupStatus.FAILED, {"reference": reference, "state": "no_such_order"}
            )
        target = order.topup_target
        if target.endswith("9999"):
            raise UpstreamError(f"sandbox upstream: no answer for {reference} in {timeout}s")
        record: dict[str, object] = {
            "supplier": "sandbox",
            "reference": reference,
            "target": f"{target[:3]}****{target[-4:]}",
            "amount": f"{order.amount:.2f}",
            "serial": "SBXT" + hashlib.sha256(reference.encode()).hexdigest()[:16].upper(),
        }
        if target.endswith("0000") or order.status == "delivery_failed":
            return TopupAnswer(TopupStatus.FAILED, {**record, "state": "failed"})
        if order.status == "delivery_pending":
            return TopupAnswer(TopupStatus.PENDING, {**record, "state": "processing"})
        if target.endswith("1111"):
            return TopupAnswer(TopupStatus.FAILED, {**record, "state": "not_credited"})
        if target.endswith("2222"):
            return TopupAnswer(TopupStatus.PENDING, {**record, "state": "processing"})
        return TopupAnswer(TopupStatus.CREDITED, {**record, "state": "credited"})


def get_provider(channel: str = "sandbox") -> PaymentProvider:
    provider: PaymentProvider = import_string(settings.PAYMENT_PROVIDER)()
    if provider.channel != channel:
        raise PaymentError(f"unknown payment channel {channel!r}")
    return provider


def charge(
    *, channel: str, amount: Decimal, description: str, idempotency_key: str
) -> ChargeResult:
    """Take a payment through the channel's provider, for an order or a deposit top-up: the
    one place a caller charges (outside any row lock: a gateway may be slow). Refuses an
    unknown channel (`channel_invalid`) and a charge that did not go through
    (`payment_failed`, 402); the result always succeeded."""
    try:
        provider = get_provider(channel)
    except PaymentError as exc:
        raise DomainError(
            _("Unknown payment channel %(channel)s.") % {"channel": channel},
            code="channel_invalid",
        ) from exc
    try:
        result = provider.charge(
            amount=amount, description=description, idempotency_key=idempotency_key
        )
    except PaymentError as exc:
        raise DomainError(
            _("The payment did not go through."), code="payment_failed", status_code=402
        ) from exc
    if not result.succeeded:
        raise DomainError(
            _("The payment did not go through."), code="payment_failed", status_code=402
        )
    return result


def get_topup_upstream() -> TopupUpstream:
    upstream: TopupUpstream = import_string(settings.TOPUP_UPSTREAM)()
    return upstream
