"""A buyer on a 390 px phone who forgot the password: "忘记密码？" on the login page, the
e-mail's link, a new password, logging in with it; the same link again is refused. Then the
"account and security" page. Selectors are structural (names, hrefs), not wording."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW = "a-much-better-pass-42"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_reset_journey_on_a_phone(phone_page: Any, screenshot_dir: Path) -> None:
    page = phone_page
    user = UserFactory(username="xiaowang", email="xiaowang@example.com")
    page.goto("/accounts/login/")
    page.click("a[href='/accounts/password_reset/']")
    page.fill("input[name=email]", "xiaowang@example.com")
    page.screenshot(path=str(screenshot_dir / "acc-reset-form-390.png"), full_page=True)
    page.click("form[action='/accounts/password_reset/'] button[type=submit]")
    page.wait_for_url("**/accounts/password_reset/done/")
    page.screenshot(path=str(screenshot_dir / "acc-reset-sent-390.png"), full_page=True)

    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", mail.outbox[0].body)
    assert link
    page.goto(link.group(1))
    page.fill("input[name=new_password1]", NEW)
    page.fill("input[name=new_password2]", NEW)
    page.screenshot(path=str(screenshot_dir / "acc-reset-confirm-390.png"), full_page=True)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/reset/done/")

    page.goto("/accounts/login/")
    page.fill("input[name=username]", "xiaowang")
    page.fill("input[name=password]", NEW)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_load_state()
    page.goto("/accounts/security/")
    assert page.locator("form[action='/accounts/security/sign-out-everywhere/']").count() == 1
    page.screenshot(path=str(screenshot_dir / "acc-security-390.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the security page scrolls sideways on a phone ({width} px)"

    page.goto(link.group(1))  # the same link again
    assert page.locator("input[name=new_password1]").count() == 0
    assert page.locator("a[href='/accounts/password_reset/']").count() >= 1
    user.refresh_from_db()
    assert user.check_password(NEW)
