"""Notifications in a real browser (issue 9, test 7): each line links to its complaint, and
the same notifications read in English once the reader switches language. Complaints and
their events are made through the services; selectors are structural (classes, hrefs)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from disputes import services
from tests.disputes.factories import file, funded_order
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _log_in(page: Any, username: str, next_url: str) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def _complaint_with_an_offer() -> Any:
    """Filed, a message and an offer, all within one minute (the clock set to its start)."""
    with time_machine.travel(timezone.now().replace(second=1, microsecond=0), tick=True):
        return _events()


def _events() -> Any:
    buyer = UserFactory(username="han.meimei")
    dispute = file(funded_order(buyer=buyer))
    services.dispute_message(
        dispute=dispute, user=dispute.merchant.owner, body="请问是哪一张卡密？\n第二行"
    )
    return services.dispute_respond(
        dispute=dispute,
        merchant_user=dispute.merchant.owner,
        action="offer",
        amount=Decimal("20.00"),
        message="退一半可以吗",
    )


def test_notifications_link_to_the_complaint_and_read_in_english(
    page: Any, screenshot_dir: Path
) -> None:
    dispute = _complaint_with_an_offer()
    _log_in(page, dispute.buyer.username, "/notifications/")
    badge = page.locator(".site-nav .badge")
    assert badge.count() == 1  # looking reads nothing (a GET never writes)
    lines = page.locator(".notification-list > li")
    assert lines.count() == 1  # filing, a message and an offer within a minute: one line
    text = page.inner_text(".notification-list")
    assert dispute.number in text and "¥20.00" in text and "商家提出退款" in text
    assert page.locator(".notification--unread").count() == 1
    page.screenshot(path=str(screenshot_dir / "notifications-zh.png"), full_page=True)
    page.reload()
    assert page.locator(".notification--unread").count() == 1
    page.click(".notification__read button[type=submit]")  # the line's own POST form
    page.locator(".notification--unread").wait_for(state="detached")
    assert page.locator(".site-nav .badge").count() == 0
    assert page.locator(".notification__read").count() == 0

    page.click(".notification-list > li a.notification__text")
    page.wait_for_url(f"**/complaints/{dispute.number}/")
    assert dispute.number in page.inner_text("main")

    page.goto("/notifications/")
    page.click('.language-switch button[value="en"]')
    page.wait_for_function("document.documentElement.lang === 'en'")
    text = page.inner_text(".notification-list")
    assert "The merchant offers ¥20.00" in text
    assert "商家" not in text and "投诉" not in text  # the same rows, now English
    page.click(".notification__more summary")
    assert "The merchant wrote: “请问是哪一张卡密？”" in page.inner_text(".notification__more")
    page.screenshot(path=str(screenshot_dir / "notifications-en.png"), full_page=True)
    href = page.get_attribute("a.notification__subject", "href")
    assert href == f"/complaints/{dispute.number}/"


def test_notifications_on_a_360px_phone_have_no_horizontal_scroll(
    phone_page: Any, screenshot_dir: Path
) -> None:
    dispute = _complaint_with_an_offer()
    services.dispute_message(dispute=dispute, user=dispute.merchant.owner, body="x" * 200)
    phone_page.set_viewport_size({"width": 360, "height": 780})
    _log_in(phone_page, dispute.buyer.username, "/notifications/")
    assert phone_page.locator(".notification-list > li").count() >= 1
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    phone_page.screenshot(path=str(screenshot_dir / "notifications-phone.png"), full_page=True)
