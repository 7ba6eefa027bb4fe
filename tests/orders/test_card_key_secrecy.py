"""Card keys are not readable in the database, the logs, the merchant's API or the admin lists;
identity numbers are not readable in the database either."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from orders.models import CardKey, Merchant
from tests.factories import VALID_ID_NUMBER, MerchantFactory, ProductFactory, UserFactory
from tests.orders.utils import import_keys, secret_keys

pytestmark = pytest.mark.django_db


def raw_rows(table: str) -> str:
    """Every column of every row, as the database holds it (a dump an attacker could read)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return "\n".join(" | ".join(str(v) for v in row) for row in cursor.fetchall())


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def buy_and_pay(product, quantity: int):
    buyer = UserFactory()
    client = client_for(buyer)
    number = client.post(
        "/api/v1/orders/", {"product": product.pk, "quantity": quantity}, format="json"
    ).json()["number"]
    assert client.post(f"/api/v1/orders/{number}/pay/").json()["status"] == "delivered"
    return client, number


def test_a_card_key_is_not_in_a_raw_dump_of_its_row():
    product = ProductFactory()
    plain = secret_keys(3)
    import_keys(product, plain)
    dump = raw_rows(CardKey._meta.db_table)
    assert dump.count("\n") == 2  # the three rows are there…
    for key in plain:
        assert key not in dump  # …and not one key in clear
        assert key[:-4] not in dump  # nor its unmasked part


def test_an_identity_number_is_not_in_a_raw_dump_of_the_merchant_row():
    MerchantFactory()
    dump = raw_rows(Merchant._meta.db_table)
    assert dump
    assert VALID_ID_NUMBER not in dump
    assert VALID_ID_NUMBER[:14] not in dump


def test_no_key_reaches_a_log_line_through_import_pay_or_reveal(caplog):
    merchant = MerchantFactory()
    product = ProductFactory(merchant=merchant)
    plain = secret_keys(2)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    # CaptureQueriesContext forces the debug cursor: every SQL statement and its parameters
    # are logged at DEBUG by django.db.backends, as with DEBUG=True in production.
    with CaptureQueriesContext(connection):
        response = client_for(merchant.owner).post(
            f"/api/v1/merchant/products/{product.pk}/card-keys/",
            {"keys": "\n".join(plain)},
            format="json",
        )
        assert response.json()["imported"] == 2
        buyer_client, number = buy_and_pay(product, 2)
        revealed = buyer_client.post(f"/api/v1/orders/{number}/reveal/").json()["card_keys"]
    assert sorted(revealed) == sorted(plain)
    logged = caplog.text
    assert "orders_cardkey" in logged  # the capture saw the card-key SQL…
    assert "card keys imported" in logged  # …and the services' own log lines
    for key in plain:
        assert key not in logged


def test_the_merchant_api_shows_keys_masked_only():
    merchant = MerchantFactory()
    product = ProductFactory(merchant=merchant)
    plain = secret_keys(3)
    import_keys(product, plain)
    _, number = buy_and_pay(product, 2)
    client = client_for(merchant.owner)
    pages = [
        client.get("/api/v1/merchant/products/"),
        client.get("/api/v1/orders/"),
        client.get(f"/api/v1/orders/{number}/"),
    ]
    for response in pages:
        assert response.status_code == 200
        text = response.content.decode()
        for key in plain:
            assert key not in text
    detail = pages[2].json()
    assert detail["card_keys"] == [f"****{k[-4:]}" for k in plain[:2]]


def test_the_admin_lists_and_pages_never_show_a_key_in_clear(admin_client):
    product = ProductFactory()
    plain = secret_keys(3)
    import_keys(product, plain)
    _, number = buy_and_pay(product, 2)
    key = CardKey.objects.order_by("id").first()
    urls = [
        "/admin/orders/cardkey/",
        f"/admin/orders/cardkey/{key.pk}/change/",
        "/admin/orders/order/",
        f"/admin/orders/order/{key.order.pk}/change/",
        "/admin/orders/cardkeyreveal/",
        "/admin/orders/duplicatekeyflag/",
    ]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        for secret in plain:
            assert secret not in text, url
        assert key.secret_encrypted not in text, url  # not even the ciphertext
    listing = admin_client.get("/admin/orders/cardkey/").content.decode()
    assert key.masked in listing
    assert number in admin_client.get("/admin/orders/order/").content.decode()
