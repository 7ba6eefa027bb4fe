"""An arbitrator rules in the admin with a real browser (Debian's Chromium): the review queue,
the case screen, the ruling form; then the buyer's complaint page shows the outcome and the
merchant's deposit has paid it. Selectors are structural (ids, names, hrefs)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from disputes.models import Policy, Status
from tests.disputes.factories import deposit, under_review
from tests.factories import PASSWORD, StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _setup(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if not Policy.objects.filter(product_kind="").exists():
        Policy.objects.create(
            product_kind="",
            effective_from=datetime(1970, 1, 1, tzinfo=UTC),
            published_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),  # as migration 0013 dates it
            note="Default policy (seeded).",
        )


def admin_log_in(page: Any, user: User) -> None:
    page.goto("/admin/login/?next=/admin/disputes/dispute/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form input[type=submit]")
    page.wait_for_url("**/admin/disputes/dispute/")


def test_an_arbitrator_rules_from_the_queue_and_the_buyer_sees_it(
    page: Any, chromium: Any, live_server: Any, screenshot_dir: Path
) -> None:
    dispute = under_review()
    before = deposit(dispute.merchant).balance
    arbiter = StaffFactory()
    arbiter.groups.add(Group.objects.get(name="arbitrator"))
    page.set_viewport_size({"width": 1280, "height": 900})
    admin_log_in(page, arbiter)

    # The queue: the case, its countdown, the deadline columns inside 1280 px.
    row = page.locator(f"#result_list a[href$='/{dispute.pk}/case/']")
    assert row.count() == 1
    assert page.locator("#result_list .desk-due").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(screenshot_dir / "desk-queue.png"), full_page=True)

    # The case: the deadline at the top, records as tables, evidence thumbnails.
    row.click()
    page.wait_for_url(f"**/{dispute.pk}/case/")
    assert page.locator(".desk-head .desk-due").count() == 1
    assert page.locator(".desk-table caption").count() >= 3
    assert page.locator("img.desk-thumb").count() >= 1
    # The two sides side by side at the top, the ruling form with nothing chosen.
    assert page.locator(".desk-sides .desk-side-claim").count() == 1
    assert page.locator(".desk-sides .desk-side-statement img.desk-thumb").count() >= 1
    assert page.input_value("#rule select[name=outcome]") == ""
    assert page.locator("#rule input[name=recover_from_merchant]:checked").count() == 0
    page.screenshot(path=str(screenshot_dir / "desk-case.png"), full_page=True)

    # Take the case ("我来处理"): it is the arbitrator's, and the queue says so.
    page.click("#take button[type=submit]")
    page.wait_for_url(f"**/{dispute.pk}/case/")
    assert page.locator(f"#take form[action$='/{dispute.pk}/case/release/']").count() == 1
    dispute.refresh_from_db()
    assert dispute.taken_by_id == arbiter.pk
    page.goto("/admin/disputes/dispute/?taken=mine")
    assert page.locator(f"#result_list a[href$='/{dispute.pk}/case/']").count() == 1
    assert page.locator(f"#result_list .field-taken [title='{arbiter.username}']").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(screenshot_dir / "desk-queue-mine.png"), full_page=True)
    page.goto(f"/admin/disputes/dispute/{dispute.pk}/case/")

    # Rule: a full refund recovered from the merchant, with a reason.
    page.select_option("#rule select[name=outcome]", "refunded")
    page.check("#rule input[name=recover_from_merchant][value='1']")
    page.fill("#rule textarea[name=reason]", "卡密在发货前已被使用，商家未能举证。")
    page.click("#rule button[type=submit]")
    page.wait_for_url(f"**/{dispute.pk}/case/")
    assert page.locator(".messagelist .success").count() == 1
    assert page.locator("#rule").count() == 0  # decided: no second ruling offered
    page.screenshot(path=str(screenshot_dir / "desk-ruled.png"), full_page=True)

    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.outcome == "refunded"
    assert deposit(dispute.merchant).balance == before - dispute.claimed_amount

    # The buyer's page shows the outcome.
    buyer_context = chromium.new_context(base_url=live_server.url)
    buyer = buyer_context.new_page()
    try:
        buyer.goto(f"/accounts/login/?next=/complaints/{dispute.number}/")
        buyer.fill("input[name=username]", dispute.buyer.username)
        buyer.fill("input[name=password]", PASSWORD)
        buyer.click("main form button[type=submit]")
        buyer.wait_for_url(f"**/complaints/{dispute.number}/")
        status = buyer.inner_text("#complaint-status")
        assert "¥48.00" in status
        buyer.screenshot(path=str(screenshot_dir / "desk-buyer-outcome.png"), full_page=True)
    finally:
        buyer_context.close()

    # The audit log and the policy list at 1280 px, as a superuser reads them.
    chief = StaffFactory(is_superuser=True)
    desk = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    admin = desk.new_page()
    try:
        admin.goto("/admin/login/?next=/admin/kamen_complaints/auditentry/")
        admin.fill("input[name=username]", chief.username)
        admin.fill("input[name=password]", PASSWORD)
        admin.click("form input[type=submit]")
        admin.wait_for_url("**/admin/kamen_complaints/auditentry/")
        reason = admin.locator("#result_list td.field-short_reason .cut").first
        assert reason.get_attribute("title", timeout=2000).startswith("卡密在发货前")
        assert reason.bounding_box()["width"] > 100  # not one character wide
        assert "disputes.dispute" not in admin.inner_text("#result_list")
        admin.screenshot(path=str(screenshot_dir / "desk-audit-log.png"), full_page=True)
        admin.goto("/admin/disputes/policy/")
        assert "1970" not in admin.inner_text("#result_list")
        admin.screenshot(path=str(screenshot_dir / "desk-policy-list.png"), full_page=True)
    finally:
        desk.close()
