"""The shop's reminder settings in a real browser (issue 20): the owner sets quiet hours with
the time inputs and turns the daily digest off, without JavaScript doing anything but the
browser's own form; a team member reads the settings and gets no form. Screenshots at 1280 px
and on a phone."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any

import pytest

from disputes.models import ReminderSettings
from tests.disputes.factories import agent_of
from tests.factories import PASSWORD, MerchantFactory

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


def test_the_owner_sets_quiet_hours_and_a_member_reads_them(
    page: Any, phone_page: Any, screenshot_dir: Path
) -> None:
    merchant = MerchantFactory()
    agent = agent_of(merchant)
    _log_in(page, merchant.owner.username, "/merchant/reminders/")
    assert page.locator("a[aria-current=page][href='/merchant/reminders/']").count() == 1
    page.fill("input[name=quiet_start]", "22:00")
    page.fill("input[name=quiet_end]", "07:30")
    page.uncheck("input[name=digest]")
    page.click("main form.stack-form button[type=submit]")
    page.wait_for_url("**/merchant/reminders/")
    assert page.locator("[role=status], .messages, .message").count() >= 1
    page.screenshot(path=str(screenshot_dir / "merchant-reminders-owner-1280.png"), full_page=True)
    choice = ReminderSettings.objects.get(merchant=merchant)
    assert (choice.quiet_start, choice.quiet_end, choice.digest) == (time(22), time(7, 30), False)
    assert "22:00–07:30" in page.locator("main").inner_text()

    _log_in(phone_page, agent.username, "/merchant/reminders/")
    assert phone_page.locator("main form.stack-form").count() == 0
    assert "22:00–07:30" in phone_page.locator("main").inner_text()
    phone_page.screenshot(
        path=str(screenshot_dir / "merchant-reminders-member-phone.png"), full_page=True
    )
