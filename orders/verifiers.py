"""Card-key verification with the issuer, behind a small interface like `PaymentProvider`.

A `CardKeyVerifier` (setting CARD_KEY_VERIFIER, a dotted path) tells for one key what the
issuer knows: unknown, valid and not redeemed, or redeemed at a time — with the issuer's own
record, which the platform keeps as evidence (disputes/services/auto.py). A real issuer's API
plugs in behind the same interface; it must answer within `timeout` seconds or raise
`orders.payments.UpstreamError` (the caller also stops waiting after `timeout`). It is called
only from the complaint checks' task and sweep, never in a web request.

`SandboxCardKeyVerifier` answers from the key's own text (case-insensitive), so the demo and
the tests reach every branch:

| the key contains | the issuer says |
| --- | --- |
| `UNKNOWN` | unknown: no such key was ever issued |
| `PREUSED` | redeemed on 2020-01-01 00:00 (Asia/Shanghai): before any delivery |
| `USEDLATER` | redeemed at the moment it is asked: after the delivery (and any reveal) |
| `NOREPLY` | no answer (UpstreamError, as a timeout) |
| anything else | valid, not redeemed |

Every sandbox answer waits SANDBOX_VERIFIER_DELAY_SECONDS first (0 by default; the benchmark
sets 2 s to show a slow issuer never slows a filing).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from kamen_complaints.timefmt import SHANGHAI
from orders.payments import UpstreamError


class KeyStatus:
    UNKNOWN = "unknown"
    VALID = "valid"  # issued, not redeemed
    REDEEMED = "redeemed"


@dataclass(frozen=True)
class KeyAnswer:
    """The issuer's answer about one key, with its own record (kept as evidence)."""

    status: str
    redeemed_at: datetime | None
    record: dict[str, object]


class CardKeyVerifier(Protocol):
    def verify(self, *, secret: str, product_kind: str, timeout: float) -> KeyAnswer:
        """What the issuer knows of the key `secret`. Answers within `timeout` seconds or
        raises UpstreamError. Never redeems or changes anything."""
        ...


SANDBOX_PREUSED_AT = datetime(2020, 1, 1, tzinfo=SHANGHAI)


class SandboxCardKeyVerifier:
    """Answers from the key's text (see the module docstring for the patterns)."""

    def verify(self, *, secret: str, product_kind: str, timeout: float) -> KeyAnswer:
        delay = float(getattr(settings, "SANDBOX_VERIFIER_DELAY_SECONDS", 0.0) or 0.0)
        if delay:
            time.sleep(min(delay, timeout + 1))
        return self._answer(secret, product_kind, timeout)

    def _answer(self, secret: str, product_kind: str, timeout: float) -> KeyAnswer:
        text = secret.upper()
        if "NOREPLY" in text:
            raise UpstreamError(f"sandbox issuer: no answer in {timeout}s")
        record: dict[str, object] = {
            "issuer": "sandbox",
            "product_kind": product_kind,
            "key": f"****{secret[-4:]}",
            "serial": "SBXK" + hashlib.sha256(secret.encode()).hexdigest()[:16].upper(),
            "asked_at": timezone.now().isoformat(),
        }
        if "UNKNOWN" in text:
            return KeyAnswer(KeyStatus.UNKNOWN, None, {**record, "state": "unknown"})
        if "PREUSED" in text:
            at = SANDBOX_PREUSED_AT
            return KeyAnswer(
                KeyStatus.REDEEMED, at, {**record, "state": "redeemed", "at": at.isoformat()}
            )
        if "USEDLATER" in text:
            at = timezone.now()
            return KeyAnswer(
                KeyStatus.REDEEMED, at, {**record, "state": "redeemed", "at": at.isoformat()}
            )
        return KeyAnswer(KeyStatus.VALID, None, {**record, "state": "valid"})

    def verify_many(
        self, *, secrets: list[str], product_kind: str, timeout: float
    ) -> list[KeyAnswer | str]:
        """The batch query: one wait for the lot, then each key's answer (a NOREPLY key's is
        its error text)."""
        delay = float(getattr(settings, "SANDBOX_VERIFIER_DELAY_SECONDS", 0.0) or 0.0)
        if delay:
            time.sleep(min(delay, timeout + 1))
        answers: list[KeyAnswer | str] = []
        for secret in secrets:
            try:
                answers.append(self._answer(secret, product_kind, timeout))
            except UpstreamError as exc:
                answers.append(str(exc))
        return answers


def get_card_key_verifier() -> CardKeyVerifier:
    verifier: CardKeyVerifier = import_string(settings.CARD_KEY_VERIFIER)()
    return verifier


def card_key_verify(*, card_key_id: int, timeout: float) -> KeyAnswer:
    """Ask the issuer about one of the platform's card keys. The key is decrypted here, in
    the worker, only to be passed to the issuer: it is never stored, logged or shown (this is
    not a reveal to anyone, so it is not recorded as one)."""
    from orders import crypto
    from orders.models import CardKey

    key = CardKey.objects.select_related("product").get(pk=card_key_id)
    secret = crypto.decrypt(key.secret_encrypted)
    return get_card_key_verifier().verify(
        secret=secret, product_kind=key.product.kind, timeout=timeout
    )


def card_keys_verify(*, card_key_ids: list[int], timeout: float) -> dict[int, KeyAnswer | str]:
    """Ask the issuer about many of the platform's keys at once (a collective case checks a
    whole batch): decrypted here, in the worker, passed on and forgotten, like
    `card_key_verify`. A verifier with `verify_many(secrets=…, product_kind=…, timeout=…)`
    (one call for the lot, as issuers' batch-query APIs work) answers them together; any
    other is asked key by key. The answer per key id, or the error text when the issuer gave
    none for it (asked again later)."""
    from orders import crypto
    from orders.models import CardKey

    keys = list(
        CardKey.objects.filter(pk__in=card_key_ids)
        .select_related("product")
        .only("pk", "secret_encrypted", "product__kind")
    )
    verifier = get_card_key_verifier()
    answers: dict[int, KeyAnswer | str] = {}
    by_kind: dict[str, list[tuple[int, str]]] = {}
    for key in keys:
        by_kind.setdefault(key.product.kind, []).append(
            (key.pk, crypto.decrypt(key.secret_encrypted))
        )
    many = getattr(verifier, "verify_many", None)
    for kind, pairs in by_kind.items():
        if many is not None:
            try:
                batch = many(secrets=[s for _pk, s in pairs], product_kind=kind, timeout=timeout)
            except UpstreamError as exc:
                answers.update({pk: str(exc) or "no answer" for pk, _s in pairs})
                continue
            for (pk, _secret), answer in zip(pairs, batch, strict=True):
                answers[pk] = answer
            continue
        for pk, secret in pairs:
            try:
                answers[pk] = verifier.verify(secret=secret, product_kind=kind, timeout=timeout)
            except UpstreamError as exc:
                answers[pk] = str(exc) or "no answer"
    return answers
