"""A buyer watches the platform's automatic check decide a top-up complaint: the upstream
reports the top-up failed (not credited), and within the test's sweep the open complaint page
shows "已自动退款" without a reload — and the merchant's page and the staff case screen say
the same in plain words."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group

from disputes import services
from disputes.models import Policy, Status
from disputes.services import auto
from tests.browser.test_arbitration_desk import admin_log_in
from tests.browser.test_complaint_page import complaint_url, log_in
from tests.disputes.auto_helpers import file_topup, topup_order
from tests.disputes.factories import check_ledger
from tests.factories import StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _setup(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.COMPLAINT_POLL_SECONDS = 1
    if not Policy.objects.filter(product_kind="").exists():
        Policy.objects.create(
            product_kind="",
            effective_from=datetime(1970, 1, 1, tzinfo=UTC),
            published_at=datetime(2020, 1, 1, tzinfo=UTC),
        )
    # The checks' task never reaches a worker: the test's sweep does the work.
    monkeypatch.setattr(auto, "_publish_run", lambda dispute_id: None)


def test_an_upstream_failed_topup_shows_refunded_automatically(
    page: Any, chromium: Any, live_server: Any, screenshot_dir: Path
) -> None:
    order = topup_order("13912341111")
    dispute = file_topup(order)
    log_in(page, dispute.buyer, complaint_url(dispute))
    checks = page.locator("#auto-checks")
    assert "平台自动核验" in checks.inner_text()
    assert "正在向上游充值供应商核验" in checks.inner_text()
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    report = services.deadlines_sweep()
    assert report.auto_checks["decided"] == 1

    page.locator("#auto-checks", has_text="已自动退款").wait_for()  # htmx's next poll
    text = page.locator("#auto-checks").inner_text()
    assert "平台自动核验：上游充值记录显示未到账 → 已自动退款" in text
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("#complaint-status .badge").first.inner_text()
    # The timeline changed with the status (swapped out of band), still without a reload.
    timeline = page.locator("#timeline").inner_text()
    assert "平台自动核验裁决" in timeline and "投诉已提交" in timeline
    page.screenshot(path=str(screenshot_dir / "auto-refund-buyer.png"), full_page=True)
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED
    check_ledger()

    # The merchant's complaint page says the same.
    merchant = chromium.new_context(base_url=live_server.url, locale="zh-CN")
    merchant_page = merchant.new_page()
    log_in(merchant_page, dispute.merchant.owner, f"/merchant/complaints/{dispute.number}/")
    assert "已自动退款" in merchant_page.locator("#auto-checks").inner_text()
    merchant_page.screenshot(path=str(screenshot_dir / "auto-refund-merchant.png"), full_page=True)
    merchant.close()

    # And the staff case screen, with the evidence's SHA-256.
    staff = StaffFactory()
    staff.groups.add(Group.objects.get(name="arbitrator"))
    desk = chromium.new_context(base_url=live_server.url, locale="zh-CN")
    desk_page = desk.new_page()
    admin_log_in(desk_page, staff)
    desk_page.goto(f"/admin/disputes/dispute/{dispute.pk}/case/")
    desk_text = desk_page.locator("#auto-checks").inner_text()
    assert "已自动退款" in desk_text and "SHA-256" in desk_text
    desk_page.screenshot(path=str(screenshot_dir / "auto-refund-desk.png"), full_page=True)
    desk.close()
