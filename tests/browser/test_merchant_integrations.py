"""A shop's owner adds a webhook on /merchant/integrations/ at 1280 px, copies the secret shown
once, sends a test event that a receiver on loopback gets (signed), and reads the delivery in
the log. Selectors are structural (names, actions, ids), not wording."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest

from integrations.models import Endpoint
from tests.factories import PASSWORD, MerchantFactory
from tests.loopback import loopback_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The receiver is on loopback: allowed for this test only.
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = True


def test_the_owner_adds_a_webhook_and_sends_a_test_event(page: Any, screenshot_dir: Path):
    shop = MerchantFactory()
    with loopback_server() as receiver:
        page.goto("/accounts/login/?next=/merchant/integrations/")
        page.fill("input[name=username]", shop.owner.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url("**/merchant/integrations/")

        form = page.locator("form[action='/merchant/integrations/webhooks/']")
        form.locator("input[name=url]").fill(receiver.url + "/kamen/events")
        form.locator("input[name=events][value='complaint.filed']").check()
        form.locator("input[name=events][value='complaint.updated']").check()
        form.locator("button[type=submit]").click()
        page.wait_for_selector("#new-secret")
        secret = page.input_value("#new-secret")
        assert secret.startswith("whsec_")
        page.screenshot(path=str(screenshot_dir / "integrations-webhook-added.png"), full_page=True)

        endpoint = Endpoint.objects.get(merchant=shop)
        page.click(f"form[action='/merchant/integrations/{endpoint.pk}/test/'] button")
        page.wait_for_url("**/merchant/integrations/")
        ping = receiver.wait_for(1)[0]
        body = ping.json()
        assert body["type"] == "ping" and body["data"]["shop"] == shop.shop_name
        fields = dict(p.split("=", 1) for p in ping.headers["Kamen-Signature"].split(","))
        expected = hmac.new(
            secret.encode(), f"{fields['t']}.".encode() + ping.body, hashlib.sha256
        ).hexdigest()
        assert fields["v1"] == expected

        page.reload()
        log = page.locator(f"#endpoint-{endpoint.pk} table")
        assert "ping" in log.inner_text() and "200" in log.inner_text()
        assert page.locator("#new-secret").count() == 0  # shown once
        page.screenshot(path=str(screenshot_dir / "integrations-test-event.png"), full_page=True)
