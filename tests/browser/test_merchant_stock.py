"""A merchant in a real browser: stock and deposit (README "Merchant dashboard").

4. Import 5 keys with 1 duplicate → the report says 4 / 1 / 0, and the stock grows by 4.
5. A withdrawal while a complaint is open is refused, the reason shown next to the amount.

And the products, sales orders and deposit pages at 360 px: no horizontal scroll. Selectors
are structural (ids, names, data attributes), not wording."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from escrow.models import Withdrawal
from orders.models import CardKeyStatus
from tests.disputes.factories import file, fund, funded_order
from tests.factories import PASSWORD, CardKeyFactory, MerchantFactory, ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _log_in(page: Any, username: str, next_url: str) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def _no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_import_five_keys_with_one_duplicate_reports_4_1_0(page: Any, screenshot_dir: Path) -> None:
    merchant = MerchantFactory(shop_name="星云游戏点卡专营店")
    product = ProductFactory(merchant=merchant, name="王者荣耀 点券 60")
    CardKeyFactory.create_batch(2, product=product)

    _log_in(page, merchant.owner.username, "/merchant/products/")
    row = page.locator(f"#product-{product.pk}")
    assert row.locator("[data-stock]").get_attribute("data-stock") == "2"
    assert "ms-product--low" in (row.get_attribute("class") or "")
    page.screenshot(path=str(screenshot_dir / "merchant-products.png"), full_page=True)

    row.locator(f'a[href="/merchant/products/{product.pk}/import/"]').click()
    page.wait_for_url(f"**/merchant/products/{product.pk}/import/")
    keys = ["WZRY-60-AAAA-0001", "WZRY-60-AAAA-0002", "WZRY-60-AAAA-0003"]
    keys += ["WZRY-60-AAAA-0002", "WZRY-60-AAAA-0004"]
    page.fill("textarea[name=keys]", "\n".join(keys))
    page.click(".ms-import-form button[type=submit]")
    page.wait_for_selector("#import-report")

    report = page.locator("#import-report")
    assert report.locator('[data-count="imported"]').inner_text() == "4"
    assert report.locator('[data-count="duplicates"]').inner_text() == "1"
    assert report.locator('[data-count="rejected"]').inner_text() == "0"
    problems = report.locator(".ms-problem")
    assert problems.count() == 1
    assert "4" in problems.first.locator(".ms-problem__line").inner_text()  # line 4
    assert problems.first.locator(".ms-problem__reason").inner_text().strip()
    assert "WZRY-60-AAAA" not in page.inner_text("main")  # keys are never shown back
    assert page.locator(".ms-stock").get_attribute("data-stock") == "6"
    assert product.card_keys.filter(status=CardKeyStatus.AVAILABLE).count() == 6
    page.screenshot(path=str(screenshot_dir / "merchant-import-report.png"), full_page=True)

    # Back on the list, the product is no longer short of stock... at 6 it still is (< 10).
    page.goto("/merchant/products/")
    assert page.locator(f"#product-{product.pk} [data-stock]").get_attribute("data-stock") == "6"


def test_a_withdrawal_past_what_the_open_complaint_leaves_free_is_refused_with_the_reason(
    page: Any, screenshot_dir: Path
) -> None:
    merchant = MerchantFactory(shop_name="速达话费充值中心")
    order = funded_order(
        product=ProductFactory(merchant=merchant, price=Decimal("98.00")),
        deposit_amount=Decimal("0"),
    )
    fund(merchant, Decimal("5000.00"))
    complaint = file(order)

    _log_in(page, merchant.owner.username, "/merchant/deposit/")
    assert page.locator('[data-figure="held"]').inner_text() == "¥98.00"
    # The open complaint holds its ¥98.00: asking for the whole balance is refused, naming it.
    page.fill("#withdrawal-form input[name=amount]", "5000")
    page.click("#withdrawal-form button[type=submit]")
    error = page.locator("#withdrawal-form .field__error")
    error.wait_for()
    assert "98.00" in error.inner_text()
    # The reason is the service's own sentence, next to the amount, and the amount is kept.
    assert page.locator("#withdrawal-form input[name=amount]").input_value() == "5000"
    assert not Withdrawal.objects.exists()
    page.screenshot(path=str(screenshot_dir / "merchant-withdrawal-refused.png"), full_page=True)
    assert complaint.number  # the complaint is still open: nothing resolved it


def test_stock_orders_and_deposit_pages_fit_a_360px_phone(
    chromium: Any, live_server: Any, screenshot_dir: Path
) -> None:
    merchant = MerchantFactory(shop_name="礼享卡券商城")
    product = ProductFactory(merchant=merchant, name="京东 E 卡 100 元 电子礼品卡")
    CardKeyFactory.create_batch(3, product=product)
    order = funded_order(product=product, deposit_amount=Decimal("0"))
    fund(merchant, Decimal("1200.00"))
    file(order)

    context = chromium.new_context(
        base_url=live_server.url,
        viewport={"width": 360, "height": 780},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        _log_in(page, merchant.owner.username, "/merchant/products/")
        for url, name in (
            ("/merchant/products/", "phone-merchant-products.png"),
            ("/merchant/orders/", "phone-merchant-orders.png"),
            ("/merchant/deposit/", "phone-merchant-deposit.png"),
            (f"/merchant/products/{product.pk}/import/", "phone-merchant-import.png"),
        ):
            page.goto(url)
            page.screenshot(path=str(screenshot_dir / name), full_page=True)
            assert _no_horizontal_scroll(page), url
        page.goto("/merchant/orders/")
        assert page.locator(f"#order-{order.number} .ms-complaint-link").count() == 1
    finally:
        context.close()
