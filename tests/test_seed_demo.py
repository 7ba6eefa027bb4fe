"""`manage.py seed_demo`: the demo marketplace every new user starts from."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command

from orders import crypto, services
from orders.management.commands.seed_demo import (
    ADMIN,
    ARBITER,
    BUYERS,
    DEMO_PASSWORD,
    SHOPS,
    demo_logins,
)
from orders.models import (
    CardKey,
    CardKeyStatus,
    DuplicateKeyFlag,
    Merchant,
    MerchantStatus,
    Order,
    OrderStatus,
    Product,
    ProductKind,
)
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The seed hashes a password per demo account; PBKDF2 would make each test seconds slower.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    """Every table of every app: a second run must leave all of them as they were."""
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if not model._meta.proxy and model._meta.managed
    }


@pytest.mark.django_db
def test_seed_demo_builds_verified_shops_selling_every_kind_of_product():
    seed()
    merchants = Merchant.objects.all()
    assert 2 <= merchants.count() <= 3
    for merchant in merchants:
        assert merchant.status == MerchantStatus.ACTIVE
        assert merchant.verified_by.username == ADMIN.username
        assert merchant.reverification_due > merchant.verified_at
        # A real identity number: encrypted at rest, valid checksum once decrypted.
        clear = crypto.decrypt(merchant.id_number_encrypted)
        assert services.validate_id_number(clear) == clear
        assert clear not in merchant.id_number_encrypted
    kinds = set(Product.objects.values_list("kind", flat=True))
    assert kinds == set(ProductKind.values)
    for product in Product.objects.exclude(kind=ProductKind.PHONE_TOPUP):
        assert product.card_keys.filter(status=CardKeyStatus.AVAILABLE).exists(), product.name


def test_seed_demo_identity_numbers_pass_the_checksum():
    for shop in SHOPS:
        assert services.validate_id_number(shop.id_number) == shop.id_number


@pytest.mark.django_db
def test_seed_demo_orders_are_paid_and_delivered_through_the_services():
    seed()
    orders = Order.objects.all()
    delivered = orders.filter(status=OrderStatus.DELIVERED)
    assert delivered.filter(product__kind=ProductKind.PHONE_TOPUP).exists()
    card_key_orders = delivered.exclude(product__kind=ProductKind.PHONE_TOPUP)
    assert card_key_orders.count() >= 3
    for order in card_key_orders:
        assert order.card_keys.count() == order.quantity
        assert order.payment_reference
        assert order.paid_at and order.delivered_at
    # No key went to two orders, and every delivered key belongs to a delivered order.
    delivered_keys = CardKey.objects.filter(status=CardKeyStatus.DELIVERED)
    assert delivered_keys.count() == sum(o.quantity for o in card_key_orders)
    # A buyer sees their own keys in clear on request.
    order = card_key_orders.first()
    keys = services.order_reveal_keys(order=order, user=order.buyer)
    assert len(keys) == order.quantity
    assert all(
        k.endswith(ck.tail) for k, ck in zip(keys, order.card_keys.order_by("id"), strict=True)
    )


@pytest.mark.django_db
def test_seed_demo_makes_a_superuser_and_an_arbitrator_who_is_staff_but_not_superuser():
    seed()
    admin = User.objects.get(username=ADMIN.username)
    assert admin.is_staff and admin.is_superuser
    arbiter = User.objects.get(username=ARBITER.username)
    assert arbiter.is_staff
    assert not arbiter.is_superuser
    for buyer in BUYERS:
        user = User.objects.get(username=buyer.username)
        assert not user.is_staff
        assert not Merchant.objects.filter(members__user=user).exists()


@pytest.mark.django_db
def test_every_printed_demo_login_works_with_its_password():
    output = seed()
    for login in demo_logins():
        assert re.search(rf"^\s*{login.username}\s+{re.escape(login.password)}\s", output, re.M)
        assert authenticate(username=login.username, password=login.password) is not None


@pytest.mark.django_db
def test_seed_demo_twice_changes_nothing_and_says_so():
    seed()
    before = row_counts()
    output = seed()
    assert "nothing changed" in output
    assert row_counts() == before
    assert not DuplicateKeyFlag.objects.exists()


@pytest.mark.django_db
def test_seed_demo_keeps_a_demo_password_someone_changed():
    seed()
    buyer = User.objects.get(username=BUYERS[0].username)
    buyer.set_password("my-own-new-password-1")
    buyer.save()
    seed()
    assert authenticate(username=buyer.username, password="my-own-new-password-1") is not None


@pytest.mark.django_db
def test_if_empty_seeds_an_empty_database():
    output = seed("--if-empty")
    assert "seeded" in output
    assert Merchant.objects.exists()


@pytest.mark.django_db
def test_if_empty_leaves_a_database_with_users_alone():
    UserFactory(username="someone")
    output = seed("--if-empty")
    assert "not seeding" in output
    assert User.objects.count() == 1
    assert not Merchant.objects.exists()
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_if_empty_prints_no_demo_password_for_a_real_admin_account():
    UserFactory(username="admin", is_staff=True, is_superuser=True)
    output = seed("--if-empty")
    assert DEMO_PASSWORD not in output


@pytest.mark.django_db
def test_seed_demo_stores_no_card_key_in_clear():
    seed()
    order = Order.objects.filter(card_keys__isnull=False).first()
    clear = services.order_reveal_keys(order=order, user=order.buyer)[0]
    for key in CardKey.objects.all():
        assert clear not in key.secret_encrypted


def test_readme_lists_every_demo_login():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    for login in demo_logins():
        assert re.search(
            rf"\|\s*`{login.username}`\s*\|\s*`{re.escape(login.password)}`\s*\|", readme
        ), f"README.md does not list the demo login {login.username}"
