"""A merchant in a real browser: the inbox by deadline, answering a complaint (contest with
counter-evidence, a replacement key from stock, an offer) and what the buyer then sees;
another shop's complaint is a 404; the inbox in English and on a 360 px screen. Selectors are
structural (ids, names, hrefs, classes), not wording, except the status the issue names."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from disputes.models import Dispute, Status
from orders.models import CardKey, CardKeyStatus
from tests.disputes.factories import file, funded_order, png_bytes
from tests.factories import PASSWORD, CardKeyFactory, MerchantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _seeded_policy(django_db_setup: Any, django_db_blocker: Any) -> None:
    """A transactional test flushes the seeded default policy: put it back."""
    from datetime import UTC, datetime

    from disputes.models import Policy

    if not Policy.objects.filter(product_kind="").exists():
        Policy.objects.create(
            product_kind="",
            effective_from=datetime(1970, 1, 1, tzinfo=UTC),
            published_at=datetime(2020, 1, 1, tzinfo=UTC),
            note="Default policy (seeded).",
        )


@pytest.fixture
def buyer_page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """A second browser (its own cookies) for the buyer."""
    context = chromium.new_context(base_url=live_server.url, locale="zh-CN")
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def narrow_page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """A 360 px wide phone screen."""
    context = chromium.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        viewport={"width": 360, "height": 780},
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Any, user: Any, landing: str = "**/merchant/") -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(landing)


def open_answer(page: Any, action: str) -> Any:
    """Open the <details> holding the form posting to …/<action>/ and return the form."""
    form = page.locator(f'form[action$="/{action}/"]')
    page.locator("details.answer-option", has=form).locator("summary").click()
    return form


def test_contest_with_counter_evidence_and_the_buyer_sees_it(
    page: Any, buyer_page: Any, screenshot_dir: Path, tmp_path: Path
) -> None:
    older = file()
    merchant = older.merchant
    newest = file(funded_order(product=older.order.product, deposit_amount=Decimal("0")))
    # The newest complaint answered first has the later deadline: the older one is on top.
    log_in(page, merchant.owner)
    page.screenshot(path=str(screenshot_dir / "merchant-home.png"), full_page=True)
    page.click('.merchant-nav a[href="/merchant/complaints/"]')
    page.wait_for_url("**/merchant/complaints/")
    rows = page.locator(".inbox-row")
    assert rows.count() == 2
    assert older.number in rows.nth(0).inner_text()
    assert newest.number in rows.nth(1).inner_text()
    assert rows.nth(1).locator(".countdown progress").count() == 1
    page.screenshot(path=str(screenshot_dir / "merchant-inbox.png"), full_page=True)

    page.click(f'a[href="/merchant/complaints/{newest.number}/"]')
    page.wait_for_url(f"**/merchant/complaints/{newest.number}/")
    form = open_answer(page, "contest")
    assert form.locator(".answer-note").inner_text().strip()
    evidence = tmp_path / "redemption.png"
    evidence.write_bytes(png_bytes(64, 48))
    form.locator("textarea[name=message]").fill("上游核销记录显示该卡密已被买家本人兑换。")
    form.locator("select[name=kind]").select_option("redemption_record")
    form.locator("input[name=file]").set_input_files(str(evidence))
    page.screenshot(path=str(screenshot_dir / "merchant-contest-form.png"), full_page=True)
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/merchant/complaints/{newest.number}/")
    assert "平台审核中" in page.inner_text("#complaint-status")
    assert page.locator("#evidence img.evidence-tile__thumb").count() >= 1
    page.screenshot(path=str(screenshot_dir / "merchant-contested.png"), full_page=True)
    newest.refresh_from_db()
    assert newest.status == Status.UNDER_REVIEW

    log_in(buyer_page, newest.buyer, landing="**/")
    buyer_page.goto(f"/complaints/{newest.number}/")
    assert buyer_page.locator("#complaint-status .badge--under_review").count() == 1
    assert "平台审核中" in buyer_page.inner_text("#complaint-status")


def test_accept_with_a_replacement_key_from_stock(
    page: Any, buyer_page: Any, screenshot_dir: Path
) -> None:
    order = funded_order()
    CardKeyFactory(product=order.product, plain="NEW1-NEW2-NEW3-R3PL")
    dispute = file(order)
    log_in(page, dispute.merchant.owner)
    page.goto(f"/merchant/complaints/{dispute.number}/")
    form = open_answer(page, "accept-replace")
    assert "1" in page.locator(".answer-option__stock").inner_text()
    assert form.locator(".answer-note").inner_text().strip()
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/merchant/complaints/{dispute.number}/")
    assert page.locator("#complaint-status .badge--resolved").count() == 1
    page.screenshot(path=str(screenshot_dir / "merchant-replaced.png"), full_page=True)
    stock = CardKey.objects.filter(product=order.product, status=CardKeyStatus.AVAILABLE)
    assert stock.count() == 0

    log_in(buyer_page, order.buyer, landing="**/")
    buyer_page.goto(f"/orders/{order.number}/")
    assert "R3PL" in buyer_page.inner_text("#card-keys")


def test_an_offer_from_the_detail_page_reaches_the_buyer(
    page: Any, buyer_page: Any, screenshot_dir: Path
) -> None:
    dispute = file(funded_order(price=Decimal("98.00")))
    log_in(page, dispute.merchant.owner)
    page.goto(f"/merchant/complaints/{dispute.number}/")
    form = open_answer(page, "offer")
    form.locator("input[name=amount]").fill("35.50")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/merchant/complaints/{dispute.number}/")
    assert Dispute.objects.get(pk=dispute.pk).status == Status.AWAITING_BUYER

    log_in(buyer_page, dispute.buyer, landing="**/")
    buyer_page.goto(f"/complaints/{dispute.number}/")
    assert "¥35.50" in buyer_page.inner_text("#complaint-status")
    buyer_page.screenshot(path=str(screenshot_dir / "buyer-sees-offer.png"), full_page=True)


def test_another_merchants_complaint_is_a_404_page(page: Any, screenshot_dir: Path) -> None:
    dispute = file()
    stranger = MerchantFactory()
    log_in(page, stranger.owner)
    response = page.goto(f"/merchant/complaints/{dispute.number}/")
    assert response is not None and response.status == 404
    assert dispute.number not in page.inner_text("main")
    page.screenshot(path=str(screenshot_dir / "merchant-404.png"), full_page=True)


def test_the_inbox_in_english_and_at_360_px(
    page: Any, narrow_page: Any, screenshot_dir: Path
) -> None:
    dispute = file()
    file(funded_order(product=dispute.order.product, deposit_amount=Decimal("0")))
    log_in(page, dispute.merchant.owner)
    page.goto("/merchant/complaints/")
    page.click('.language-switch button[value="en"]')
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Complaints" in page.inner_text("h1")
    assert page.locator(".inbox-row").count() == 2
    page.screenshot(path=str(screenshot_dir / "merchant-inbox-en.png"), full_page=True)

    log_in(narrow_page, dispute.merchant.owner)
    narrow_page.goto("/merchant/complaints/")
    assert narrow_page.locator(".inbox-row").count() == 2
    width = narrow_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    narrow_page.screenshot(path=str(screenshot_dir / "merchant-inbox-360.png"), full_page=True)
    narrow_page.goto(f"/merchant/complaints/{dispute.number}/")
    width = narrow_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    narrow_page.screenshot(path=str(screenshot_dir / "merchant-complaint-360.png"), full_page=True)
