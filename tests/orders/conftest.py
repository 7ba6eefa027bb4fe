"""Fixtures of the orders tests: a shop with a product in stock, a buyer, clients as each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from orders.models import Merchant, Product, ProductKind
from tests.factories import (
    CardKeyFactory,
    MerchantFactory,
    ProductFactory,
    StaffFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # PBKDF2's cost is for production; factories hash a password per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def no_activation_guards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders' own merchant rules, without other apps' guards (escrow's deposit check holds
    back a shop without a deposit; its tests cover that)."""
    from orders.services import merchants

    monkeypatch.setattr(merchants, "_activation_guards", [])


@pytest.fixture
def buyer(db: Any) -> Any:
    return UserFactory()


@pytest.fixture
def other_buyer(db: Any) -> Any:
    return UserFactory()


@pytest.fixture
def merchant(db: Any) -> Merchant:
    return MerchantFactory()


@pytest.fixture
def other_merchant(db: Any) -> Merchant:
    return MerchantFactory()


@pytest.fixture
def product(merchant: Merchant) -> Product:
    product = ProductFactory(merchant=merchant)
    CardKeyFactory.create_batch(5, product=product)
    return product


@pytest.fixture
def topup_product(merchant: Merchant) -> Product:
    return ProductFactory(
        merchant=merchant, kind=ProductKind.PHONE_TOPUP, name="话费 50", price="49.50"
    )


@pytest.fixture
def verifier(db: Any) -> Any:
    return StaffFactory(perms=["orders.verify_merchant"])


@pytest.fixture
def client_as() -> Callable[[Any], APIClient]:
    """client_as(user) → an APIClient authenticated as that user (None: anonymous)."""

    def make(user: Any) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
