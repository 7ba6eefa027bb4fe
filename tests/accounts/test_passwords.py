"""Password change, reset by an e-mailed single-use expiring link (no account-existence
oracle, throttled), and the first password of an account someone else created."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders import services as order_services
from tests.factories import PASSWORD, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW = "a-much-better-pass-42"


def _link(message: mail.EmailMessage) -> str:
    found = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body)
    assert found, message.body
    return found.group(1)


def test_login_page_offers_forgot_password(client: Client) -> None:
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert reverse("password_reset") in page
    assert "忘记密码？" in page


def test_password_change_needs_the_old_password(client: Client) -> None:
    user = UserFactory()
    client.force_login(user)
    url = reverse("password_change")
    wrong = client.post(url, {"old_password": "nope", "new_password1": NEW, "new_password2": NEW})
    assert wrong.status_code == 200 and "old_password" in wrong.context["form"].errors
    done = client.post(url, {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done["Location"] == reverse("password_change_done")
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert client.get(reverse("security")).status_code == 200  # still logged in


def test_reset_link_works_once(client: Client) -> None:
    user = UserFactory(email="li@example.com")
    answer = client.post(reverse("password_reset"), {"email": "LI@example.com"})
    assert answer.status_code == 302 and answer["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["li@example.com"]
    link = _link(mail.outbox[0])
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(NEW)
    # The same link again: refused, and the password stays.
    again = Client().get(link, follow=True)
    assert not again.context["validlink"]
    assert (
        "已被使用或已过期" in again.content.decode()
        or "used or has expired" in again.content.decode()
    )


def test_reset_link_expires(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_RESET_TIMEOUT = 3600
    user = UserFactory(email="wang@example.com")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.post(reverse("password_reset"), {"email": "wang@example.com"})
        link = _link(mail.outbox[0])
        traveller.shift(timedelta(minutes=61))
        page = client.get(link, follow=True)
    assert not page.context["validlink"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_reset_has_no_account_existence_oracle(client: Client) -> None:
    UserFactory(email="known@example.com")
    answers = {}
    for email in ("known@example.com", "unknown@example.com"):
        response = client.post(reverse("password_reset"), {"email": email}, follow=True)
        page = re.sub(r'value="[^"]{64}"', "", response.content.decode())  # the CSRF tokens
        answers[email] = (response.status_code, response.redirect_chain, page)
    assert answers["known@example.com"] == answers["unknown@example.com"]
    assert len(mail.outbox) == 1  # only the known address got a mail
    # No timing oracle either: the request itself never looks the account up. It hands the
    # same task the address whatever it is (the lookup and the mail happen in the worker),
    # so both requests do the same work; a clock in a test would only measure the machine.
    handed: list[dict[str, object]] = []
    with mock.patch("accounts.views.enqueue", lambda task, **kw: handed.append(kw)):
        for email in ("known@example.com", "unknown@example.com"):
            with CaptureQueriesContext(connection) as queries:
                client.post(reverse("password_reset"), {"email": email})
            assert not [q for q in queries if "auth_user" in q["sql"]], email
    assert [kw["email"] for kw in handed] == ["known@example.com", "unknown@example.com"]
    assert handed[0].keys() == handed[1].keys()


def test_reset_is_throttled_per_address(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_RESET_PER_EMAIL_PER_HOUR = 2
    UserFactory(email="zhao@example.com")
    for n in range(2):
        other = Client(REMOTE_ADDR=f"10.0.0.{n + 1}")
        assert (
            other.post(reverse("password_reset"), {"email": "zhao@example.com"}).status_code == 302
        )
    third = Client(REMOTE_ADDR="10.0.0.9").post(
        reverse("password_reset"), {"email": "zhao@example.com"}
    )
    assert third.status_code == 429 and int(third["Retry-After"]) > 0
    assert len(mail.outbox) == 2
    # An unknown address is throttled alike: the limit tells nothing about accounts.
    for _n in range(2):
        Client().post(reverse("password_reset"), {"email": "ghost@example.com"})
    assert (
        Client().post(reverse("password_reset"), {"email": "ghost@example.com"}).status_code == 429
    )


def test_reset_is_throttled_per_client(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["password_reset_ip"] = "2/hour"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for n in range(2):
        assert (
            client.post(reverse("password_reset"), {"email": f"a{n}@example.com"}).status_code
            == 302
        )
    refused = client.post(reverse("password_reset"), {"email": "a9@example.com"})
    assert refused.status_code == 429
    assert refused.context["form"]["email"].value() == "a9@example.com"  # what was typed stays


def _team_member_created_by_owner() -> User:
    shop = MerchantFactory()
    order_services.merchant_member_add(
        merchant=shop,
        actor=shop.owner,
        username="kefu01",
        email="kefu@example.com",
        password=PASSWORD,
    )
    return User.objects.get(username="kefu01")


def test_account_created_by_the_owner_must_set_its_own_password(client: Client) -> None:
    member = _team_member_created_by_owner()
    assert client.login(username="kefu01", password=PASSWORD)
    held = client.get(reverse("merchant:home"))
    assert held.status_code == 302
    assert held["Location"].startswith(reverse("password_change") + "?next=")
    page = client.get(held["Location"], HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.context["must_set"]
    done = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": NEW,
            "new_password2": NEW,
            "next": reverse("merchant:home"),
        },
    )
    assert done.status_code == 302 and done["Location"] == reverse("merchant:home")
    member.refresh_from_db()
    assert member.check_password(NEW)
    assert client.get(reverse("merchant:home")).status_code == 200
    # The next login is not held any more.
    fresh = Client()
    assert fresh.login(username="kefu01", password=NEW)
    assert fresh.get(reverse("merchant:home")).status_code == 200


def test_an_existing_account_added_to_a_team_is_not_held(client: Client) -> None:
    shop = MerchantFactory()
    existing = UserFactory(username="laozhang")
    order_services.merchant_member_add(merchant=shop, actor=shop.owner, username="laozhang")
    client.force_login(existing)
    assert client.get(reverse("merchant:home")).status_code == 200


def test_held_account_gets_no_api_token(api_client) -> None:  # type: ignore[no-untyped-def]
    _team_member_created_by_owner()
    answer = api_client.post(
        "/api/v1/auth/token/", {"username": "kefu01", "password": PASSWORD}, format="json"
    )
    assert answer.status_code == 403 and answer.json()["code"] == "password_must_be_set"


def test_team_page_tells_the_owner_the_truth(client: Client) -> None:
    shop = MerchantFactory()
    client.force_login(shop.owner)
    page = client.get(reverse("merchant:team"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "必须先设置自己的密码" in page
    assert "首次登录后修改" not in page
