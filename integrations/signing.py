"""The webhook signature (docs/integrations.md "Checking the signature"):

Kamen-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the secret>
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Kamen-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + raw_body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def header(secret: str, timestamp: int, raw_body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, raw_body)}"
