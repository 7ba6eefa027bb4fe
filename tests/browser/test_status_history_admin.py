"""The status history and the blacklist's reasons as staff see them in a real browser (Debian's
Chromium) at 1280 px: the shop's status changes under its form, an order's under its own, and
the complaints behind a blacklist entry linked to their case screens. Screenshots go to
screenshot_dir."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from disputes import services as dispute_services
from disputes.models import BlacklistEntry, Policy
from orders import services
from orders.models import SuspensionReason
from tests.disputes.factories import arbitrator, funded_order, under_review
from tests.factories import PASSWORD, MerchantFactory, StaffFactory, UserFactory
from tests.helpers import paid_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _setup(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if not Policy.objects.filter(product_kind="").exists():
        Policy.objects.create(
            product_kind="",
            effective_from=datetime(1970, 1, 1, tzinfo=UTC),
            published_at=datetime(2020, 1, 1, tzinfo=UTC),
        )


def log_in(page: Any, user: User) -> None:
    page.goto("/admin/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form input[type=submit]")
    page.wait_for_url("**/admin/")


def test_staff_see_status_changes_and_the_complaints_behind_an_entry(
    page: Any, screenshot_dir: Path
) -> None:
    staff = StaffFactory()
    for name in ("verifier", "arbitrator"):
        staff.groups.add(Group.objects.get(name=name))
    shop = MerchantFactory(shop_name="星辰卡铺")
    services.merchant_suspend(
        merchant=shop, reason=SuspensionReason.MANUAL, note="售卖来源不明的卡密", staff=staff
    )
    services.merchant_unsuspend(merchant=shop, staff=staff)
    order = paid_order()
    buyer = UserFactory()
    threshold = Policy.objects.get(product_kind="").blacklist_threshold
    ruled = [
        dispute_services.dispute_rule(
            dispute=under_review(order=funded_order(buyer=buyer)),
            staff=arbitrator(),
            outcome="rejected_malicious",
            reason="卡密已被买家本人使用",
        )
        for _ in range(threshold)
    ]
    entry = BlacklistEntry.objects.get(user=buyer)

    log_in(page, staff)
    page.goto(f"/admin/orders/merchant/{shop.pk}/change/")
    page.locator("#status_events-group").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "admin-merchant-status-changes.png"))
    rows = page.locator("#status_events-group tbody tr.has_original")
    assert rows.count() == 2
    assert "售卖来源不明的卡密" in rows.nth(0).inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.goto(f"/admin/orders/order/{order.pk}/change/")
    assert page.locator("#status_events-group tbody tr.has_original").count() == 2
    page.locator("#status_events-group").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "admin-order-status-changes.png"))

    page.goto(f"/admin/disputes/blacklistentry/{entry.pk}/change/")
    assert page.locator("table.blacklist-behind tbody tr").count() == threshold
    last = ruled[-1]
    link = page.locator(f"table.blacklist-behind a[href$='/{last.pk}/case/']")
    assert link.inner_text() == last.number
    page.screenshot(path=str(screenshot_dir / "admin-blacklist-entry.png"), full_page=True)
    link.click()
    page.wait_for_url(f"**/admin/disputes/dispute/{last.pk}/case/")
