"""At every login: note the session (listed on the "account and security" page, ended by
"sign out everywhere") and what the account gate must ask of it (accounts/middleware.py).
Also the hook with orders: an account a shop's owner creates for the team must set its own
password (registered in AccountsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from accounts import logins, services, twostep
from accounts.middleware import HAS_DEVICE, MUST_SET_PASSWORD


@receiver(user_logged_in, dispatch_uid="accounts.security.logged_in")
def _on_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if request is None or session is None or session.get(SESSION_KEY) != str(user.pk):
        return  # an API token was issued: no session
    session[HAS_DEVICE] = twostep.has_device(user)
    session[MUST_SET_PASSWORD] = services.account_must_set_password(user=user)
    if session.session_key is None:
        session.save()
    services.session_note(
        user=user,
        session_key=str(session.session_key),
        ip=logins.client_ip(request) if request.META.get("REMOTE_ADDR") else "",
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def member_account_created(user: User) -> None:
    services.account_require_password_set(user=user)
