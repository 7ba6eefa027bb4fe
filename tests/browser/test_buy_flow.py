"""A buyer in a real browser: log in, buy a card key, pay, reveal and copy it, switch language;
and the same pages on a phone-sized screen. Selectors are structural (ids, names, hrefs), not
wording, so the tests hold in either language."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orders.models import CardKeyReveal, Order, OrderStatus
from tests.factories import PASSWORD, CardKeyFactory, ProductFactory, UserFactory
from tests.helpers import paid_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "GAME-7Q2K-XR4P-9M3A"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_buyer_logs_in_buys_pays_reveals_and_copies_a_key_then_switches_language(
    page: Any, screenshot_dir: Path
) -> None:
    buyer = UserFactory(username="li.lei")
    product = ProductFactory(name="王者荣耀 点券 60", price=Decimal("12.50"))
    CardKeyFactory(product=product, plain=SECRET)
    CardKeyFactory(product=product)

    page.goto("/accounts/login/?next=/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.fill("input[name=username]", buyer.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/")
    page.screenshot(path=str(screenshot_dir / "catalogue.png"), full_page=True)

    page.click(f'a[href="/products/{product.pk}/"]')
    page.fill("input[name=quantity]", "1")
    page.click(".buy-box button[type=submit]")
    page.wait_for_url("**/pay/")
    assert "¥12.50" in page.inner_text("main")
    page.screenshot(path=str(screenshot_dir / "pay.png"), full_page=True)

    page.click("main form button[type=submit]")
    order = Order.objects.get(buyer=buyer)
    page.wait_for_url(f"**/orders/{order.number}/")
    assert order.status == OrderStatus.DELIVERED
    keys = page.locator("#card-keys")
    assert SECRET not in keys.inner_text()
    assert "****9M3A" in keys.inner_text()

    page.click(f'form[action="/orders/{order.number}/reveal/"] button')
    revealed = page.locator(".key-list--revealed .card-key")
    revealed.first.wait_for()
    assert revealed.first.inner_text() == SECRET
    assert CardKeyReveal.objects.filter(order=order, user=buyer).count() == 1

    copy = page.locator(".key-list--revealed .copy-button").first
    assert copy.is_visible()  # shown only because JS runs
    copy.click()
    page.wait_for_selector(".key-list--revealed .copy-button[data-copied]")
    assert page.evaluate("navigator.clipboard.readText()") == SECRET
    page.screenshot(path=str(screenshot_dir / "order-revealed.png"), full_page=True)

    page.click('.language-switch button[value="en"]')
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert "My orders" in page.inner_text("nav.site-nav")
    # The switch lands back on the same order page, keys masked again.
    assert page.url.endswith(f"/orders/{order.number}/")
    assert SECRET not in page.inner_text("main")
    page.screenshot(path=str(screenshot_dir / "order-en.png"), full_page=True)


def test_pages_fit_a_phone_screen(phone_page: Any, screenshot_dir: Path) -> None:
    product = ProductFactory(name="Steam 钱包充值卡 100", price=Decimal("98.00"))
    CardKeyFactory.create_batch(3, product=product)
    ProductFactory(name="中国移动 话费 50", kind="phone_topup", price=Decimal("49.50"))
    order = paid_order(product=ProductFactory(name="网易一卡通 30"), quantity=2)

    phone_page.goto("/")
    assert phone_page.locator(".product-card").count() == 3
    assert _no_horizontal_scroll(phone_page)
    phone_page.screenshot(path=str(screenshot_dir / "catalogue-phone.png"), full_page=True)

    phone_page.click(f'a[href="/products/{product.pk}/"]')
    phone_page.wait_for_url(f"**/products/{product.pk}/")
    assert _no_horizontal_scroll(phone_page)
    phone_page.screenshot(path=str(screenshot_dir / "product-phone.png"), full_page=True)

    phone_page.goto(f"/accounts/login/?next=/orders/{order.number}/")
    phone_page.fill("input[name=username]", order.buyer.username)
    phone_page.fill("input[name=password]", PASSWORD)
    phone_page.click("main form button[type=submit]")
    phone_page.wait_for_url(f"**/orders/{order.number}/")
    phone_page.click(f'form[action="/orders/{order.number}/reveal/"] button')
    phone_page.locator(".key-list--revealed .card-key").first.wait_for()
    assert phone_page.locator(".key-list--revealed .card-key").count() == 2
    assert _no_horizontal_scroll(phone_page)
    phone_page.screenshot(path=str(screenshot_dir / "order-phone.png"), full_page=True)
