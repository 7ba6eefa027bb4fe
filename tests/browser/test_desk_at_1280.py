"""The staff's pages at a desk screen, 1280 px wide (issue 19): the review queue with its
filters and the admin's navigation beside it, every column readable; the staff two-step
set-up and code pages. Screenshots in $KAMEN_SCREENSHOT_DIR (tests/browser/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.browser.test_arbitration_desk import admin_log_in
from tests.disputes.factories import funded_order, under_review
from tests.factories import PASSWORD, MerchantFactory, ProductFactory, StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESK = {"width": 1280, "height": 800}
# Shop names as long as real ones get.
SHOPS = [
    "星云游戏点卡专营店（官方授权旗舰店）",
    "速达话费充值中心·全国三网极速到账",
    "礼享卡券商城 Gift Card Mall",
    "一二三四五六七八九十一二三四五六七八九十",
]


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _fits(page: Any) -> dict[str, Any]:
    """How the queue sits in the window: the table's right edge, the results box's hidden
    width, and the tallest shop-name cell (a name wrapped one character per line is tall)."""
    return page.evaluate(
        """() => {
          const table = document.querySelector('#result_list');
          const box = table.closest('.results') || table.parentElement;
          const cells = [...document.querySelectorAll('#result_list td.field-merchant_link')];
          const headers = [...document.querySelectorAll('#result_list thead th')];
          return {
            right: table.getBoundingClientRect().right,
            width: window.innerWidth,
            hidden: box.scrollWidth - box.clientWidth,
            page: document.documentElement.scrollWidth - window.innerWidth,
            tallest: Math.max(...cells.map(c => c.getBoundingClientRect().height)),
            header: Math.max(...headers.map(h => h.getBoundingClientRect().height)),
          };
        }"""
    )


def test_the_review_queue_reads_at_1280(page: Any, screenshot_dir: Path) -> None:
    for name in SHOPS:
        product = ProductFactory(merchant=MerchantFactory(shop_name=name))
        under_review(order=funded_order(product=product))
    arbiter = StaffFactory()
    arbiter.groups.add(Group.objects.get(name="arbitrator"))
    page.set_viewport_size(DESK)
    admin_log_in(page, arbiter)
    page.screenshot(path=str(screenshot_dir / "desk-queue-1280.png"))
    fits = _fits(page)
    assert fits["right"] <= fits["width"], fits  # the last column is on the screen
    assert fits["hidden"] <= 1 and fits["page"] <= 1, fits  # nothing scrolled out of sight
    assert fits["tallest"] < 40, fits  # a shop's name on one line (cut, whole on hover)
    assert fits["header"] < 60, fits  # headers at most two lines
    # Every shop is named, in full on hover.
    for name in SHOPS:
        assert page.locator(f"#result_list [title='{name}']").count() == 1
    # The filters are still there, beside the list.
    assert page.locator("#changelist-filter").is_visible()


def _code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    device.throttle_reset()
    device.last_t = -1
    device.save()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{value:06d}"


def test_staff_two_step_pages_at_1280(
    page: Any, chromium: Any, live_server: Any, screenshot_dir: Path, settings: Any
) -> None:
    settings.STAFF_REQUIRE_2FA = True
    staff = StaffFactory()
    page.set_viewport_size(DESK)
    page.goto("/admin/login/?next=/admin/")
    page.fill("input[name=username]", staff.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form input[type=submit]")
    page.wait_for_url("**/accounts/two-step/setup/**")
    page.screenshot(path=str(screenshot_dir / "staff-twostep-setup-1280.png"), full_page=True)
    _check_desk_page(page, held=True)
    secret = page.inner_text("#totp-secret")
    assert len(secret.split(" ")) >= 8 and all(len(part) <= 4 for part in secret.split(" "))

    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    page.fill("input[name=token]", _code(device))
    page.click("form[action$='/two-step/setup/'] button[type=submit]")
    page.wait_for_selector("text=/恢复码|recovery/i")
    page.screenshot(path=str(screenshot_dir / "staff-twostep-codes-1280.png"), full_page=True)
    _check_desk_page(page)

    later = chromium.new_context(base_url=live_server.url, viewport=DESK, locale="zh-CN")
    try:
        second = later.new_page()
        second.goto("/admin/login/?next=/admin/")
        second.fill("input[name=username]", staff.username)
        second.fill("input[name=password]", PASSWORD)
        second.click("form input[type=submit]")
        second.wait_for_url("**/accounts/two-step/**")
        shot = screenshot_dir / "staff-twostep-verify-1280.png"
        second.screenshot(path=str(shot), full_page=True)
        _check_desk_page(second, held=True)
        assert second.locator("main form button[type=submit]").count() == 1  # one way on
        second.fill("input[name=token]", _code(TOTPDevice.objects.get(user=staff, confirmed=True)))
        second.click("form[action$='/two-step/'] button[type=submit]")
        second.wait_for_url("**/admin/")
    finally:
        later.close()


def _check_desk_page(page: Any, *, held: bool = False) -> None:
    """Nothing runs off the side; a page of the login gate offers no links it would only
    send back from (the catalogue, orders, complaints)."""
    layout = page.evaluate(
        """() => ({
          page: document.documentElement.scrollWidth - window.innerWidth,
          h1: document.querySelector('h1').textContent.trim(),
        })"""
    )
    assert layout["page"] <= 1, layout
    assert layout["h1"], layout
    assert page.locator(".site-nav").count() == (0 if held else 1)
