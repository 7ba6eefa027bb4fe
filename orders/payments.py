"""Payment providers and top-up upstreams behind small interfaces.

The sandbox implementations are what `make run` and the tests use: the sandbox charges at
once (`charge`). The real channels (orders/channels/: Alipay, WeChat Pay API v3) are
asynchronous (`ChannelProvider`): the payer is sent to the channel, and the payment counts only
when the channel's signed notice or the sweep's query says so (docs/payments.md). They are
named in PAYMENT_CHANNELS. Refunds are idempotent on the key the caller passes, as real
gateways are (out_refund_no / out_request_no), so a retried task never refunds twice.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from kamen_complaints.errors import DomainError

if TYPE_CHECKING:
    from orders.channels.bills import BillRow


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

    def refund(
        self, *, reference: str, amount: Decimal, idempotency_key: str, total: Decimal | None = None
    ) -> str:
        """Send `amount` of payment `reference` (of `total`, what was paid) back; return the
        provider's refund id. Same key → same refund id, refunded once."""
        ...


# --- Asynchronous channels (Alipay, WeChat Pay) ------------------------------------------


@dataclass(frozen=True)
class PayStart:
    """Where the payer goes to pay: a page to redirect to (Alipay page and mobile-web pay,
    WeChat Pay H5), or a code to scan (WeChat Pay Native's code_url)."""

    pay_url: str = ""
    code_url: str = ""


@dataclass(frozen=True)
class TradeState:
    """What a channel says of one trade, from a verified notice or a verified query answer."""

    out_trade_no: str
    reference: str  # the channel's own trade number (trade_no / transaction_id)
    amount: Decimal | None
    paid: bool
    state: str  # the channel's own word: TRADE_SUCCESS, SUCCESS, NOTPAY, …
    app_id: str = ""
    merchant_id: str = ""
    notice_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


class NoticeRefused(Exception):
    """A notice that is not the channel's (bad signature, stale, undecryptable) or not ours
    (another app or merchant). `state` is set when the notice was genuine but not ours."""

    def __init__(self, reason: str, state: TradeState | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.state = state


@dataclass(frozen=True)
class NoticeAnswer:
    """What the channel must read back (Alipay: the text "success"; WeChat Pay: 204, or a
    4xx with its JSON fail shape)."""

    status: int
    body: bytes
    content_type: str


class ChannelProvider(Protocol):
    """A real, asynchronous payment channel (orders/channels/). Every call that leaves the
    process raises PaymentError when the channel fails or does not answer in time."""

    channel: str
    # Scenes the channel offers, first the one for a desktop browser, then for a phone.
    scenes: tuple[str, str]

    def start(
        self,
        *,
        out_trade_no: str,
        amount: Decimal,
        description: str,
        scene: str,
        return_url: str,
        client_ip: str,
    ) -> PayStart: ...

    def query(self, *, out_trade_no: str) -> TradeState: ...

    def parse_notice(self, *, headers: Any, body: bytes) -> TradeState: ...

    def answer(self, *, ok: bool, message: str = "") -> NoticeAnswer: ...

    def refund(
        self, *, reference: str, amount: Decimal, idempotency_key: str, total: Decimal | None = None
    ) -> str: ...

    def bill_download_url(self, *, day: date) -> str: ...

    def bill(self, *, day: date) -> list[BillRow]:
        """The day's bill, downloaded and read (orders/channels/bills.py)."""
        ...


def out_refund_number(idempotency_key: str) -> str:
    """The channel's refund number for one of our idempotency keys (`payout:12`,
    `order:KM…:delivery-failed`): WeChat Pay allows only letters, digits and `_-|*@`, at most
    64 characters, so `:` becomes `|` (no key holds a `|`); a longer key becomes its digest.
    The same key always gives the same number, so a retried refund is the same refund."""
    number = idempotency_key.replace(":", "|")
    if len(number) > 64 or not all(c.isascii() and (c.isalnum() or c in "_-|*@") for c in number):
        number = "K" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return number


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

    def refund(
        self, *, reference: str, amount: Decimal, idempotency_key: str, total: Decimal | None = None
    ) -> str:
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


# The real channels by name (PAYMENT_CHANNELS); each reads its own settings.
CHANNEL_CLASSES = {
    "alipay": "orders.channels.alipay.AlipayProvider",
    "wechatpay": "orders.channels.wechatpay.WechatPayProvider",
}
_channel_cache: dict[tuple[str, str], Any] = {}


def channel_settings(channel: str) -> dict[str, Any]:
    """The settings a channel reads (its cache key: tests and a changed setting get a new
    client, a running process keeps the one it built, keys loaded once)."""
    prefix = channel.upper() + "_"
    names = [n for n in dir(settings) if n.startswith(prefix)]
    names += ["PAYMENT_HTTP_TIMEOUT_SECONDS", "PAYMENT_NOTIFY_BASE_URL", "SITE_URL"]
    return {n: getattr(settings, n) for n in sorted(names)}


def get_provider(channel: str = "sandbox") -> Any:
    """The provider of `channel`: the PAYMENT_PROVIDER class when it is that channel (the
    sandbox), else a configured real channel (PAYMENT_CHANNELS). PaymentError otherwise."""
    if settings.PAYMENT_PROVIDER:
        provider = import_string(settings.PAYMENT_PROVIDER)()
        if provider.channel == channel:
            return provider
    if channel in settings.PAYMENT_CHANNELS and channel in CHANNEL_CLASSES:
        key = (channel, repr(channel_settings(channel)))
        if key not in _channel_cache:
            _channel_cache.clear()
            _channel_cache[key] = import_string(CHANNEL_CLASSES[channel])()
        return _channel_cache[key]
    raise PaymentError(f"unknown payment channel {channel!r}")


def available_channels() -> list[str]:
    """The channels a payer may choose, the sandbox first when it is on."""
    names = []
    if settings.PAYMENT_PROVIDER:
        names.append(import_string(settings.PAYMENT_PROVIDER).channel)
    names += [c for c in settings.PAYMENT_CHANNELS if c in CHANNEL_CLASSES and c not in names]
    return names


def is_redirect_channel(channel: str) -> bool:
    """True for a real channel: the payer pays there, and the payment counts only when the
    channel says so (notice or query)."""
    return channel in CHANNEL_CLASSES and channel in settings.PAYMENT_CHANNELS


def channel_label(channel: str) -> str:
    """The channel's name as people read it."""
    labels = {"alipay": _("Alipay"), "wechatpay": _("WeChat Pay"), "sandbox": _("Sandbox")}
    return labels.get(channel, channel)


def get_channel(channel: str) -> ChannelProvider:
    """A configured real channel, or DomainError `channel_invalid`."""
    if not is_redirect_channel(channel):
        raise DomainError(
            _("Unknown payment channel %(channel)s.") % {"channel": channel},
            code="channel_invalid",
        )
    try:
        provider: ChannelProvider = get_provider(channel)
    except PaymentError as exc:  # misconfigured: the system check says which setting
        raise DomainError(
            _("Payment through %(channel)s is not available at the moment.")
            % {"channel": channel_label(channel)},
            code="channel_unavailable",
            status_code=503,
        ) from exc
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
    if not hasattr(provider, "charge"):  # a real channel: the payer pays on its own page
        raise DomainError(
            _("Payment through %(channel)s is made on its own page; start it from the order.")
            % {"channel": channel},
            code="channel_invalid",
        )
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
