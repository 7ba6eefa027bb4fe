"""A product has a description and a promised delivery time: the shop sets them (page and
API, one service), the buyer reads them before buying, and a complaint "delivered late" names
the promise it is judged against."""

from __future__ import annotations

import pytest
from django.test import Client

from kamen_complaints.errors import DomainError
from orders import services
from orders.models import Product, ProductKind
from tests.factories import MerchantFactory, ProductFactory
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db

FORM = {
    "name": "中国移动 话费 100",
    "kind": ProductKind.PHONE_TOPUP,
    "face_value": "100",
    "price": "98.00",
    "source": "上游 A 合同 #7",
    "description": "Mobile numbers of all provinces.\nCredited by the carrier.",
    "delivery_minutes": "30",
    "active": "on",
}


def _owner_client(merchant) -> Client:
    client = Client()
    client.force_login(merchant.owner)
    client.cookies["django_language"] = "en"
    return client


def test_the_shop_sets_them_and_the_buyer_reads_them_before_buying():
    merchant = MerchantFactory()
    response = _owner_client(merchant).post("/merchant/products/new/", FORM)
    assert response.status_code == 302
    product = Product.objects.get(merchant=merchant)
    assert product.delivery_minutes == 30
    assert product.description.startswith("Mobile numbers")

    buyer = Client()
    buyer.cookies["django_language"] = "en"
    page = buyer.get(f"/products/{product.pk}/").content.decode()
    assert "The shop promises delivery within 30 minutes of payment." in page
    assert "Mobile numbers of all provinces.<br>Credited by the carrier." in page
    shown = buyer.get(f"/api/v1/products/{product.pk}/").json()
    assert shown["description"] == product.description
    assert shown["delivery_minutes"] == 30


def test_a_promise_out_of_range_is_refused_next_to_its_field():
    merchant = MerchantFactory()
    response = _owner_client(merchant).post(
        "/merchant/products/new/", {**FORM, "delivery_minutes": "-5"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["delivery_minutes"]
    with pytest.raises(DomainError) as refused:
        services.product_create(
            merchant=merchant,
            name="x",
            kind=ProductKind.GAME_CARD,
            face_value=1,
            price=1,
            source="y",
            delivery_minutes=services.MAX_DELIVERY_MINUTES + 1,
        )
    assert refused.value.code == "delivery_minutes_invalid"
    assert not Product.objects.filter(merchant=merchant).exists()


def test_the_delivered_late_reason_names_the_promise():
    product = ProductFactory(delivery_minutes=120)
    order = paid_order(product=product)
    client = Client()
    client.force_login(order.buyer)
    client.cookies["django_language"] = "en"

    page = client.get(f"/orders/{order.number}/complain/").content.decode()

    assert "delivered late (promised: within 2 hours)" in page
    at_once = paid_order(product=ProductFactory())
    client.force_login(at_once.buyer)
    page = client.get(f"/orders/{at_once.number}/complain/").content.decode()
    assert "delivered late (promised: at once, automatically)" in page


def test_a_new_product_without_a_promise_is_delivered_at_once():
    merchant = MerchantFactory()
    form = {k: v for k, v in FORM.items() if k not in ("delivery_minutes", "description")}
    assert _owner_client(merchant).post("/merchant/products/new/", form).status_code == 302
    product = Product.objects.get(merchant=merchant)
    assert product.delivery_minutes == 0 and product.description == ""
