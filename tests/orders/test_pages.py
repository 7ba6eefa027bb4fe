"""The buyer's pages: catalogue, product/buy, pay, order/reveal, my orders, accounts, language.

Wording is checked in English (the language cookie set to "en"); everything else by status,
database state and markup, so the tests hold whatever the zh-hans catalogue says.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.template import Context, Template
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from orders import services
from orders.models import (
    CardKey,
    CardKeyReveal,
    CardKeyStatus,
    MerchantStatus,
    Order,
    OrderStatus,
    Payment,
    ProductKind,
    SuspensionReason,
)
from tests.factories import (
    PASSWORD,
    CardKeyFactory,
    MerchantFactory,
    OrderFactory,
    ProductFactory,
    UserFactory,
)
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def buyer(client):
    """A buyer, logged in on `client` (overrides tests/orders/conftest.py's plain buyer)."""
    user = UserFactory()
    client.force_login(user)
    return user


def _text(response) -> str:
    return response.content.decode()


def _num_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# --- Catalogue ----------------------------------------------------------------------------


def test_catalogue_lists_active_products_of_active_shops_with_price_and_stock(client):
    product = ProductFactory(name="王者荣耀 点券 60", price=Decimal("12.50"))
    CardKeyFactory.create_batch(3, product=product)
    ProductFactory(name="Hidden inactive product", active=False)
    suspended = MerchantFactory(
        status=MerchantStatus.SUSPENDED, suspension_reason=SuspensionReason.MANUAL
    )
    ProductFactory(name="Product of a suspended shop", merchant=suspended)
    ProductFactory(
        name="Product of a pending shop",
        merchant=MerchantFactory(status=MerchantStatus.PENDING_VERIFICATION),
    )

    response = client.get("/")

    assert response.status_code == 200
    page = _text(response)
    assert "王者荣耀 点券 60" in page
    assert "¥12.50" in page
    assert f'href="/products/{product.pk}/"' in page
    assert "Hidden inactive product" not in page
    assert "Product of a suspended shop" not in page
    assert "Product of a pending shop" not in page


def test_catalogue_shows_stock_count_and_sold_out(english):
    stocked = ProductFactory(name="Stocked")
    CardKeyFactory.create_batch(3, product=stocked)
    ProductFactory(name="Empty")
    ProductFactory(name="Top-up", kind=ProductKind.PHONE_TOPUP)

    page = _text(english.get("/"))

    assert "3 in stock" in page
    assert "Sold out" in page
    assert "Topped up by the carrier" in page


def test_catalogue_filters_by_kind(client):
    ProductFactory(name="A game card", kind=ProductKind.GAME_CARD)
    ProductFactory(name="A gift card", kind=ProductKind.GIFT_CARD)

    page = _text(client.get("/?kind=gift_card"))

    assert "A gift card" in page
    assert "A game card" not in page


def test_catalogue_answers_400_for_an_unknown_kind_not_500(client):
    ProductFactory(name="A game card")

    response = client.get("/?kind=%3Cscript%3E")

    assert response.status_code == 400
    assert "field__error" in _text(response)
    assert "<script>" not in _text(response)


def test_catalogue_survives_a_nonsense_page_number(client):
    ProductFactory(name="A game card")

    for page in ("abc", "-1", "999999", "1e9"):
        response = client.get(f"/?page={page}")
        assert response.status_code == 200
        assert "A game card" in _text(response)


def test_catalogue_paginates(client):
    ProductFactory.create_batch(30)

    first = _text(client.get("/"))
    second = _text(client.get("/?page=2"))

    assert first.count('class="card product-card"') == 24
    assert second.count('class="card product-card"') == 6
    assert 'rel="next"' in first


def test_catalogue_query_count_is_the_same_at_1_and_50_products(client, buyer):
    product = ProductFactory()
    CardKeyFactory(product=product)
    one = _num_queries(client, "/")

    for _ in range(49):
        CardKeyFactory(product=ProductFactory())
    fifty = _num_queries(client, "/")

    assert one == fifty


# --- Product page and buying ----------------------------------------------------------------


def test_product_page_shows_price_face_value_and_shop(client):
    product = ProductFactory(price=Decimal("48.00"), face_value=Decimal("50.00"))

    response = client.get(f"/products/{product.pk}/")

    assert response.status_code == 200
    page = _text(response)
    assert "¥48.00" in page
    assert "¥50.00" in page
    assert product.merchant.shop_name in page


def test_anonymous_visitor_is_asked_to_log_in_to_buy(client):
    product = ProductFactory()
    CardKeyFactory(product=product)

    page = _text(client.get(f"/products/{product.pk}/"))
    response = client.post(f"/products/{product.pk}/", {"quantity": "1"})

    assert f"/accounts/login/?next=/products/{product.pk}/" in page
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "product_kwargs",
    [
        {"active": False},
        {"merchant__status": MerchantStatus.PENDING_VERIFICATION},
        {
            "merchant__status": MerchantStatus.SUSPENDED,
            "merchant__suspension_reason": SuspensionReason.DEPOSIT,
        },
    ],
    ids=["inactive-product", "unverified-shop", "suspended-shop"],
)
def test_a_product_not_on_sale_is_404_to_see_and_to_buy(client, buyer, product_kwargs):
    product = ProductFactory(**product_kwargs)
    CardKeyFactory(product=product)

    assert client.get(f"/products/{product.pk}/").status_code == 404
    assert client.post(f"/products/{product.pk}/", {"quantity": "1"}).status_code == 404
    assert not Order.objects.exists()


def test_an_unknown_or_absurd_product_id_is_404(client):
    assert client.get("/products/999999/").status_code == 404
    assert client.get("/products/99999999999999999999999999/").status_code == 404
    assert client.get("/products/abc/").status_code == 404


def test_buying_creates_a_pending_order_and_goes_to_the_pay_page(client, buyer):
    product = ProductFactory(price=Decimal("12.50"))
    CardKeyFactory.create_batch(3, product=product)

    response = client.post(f"/products/{product.pk}/", {"quantity": "2"})

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.number}/pay/"
    assert order.buyer == buyer
    assert order.quantity == 2
    assert order.amount == Decimal("25.00")
    assert order.status == OrderStatus.PENDING_PAYMENT


@pytest.mark.parametrize("quantity", ["-1", "0", "101", "abc", "", "1.5", "9" * 30])
def test_bad_quantities_are_refused_next_to_the_field_with_400(client, buyer, quantity):
    product = ProductFactory()
    CardKeyFactory.create_batch(3, product=product)

    response = client.post(f"/products/{product.pk}/", {"quantity": quantity})

    assert response.status_code == 400
    assert 'class="field__error"' in _text(response)
    assert not Order.objects.exists()


def test_buying_more_than_in_stock_is_refused(english, buyer):
    product = ProductFactory()
    CardKeyFactory.create_batch(2, product=product)

    response = english.post(f"/products/{product.pk}/", {"quantity": "3"})

    assert response.status_code == 400
    assert "Only 2 in stock." in _text(response)
    assert not Order.objects.exists()


def test_a_sold_out_product_offers_no_buy_form_and_refuses_a_post(english, buyer):
    product = ProductFactory()

    page = _text(english.get(f"/products/{product.pk}/"))
    response = english.post(f"/products/{product.pk}/", {"quantity": "1"})

    assert "This product is sold out." in page
    assert "Buy now" not in page
    assert response.status_code == 400
    assert not Order.objects.exists()


def test_the_services_refusal_is_shown_above_the_form(english):
    """A shop's own team may not buy from it: the service's DomainError, not a 500."""
    product = ProductFactory()
    CardKeyFactory(product=product)
    english.force_login(product.merchant.owner)

    response = english.post(f"/products/{product.pk}/", {"quantity": "1"})

    assert response.status_code == 400
    assert "You cannot buy from your own shop." in _text(response)
    assert 'class="form-errors"' in _text(response)
    assert not Order.objects.exists()


def test_buying_a_top_up_needs_a_valid_phone_number(english, buyer):
    product = ProductFactory(kind=ProductKind.PHONE_TOPUP)

    missing = english.post(f"/products/{product.pk}/", {"quantity": "1", "topup_target": ""})
    invalid = english.post(f"/products/{product.pk}/", {"quantity": "1", "topup_target": "12345"})

    assert missing.status_code == 400
    assert invalid.status_code == 400
    assert "Enter a mainland mobile number of 11 digits starting with 1." in _text(invalid)
    assert not Order.objects.exists()


def test_a_top_up_is_bought_one_at_a_time(english, buyer):
    product = ProductFactory(kind=ProductKind.PHONE_TOPUP)

    response = english.post(
        f"/products/{product.pk}/", {"quantity": "2", "topup_target": "13800138000"}
    )

    assert response.status_code == 400
    assert "A phone top-up is bought one at a time." in _text(response)
    assert not Order.objects.exists()


def test_buying_a_top_up_records_the_number(client, buyer):
    product = ProductFactory(kind=ProductKind.PHONE_TOPUP)

    response = client.post(
        f"/products/{product.pk}/", {"quantity": "1", "topup_target": "138 0013 8000"}
    )

    assert response.status_code == 302
    assert Order.objects.get().topup_target == "13800138000"


def test_buy_form_without_csrf_token_is_refused(buyer):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(buyer)
    product = ProductFactory()
    CardKeyFactory(product=product)

    response = strict.post(f"/products/{product.pk}/", {"quantity": "1"})

    assert response.status_code == 403
    assert not Order.objects.exists()


# --- Paying -------------------------------------------------------------------------------


def _pending_order(buyer: User, *, stock: int = 1, quantity: int = 1) -> Order:
    product = ProductFactory()
    CardKeyFactory.create_batch(stock, product=product)
    return services.order_create(buyer=buyer, product=product, quantity=quantity)


def test_pay_page_shows_the_amount_and_a_sandbox_confirm_button(english, buyer):
    order = _pending_order(buyer)

    response = english.get(f"/orders/{order.number}/pay/")

    assert response.status_code == 200
    assert f"Pay ¥{order.amount}" in _text(response)
    assert "Sandbox payment" in _text(response)


def test_paying_delivers_and_goes_to_the_order_page(english, buyer):
    order = _pending_order(buyer)

    response = english.post(f"/orders/{order.number}/pay/", follow=True)

    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    assert response.redirect_chain == [(f"/orders/{order.number}/", 302)]
    assert "Paid. Your order is delivered." in _text(response)


def test_paying_twice_is_a_clear_409_and_charges_once(english, buyer):
    order = _pending_order(buyer)
    english.post(f"/orders/{order.number}/pay/")

    response = english.post(f"/orders/{order.number}/pay/")

    assert response.status_code == 409
    assert f"Order {order.number} is already paid." in _text(response)
    assert "Pay ¥" not in _text(response)
    assert Payment.objects.filter(order=order).count() == 1


def test_the_pay_page_of_a_paid_order_sends_to_the_order(english, buyer):
    order = paid_order(buyer=buyer)

    response = english.get(f"/orders/{order.number}/pay/", follow=True)

    assert response.redirect_chain == [(f"/orders/{order.number}/", 302)]
    assert f"Order {order.number} is already paid." in _text(response)


def test_paying_when_stock_ran_out_says_the_payment_was_refunded(english, buyer):
    order = _pending_order(buyer, stock=0)

    response = english.post(f"/orders/{order.number}/pay/", follow=True)

    order.refresh_from_db()
    assert order.status in (OrderStatus.DELIVERY_FAILED, OrderStatus.REFUNDED)
    assert order.refunded_amount == order.amount
    assert "the payment was refunded in full" in _text(response)


def test_another_buyers_order_cannot_be_paid_or_seen_404(client, buyer):
    order = _pending_order(UserFactory())

    assert client.get(f"/orders/{order.number}/pay/").status_code == 404
    assert client.post(f"/orders/{order.number}/pay/").status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_the_shop_cannot_open_the_buyers_pages_of_its_order(client):
    order = paid_order()
    client.force_login(order.merchant.owner)

    assert client.get(f"/orders/{order.number}/").status_code == 404
    assert client.post(f"/orders/{order.number}/reveal/").status_code == 404
    assert not CardKeyReveal.objects.exists()


# --- Order page and reveal ----------------------------------------------------------------


def test_order_page_shows_masked_keys_and_times_in_shanghai(client, buyer):
    with time_machine.travel(datetime(2026, 3, 1, 1, 2, tzinfo=UTC), tick=False):
        order = paid_order(buyer=buyer, quantity=2)

    response = client.get(f"/orders/{order.number}/")

    page = _text(response)
    assert response.status_code == 200
    assert "2026-03-01 09:02" in page  # 01:02 UTC is 09:02 in Asia/Shanghai
    assert "¥96.00" in page
    keys = list(order.card_keys.order_by("id"))
    for key in keys:
        assert key.masked in page
        assert key.reveal() not in page
    assert f'action="/orders/{order.number}/reveal/"' in page


def test_order_page_leaves_room_for_order_actions(client, buyer):
    order = paid_order(buyer=buyer)

    page = _text(client.get(f"/orders/{order.number}/"))

    assert 'class="order-actions"' in page


def test_a_pending_order_page_offers_to_pay(english, buyer):
    order = _pending_order(buyer)

    page = _text(english.get(f"/orders/{order.number}/"))

    assert f'href="/orders/{order.number}/pay/"' in page
    assert "Reveal card keys" not in page


def test_revealing_shows_the_keys_once_and_records_the_reveal(client, buyer):
    order = paid_order(buyer=buyer, quantity=2)
    secrets = [k.reveal() for k in order.card_keys.order_by("id")]

    posted = client.post(f"/orders/{order.number}/reveal/", HTTP_USER_AGENT="pytest-browser/1.0")

    # POST, redirect, GET: the POST itself shows nothing, the page it redirects to does.
    assert posted.status_code == 302
    assert posted["Location"] == f"/orders/{order.number}/#card-keys"
    assert not any(secret in _text(posted) for secret in secrets)
    response = client.get(f"/orders/{order.number}/")
    assert response.status_code == 200
    page = _text(response)
    for secret in secrets:
        assert secret in page
    assert "no-store" in response["Cache-Control"]
    reveal = CardKeyReveal.objects.get()
    assert reveal.order == order
    assert reveal.user == buyer
    assert reveal.ip == "127.0.0.1"
    assert reveal.user_agent == "pytest-browser/1.0"
    assert reveal.card_keys.count() == 2
    # A reload shows them masked again and records no second reveal.
    reloaded = _text(client.get(f"/orders/{order.number}/"))
    assert secrets[0] not in reloaded
    assert order.card_keys.order_by("id")[0].masked in reloaded
    assert CardKeyReveal.objects.count() == 1


def test_a_reveal_left_unfollowed_is_not_shown_minutes_later(client, buyer):
    order = paid_order(buyer=buyer)
    secret = order.card_keys.get().reveal()
    client.post(f"/orders/{order.number}/reveal/")

    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        page = _text(client.get(f"/orders/{order.number}/"))

    assert secret not in page


def test_a_reveal_of_one_order_is_not_shown_on_another(client, buyer):
    first = paid_order(buyer=buyer)
    second = paid_order(buyer=buyer)
    client.post(f"/orders/{first.number}/reveal/")
    session = client.session
    session[f"orders:revealed:{second.number}"] = CardKeyReveal.objects.get().pk
    session.save()

    page = _text(client.get(f"/orders/{second.number}/"))

    assert second.card_keys.get().reveal() not in page
    assert first.card_keys.get().reveal() not in page


def test_reveal_is_post_only(client, buyer):
    order = paid_order(buyer=buyer)

    assert client.get(f"/orders/{order.number}/reveal/").status_code == 405
    assert not CardKeyReveal.objects.exists()


def test_another_buyers_order_and_keys_are_404(client, buyer):
    order = paid_order()

    assert client.get(f"/orders/{order.number}/").status_code == 404
    assert client.post(f"/orders/{order.number}/reveal/").status_code == 404
    assert client.get("/orders/NOSUCHORDER/").status_code == 404
    assert not CardKeyReveal.objects.exists()


def test_an_absurd_order_number_in_a_page_url_is_404_not_500(client, buyer):
    # A NUL byte cannot go into a PostgreSQL query: refused before any lookup, as in the API.
    for number in ["%00x", "KM%00", "9" * 300]:
        assert client.get(f"/orders/{number}/").status_code == 404
        assert client.get(f"/orders/{number}/pay/").status_code == 404
        assert client.post(f"/orders/{number}/reveal/").status_code == 404


def test_revealing_an_order_without_keys_is_a_clear_400(english, buyer):
    order = services.order_create(
        buyer=buyer,
        product=ProductFactory(kind=ProductKind.PHONE_TOPUP),
        quantity=1,
        topup_target="13800138000",
    )

    response = english.post(f"/orders/{order.number}/reveal/")

    assert response.status_code == 400
    assert "This order has no card keys to show." in _text(response)
    assert not CardKeyReveal.objects.exists()


def test_reveal_is_throttled_with_429(english, buyer, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "reveal_user", "2/min")
    order = paid_order(buyer=buyer)
    secret = order.card_keys.get().reveal()

    for _ in range(2):
        assert english.post(f"/orders/{order.number}/reveal/").status_code == 302
    response = english.post(f"/orders/{order.number}/reveal/")

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many attempts" in _text(response)
    assert secret not in _text(response)
    assert CardKeyReveal.objects.count() == 2


def test_a_pending_top_up_page_polls_for_its_status(client, buyer):
    product = ProductFactory(kind=ProductKind.PHONE_TOPUP)
    order = services.order_create(
        buyer=buyer, product=product, quantity=1, topup_target="13800138000"
    )
    # On-commit callbacks do not run inside the test's transaction, so the top-up task is
    # never handed over and the order stays delivery_pending.
    services.order_pay(order=order, buyer=buyer)

    page = _text(client.get(f"/orders/{order.number}/"))

    assert Order.objects.get(pk=order.pk).status == OrderStatus.DELIVERY_PENDING
    assert 'hx-trigger="every 5s"' in page


@pytest.mark.parametrize("path", ["/orders/", "/orders/KM0/", "/orders/KM0/pay/"])
def test_anonymous_visitors_are_sent_to_log_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_anonymous_reveal_is_sent_to_log_in(client):
    order = paid_order()

    response = client.post(f"/orders/{order.number}/reveal/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not CardKeyReveal.objects.exists()


# --- My orders ----------------------------------------------------------------------------


def test_my_orders_lists_only_my_orders_newest_first(client, buyer):
    with time_machine.travel(timezone.now() - timedelta(days=1)):
        older = paid_order(buyer=buyer)
    newer = paid_order(buyer=buyer)
    someone_elses = paid_order()

    page = _text(client.get("/orders/"))

    assert newer.number in page
    assert older.number in page
    assert page.index(newer.number) < page.index(older.number)
    assert someone_elses.number not in page


def test_my_orders_is_paginated_and_survives_bad_page_numbers(client, buyer):
    product = ProductFactory()
    OrderFactory.create_batch(21, buyer=buyer, product=product)

    first = _text(client.get("/orders/"))
    second = client.get("/orders/?page=2")
    nonsense = client.get("/orders/?page=zzz")

    assert first.count('class="card order-row"') == 20
    assert _text(second).count('class="card order-row"') == 1
    assert nonsense.status_code == 200


def test_my_orders_query_count_is_the_same_at_1_and_50_orders(client, buyer):
    def add_delivered_order() -> None:
        order = OrderFactory(buyer=buyer, status=OrderStatus.DELIVERED)
        CardKeyFactory(
            product=order.product,
            status=CardKeyStatus.DELIVERED,
            order=order,
            delivered_at=timezone.now(),
        )

    add_delivered_order()
    one = _num_queries(client, "/orders/")

    for _ in range(49):
        add_delivered_order()
    fifty = _num_queries(client, "/orders/")

    assert one == fifty
    assert CardKey.objects.count() == 50


# --- Accounts -----------------------------------------------------------------------------


def test_login_page_logs_in_and_follows_next(client):
    user = UserFactory()

    assert client.get("/accounts/login/").status_code == 200
    response = client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD, "next": "/orders/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/orders/"
    assert client.get("/orders/").status_code == 200


def test_login_does_not_follow_next_to_another_site(client):
    user = UserFactory()

    response = client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD, "next": "https://evil.example/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_wrong_password_is_a_400_with_the_form_error(english):
    user = UserFactory()

    response = english.post("/accounts/login/", {"username": user.username, "password": "nope"})

    assert response.status_code == 400
    assert "Please enter a correct username and password" in _text(response)


def test_login_is_throttled_with_429(english, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "login_user", "3/min")
    user = UserFactory()

    for _ in range(3):
        english.post("/accounts/login/", {"username": user.username, "password": "nope"})
    response = english.post("/accounts/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many attempts" in _text(response)
    assert "_auth_user_id" not in english.session


def test_logout_is_post_only_and_logs_out(client, buyer):
    assert client.get("/accounts/logout/").status_code == 405

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert client.get("/orders/").status_code == 302


def test_register_creates_a_buyer_and_logs_them_in(client):
    response = client.post(
        "/accounts/register/",
        {
            "username": "new-buyer",
            "email": "new@example.com",
            "password1": "a-long-unusual-pass-42",
            "password2": "a-long-unusual-pass-42",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(username="new-buyer")
    assert user.email == "new@example.com"
    assert not user.is_staff
    assert client.get("/orders/").status_code == 200


@pytest.mark.parametrize(
    "data",
    [
        {"username": "Taken", "email": "a@example.com"},
        {"username": "fresh", "email": ""},
        {"username": "fresh", "email": "not-an-email"},
        {"username": "", "email": "a@example.com"},
        {"username": "fresh", "email": "a@example.com", "password2": "different-pass-42"},
        {"username": "fresh", "email": "a@example.com", "password1": "123", "password2": "123"},
        {"username": "bad name!", "email": "a@example.com"},
    ],
    ids=["taken", "no-email", "bad-email", "no-username", "mismatch", "weak", "bad-username"],
)
def test_register_refuses_bad_input_with_400(client, data):
    UserFactory(username="taken")
    payload = {"password1": "a-long-unusual-pass-42", "password2": "a-long-unusual-pass-42"}
    payload.update(data)

    response = client.post("/accounts/register/", payload)

    assert response.status_code == 400
    assert 'class="field__error"' in _text(response)
    assert User.objects.count() == 1


def test_register_is_throttled_with_429(client, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "login_user", "1/min")
    client.post("/accounts/register/", {"username": "x"})

    response = client.post(
        "/accounts/register/",
        {
            "username": "late",
            "email": "late@example.com",
            "password1": "a-long-unusual-pass-42",
            "password2": "a-long-unusual-pass-42",
        },
    )

    assert response.status_code == 429
    assert not User.objects.filter(username="late").exists()


# --- Language, layout, error pages --------------------------------------------------------


def test_pages_are_zh_hans_first_and_switch_to_english(client):
    first = client.get("/accounts/login/")
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    english_page = client.get("/accounts/login/")

    assert '<html lang="zh-hans">' in _text(first)
    assert "用户名" in _text(first)  # Django's own zh-hans catalogue: "Username"
    assert switched.status_code == 302
    assert switched["Location"] == "/accounts/login/"
    assert '<html lang="en">' in _text(english_page)
    assert "Username" in _text(english_page)
    assert "Catalogue" in _text(english_page)


def test_layout_has_nav_language_switch_and_csrf_logout(client, buyer):
    page = _text(client.get("/"))

    assert 'action="/i18n/setlang/"' in page
    assert 'name="language" value="en"' in page
    assert 'action="/accounts/logout/"' in page
    assert 'href="/orders/"' in page
    assert "csrfmiddlewaretoken" in page
    assert "/static/css/site.css" in page
    assert "/static/vendor/htmx.min.js" in page


def test_unknown_page_is_the_html_404(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "404" in _text(response)
    assert "<html" in _text(response)


def test_500_page_renders_without_a_request():
    html = render_to_string("500.html")

    assert "500" in html
    assert "/static/css/site.css" in html


# --- Template helpers ---------------------------------------------------------------------


def _render(source: str, **context) -> str:
    return Template("{% load kamen %}" + source).render(Context(context))


def test_yuan_filter_formats_money_with_two_places():
    assert _render("{{ v|yuan }}", v=Decimal("12.5")) == "¥12.50"
    assert _render("{{ v|yuan }}", v=Decimal("1234567.891")) == "¥1,234,567.89"
    assert _render("{{ v|yuan }}", v=None) == ""
    assert _render("{{ v|yuan }}", v="junk") == ""


def test_when_tag_shows_asia_shanghai_time():
    moment = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)

    html = _render("{% when v %}", v=moment)

    assert html == '<time datetime="2026-12-31T17:30:00+00:00">2027-01-01 01:30</time>'
    assert _render("{% when v %}", v=None) == "—"


def test_countdown_shows_a_bar_and_the_time_left():
    now = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        html = _render(
            "{% countdown due total=total %}",
            due=now + timedelta(hours=6),
            total=timedelta(hours=24),
        )
        overdue = _render(
            "{% countdown due total=total %}",
            due=now - timedelta(hours=1),
            total=timedelta(hours=24),
        )

    assert 'max="86400" value="21600"' in html
    assert "countdown--urgent" not in html
    assert "2026-05-01 14:00" in html
    assert "countdown--overdue" in overdue
    assert 'value="0"' in overdue
