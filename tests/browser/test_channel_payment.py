"""A buyer pays through WeChat Pay in a real browser: the pay page offers the channels, shows
the Native code after the choice, and the order turns paid once the channel has it and the
buyer asks ("I have paid: check now"), without JavaScript."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orders.models import Order, OrderStatus
from tests.factories import PASSWORD, CardKeyFactory, OrderFactory, ProductFactory, UserFactory
from tests.payments.conftest import alipay, wechatpay  # noqa: F401 - the gateway emulators

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_buyer_pays_with_the_wechat_code_and_the_order_turns_paid(
    page: Any, screenshot_dir: Path, request: Any
) -> None:
    request.getfixturevalue("alipay")
    gateway = request.getfixturevalue("wechatpay")
    buyer = UserFactory(username="han.meimei")
    product = ProductFactory(name="腾讯视频 VIP 月卡", price=Decimal("25.00"))
    CardKeyFactory(product=product)
    order = OrderFactory(product=product, merchant=product.merchant, buyer=buyer)

    page.goto("/accounts/login/?next=" + f"/orders/{order.number}/pay/")
    page.fill("input[name=username]", buyer.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**/orders/{order.number}/pay/")
    channels = page.locator("input[name=channel]")
    assert [channels.nth(i).get_attribute("value") for i in range(channels.count())] == [
        "sandbox",
        "alipay",
        "wechatpay",
    ]
    page.screenshot(path=str(screenshot_dir / "pay-channels.png"), full_page=True)

    page.check("input[name=channel][value=wechatpay]")
    page.click("form:has(input[name=channel]) button[type=submit]")
    page.wait_for_url(f"**/orders/{order.number}/pay/")
    code = page.locator(".pay-code a")
    assert code.get_attribute("href").startswith("weixin://wxpay/bizpayurl?pr=")
    page.screenshot(path=str(screenshot_dir / "pay-wechat-code.png"), full_page=True)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT

    gateway.pay(order.number)
    page.click("form:has(input[name=action][value=check]) button[type=submit]")
    page.wait_for_url(f"**/orders/{order.number}/")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.DELIVERED
    page.screenshot(path=str(screenshot_dir / "pay-wechat-paid.png"), full_page=True)
