"""The API keys page in a real browser: the owner creates a key (shown once), the shop's
system answers a complaint with it over HTTP, the page lists its last use, and the owner
revokes it. Selectors are structural (ids, names, actions), not wording."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from disputes.models import Dispute, Status
from merchant.models import MerchantAPIKey
from tests.browser.test_merchant_team import (  # noqa: F401 - _seeded_policy is autouse
    _log_in,
    _no_horizontal_scroll,
    _seeded_policy,
)
from tests.disputes.factories import file, funded_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _call(url: str, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - the test's own live server
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_owner_creates_a_key_the_shop_system_answers_with_it_and_the_owner_revokes_it(
    page: Any, phone_page: Any, live_server: Any, screenshot_dir: Path
) -> None:
    dispute = file(order=funded_order())
    shop = dispute.merchant
    _log_in(page, shop.owner.username, "/merchant/api-keys/")
    page.fill("input[name=name]", "ERP 同步")
    page.check("input[name=scopes][value='complaints:read']")
    page.check("input[name=scopes][value='complaints:answer']")
    page.click("form[action='/merchant/api-keys/'] button[type=submit]")
    page.wait_for_selector("#new-key")
    secret = page.input_value("#new-key")
    key = MerchantAPIKey.objects.get()
    assert secret.startswith(key.prefix + ".")
    page.screenshot(path=str(screenshot_dir / "api-keys-created.png"), full_page=True)

    status, body = _call(
        f"{live_server.url}/api/v1/disputes/{dispute.number}/messages/",
        secret,
        {"body": "已收到，正在核查上游记录。"},
    )
    assert status == 201, body
    assert body["events"][-1]["actor"] == f"API 密钥 ERP 同步（{key.prefix}）"

    page.goto("/merchant/api-keys/")
    assert secret not in page.content()
    assert page.locator(f"#key-{key.prefix}").count() == 1
    page.screenshot(path=str(screenshot_dir / "api-keys-list.png"), full_page=True)
    _log_in(phone_page, shop.owner.username, "/merchant/api-keys/")
    assert _no_horizontal_scroll(phone_page)
    phone_page.screenshot(path=str(screenshot_dir / "api-keys-phone.png"), full_page=True)

    page.click(f"form[action='/merchant/api-keys/{key.prefix}/revoke/'] button")
    page.wait_for_selector(".message--success")
    page.screenshot(path=str(screenshot_dir / "api-keys-revoked.png"), full_page=True)
    status, body = _call(
        f"{live_server.url}/api/v1/disputes/{dispute.number}/respond/",
        secret,
        {"action": "accept", "remedy": "refund"},
    )
    assert status == 401 and body["code"] == "api_key_revoked"
    assert Dispute.objects.get(pk=dispute.pk).status == Status.AWAITING_MERCHANT
