"""Password guessing and API tokens (security review, section 2).

- The admin login goes through the login throttle, like the login page and the token endpoint.
- The throttles (and the lockout) count the real client: X-Forwarded-For is ignored with
  NUM_PROXIES = 0, and only the address our own proxy appended counts with NUM_PROXIES = 1.
- Per-account lockout: username + address after a few failures, the username alone after more,
  on every login path, with a translated message; staff unlock with `manage.py login_lockout`.
- API tokens (knox): a digest at rest, expiring, revoked by logout and by a password change,
  never shown in clear in the admin.

The throttle and lockout counters live in the cache, which the test-wide fixture clears.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
LOCKED_ZH = "该账号登录失败次数过多"
LOCKED_EN = "Too many failed logins for this account"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # PBKDF2's cost is for production; these tests try many passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def rates(settings: Any):
    def set_rates(**scopes: Any) -> None:
        rest = copy.deepcopy(settings.REST_FRAMEWORK)
        num_proxies = scopes.pop("num_proxies", rest.get("NUM_PROXIES"))
        rest["DEFAULT_THROTTLE_RATES"].update(scopes)
        rest["NUM_PROXIES"] = num_proxies
        settings.REST_FRAMEWORK = rest
        cache.clear()

    return set_rates


@pytest.fixture
def lockout(settings: Any):
    def set_limits(*, per_ip: int = 1000, per_account: int = 1000) -> None:
        settings.LOGIN_FAILURES_PER_ACCOUNT_IP = per_ip
        settings.LOGIN_FAILURES_PER_ACCOUNT = per_account
        settings.LOGIN_LOCKOUT_MINUTES = 15

    return set_limits


@pytest.fixture
def admin_user() -> User:
    return StaffFactory(username="admin", is_superuser=True)


def api_token(client: APIClient, username: str, password: str = PASSWORD, **extra: Any):
    return client.post(
        TOKEN_URL, {"username": username, "password": password}, format="json", **extra
    )


def admin_login(client: Client, username: str, password: str, **extra: Any):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}, **extra
    )


def page_login(client: Client, username: str, password: str, **extra: Any):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- The admin login is throttled ---------------------------------------------------------


def test_admin_login_is_refused_after_40_wrong_passwords_even_with_the_right_one(admin_user):
    # The finding as reported, with the default rates and limits.
    client = Client()
    for _ in range(40):
        admin_login(client, "admin", "wrong-guess")

    response = admin_login(client, "admin", PASSWORD)

    assert response.status_code == 429
    assert not logged_in(client)


def test_admin_login_past_the_throttle_is_429_with_retry_after(rates, lockout, admin_user):
    rates(login_user="3/min", login_ip="100/min")
    lockout()  # out of the way: this is the throttle
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(3):
        assert admin_login(client, "admin", "wrong").status_code == 200

    response = admin_login(client, "admin", PASSWORD)

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many attempts" in response.content.decode()
    assert not logged_in(client)


def test_admin_login_still_logs_staff_in(admin_user):
    client = Client()
    response = admin_login(client, "admin", PASSWORD)
    assert response.status_code == 302
    assert logged_in(client)
    assert client.get("/admin/").status_code == 200


# --- X-Forwarded-For is not the client's to choose ----------------------------------------


def test_a_changing_forwarded_for_header_does_not_reset_the_token_throttle(rates, lockout):
    rates(login_user="3/min", login_ip="3/min")
    lockout()
    user = UserFactory()
    client = APIClient(REMOTE_ADDR="192.0.2.10")
    for n in range(3):
        response = api_token(client, user.username, "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        assert response.status_code == 400

    response = api_token(client, user.username, HTTP_X_FORWARDED_FOR="10.9.9.9")

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def test_a_throttled_address_cannot_log_in_on_the_page_with_a_fresh_header(rates, lockout):
    rates(login_user="3/min", login_ip="3/min")
    lockout()
    user = UserFactory()
    client = Client(REMOTE_ADDR="192.0.2.11")
    for n in range(3):
        page_login(client, user.username, "wrong", HTTP_X_FORWARDED_FOR=f"10.0.1.{n}")

    response = page_login(client, user.username, PASSWORD, HTTP_X_FORWARDED_FOR="10.0.1.99")

    assert response.status_code == 429
    assert not logged_in(client)


def test_behind_one_proxy_only_the_address_it_appended_counts(rates, lockout):
    rates(login_user="2/min", login_ip="2/min", num_proxies=1)
    lockout()
    body = {"username": "nobody", "password": "x"}
    proxy = APIClient(REMOTE_ADDR="10.0.0.1")
    # The client forges the left part; the proxy appends the address it saw.
    for forged in ("1.1.1.1", "2.2.2.2"):
        response = proxy.post(
            TOKEN_URL, body, format="json", HTTP_X_FORWARDED_FOR=f"{forged}, 203.0.113.5"
        )
        assert response.status_code == 400
    response = proxy.post(
        TOKEN_URL, body, format="json", HTTP_X_FORWARDED_FOR="3.3.3.3, 203.0.113.5"
    )
    assert response.status_code == 429
    # Another client behind the same proxy has its own counter.
    response = proxy.post(TOKEN_URL, body, format="json", HTTP_X_FORWARDED_FOR="203.0.113.6")
    assert response.status_code == 400


# --- Per-account lockout ------------------------------------------------------------------


def test_an_account_is_locked_after_failures_spread_over_many_addresses(lockout):
    lockout(per_ip=1000, per_account=4)
    user = UserFactory()
    for n in range(4):
        client = APIClient(REMOTE_ADDR=f"198.51.100.{n}")
        assert api_token(client, user.username, "wrong").status_code == 400

    response = api_token(APIClient(REMOTE_ADDR="198.51.100.200"), user.username)

    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "locked_out"
    assert LOCKED_ZH in body["detail"]
    assert "15" in body["detail"]
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert not AuthToken.objects.exists()
    english = APIClient(REMOTE_ADDR="198.51.100.201", HTTP_ACCEPT_LANGUAGE="en")
    assert LOCKED_EN in api_token(english, user.username).json()["detail"]


def test_username_and_address_lock_first_and_only_that_address(lockout):
    lockout(per_ip=3, per_account=1000)
    user = UserFactory()
    guesser = Client(REMOTE_ADDR="192.0.2.50", HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(3):
        assert page_login(guesser, user.username, "wrong").status_code == 400

    response = page_login(guesser, user.username, PASSWORD)
    assert response.status_code == 429
    assert LOCKED_EN in response.content.decode()
    assert not logged_in(guesser)

    owner = Client(REMOTE_ADDR="192.0.2.51")
    assert page_login(owner, user.username, PASSWORD).status_code == 302
    assert logged_in(owner)


def test_the_lock_covers_the_page_the_admin_and_the_api_alike(lockout, admin_user):
    lockout(per_ip=1000, per_account=3)
    for n in range(3):
        admin_login(Client(REMOTE_ADDR=f"192.0.2.{60 + n}"), "admin", "wrong")

    admin_response = admin_login(Client(REMOTE_ADDR="192.0.2.70"), "admin", PASSWORD)
    assert admin_response.status_code == 429
    assert LOCKED_ZH in admin_response.content.decode()
    page = Client(REMOTE_ADDR="192.0.2.71")
    page_response = page_login(page, "admin", PASSWORD)
    assert page_response.status_code == 429
    assert LOCKED_ZH in page_response.content.decode()
    assert not logged_in(page)
    api = api_token(APIClient(REMOTE_ADDR="192.0.2.72"), "admin")
    assert api.json()["code"] == "locked_out"
    # The username's case does not make another account to guess at.
    assert api_token(APIClient(REMOTE_ADDR="192.0.2.73"), "ADMIN").status_code == 429


def test_the_lock_ends_after_the_lockout_minutes(lockout):
    lockout(per_ip=2, per_account=1000)
    user = UserFactory()
    client = APIClient(REMOTE_ADDR="192.0.2.80")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(2):
            api_token(client, user.username, "wrong")
        assert api_token(client, user.username).status_code == 429
        clock.shift(timedelta(minutes=14))
        assert api_token(client, user.username).status_code == 429
        clock.shift(timedelta(minutes=1, seconds=1))
        assert api_token(client, user.username).status_code == 200


def test_a_successful_login_forgets_that_addresses_failures(lockout):
    lockout(per_ip=3, per_account=1000)
    user = UserFactory()
    client = Client(REMOTE_ADDR="192.0.2.90")
    for _ in range(2):
        page_login(client, user.username, "typo")
    assert page_login(client, user.username, PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(2):
        page_login(client, user.username, "typo")

    assert page_login(client, user.username, PASSWORD).status_code == 302


def test_unknown_usernames_are_counted_like_real_ones(lockout):
    # The answer never tells whether an account exists.
    lockout(per_ip=2, per_account=1000)
    client = APIClient(REMOTE_ADDR="192.0.2.95")
    for _ in range(2):
        assert api_token(client, "no-such-user", "x").status_code == 400
    assert api_token(client, "no-such-user", "x").json()["code"] == "locked_out"


def test_staff_see_and_lift_a_lock_with_the_management_command(lockout):
    lockout(per_ip=1000, per_account=2)
    user = UserFactory()
    for n in range(2):
        api_token(APIClient(REMOTE_ADDR=f"192.0.2.{100 + n}"), user.username, "wrong")
    out = StringIO()
    call_command("login_lockout", user.username, stdout=out)
    assert "locked for" in out.getvalue()

    call_command("login_lockout", user.username, "--reset", stdout=StringIO())

    assert api_token(APIClient(REMOTE_ADDR="192.0.2.110"), user.username).status_code == 200
    out = StringIO()
    call_command("login_lockout", user.username, "--ip", "192.0.2.100", stdout=out)
    assert "locked for" not in out.getvalue()


# --- API tokens ---------------------------------------------------------------------------


def authed(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_a_token_is_kept_only_as_a_digest():
    user = UserFactory()
    response = api_token(APIClient(), user.username)
    assert response.status_code == 200
    token = response.json()["token"]
    assert response.json()["expiry"]

    row = AuthToken.objects.get(user=user)
    assert row.digest == hashlib.sha512(token.encode()).hexdigest()
    assert token not in row.digest
    assert not AuthToken.objects.filter(digest=token).exists()
    assert "authtoken_token" not in connection.introspection.table_names()
    assert authed(token).get("/api/v1/orders/").status_code == 200


def test_each_login_gets_its_own_token(settings):
    user = UserFactory()
    first = api_token(APIClient(), user.username).json()["token"]
    second = api_token(APIClient(), user.username).json()["token"]
    assert first != second
    assert authed(first).get("/api/v1/orders/").status_code == 200
    assert authed(second).get("/api/v1/orders/").status_code == 200


def test_a_token_expires_after_its_ttl(settings):
    settings.TOKEN_TTL_HOURS = 24
    user = UserFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = api_token(APIClient(), user.username).json()["token"]
        clock.shift(timedelta(hours=23, minutes=59))
        assert authed(token).get("/api/v1/orders/").status_code == 200
        clock.shift(timedelta(minutes=2))
        response = authed(token).get("/api/v1/orders/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_password_change_revokes_every_token():
    user = UserFactory()
    tokens = [api_token(APIClient(), user.username).json()["token"] for _ in range(2)]

    user.set_password("a-new-long-secret-77")
    user.save()

    for token in tokens:
        assert authed(token).get("/api/v1/orders/").status_code == 401
    assert not AuthToken.objects.filter(user=user).exists()


def test_a_password_change_in_the_admin_revokes_the_users_tokens(admin_user):
    buyer = UserFactory()
    token = api_token(APIClient(), buyer.username).json()["token"]
    staff = Client()
    staff.force_login(admin_user)

    response = staff.post(
        f"/admin/auth/user/{buyer.pk}/password/",
        {"password1": "a-new-long-secret-77", "password2": "a-new-long-secret-77"},
    )

    assert response.status_code == 302
    assert authed(token).get("/api/v1/orders/").status_code == 401


def test_saving_a_user_without_a_new_password_keeps_the_tokens():
    user = UserFactory()
    token = api_token(APIClient(), user.username).json()["token"]
    user.email = "changed@example.com"
    user.save()
    assert authed(token).get("/api/v1/orders/").status_code == 200


def test_logout_revokes_the_token_used_and_only_that_one():
    user = UserFactory()
    used = api_token(APIClient(), user.username).json()["token"]
    other = api_token(APIClient(), user.username).json()["token"]

    assert authed(used).post("/api/v1/auth/logout/").status_code == 204

    assert authed(used).get("/api/v1/orders/").status_code == 401
    assert authed(other).get("/api/v1/orders/").status_code == 200


def test_logoutall_revokes_every_token_of_the_caller():
    user, someone_else = UserFactory(), UserFactory()
    tokens = [api_token(APIClient(), user.username).json()["token"] for _ in range(2)]
    theirs = api_token(APIClient(), someone_else.username).json()["token"]

    assert authed(tokens[0]).post("/api/v1/auth/logoutall/").status_code == 204

    for token in tokens:
        assert authed(token).get("/api/v1/orders/").status_code == 401
    assert authed(theirs).get("/api/v1/orders/").status_code == 200


def test_logout_needs_a_token():
    assert APIClient().post("/api/v1/auth/logout/").status_code == 401


def test_the_admin_never_shows_a_token_and_cannot_mint_one(admin_user):
    buyer = UserFactory()
    token = api_token(APIClient(), buyer.username).json()["token"]
    row = AuthToken.objects.get(user=buyer)
    staff = Client()
    staff.force_login(admin_user)

    listing = staff.get("/admin/knox/authtoken/")
    detail = staff.get(f"/admin/knox/authtoken/{row.pk}/change/")

    assert listing.status_code == 200
    assert buyer.username in listing.content.decode()
    assert detail.status_code == 200
    for page in (listing, detail):
        assert token not in page.content.decode()
    assert staff.get("/admin/knox/authtoken/add/").status_code == 403
    assert staff.post("/admin/knox/authtoken/add/", {"user": buyer.pk}).status_code == 403
    assert AuthToken.objects.count() == 1


def test_staff_revoke_a_token_by_deleting_it_in_the_admin(admin_user):
    buyer = UserFactory()
    token = api_token(APIClient(), buyer.username).json()["token"]
    row = AuthToken.objects.get(user=buyer)
    staff = Client()
    staff.force_login(admin_user)

    response = staff.post(f"/admin/knox/authtoken/{row.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert authed(token).get("/api/v1/orders/").status_code == 401
