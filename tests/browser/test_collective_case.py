"""A collective case in a real browser (issue 22): a buyer of the batch whose key the issuer
reports good joins the case from the order page on a 390 px phone (one tap on 我也遇到了, a
plain form) and lands on the new complaint; the buyer the platform refunded reads how; the
shop sees the case's figures on its dashboard and case page at 1280 px; the desk sees the same
figures in the admin. Screenshots in /tmp/kc-screenshots/ (collective-*.png)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group

from disputes.models import CollectiveCase, CollectiveStatus, Dispute
from orders import services as order_services
from orders.models import Order, Product, ProductKind
from tests.disputes.factories import arbitrator, file, fund
from tests.factories import PASSWORD, ProductFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PRICE = Decimal("48.00")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def collective_case() -> tuple[CollectiveCase, Product, list[Order]]:
    """A batch of 10 keys (the first 6 unknown to the issuer), 8 sold; the first 3 buyers
    complain, the automatic check upholds them and the case opens and settles (the tasks run
    on each commit). orders[3:6] are refunded by the case, orders[6:] have good keys."""
    product = ProductFactory(
        name="原神创世结晶 兑换码", price=PRICE, face_value=PRICE, kind=ProductKind.GAME_CARD
    )
    fund(product.merchant, Decimal("3000.00"))
    lines = [f"UNKNOWN-{i:04d}-BROWSER" for i in range(6)]
    lines += [f"GOOD-{i:04d}-BROWSER" for i in range(4)]
    order_services.card_keys_import(
        product=product, data="\n".join(lines), imported_by=product.merchant.owner
    )
    orders = []
    for _ in range(8):
        buyer = UserFactory()
        order = order_services.order_create(buyer=buyer, product=product, quantity=1)
        orders.append(order_services.order_pay(order=order, buyer=buyer))
    for order in orders[:3]:
        file(order)
    case = CollectiveCase.objects.get()
    assert case.status == CollectiveStatus.SETTLED
    return case, product, orders


def _log_in(page: Any, username: str, next_url: str) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width


def test_a_buyer_joins_the_case_and_the_shop_and_the_desk_see_its_figures(
    chromium: Any, live_server: Any, screenshot_dir: Path
) -> None:
    case, product, orders = collective_case()
    good, refunded = orders[7], orders[4]

    phone = chromium.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    ).new_page()
    # The refunded buyer reads how they were refunded.
    _log_in(phone, refunded.buyer.username, f"/orders/{refunded.number}/")
    notice = phone.locator("#collective-notice")
    assert case.number in notice.inner_text()
    assert "¥48.00" in notice.inner_text()
    assert notice.locator("form").count() == 0
    _no_sideways_scroll(phone)
    phone.screenshot(path=str(screenshot_dir / "collective-buyer-refunded.png"), full_page=True)
    phone.context.clear_cookies()

    # The good key's buyer joins in one tap.
    _log_in(phone, good.buyer.username, f"/orders/{good.number}/")
    notice = phone.locator("#collective-notice")
    notice.scroll_into_view_if_needed()
    _no_sideways_scroll(phone)
    phone.screenshot(path=str(screenshot_dir / "collective-buyer-join.png"), full_page=True)
    notice.locator("form button[type=submit]").click()
    phone.wait_for_url("**/complaints/TS*/")
    complaint = Dispute.objects.get(order=good)
    assert complaint.collective_case_id == case.pk
    assert complaint.number in phone.url
    phone.screenshot(path=str(screenshot_dir / "collective-buyer-complaint.png"), full_page=True)
    phone.context.close()

    desk = chromium.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    ).new_page()
    # The shop: the case on its dashboard, its figures on the case page.
    _log_in(desk, product.merchant.owner.username, "/merchant/")
    desk.click(f"text={case.number}")
    desk.wait_for_url(f"**/merchant/cases/{case.pk}/")
    figures = desk.locator("main .case-figures").first.inner_text()
    for value in ("10", "8", "6", "3", "¥144.00"):
        assert value in figures, (value, figures)
    desk.screenshot(path=str(screenshot_dir / "collective-merchant-case.png"), full_page=True)
    desk.context.clear_cookies()

    # The desk: the list with figures, the case screen with the same.
    staff = arbitrator()
    staff.groups.add(Group.objects.get(name="arbitrator"))
    desk.goto("/admin/login/?next=/admin/disputes/collectivecase/")
    desk.fill("input[name=username]", staff.username)
    desk.fill("input[name=password]", PASSWORD)
    desk.click("form input[type=submit]")
    desk.wait_for_url("**/admin/disputes/collectivecase/")
    row = desk.locator("#result_list tbody tr").first.inner_text()
    assert case.number in row and "¥144.00" in row
    desk.screenshot(path=str(screenshot_dir / "collective-desk-list.png"), full_page=True)
    desk.click(f"text={case.number}")
    desk.wait_for_url(f"**/admin/disputes/collectivecase/{case.pk}/case/")
    screen = desk.locator("#content").inner_text()
    assert complaint.number in screen and "¥144.00" in screen
    desk.screenshot(path=str(screenshot_dir / "collective-desk-case.png"), full_page=True)
    desk.context.close()
