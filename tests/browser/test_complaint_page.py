"""A buyer follows a complaint in a real browser: a merchant's offer appears on the open page
without a reload, is rejected (the platform's 48 h review clock shows) or accepted; a
withdrawal with its confirmation; an appeal; the evidence package downloads and verifies;
the page in English and at 360 px; another buyer's complaint is a 404 page and an anonymous
visitor is sent to log in. Selectors are structural (ids, names, hrefs)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from disputes import services
from disputes.models import Dispute, Policy, Status
from tests.disputes.factories import file, png
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _setup(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.COMPLAINT_POLL_SECONDS = 1  # the page asks for news every second in tests
    # A transactional test flushes the seeded default policy; put it back.
    if not Policy.objects.filter(product_kind="").exists():
        Policy.objects.create(
            product_kind="",
            effective_from=datetime(1970, 1, 1, tzinfo=UTC),
            published_at=datetime(2020, 1, 1, tzinfo=UTC),
        )


def log_in(page: Any, user: Any, next_url: str) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def complaint_url(dispute: Dispute) -> str:
    return f"/complaints/{dispute.number}/"


def test_offer_appears_without_reload_then_rejected(page: Any, screenshot_dir: Path) -> None:
    dispute = file(evidence=[services.EvidenceUpload(kind="order_screenshot", file=png())])
    log_in(page, dispute.buyer, complaint_url(dispute))
    assert page.locator("#complaint-status .countdown").count() == 1
    assert page.locator("#offer").count() == 0
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    page.screenshot(path=str(screenshot_dir / "complaint-awaiting-merchant.png"), full_page=True)

    services.dispute_respond(
        dispute=dispute,
        merchant_user=dispute.merchant.owner,
        action="offer",
        amount=Decimal("20.00"),
        message="Half back?",
    )
    page.wait_for_selector("#offer", timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True
    assert "¥20.00" in page.inner_text("#offer")
    page.screenshot(path=str(screenshot_dir / "complaint-offer.png"), full_page=True)

    page.fill("#offer textarea[name=message]", "Too little.")
    page.click(".offer-box__reject button[type=submit]")
    page.wait_for_load_state()
    status = page.inner_text("#complaint-status")
    assert "平台审核中" in status
    assert page.locator("#complaint-status .countdown").count() == 1
    assert "(47:5" in status  # the 48 h review clock, just started
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW
    page.screenshot(path=str(screenshot_dir / "complaint-under-review.png"), full_page=True)


def test_offer_accepted_in_the_browser(page: Any, screenshot_dir: Path) -> None:
    dispute = file()
    services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="offer", amount=Decimal("9")
    )
    log_in(page, dispute.buyer, complaint_url(dispute))
    page.click(".offer-box__accept button[type=submit]")
    page.wait_for_selector(".messages")
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED
    assert dispute.resolved_amount == Decimal("9.00")
    assert "¥9.00" in page.inner_text("#complaint-status")
    # After resolution: the rating, once.
    page.check("input[name=score][value='5']")
    page.fill("textarea[name=comment]", "Quick and fair.")
    page.click("#rating button[type=submit]")
    page.wait_for_selector(".rating-done")
    page.screenshot(path=str(screenshot_dir / "complaint-resolved-rated.png"), full_page=True)


def test_withdrawal_asks_for_confirmation(page: Any) -> None:
    dispute = file()
    log_in(page, dispute.buyer, complaint_url(dispute))
    page.click(f'a[href="/complaints/{dispute.number}/withdraw/"]')
    page.click("main form button[type=submit]")  # without ticking the box
    assert page.locator(".field--invalid input[name=confirm]").count() == 1
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT
    page.check("input[name=confirm]")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{complaint_url(dispute)}")
    dispute.refresh_from_db()
    assert dispute.status == Status.WITHDRAWN


def test_appeal_and_evidence_package(page: Any, tmp_path: Path, screenshot_dir: Path) -> None:
    # An appeal is offered where it can change the outcome: the buyer took a partial offer.
    dispute = file(evidence=[services.EvidenceUpload(kind="order_screenshot", file=png())])
    dispute = services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="offer", amount=Decimal("9")
    )
    dispute = services.dispute_accept_offer(dispute=dispute, buyer=dispute.buyer)
    log_in(page, dispute.buyer, complaint_url(dispute))
    page.fill("#appeal textarea[name=reason]", "¥9 is not the whole story.")
    page.click("#appeal button[type=submit]")
    page.wait_for_selector(".messages")
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW
    assert "申诉审核中" in page.inner_text("#complaint-status")

    with page.expect_download() as download_info:
        page.click(f'a[href="/api/v1/disputes/{dispute.number}/evidence-package/"]')
    target = tmp_path / "package.zip"
    download_info.value.save_as(str(target))
    out = io.StringIO()
    call_command("verify_package", str(target), stdout=out)
    assert "authentic: the signature and every file's hash match" in out.getvalue()
    page.screenshot(path=str(screenshot_dir / "complaint-appealed.png"), full_page=True)


def test_whole_page_in_english(page: Any, screenshot_dir: Path) -> None:
    dispute = file(evidence=[services.EvidenceUpload(kind="order_screenshot", file=png())])
    log_in(page, dispute.buyer, complaint_url(dispute))
    page.click(".language-switch button[value=en]")
    page.wait_for_selector("html[lang=en]")
    text = page.inner_text("main")
    assert "Waiting for the merchant" in text
    assert "Complaint filed" in text
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in page.inner_text("#complaint-status"))
    page.screenshot(path=str(screenshot_dir / "complaint-english.png"), full_page=True)


def test_page_at_360_px_has_no_horizontal_scroll(
    chromium: Any, live_server: Any, screenshot_dir: Path
) -> None:
    dispute = file(evidence=[services.EvidenceUpload(kind="order_screenshot", file=png())])
    services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="offer", amount=Decimal("9")
    )
    services.dispute_message(dispute=dispute, user=dispute.buyer, body="长" * 300)
    context = chromium.new_context(
        base_url=live_server.url,
        viewport={"width": 360, "height": 780},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    try:
        page = context.new_page()
        log_in(page, dispute.buyer, complaint_url(dispute))
        assert no_horizontal_scroll(page)
        page.screenshot(path=str(screenshot_dir / "complaint-360.png"), full_page=True)
        page.goto("/complaints/")
        assert no_horizontal_scroll(page)
        page.screenshot(path=str(screenshot_dir / "my-complaints-360.png"), full_page=True)
        page.goto(f"/shops/{dispute.merchant_id}/")
        assert no_horizontal_scroll(page)
        page.screenshot(path=str(screenshot_dir / "shop-360.png"), full_page=True)
    finally:
        context.close()


def test_another_buyers_complaint_is_404_and_anonymous_logs_in(
    page: Any, screenshot_dir: Path
) -> None:
    dispute = file()
    response = page.goto(complaint_url(dispute))
    assert "/accounts/login/" in page.url
    assert response is not None
    stranger = UserFactory()
    log_in(page, stranger, "/complaints/")
    response = page.goto(complaint_url(dispute))
    assert response is not None and response.status == 404
    assert page.locator("main").count() == 1  # the site's 404 page, not a bare error
    page.screenshot(path=str(screenshot_dir / "complaint-404.png"), full_page=True)
