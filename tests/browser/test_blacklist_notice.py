"""A blacklisted buyer on a 360 px phone, in Chinese: the product page and the payment page say
they cannot complain until the entry ends, above the button, without sideways scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from disputes.models import BlacklistEntry, BlacklistSource
from tests.browser.conftest import _new_page
from tests.factories import PASSWORD, CardKeyFactory, ProductFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def small_phone(chromium: Any, live_server: Any) -> Iterator[Any]:
    yield from _new_page(
        chromium,
        live_server,
        locale="zh-CN",
        viewport={"width": 360, "height": 780},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_a_blacklisted_buyer_is_told_before_buying_and_paying(
    small_phone: Any, screenshot_dir: Path
) -> None:
    page = small_phone
    buyer = UserFactory(username="xiaoqiang")
    BlacklistEntry.objects.create(
        user=buyer,
        reason="180 天内 3 次投诉被裁定为恶意投诉（上限为 3 次）。",
        source=BlacklistSource.AUTOMATIC,
        expires_at=timezone.now() + timedelta(days=180),
    )
    product = ProductFactory(name="Steam 钱包充值卡 100", price=Decimal("98.00"))
    CardKeyFactory.create_batch(2, product=product)

    page.goto(f"/accounts/login/?next=/products/{product.pk}/")
    page.fill("input[name=username]", buyer.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**/products/{product.pk}/")
    notice = page.locator(".buy-box .blacklist-notice")
    assert notice.is_visible()
    assert "之前您不能提交投诉" in notice.inner_text()
    buy = page.locator(".buy-box form button[type=submit]")
    assert notice.bounding_box()["y"] < buy.bounding_box()["y"]
    assert _fits(page)
    page.screenshot(path=str(screenshot_dir / "buy-blacklisted-360.png"), full_page=True)

    buy.click()
    page.wait_for_url("**/pay/")
    assert page.locator(".blacklist-notice").is_visible()
    assert _fits(page)
    page.screenshot(path=str(screenshot_dir / "pay-blacklisted-360.png"), full_page=True)
