"""Secrets at rest: card keys and identity numbers.

Encryption is Fernet (AES-128-CBC + HMAC-SHA256) through MultiFernet: CARD_KEY_KEYS lists keys
newest first; the first encrypts, all decrypt, so rotation is prepend → `rotate_card_keys` →
drop the old key. A keyed fingerprint (HMAC-SHA256 with FINGERPRINT_KEY) finds duplicates
platform-wide without decrypting anything.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = settings.CARD_KEY_KEYS
    if not keys:
        raise RuntimeError("CARD_KEY_KEYS is empty: at least one Fernet key is required")
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    if setting == "CARD_KEY_KEYS":
        _fernet.cache_clear()


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode("ascii")).decode("utf-8")


def rotate(token: str) -> str:
    """Re-encrypt under the newest key (MultiFernet.rotate keeps the original timestamp)."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")


def fingerprint(plain: str, *, purpose: str = "card-key") -> str:
    key = settings.FINGERPRINT_KEY.encode("utf-8")
    msg = f"{purpose}:{plain}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def mask(plain_tail: str) -> str:
    """`****7Q2K`: what every listing shows of a secret."""
    return f"****{plain_tail}"


def restore_check() -> tuple[list[str], list[str]]:
    """After a restore (kamen_complaints.backups, registered by orders.apps): decrypt every
    encrypted value with the keys in this environment, the proof that the card keys are still
    readable for their buyers. The lines to report and the problems."""
    from cryptography.fernet import InvalidToken

    from orders.models import CardKey, Merchant

    checked = 0
    failed: dict[str, int] = {}
    for label, tokens in (
        ("card keys", CardKey.objects.exclude(secret_encrypted="").values_list("secret_encrypted")),
        (
            "identity numbers",
            Merchant.objects.exclude(id_number_encrypted="").values_list("id_number_encrypted"),
        ),
    ):
        for (token,) in tokens.iterator():
            checked += 1
            try:
                decrypt(token)
            except (InvalidToken, ValueError):
                failed[label] = failed.get(label, 0) + 1
    return [f"secrets: {checked} encrypted value(s) decrypt with CARD_KEY_KEYS"], [
        f"{n} {label} do not decrypt with CARD_KEY_KEYS: set the keys kept with the backup"
        for label, n in failed.items()
    ]
