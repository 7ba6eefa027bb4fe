"""Helpers shared by the orders tests."""

from __future__ import annotations

import secrets

from orders import services
from orders.models import Product


def secret_keys(n: int, prefix: str = "SECRET") -> list[str]:
    """n distinctive plaintext keys, easy to look for in dumps, logs and pages."""
    return [f"{prefix}-{secrets.token_hex(6).upper()}-{i:03d}" for i in range(n)]


def import_keys(product: Product, keys: list[str]) -> None:
    report = services.card_keys_import(product=product, data="\n".join(keys))
    assert report.imported == len(keys), report.problems
