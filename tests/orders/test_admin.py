"""The orders admin: every list loads, nothing is deleted, merchant actions call the services,
identity numbers in clear only for staff with orders.view_identity (each view logged)."""

from __future__ import annotations

import pytest
from django.test import Client

from orders import services
from orders.models import (
    DuplicateKeyFlag,
    IdentityAccess,
    Merchant,
    MerchantStatus,
    Order,
    Product,
    SuspensionReason,
)
from tests.factories import (
    VALID_ID_NUMBER,
    MerchantFactory,
    ProductFactory,
    StaffFactory,
)
from tests.helpers import paid_order
from tests.orders.utils import import_keys

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_activation_guards")]

MODELS = [
    "merchant",
    "identityaccess",
    "product",
    "cardkey",
    "duplicatekeyflag",
    "order",
    "payment",
    "refund",
    "cardkeyreveal",
]

MERCHANT_VIEW = ["orders.view_merchant", "orders.change_merchant"]


def staff_client(*perms: str) -> tuple[Client, object]:
    user = StaffFactory(perms=list(perms))
    client = Client()
    client.force_login(user)
    return client, user


def run_action(client: Client, action: str, merchants, **extra):
    return client.post(
        "/admin/orders/merchant/",
        {"action": action, "_selected_action": [m.pk for m in merchants], **extra},
        follow=True,
    )


@pytest.fixture
def world():
    order = paid_order()
    other = ProductFactory()
    import_keys(order.product, ["DUP-KEY-000001"])
    services.card_keys_import(product=other, data="DUP-KEY-000001")
    services.merchant_reveal_identity(
        merchant=order.merchant, staff=StaffFactory(perms=["orders.view_identity"])
    )
    services.order_reveal_keys(order=order, user=order.buyer)
    unstocked = services.order_create(buyer=order.buyer, product=other, quantity=5)
    services.order_pay(order=unstocked, buyer=order.buyer)  # delivery fails: a refund
    return order


@pytest.mark.parametrize("model", MODELS)
def test_every_admin_list_and_detail_page_loads_for_a_superuser(admin_client, world, model):
    from django.apps import apps

    response = admin_client.get(f"/admin/orders/{model}/")
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1
    obj = apps.get_model("orders", model).objects.first()
    assert admin_client.get(f"/admin/orders/{model}/{obj.pk}/change/").status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_nothing_can_be_deleted_through_the_admin(admin_client, world, model):
    from django.apps import apps

    obj = apps.get_model("orders", model).objects.first()
    response = admin_client.post(f"/admin/orders/{model}/{obj.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    listing = admin_client.get(f"/admin/orders/{model}/")
    assert "delete_selected" not in listing.content.decode()
    assert apps.get_model("orders", model).objects.filter(pk=obj.pk).exists()


def test_orders_are_searched_by_number_and_by_payment_reference(admin_client):
    first, second = paid_order(), paid_order()
    for term in (first.number, first.payment_reference):
        response = admin_client.get("/admin/orders/order/", {"q": term})
        assert list(response.context["cl"].result_list) == [first]
    assert (
        second.number
        not in admin_client.get("/admin/orders/order/", {"q": first.number}).content.decode()
    )


def test_orders_are_read_only_in_the_admin(admin_client):
    order = paid_order()
    response = admin_client.post(
        f"/admin/orders/order/{order.pk}/change/", {"status": "refunded", "amount": "1.00"}
    )
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == "delivered"
    assert admin_client.get("/admin/orders/order/add/").status_code == 403


def test_cross_shop_duplicate_keys_are_listed_for_staff(admin_client):
    first, second = ProductFactory(), ProductFactory()
    import_keys(first, ["SHARED-KEY-0001"])
    services.card_keys_import(product=second, data="SHARED-KEY-0001")
    response = admin_client.get("/admin/orders/duplicatekeyflag/", {"cross_shop__exact": "1"})
    flags = list(response.context["cl"].result_list)
    assert flags == [DuplicateKeyFlag.objects.get(cross_shop=True)]
    text = response.content.decode()
    assert second.merchant.shop_name in text and first.merchant.shop_name in text


def test_staff_with_the_permission_verify_applications_through_the_action():
    client, staff = staff_client(*MERCHANT_VIEW, "orders.verify_merchant")
    pending = MerchantFactory(status=MerchantStatus.PENDING_VERIFICATION, verified_at=None)
    response = run_action(client, "verify", [pending])
    assert response.status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.verified_by) == (MerchantStatus.ACTIVE, staff)


def test_reject_asks_for_a_reason_then_rejects():
    client, _ = staff_client(*MERCHANT_VIEW, "orders.verify_merchant")
    pending = MerchantFactory(status=MerchantStatus.PENDING_VERIFICATION, verified_at=None)
    page = run_action(client, "reject", [pending])
    assert 'name="reason"' in page.content.decode()
    pending.refresh_from_db()
    assert pending.status == MerchantStatus.PENDING_VERIFICATION
    run_action(client, "reject", [pending], apply="1", reason="营业执照与身份不符")
    pending.refresh_from_db()
    assert (pending.status, pending.status_note) == (MerchantStatus.REJECTED, "营业执照与身份不符")


def test_suspend_and_unsuspend_actions_go_through_the_services():
    client, _ = staff_client(*MERCHANT_VIEW, "orders.verify_merchant")
    merchant = MerchantFactory()
    run_action(client, "suspend", [merchant], apply="1", reason="售卖已使用卡密")
    merchant.refresh_from_db()
    assert (merchant.status, merchant.suspension_reason) == (
        MerchantStatus.SUSPENDED,
        SuspensionReason.MANUAL,
    )
    run_action(client, "unsuspend", [merchant])
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.ACTIVE


def test_a_refused_action_says_why_and_changes_nothing():
    client, _ = staff_client(*MERCHANT_VIEW, "orders.verify_merchant")
    active = MerchantFactory()
    response = run_action(client, "unsuspend", [active])
    messages = [str(m) for m in response.context["messages"]]
    assert any(active.shop_name in m for m in messages)
    active.refresh_from_db()
    assert active.status == MerchantStatus.ACTIVE


def test_staff_without_the_verify_permission_get_no_merchant_actions():
    client, _ = staff_client(*MERCHANT_VIEW)
    pending = MerchantFactory(status=MerchantStatus.PENDING_VERIFICATION, verified_at=None)
    listing = client.get("/admin/orders/merchant/").content.decode()
    for action in ("verify", "reject", "suspend", "unsuspend", "show_identity"):
        assert f'value="{action}"' not in listing
    run_action(client, "verify", [pending])
    pending.refresh_from_db()
    assert pending.status == MerchantStatus.PENDING_VERIFICATION


def test_identity_numbers_are_masked_in_the_merchant_list_and_page(admin_client):
    merchant = MerchantFactory()
    for url in ("/admin/orders/merchant/", f"/admin/orders/merchant/{merchant.pk}/change/"):
        text = admin_client.get(url).content.decode()
        assert VALID_ID_NUMBER not in text
        assert merchant.id_number_masked in text


def test_staff_with_the_identity_permission_see_it_through_the_action_and_it_is_logged():
    client, staff = staff_client(*MERCHANT_VIEW, "orders.view_identity")
    merchant = MerchantFactory()
    response = run_action(client, "show_identity", [merchant])
    assert VALID_ID_NUMBER in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    access = IdentityAccess.objects.get()
    assert (access.user, access.merchant, access.purpose) == (staff, merchant, "admin")
    assert access.ip == "127.0.0.1"


def test_the_change_page_offers_the_identity_button_only_with_the_permission():
    merchant = MerchantFactory()
    url = f"/admin/orders/merchant/{merchant.pk}/change/"
    with_perm, _ = staff_client(*MERCHANT_VIEW, "orders.view_identity")
    without, _ = staff_client(*MERCHANT_VIEW)
    assert "_show_identity" in with_perm.get(url).content.decode()
    assert "_show_identity" not in without.get(url).content.decode()
    assert not IdentityAccess.objects.exists()  # showing the button is not a view


def test_the_identity_view_shows_the_number_on_post_only_and_logs_it():
    merchant = MerchantFactory()
    url = f"/admin/orders/merchant/{merchant.pk}/identity/"
    client, staff = staff_client(*MERCHANT_VIEW, "orders.view_identity")
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 200
    assert VALID_ID_NUMBER in response.content.decode()
    assert IdentityAccess.objects.filter(user=staff, merchant=merchant).count() == 1


def test_no_one_else_sees_the_identity_and_nothing_is_logged(admin_client):
    merchant = MerchantFactory()
    client, _ = staff_client(*MERCHANT_VIEW, "orders.verify_merchant")
    url = f"/admin/orders/merchant/{merchant.pk}/identity/"
    assert client.post(url).status_code == 403
    response = run_action(client, "show_identity", [merchant])
    assert VALID_ID_NUMBER not in response.content.decode()
    buyer = Client()
    buyer.force_login(merchant.owner)
    assert buyer.post(url).status_code == 302  # to the admin login, not the number
    assert not IdentityAccess.objects.exists()


def test_products_are_taken_off_sale_through_the_service(admin_client):
    product = ProductFactory()
    admin_client.post(
        "/admin/orders/product/", {"action": "take_off_sale", "_selected_action": [product.pk]}
    )
    product.refresh_from_db()
    assert product.active is False
    response = admin_client.post(f"/admin/orders/product/{product.pk}/change/", {"price": "1"})
    assert response.status_code == 403
    assert Product.objects.get(pk=product.pk).price == product.price


def test_merchants_cannot_be_added_by_hand(admin_client):
    assert admin_client.get("/admin/orders/merchant/add/").status_code == 403
    assert Merchant.objects.count() == 0
    assert Order.objects.count() == 0
