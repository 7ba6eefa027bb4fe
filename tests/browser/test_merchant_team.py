"""The shop's team and its limits in a real browser: a team member answers a complaint from
the complaint page but gets the 403 page on a withdrawal and on team management (the forms
are not shown to them; a hand-made POST is refused by the services); the owner adds a member;
a buyer opening /merchant/ is told they have no shop and offered the application form; the
performance page's charts. Selectors are structural (ids, names, hrefs, classes), not wording."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from disputes.models import Dispute, Status
from escrow.models import Withdrawal
from orders.models import Merchant, MerchantMember, MerchantStatus, OrderStatus, Product
from tests.disputes.factories import agent_of, file, funded_order, resolved_by_refund
from tests.factories import PASSWORD, VALID_ID_NUMBER, OrderFactory, ProductFactory, UserFactory

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


def _log_in(page: Any, username: str, next_url: str) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def _post_by_hand(page: Any, action: str, fields: dict[str, str]) -> None:
    """Submit a form the page does not offer (what a team member could do by hand), with the
    page's own CSRF token, and wait for the answer to load."""
    page.evaluate(
        """([action, fields]) => {
            const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
            const form = document.createElement('form');
            form.method = 'post';
            form.action = action;
            for (const [name, value] of Object.entries({...fields, csrfmiddlewaretoken: token})) {
                const input = document.createElement('input');
                input.type = 'hidden';
                input.name = name;
                input.value = value;
                form.appendChild(input);
            }
            document.body.appendChild(form);
            form.submit();
        }""",
        [action, fields],
    )
    page.wait_for_load_state("load")


def _no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_team_member_answers_a_complaint_but_not_withdraws_nor_manages_the_team(
    page: Any, screenshot_dir: Path
) -> None:
    dispute = file(order=funded_order(deposit_amount=Decimal("3000.00")))
    shop: Merchant = dispute.merchant
    member = agent_of(shop)
    outsider = UserFactory()
    # The answer, from the complaint page: an offer.
    _log_in(page, member.username, f"/merchant/complaints/{dispute.number}/")
    page.click("details.answer-option:has(form[action$='/offer/']) summary")
    offer = page.locator(f"form[action='/merchant/complaints/{dispute.number}/offer/']")
    offer.locator("input[name=amount]").fill("20.00")
    offer.locator("textarea[name=message]").fill("补偿 20 元可以吗？")
    offer.locator("button[type=submit]").click()
    page.wait_for_url(f"**/merchant/complaints/{dispute.number}/")
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_BUYER
    assert dispute.offer_amount == Decimal("20.00")
    page.screenshot(path=str(screenshot_dir / "team-member-answered.png"), full_page=True)

    # The deposit: read, no forms; a withdrawal posted by hand is the 403 page.
    page.goto("/merchant/deposit/")
    assert page.locator("#withdrawal-form").count() == 0
    _post_by_hand(page, "/merchant/deposit/", {"action": "withdraw", "amount": "100.00"})
    assert page.locator(".error-page__code").inner_text() == "403"
    assert not Withdrawal.objects.exists()
    page.screenshot(path=str(screenshot_dir / "team-member-withdraw-403.png"), full_page=True)

    # The team: the list, no forms; adding or removing by hand is the 403 page.
    page.goto("/merchant/team/")
    assert shop.owner.username in page.inner_text("main")
    assert page.locator("input[name=username]").count() == 0
    assert page.locator("form[action$='/remove/']").count() == 0
    page.screenshot(path=str(screenshot_dir / "team-member-team-list.png"), full_page=True)
    _post_by_hand(page, "/merchant/team/", {"username": str(outsider.username)})
    assert page.locator(".error-page__code").inner_text() == "403"
    owner_row = MerchantMember.objects.get(user=shop.owner)
    page.goto("/merchant/team/")
    _post_by_hand(page, f"/merchant/team/{owner_row.pk}/remove/", {})
    assert page.locator(".error-page__code").inner_text() == "403"
    page.screenshot(path=str(screenshot_dir / "team-member-team-403.png"), full_page=True)
    assert MerchantMember.objects.filter(merchant=shop).count() == 2
    assert not MerchantMember.objects.filter(user=outsider).exists()


def test_owner_adds_and_removes_a_team_member(
    page: Any, phone_page: Any, screenshot_dir: Path
) -> None:
    dispute = file(order=funded_order())
    shop: Merchant = dispute.merchant
    _log_in(page, shop.owner.username, "/merchant/team/")
    # A refusal keeps what was typed and says why next to the field.
    page.fill("input[name=username]", "kefu.xiaowang")
    page.fill("input[name=email]", "xiaowang@example.com")
    page.fill("input[name=password]", "123")
    page.click("form[action='/merchant/team/'] button[type=submit]")
    page.wait_for_selector(".field--invalid input[name=password]")
    assert page.input_value("input[name=username]") == "kefu.xiaowang"
    page.screenshot(path=str(screenshot_dir / "team-owner-refused.png"), full_page=True)
    page.fill("input[name=password]", "Ka-men-2026-team!")
    page.click("form[action='/merchant/team/'] button[type=submit]")
    page.wait_for_selector(".message--success")
    row = MerchantMember.objects.get(user__username="kefu.xiaowang")
    assert row.merchant_id == shop.pk
    assert "kefu.xiaowang" in page.inner_text(".team-list")
    page.screenshot(path=str(screenshot_dir / "team-owner-added.png"), full_page=True)

    # On a phone: the list and the form fit the screen.
    _log_in(phone_page, shop.owner.username, "/merchant/team/")
    assert _no_horizontal_scroll(phone_page)
    phone_page.screenshot(path=str(screenshot_dir / "team-owner-phone.png"), full_page=True)

    page.click(f"form[action='/merchant/team/{row.pk}/remove/'] button")
    page.wait_for_selector(".message--success")
    assert not MerchantMember.objects.filter(pk=row.pk).exists()
    assert "kefu.xiaowang" not in page.inner_text(".team-list")


def test_a_buyer_opening_the_dashboard_is_offered_the_application(
    page: Any, phone_page: Any, screenshot_dir: Path
) -> None:
    buyer = UserFactory(username="zhang.san")
    _log_in(page, buyer.username, "/merchant/apply/")
    page.goto("/merchant/")
    page.wait_for_url("**/merchant/apply/")
    assert page.locator(".messages .message").count() >= 1  # "your account has no shop yet"
    assert page.locator("form[action='/merchant/apply/'] input[name=shop_name]").is_visible()
    page.screenshot(path=str(screenshot_dir / "buyer-merchant-apply.png"), full_page=True)

    # A wrong identity number: the error next to it, the number not sent back, the rest kept.
    wrong = VALID_ID_NUMBER[:-1] + "1"
    page.fill("input[name=shop_name]", "张三的点卡铺")
    page.fill("input[name=legal_name]", "张三")
    page.fill("input[name=id_number]", wrong)
    page.fill("input[name=phone]", "13912345678")
    page.fill("input[name=address]", "浙江省杭州市西湖区文三路 1 号")
    page.click("form[action='/merchant/apply/'] button[type=submit]")
    page.wait_for_selector(".field--invalid input[name=id_number]")
    assert page.input_value("input[name=id_number]") == ""
    assert wrong not in page.content()
    assert page.input_value("input[name=shop_name]") == "张三的点卡铺"
    page.screenshot(path=str(screenshot_dir / "apply-refused.png"), full_page=True)

    page.fill("input[name=id_number]", VALID_ID_NUMBER)
    page.click("form[action='/merchant/apply/'] button[type=submit]")
    page.wait_for_url("**/merchant/verification/")
    assert page.locator(".standing--waiting").is_visible()
    assert Merchant.objects.get(owner=buyer).status == MerchantStatus.PENDING_VERIFICATION
    page.screenshot(path=str(screenshot_dir / "verification-pending.png"), full_page=True)

    _log_in(phone_page, buyer.username, "/merchant/verification/")
    assert _no_horizontal_scroll(phone_page)
    phone_page.screenshot(path=str(screenshot_dir / "verification-phone.png"), full_page=True)


def test_performance_charts_on_desktop_and_phone(
    page: Any, phone_page: Any, screenshot_dir: Path
) -> None:
    from django.core.cache import cache

    cache.clear()  # records of an earlier test's shop with the same (reused) id
    dispute = file(order=funded_order(deposit_amount=Decimal("3000.00")))
    shop: Merchant = dispute.merchant
    product = Product.objects.get(merchant=shop)
    resolved_by_refund(order=funded_order(product=product, deposit_amount=Decimal(0)))
    for _ in range(38):
        OrderFactory(product=product, status=OrderStatus.DELIVERED, paid_at=timezone.now())
    other = ProductFactory()
    for _ in range(30):
        OrderFactory(product=other, status=OrderStatus.DELIVERED, paid_at=timezone.now())
    _log_in(page, shop.owner.username, "/merchant/performance/?days=7")
    assert page.locator(".perf-metric").count() == 5
    assert page.locator(".perf-bar__svg").count() == 10
    page.click("a[href='?days=90']")
    page.wait_for_url("**/merchant/performance/?days=90")
    page.screenshot(path=str(screenshot_dir / "performance.png"), full_page=True)
    # At 360 px: no sideways scroll on the performance, team and verification pages.
    page.set_viewport_size({"width": 360, "height": 800})
    for url in ("/merchant/performance/", "/merchant/team/", "/merchant/verification/"):
        page.goto(url)
        assert _no_horizontal_scroll(page), url
    page.goto("/merchant/performance/")
    page.screenshot(path=str(screenshot_dir / "performance-360.png"), full_page=True)
    _log_in(phone_page, shop.owner.username, "/merchant/performance/")
    assert _no_horizontal_scroll(phone_page)
    phone_page.screenshot(path=str(screenshot_dir / "performance-phone.png"), full_page=True)
    assert Dispute.objects.count() == 2
