"""The orders API (README "The API"; conventions: docs/api.md), each path
with its bad input and its negative permissions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from orders.models import (
    CardKey,
    CardKeyReveal,
    Merchant,
    MerchantMember,
    MerchantStatus,
    Order,
    OrderStatus,
    Payment,
    Product,
    ProductKind,
    Refund,
    SuspensionReason,
)
from tests.factories import (
    PASSWORD,
    CardKeyFactory,
    MerchantFactory,
    OrderFactory,
    ProductFactory,
    StaffFactory,
    UserFactory,
)
from tests.helpers import paid_order
from tests.orders.utils import import_keys, secret_keys

pytestmark = pytest.mark.django_db

VALID_ID = "110101199003074477"


def anonymous() -> APIClient:
    return APIClient()


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    if code is not None:
        assert body["code"] == code, body
        assert body["detail"]
    return body


# --- Auth ---------------------------------------------------------------------------------


def test_register_creates_a_buyer_account():
    response = anonymous().post(
        "/api/v1/auth/register/",
        {"username": "wang.wu", "password": "a-long-enough-secret-9", "email": "w@example.com"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["username"] == "wang.wu"
    assert not Merchant.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "a-long-enough-secret-9", "email": "w@example.com"}, "username"),
        ({"username": "a", "email": "w@example.com"}, "password"),
        ({"username": "a", "password": "a-long-enough-secret-9"}, "email"),
        ({"username": ["a"], "password": "a-long-enough-secret-9", "email": "w@e.com"}, "username"),
        (
            {"username": "has space", "password": "a-long-enough-secret-9", "email": "w@e.com"},
            "username",
        ),
        ({"username": "a", "password": "a-long-enough-secret-9", "email": "not-mail"}, "email"),
        ({"username": "a", "password": "123", "email": "w@example.com"}, "password"),
        (
            {"username": "taken", "password": "a-long-enough-secret-9", "email": "w@e.com"},
            "username",
        ),
    ],
)
def test_register_refuses_bad_input_with_field_errors(body, field):
    UserFactory(username="Taken")
    response = anonymous().post("/api/v1/auth/register/", body, format="json")
    errors = assert_error(response, 400)
    assert field in errors


def test_a_token_is_issued_for_the_right_password_and_authenticates():
    user = UserFactory()
    response = anonymous().post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/v1/orders/").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"username": "nobody", "password": "wrong"},
        {"username": "user-x", "password": "wrong"},
    ],
)
def test_a_wrong_login_is_a_400_without_saying_which_part_was_wrong(body):
    UserFactory(username="user-x")
    response = anonymous().post("/api/v1/auth/token/", body, format="json")
    assert_error(response, 400, "authentication_failed")


def test_an_inactive_account_gets_no_token():
    user = UserFactory(is_active=False)
    response = anonymous().post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert_error(response, 400, "authentication_failed")


def test_token_needs_both_fields():
    response = anonymous().post("/api/v1/auth/token/", {"username": "x"}, format="json")
    assert "password" in assert_error(response, 400)


def test_a_bad_token_is_401_json():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_error(client.get("/api/v1/orders/"), 401, "authentication_failed")


# --- Catalogue ----------------------------------------------------------------------------


def test_the_catalogue_lists_active_products_of_active_shops_with_their_stock():
    listed = ProductFactory(price=Decimal("48.00"))
    CardKeyFactory.create_batch(3, product=listed)
    ProductFactory(active=False)
    ProductFactory(merchant=MerchantFactory(status=MerchantStatus.PENDING_VERIFICATION))
    ProductFactory(
        merchant=MerchantFactory(
            status=MerchantStatus.SUSPENDED, suspension_reason=SuspensionReason.DEPOSIT
        )
    )
    response = anonymous().get("/api/v1/products/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    item = body["results"][0]
    assert item == {
        "id": listed.pk,
        "name": listed.name,
        "kind": "game_card",
        "face_value": "50.00",
        "price": "48.00",
        "merchant": {"id": listed.merchant_id, "shop_name": listed.merchant.shop_name},
        "in_stock": 3,
        "description": "",
        "delivery_minutes": 0,
    }


def test_the_catalogue_filters_by_kind_and_paginates():
    ProductFactory.create_batch(3)
    ProductFactory(kind=ProductKind.GIFT_CARD)
    client = anonymous()
    assert client.get("/api/v1/products/?kind=gift_card").json()["count"] == 1
    page = client.get("/api/v1/products/?page_size=2&page=2").json()
    assert (page["count"], len(page["results"]), page["next"]) == (4, 2, None)
    assert_error(client.get("/api/v1/products/?kind=weapon"), 400)
    assert_error(client.get("/api/v1/products/?page=99"), 404, "not_found")


def test_a_product_page_shows_a_listed_product_only():
    client = anonymous()
    product = ProductFactory(price=Decimal("48.00"))
    response = client.get(f"/api/v1/products/{product.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"], body["price"]) == (product.pk, product.name, "48.00")
    assert "source" not in body and "active" not in body  # the shop's fields stay the shop's
    assert_error(client.get(f"/api/v1/products/{ProductFactory(active=False).pk}/"), 404)


# --- Orders -------------------------------------------------------------------------------


def test_a_buyer_orders_a_product(client_as, buyer, product):
    response = client_as(buyer).post(
        "/api/v1/orders/", {"product": product.pk, "quantity": 2}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending_payment"
    assert body["amount"] == "96.00"
    assert body["card_keys"] == []
    assert Order.objects.get().buyer == buyer


def test_anonymous_callers_get_401_json_on_every_private_path(product):
    order = OrderFactory()
    client = anonymous()
    for method, path in [
        ("get", "/api/v1/orders/"),
        ("post", "/api/v1/orders/"),
        ("get", f"/api/v1/orders/{order.number}/"),
        ("post", f"/api/v1/orders/{order.number}/pay/"),
        ("post", f"/api/v1/orders/{order.number}/reveal/"),
        ("get", "/api/v1/merchant/"),
        ("post", "/api/v1/merchant/apply/"),
        ("get", "/api/v1/merchant/products/"),
        ("post", "/api/v1/merchant/products/"),
        ("post", f"/api/v1/merchant/products/{product.pk}/card-keys/"),
        ("post", f"/api/v1/staff/merchants/{product.merchant_id}/verify/"),
    ]:
        response = getattr(client, method)(path, {}, format="json")
        assert_error(response, 401, "not_authenticated")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"quantity": 1},
        {"product": "abc"},
        {"product": None},
        {"product": [1]},
        {"product": 10**30},
        {"product": "PRODUCT", "quantity": 0},
        {"product": "PRODUCT", "quantity": -3},
        {"product": "PRODUCT", "quantity": 101},
        {"product": "PRODUCT", "quantity": 10**30},
        {"product": "PRODUCT", "quantity": 1.5},
        {"product": "PRODUCT", "quantity": "two"},
        {"product": "PRODUCT", "quantity": True},
        {"product": "PRODUCT", "topup_target": "x" * 200},
    ],
)
def test_bad_order_input_is_a_400_and_writes_nothing(client_as, buyer, product, body):
    body = {k: (product.pk if v == "PRODUCT" else v) for k, v in body.items()}
    response = client_as(buyer).post("/api/v1/orders/", body, format="json")
    assert_error(response, 400)
    assert not Order.objects.exists()


def test_ordering_an_unknown_product_is_404(client_as, buyer):
    response = client_as(buyer).post("/api/v1/orders/", {"product": 999999}, format="json")
    assert_error(response, 404, "not_found")


def test_an_inactive_product_or_a_suspended_shop_cannot_be_ordered(client_as, buyer):
    inactive = ProductFactory(active=False)
    suspended = ProductFactory(
        merchant=MerchantFactory(
            status=MerchantStatus.SUSPENDED, suspension_reason=SuspensionReason.MANUAL
        )
    )
    client = client_as(buyer)
    assert_error(
        client.post("/api/v1/orders/", {"product": inactive.pk}, format="json"),
        400,
        "product_inactive",
    )
    assert_error(
        client.post("/api/v1/orders/", {"product": suspended.pk}, format="json"),
        400,
        "merchant_inactive",
    )
    assert not Order.objects.exists()


def test_a_topup_order_needs_a_phone_number(client_as, buyer, topup_product):
    client = client_as(buyer)
    response = client.post("/api/v1/orders/", {"product": topup_product.pk}, format="json")
    assert_error(response, 400, "topup_target_required")
    response = client.post(
        "/api/v1/orders/",
        {"product": topup_product.pk, "topup_target": "13912345678"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["topup_target"] == "13912345678"


def test_a_buyer_lists_their_own_orders_and_a_merchant_its_shops(client_as, buyer):
    mine = paid_order(buyer=buyer)
    theirs = paid_order()
    numbers = {o["number"] for o in client_as(buyer).get("/api/v1/orders/").json()["results"]}
    assert numbers == {mine.number}
    shop = client_as(theirs.merchant.owner).get("/api/v1/orders/").json()["results"]
    assert [o["number"] for o in shop] == [theirs.number]
    assert shop[0]["card_keys"][0].startswith("****")


def test_a_team_member_sees_the_shops_orders(client_as):
    order = paid_order()
    agent = UserFactory()
    MerchantMember.objects.create(merchant=order.merchant, user=agent, role="agent")
    response = client_as(agent).get(f"/api/v1/orders/{order.number}/")
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == order.number
    # The team sees the shop's order as the owner does: keys masked, never in clear.
    assert body["card_keys"] == [k.masked for k in order.card_keys.order_by("id")]


def test_an_order_detail_shows_the_documented_fields_with_keys_masked(client_as, buyer):
    order = paid_order(buyer=buyer, quantity=2)
    body = client_as(buyer).get(f"/api/v1/orders/{order.number}/").json()
    for field in ["number", "status", "amount", "paid_at", "delivered_at", "payment_reference"]:
        assert field in body
    assert body["status"] == "delivered"
    assert body["paid_at"].endswith("+08:00")
    assert body["card_keys"] == [k.masked for k in order.card_keys.order_by("id")]


def test_staff_see_every_order_only_with_the_view_order_permission(client_as):
    order = paid_order()
    viewer = client_as(StaffFactory(perms=["orders.view_order"]))
    assert viewer.get(f"/api/v1/orders/{order.number}/").status_code == 200
    assert viewer.get("/api/v1/orders/").json()["count"] == 1

    bare = client_as(StaffFactory())  # is_staff alone: as the admin, no order to see
    assert_error(bare.get(f"/api/v1/orders/{order.number}/"), 404, "not_found")
    assert bare.get("/api/v1/orders/").json()["count"] == 0


def test_someone_elses_order_is_404_for_buyers_and_other_shops(client_as, other_merchant):
    order = paid_order()
    for user in (UserFactory(), other_merchant.owner):
        client = client_as(user)
        assert_error(client.get(f"/api/v1/orders/{order.number}/"), 404, "not_found")
        assert_error(client.post(f"/api/v1/orders/{order.number}/pay/"), 404, "not_found")
        assert_error(client.post(f"/api/v1/orders/{order.number}/reveal/"), 404, "not_found")
    assert not CardKeyReveal.objects.exists()


def test_paying_delivers_the_keys(client_as, buyer, product):
    order = OrderFactory(buyer=buyer, product=product, quantity=2, amount=Decimal("96.00"))
    response = client_as(buyer).post(
        f"/api/v1/orders/{order.number}/pay/", {"channel": "sandbox"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "delivered"
    assert len(body["card_keys"]) == 2
    assert body["payment_reference"]


def test_a_second_payment_is_409_already_paid_and_charges_nothing(client_as, buyer):
    order = paid_order(buyer=buyer)
    response = client_as(buyer).post(f"/api/v1/orders/{order.number}/pay/")
    assert_error(response, 409, "already_paid")
    assert Payment.objects.count() == 1


def test_paying_without_stock_answers_delivery_failed_and_refunds(client_as, buyer):
    order = OrderFactory(buyer=buyer)
    response = client_as(buyer).post(f"/api/v1/orders/{order.number}/pay/")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["refunded_amount"]) == ("delivery_failed", body["amount"])
    assert Refund.objects.count() == 1


def test_the_shop_sees_but_may_not_pay_or_reveal_its_buyers_order(client_as):
    order = OrderFactory()
    CardKeyFactory(product=order.product)
    client = client_as(order.merchant.owner)
    assert_error(client.post(f"/api/v1/orders/{order.number}/pay/"), 403, "permission_denied")
    paid = paid_order(product=order.product)
    assert_error(client.post(f"/api/v1/orders/{paid.number}/reveal/"), 403, "permission_denied")
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert not CardKeyReveal.objects.exists()


@pytest.mark.parametrize("channel", ["paypal", "", None, 3, ["sandbox"]])
def test_an_unknown_channel_is_a_400(client_as, buyer, product, channel):
    order = OrderFactory(buyer=buyer, product=product)
    response = client_as(buyer).post(
        f"/api/v1/orders/{order.number}/pay/", {"channel": channel}, format="json"
    )
    assert "channel" in assert_error(response, 400)
    assert not Payment.objects.exists()


def test_the_buyer_reveals_the_keys_and_the_reveal_is_recorded(client_as, buyer, merchant):
    product = ProductFactory(merchant=merchant)
    plain = secret_keys(2)
    import_keys(product, plain)
    order = paid_order(buyer=buyer, product=product, quantity=2, stock=0)
    response = client_as(buyer).post(
        f"/api/v1/orders/{order.number}/reveal/",
        HTTP_USER_AGENT="KamenTest/1.0",
        REMOTE_ADDR="198.51.100.7",
    )
    assert response.status_code == 200
    assert response.json() == {"card_keys": plain}
    assert "no-store" in response["Cache-Control"]
    reveal = CardKeyReveal.objects.get()
    assert (reveal.ip, reveal.user_agent, reveal.user) == ("198.51.100.7", "KamenTest/1.0", buyer)
    assert reveal.card_keys.count() == 2


def test_revealing_an_unpaid_order_is_refused(client_as, buyer):
    order = OrderFactory(buyer=buyer)
    response = client_as(buyer).post(f"/api/v1/orders/{order.number}/reveal/")
    assert_error(response, 400, "not_allowed_in_state")


def test_an_unknown_order_number_is_404(client_as, buyer):
    client = client_as(buyer)
    for path in [
        "/api/v1/orders/NOPE/",
        "/api/v1/orders/%00x/",
        "/api/v1/orders/" + "9" * 300 + "/",
    ]:
        assert_error(client.get(path), 404)


# --- Merchant -----------------------------------------------------------------------------

APPLICATION = {
    "shop_name": "星辰卡铺",
    "legal_name": "李四",
    "id_number": VALID_ID,
    "phone": "13912345678",
    "address": "上海市浦东新区世纪大道100号",
}


def test_applying_makes_the_caller_owner_of_a_pending_shop(client_as, buyer):
    response = client_as(buyer).post("/api/v1/merchant/apply/", APPLICATION, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending_verification"
    assert body["id"] == Merchant.objects.get().pk
    assert body["id_number"] == "****4477"
    assert VALID_ID not in response.content.decode()
    mine = client_as(buyer).get("/api/v1/merchant/").json()
    assert (mine["shop_name"], mine["id_number"]) == ("星辰卡铺", "****4477")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"id_number": "110101199003074478"}, "id_number_invalid"),
        ({"phone": "555-1234"}, "phone_invalid"),
        ({"shop_name": None}, None),
        ({"legal_name": ""}, None),
        ({"id_number": ["x"]}, None),
        ({"address": "x" * 300}, None),
    ],
)
def test_a_bad_application_is_a_400_and_opens_no_shop(client_as, buyer, change, code):
    body = {**APPLICATION, **change}
    response = client_as(buyer).post("/api/v1/merchant/apply/", body, format="json")
    assert_error(response, 400, code)
    assert not Merchant.objects.exists()


def test_a_second_application_from_a_shop_member_is_refused(client_as, merchant):
    response = client_as(merchant.owner).post(
        "/api/v1/merchant/apply/", {**APPLICATION, "shop_name": "另一家"}, format="json"
    )
    assert_error(response, 400, "already_merchant")


def test_a_caller_without_a_shop_gets_404_on_merchant_paths(client_as, buyer, product):
    client = client_as(buyer)
    assert_error(client.get("/api/v1/merchant/"), 404, "not_found")
    assert_error(client.get("/api/v1/merchant/products/"), 404, "not_found")
    assert_error(
        client.post(f"/api/v1/merchant/products/{product.pk}/card-keys/", {"keys": "K-1234"}),
        404,
        "not_found",
    )


PRODUCT = {
    "name": "王者荣耀 点券 100",
    "kind": "game_card",
    "face_value": "10.00",
    "price": "9.50",
    "source": "上游: 腾讯官方授权 合同 #A-1",
}


def test_a_merchant_lists_its_products_and_adds_one(client_as, merchant, other_merchant):
    ProductFactory(merchant=other_merchant)
    client = client_as(merchant.owner)
    response = client.post("/api/v1/merchant/products/", PRODUCT, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["price"], body["source"], body["in_stock"]) == ("9.50", PRODUCT["source"], 0)
    listed = client.get("/api/v1/merchant/products/").json()
    assert [p["id"] for p in listed["results"]] == [body["id"]]


@pytest.mark.parametrize(
    ("change", "field_or_code"),
    [
        ({"kind": "weapon"}, "kind"),
        ({"price": "9.505"}, "price"),
        ({"price": 9.999}, "price"),
        ({"price": "-1.00"}, "amount_invalid"),
        ({"price": "0"}, "amount_invalid"),
        ({"price": "abc"}, "price"),
        ({"price": "99999999999999"}, "price"),
        ({"face_value": None}, "face_value"),
        ({"source": ""}, "source"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
    ],
)
def test_a_bad_product_is_a_400_and_adds_nothing(client_as, merchant, change, field_or_code):
    body = {**PRODUCT, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = client_as(merchant.owner).post("/api/v1/merchant/products/", body, format="json")
    errors = assert_error(response, 400)
    assert field_or_code in errors or errors.get("code") == field_or_code
    assert not Product.objects.exists()


def test_a_merchant_imports_pasted_keys_and_gets_the_report(client_as, merchant):
    product = ProductFactory(merchant=merchant)
    response = client_as(merchant.owner).post(
        f"/api/v1/merchant/products/{product.pk}/card-keys/",
        {"keys": "KEY-AAAA-0001\nKEY-AAAA-0002\nKEY-AAAA-0001\nbad key\n"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["imported"], body["duplicates"], body["rejected"]) == (2, 1, 1)
    assert [p["line"] for p in body["problems"]] == [3, 4]


def test_a_merchant_imports_keys_from_an_uploaded_file(client_as, merchant):
    product = ProductFactory(merchant=merchant)
    upload = SimpleUploadedFile("keys.txt", b"\xef\xbb\xbfFILE-KEY-0001\r\nFILE-KEY-0002\r\n")
    response = client_as(merchant.owner).post(
        f"/api/v1/merchant/products/{product.pk}/card-keys/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 200
    assert response.json()["imported"] == 2
    assert CardKey.objects.get(tail="0001").reveal() == "FILE-KEY-0001"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"KEY-0001\n" + b"B" * (10 * 1024 * 1024), "import_too_large"),
        (b"KEY-0001\n\x00\x9f\x92\x96binary\xff", "import_not_text"),
        (bytes(range(256)) * 10, "import_not_text"),
    ],
)
def test_a_huge_or_binary_file_is_a_clear_400_and_imports_nothing(
    client_as, merchant, content, code
):
    product = ProductFactory(merchant=merchant)
    upload = SimpleUploadedFile("keys.txt", content)
    response = client_as(merchant.owner).post(
        f"/api/v1/merchant/products/{product.pk}/card-keys/", {"file": upload}, format="multipart"
    )
    assert_error(response, 400, code)
    assert not CardKey.objects.exists()


@pytest.mark.parametrize(
    "body", [{}, {"keys": ""}, {"keys": ["K-0001"]}, {"keys": "K-0001\x00"}, {"keys": None}]
)
def test_a_bad_import_body_is_a_400(client_as, merchant, body):
    product = ProductFactory(merchant=merchant)
    response = client_as(merchant.owner).post(
        f"/api/v1/merchant/products/{product.pk}/card-keys/", body, format="json"
    )
    assert_error(response, 400)
    assert not CardKey.objects.exists()


def test_a_merchant_cannot_import_into_another_shops_product(client_as, merchant, other_merchant):
    product = ProductFactory(merchant=other_merchant)
    response = client_as(merchant.owner).post(
        f"/api/v1/merchant/products/{product.pk}/card-keys/", {"keys": "K-0001"}, format="json"
    )
    assert_error(response, 404, "not_found")
    assert not CardKey.objects.exists()


# --- Staff --------------------------------------------------------------------------------


@pytest.fixture
def pending_merchant(db):
    return MerchantFactory(status=MerchantStatus.PENDING_VERIFICATION, verified_at=None)


@pytest.mark.usefixtures("no_activation_guards")
def test_staff_with_the_permission_verify_a_shop(client_as, verifier, pending_merchant):
    response = client_as(verifier).post(f"/api/v1/staff/merchants/{pending_merchant.pk}/verify/")
    assert response.status_code == 200
    assert response.json()["status"] == "active"
    pending_merchant.refresh_from_db()
    assert pending_merchant.verified_by == verifier


def test_verify_reject_suspend_unsuspend_refuse_everyone_else(client_as, pending_merchant):
    for user in (UserFactory(), StaffFactory(), pending_merchant.owner):
        client = client_as(user)
        for action, body in [
            ("verify", {}),
            ("reject", {"reason": "x"}),
            ("suspend", {"reason": "x"}),
            ("unsuspend", {}),
        ]:
            response = client.post(
                f"/api/v1/staff/merchants/{pending_merchant.pk}/{action}/", body, format="json"
            )
            assert_error(response, 403, "permission_denied")
    pending_merchant.refresh_from_db()
    assert pending_merchant.status == MerchantStatus.PENDING_VERIFICATION


def test_staff_reject_a_pending_shop_with_a_reason(client_as, verifier, pending_merchant):
    client = client_as(verifier)
    url = f"/api/v1/staff/merchants/{pending_merchant.pk}/reject/"
    assert "reason" in assert_error(client.post(url, {}, format="json"), 400)
    response = client.post(url, {"reason": "证件照片不清晰"}, format="json")
    assert response.json()["status"] == "rejected"
    assert_error(client.post(url, {"reason": "again"}, format="json"), 400, "not_allowed_in_state")


@pytest.mark.usefixtures("no_activation_guards")
def test_staff_suspend_and_unsuspend_a_shop(client_as, verifier, merchant):
    client = client_as(verifier)
    base = f"/api/v1/staff/merchants/{merchant.pk}"
    response = client.post(f"{base}/suspend/", {"reason": "大量投诉"}, format="json")
    assert (response.json()["status"], response.json()["suspension_reason"]) == (
        "suspended",
        "manual",
    )
    assert client.post(f"{base}/unsuspend/").json()["status"] == "active"
    assert_error(client.post(f"{base}/unsuspend/"), 400, "not_allowed_in_state")


def test_staff_actions_on_an_unknown_shop_are_404(client_as, verifier):
    response = client_as(verifier).post("/api/v1/staff/merchants/987654/verify/")
    assert_error(response, 404, "not_found")


def test_the_openapi_schema_describes_every_orders_path(client_as):
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/auth/register/",
        "/api/v1/auth/token/",
        "/api/v1/products/",
        "/api/v1/orders/",
        "/api/v1/orders/{number}/",
        "/api/v1/orders/{number}/pay/",
        "/api/v1/orders/{number}/reveal/",
        "/api/v1/payments/sandbox/callback/",
        "/api/v1/merchant/",
        "/api/v1/merchant/apply/",
        "/api/v1/merchant/products/",
        "/api/v1/merchant/products/{id}/card-keys/",
        "/api/v1/staff/merchants/{id}/verify/",
    ]:
        assert path in paths, path
