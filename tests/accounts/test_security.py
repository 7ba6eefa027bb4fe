"""The "account and security" page: live sessions and API tokens, sign out everywhere."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from knox.models import AuthToken

from accounts import services, tokens
from accounts.models import UserSession
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_page_lists_sessions_and_tokens(client: Client) -> None:
    user = UserFactory()
    phone = Client(HTTP_USER_AGENT="Phone Browser 1.0")
    phone.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert client.login(username=user.username, password=PASSWORD)
    tokens.token_issue(user=user)
    page = client.get(reverse("security"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200
    assert len(page.context["sessions"]) == 2
    assert len(page.context["tokens"]) == 1
    text = page.content.decode()
    assert "Phone Browser 1.0" in text and "账号与安全" in text


def test_page_needs_a_login(client: Client) -> None:
    answer = client.get(reverse("security"))
    assert answer.status_code == 302 and answer["Location"].startswith(reverse("login"))


def test_sign_out_everywhere_ends_other_sessions_and_tokens(client: Client, api_client) -> None:  # type: ignore[no-untyped-def]
    user = UserFactory()
    bystander = UserFactory()
    other = Client()
    assert other.login(username=user.username, password=PASSWORD)
    theirs = Client()
    assert theirs.login(username=bystander.username, password=PASSWORD)
    assert client.login(username=user.username, password=PASSWORD)
    token, _expiry = tokens.token_issue(user=user)
    tokens.token_issue(user=bystander)
    assert other.get(reverse("security")).status_code == 200

    assert client.get(reverse("sign_out_everywhere")).status_code == 405  # a POST only
    done = client.post(reverse("sign_out_everywhere"))
    assert done.status_code == 302 and done["Location"] == reverse("security")

    assert other.get(reverse("security")).status_code == 302  # logged out
    assert client.get(reverse("security")).status_code == 200  # this one stays
    assert theirs.get(reverse("security")).status_code == 200  # nobody else's
    assert not AuthToken.objects.filter(user=user).exists()
    assert AuthToken.objects.filter(user=bystander).count() == 1
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.post("/api/v1/auth/logout/").status_code == 401  # the token is dead
    assert UserSession.objects.filter(user=user).count() == 1


def test_a_logged_out_session_is_not_listed(client: Client) -> None:
    user = UserFactory()
    other = Client()
    assert other.login(username=user.username, password=PASSWORD)
    other.post(reverse("logout"))
    assert client.login(username=user.username, password=PASSWORD)
    assert len(client.get(reverse("security")).context["sessions"]) == 1


def _sessions_logged_in_as(user) -> list[str]:  # type: ignore[no-untyped-def]
    store = SessionStore()
    return [
        s.session_key
        for s in Session.objects.all()
        if store.decode(s.session_data).get(SESSION_KEY) == str(user.pk)
    ]


def test_sign_out_everywhere_ends_sessions_opened_before_logins_were_noted(client: Client) -> None:
    user, bystander = UserFactory(), UserFactory()
    old = Client()  # logged in before the session list existed: nothing noted it
    assert old.login(username=user.username, password=PASSWORD)
    UserSession.objects.filter(session_key=old.session.session_key).delete()
    theirs = Client()
    assert theirs.login(username=bystander.username, password=PASSWORD)
    UserSession.objects.filter(user=bystander).delete()
    broken = SessionStore(session_key="x" * 32)
    broken.create()
    Session.objects.filter(session_key=broken.session_key).update(session_data="not a session")
    assert client.login(username=user.username, password=PASSWORD)
    tokens.token_issue(user=user)
    tokens.token_issue(user=user)
    assert old.get(reverse("security")).status_code == 200

    ended, revoked = services.sign_out_everywhere(
        user=user, keep_session_key=client.session.session_key
    )

    assert (ended, revoked) == (1, 2)
    assert old.get(reverse("security")).status_code == 302  # logged out
    assert _sessions_logged_in_as(user) == [client.session.session_key]
    assert client.get(reverse("security")).status_code == 200
    assert theirs.get(reverse("security")).status_code == 200
    assert Session.objects.filter(session_key=broken.session_key).exists()  # nobody's


def test_the_page_says_how_many_sessions_and_tokens_ended(client: Client) -> None:
    user = UserFactory()
    for _n in range(2):
        other = Client()
        assert other.login(username=user.username, password=PASSWORD)
    UserSession.objects.filter(user=user).delete()
    assert client.login(username=user.username, password=PASSWORD)
    tokens.token_issue(user=user)
    done = client.post(reverse("sign_out_everywhere"), HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "2 other sessions ended, 1 API tokens revoked" in done.content.decode()
    assert _sessions_logged_in_as(user) == [client.session.session_key]
