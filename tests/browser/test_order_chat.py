"""The order chat (联系商家) in real browsers: a buyer writes to the shop with a screenshot on a
390 px phone, the shop answers from its inbox at 1280 px, and the complaint the buyer files
next carries the conversation as its chat record. Selectors are structural (ids, names,
hrefs, classes), not wording."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from disputes.models import Dispute
from orders.models import OrderMessage
from tests.disputes.factories import funded_order
from tests.factories import PASSWORD

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
def phone(chromium: Any, live_server: Any) -> Iterator[Any]:
    """The buyer's phone: 390 × 844, touch, Chinese."""
    context = chromium.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def screenshot_png(tmp_path: Path) -> Path:
    path = tmp_path / "redeem-error.png"
    Image.new("RGB", (360, 640), (200, 60, 40)).save(path, format="PNG")
    return path


def _log_in(page: Any, user: Any, next_url: str) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def _fits(page: Any, width: int) -> bool:
    return bool(page.evaluate(f"document.documentElement.scrollWidth <= {width}"))


def test_buyer_writes_on_a_phone_shop_answers_and_the_complaint_carries_the_thread(
    phone: Any, page: Any, screenshot_dir: Path, screenshot_png: Path
) -> None:
    order = funded_order()
    buyer, owner = order.buyer, order.merchant.owner

    # The buyer, on a phone: 联系商家 on the order page, a message with a screenshot.
    _log_in(phone, buyer, f"/orders/{order.number}/")
    card = phone.locator("#contact-shop")
    assert card.is_visible()
    phone.screenshot(path=str(screenshot_dir / "chat-order-page-390.png"), full_page=True)
    card.locator(f'a[href="/orders/{order.number}/chat/"]').click()
    phone.wait_for_url(f"**/orders/{order.number}/chat/")
    phone.fill("textarea[name=body]", "兑换时提示该卡密已被使用，请帮忙处理。")
    phone.set_input_files("input[name=attachments]", str(screenshot_png))
    phone.click("form.chat-form button[type=submit]")
    phone.wait_for_url(f"**/orders/{order.number}/chat/#latest")
    mine = phone.locator("#chat-messages .chat-message--mine")
    assert mine.count() == 1 and "卡密已被使用" in mine.inner_text()
    assert phone.locator("#chat-messages img.chat-files__image").count() == 1
    # The image the platform re-encoded loads for the buyer (lazy: wait for it).
    image = phone.locator("#chat-messages img.chat-files__image")
    assert image.evaluate("img => img.decode().then(() => img.naturalWidth)") == 360
    assert _fits(phone, 390)
    phone.screenshot(path=str(screenshot_dir / "chat-buyer-wrote-390.png"), full_page=True)

    # The shop, at 1280 px: the dashboard card and the inbox, then the answer.
    _log_in(page, owner, "/merchant/")
    assert page.locator(f'a[href="/merchant/chat/{order.number}/"]').count() >= 1
    page.click('nav.merchant-nav a[href="/merchant/chat/"]')
    page.wait_for_url("**/merchant/chat/")
    row = page.locator(".chat-inbox__row")
    assert row.count() == 1 and order.number in row.inner_text()
    page.screenshot(path=str(screenshot_dir / "chat-merchant-inbox-1280.png"), full_page=True)
    row.locator(".button--primary").click()
    page.wait_for_url(f"**/merchant/chat/{order.number}/")
    assert page.locator("#chat-messages img.chat-files__image").count() == 1
    page.fill("textarea[name=body]", "您好，已核实，马上为您补发一张新卡密。")
    page.click("form.chat-form button[type=submit]")
    page.wait_for_url(f"**/merchant/chat/{order.number}/#latest")
    assert page.locator("#chat-messages .chat-message--mine").count() == 1
    page.screenshot(path=str(screenshot_dir / "chat-merchant-answered-1280.png"), full_page=True)
    page.goto("/merchant/chat/")
    assert page.locator(".chat-inbox__row").count() == 0

    # The buyer sees the answer, then files a complaint: the chat record is already there.
    phone.goto(f"/orders/{order.number}/")
    assert phone.locator("#contact-shop .chat-unread").count() == 1
    phone.goto(f"/orders/{order.number}/complain/")
    assert phone.locator(".cf-files--chat").is_visible()
    assert phone.locator('.cf-checklist__item--done[data-check-kind="chat_record"]').count() == 1
    phone.locator("input[name=reason][value=invalid_card_key]").check()
    phone.fill("textarea[name=description]", "店铺答应补发，但一直没有发。")
    phone.screenshot(path=str(screenshot_dir / "chat-complaint-form-390.png"), full_page=True)
    phone.click("form.cf-form button[type=submit]")
    phone.wait_for_url("**/complaints/TS*/")
    dispute = Dispute.objects.get(order=order)
    records = dispute.evidence.filter(kind="chat_record").order_by("id")
    assert [e.content_type.split(";")[0] for e in records] == ["text/plain", "image/png"]
    assert OrderMessage.objects.filter(order=order).count() == 2
    phone.screenshot(path=str(screenshot_dir / "chat-complaint-filed-390.png"), full_page=True)
