"""A blacklisted buyer is told before paying (docs/rules.md, "Blacklist"): the product page and
the payment page say, in the reader's language, that they cannot complain until the entry
ends — asked of the blacklist's own rule (disputes.services.blacklist.complaint_ban) through
the disputes template library, so `orders` never imports `disputes`. Anyone else sees nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from disputes.models import BlacklistEntry, BlacklistSource
from disputes.services.blacklist import complaint_ban
from disputes.services.formatting import local
from orders import services as order_services
from tests.factories import CardKeyFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

NOTICE_EN = "You cannot file complaints until"
NOTICE_ZH = "之前您不能提交投诉"


def blacklist(user: User, *, days: int = 30, **kwargs: Any) -> BlacklistEntry:
    values: dict[str, Any] = {
        "user": user,
        "reason": "Three complaints ruled malicious",
        "source": BlacklistSource.MANUAL,
        "expires_at": timezone.now() + timedelta(days=days),
    }
    values.update(kwargs)
    return BlacklistEntry.objects.create(**values)


def _pages(client: Client, user: User) -> tuple[str, str]:
    product = ProductFactory()
    CardKeyFactory(product=product)
    order = order_services.order_create(buyer=user, product=product, quantity=1)
    client.force_login(user)
    buy = client.get(f"/products/{product.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    pay = client.get(f"/orders/{order.number}/pay/", HTTP_ACCEPT_LANGUAGE="en")
    assert buy.status_code == pay.status_code == 200
    return buy.content.decode(), pay.content.decode()


def test_a_blacklisted_buyer_is_told_on_the_buy_and_pay_pages(client: Client) -> None:
    buyer = UserFactory()
    entry = blacklist(buyer)
    buy, pay = _pages(client, buyer)
    until = local(entry.expires_at)
    for body in (buy, pay):
        assert f"{NOTICE_EN} {until}." in body
        assert "Three complaints ruled malicious" in body
        assert 'role="alert"' in body
    # Before the button, not after it.
    assert buy.index(NOTICE_EN) < buy.index("Buy now")
    assert pay.index(NOTICE_EN) < pay.index("Sandbox payment")


def test_the_notice_is_translated(client: Client) -> None:
    buyer = UserFactory()
    blacklist(buyer)
    product = ProductFactory()
    CardKeyFactory(product=product)
    client.force_login(buyer)
    body = client.get(f"/products/{product.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content
    assert NOTICE_ZH in body.decode()


def test_no_notice_without_an_active_entry(client: Client) -> None:
    clean = UserFactory()
    assert NOTICE_EN not in "".join(_pages(client, clean))
    expired = UserFactory()
    blacklist(
        expired,
        days=-1,
        created_at=timezone.now() - timedelta(days=200),
    )
    lifted = UserFactory()
    blacklist(lifted, lifted_at=timezone.now())
    for user in (expired, lifted):
        assert complaint_ban(user) is None
        assert NOTICE_EN not in "".join(_pages(Client(), user))
    anonymous = Client().get(f"/products/{ProductFactory().pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert NOTICE_EN not in anonymous.content.decode()


def test_the_pages_and_the_filing_ask_the_same_rule() -> None:
    buyer = UserFactory()
    assert complaint_ban(buyer) is None
    entry = blacklist(buyer)
    assert complaint_ban(buyer) == entry
    assert complaint_ban(buyer, at=entry.expires_at + timedelta(seconds=1)) is None


def test_the_order_api_tells_the_buyer_and_nobody_else() -> None:
    buyer = UserFactory()
    entry = blacklist(buyer)
    product = ProductFactory()
    CardKeyFactory.create_batch(2, product=product)
    api = APIClient()
    api.force_authenticate(buyer)
    created = api.post("/api/v1/orders/", {"product": product.pk}, format="json")
    assert created.status_code == 201
    until = created.json()["complaints_barred_until"]
    assert until is not None
    assert datetime.fromisoformat(until) == entry.expires_at
    number = created.json()["number"]
    assert api.get(f"/api/v1/orders/{number}/").json()["complaints_barred_until"] == until
    listed = api.get("/api/v1/orders/").json()["results"]
    assert [o["complaints_barred_until"] for o in listed] == [until]
    # The shop never learns that its buyer is blacklisted.
    shop = APIClient()
    shop.force_authenticate(product.merchant.owner)
    assert shop.get(f"/api/v1/orders/{number}/").json()["complaints_barred_until"] is None
    sales = shop.get("/api/v1/merchant/orders/").json()["results"]
    assert "complaints_barred_until" not in sales[0]
    # A buyer not on the blacklist: null.
    clean = APIClient()
    clean.force_authenticate(UserFactory())
    other = clean.post("/api/v1/orders/", {"product": product.pk}, format="json").json()
    assert other["complaints_barred_until"] is None
