"""Reads of accounts: an account's live sessions and API tokens (the security page)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db.models import QuerySet
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import UserSession


def live_sessions(*, user: User) -> list[UserSession]:
    """The sessions noted at `user`'s logins that still live (not logged out, not expired)."""
    live = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
    return list(UserSession.objects.filter(user=user, session_key__in=live))


def live_tokens(*, user: User) -> QuerySet[AuthToken]:
    return AuthToken.objects.filter(user=user, expiry__gt=timezone.now()).order_by("-created")
