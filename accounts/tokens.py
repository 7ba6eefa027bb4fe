"""API tokens (django-rest-knox): hashed at rest, expiring, revoked by logout and by a password
change. Design: docs/security/authentication.md.

The database keeps only a SHA-512 digest of each token (and knox's short lookup prefix); the
token itself is shown once, in the answer to POST /api/v1/auth/token/.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone
from knox.models import AuthToken

# Live tokens one user may hold; issuing one more drops the oldest. Each token is a client
# (a script, an app install): a handful is plenty, and knox checks a user's tokens on every
# request, so they must not pile up.
MAX_TOKENS_PER_USER = 10


def token_ttl() -> timedelta:
    return timedelta(hours=settings.TOKEN_TTL_HOURS)


@transaction.atomic
def token_issue(*, user: User) -> tuple[str, datetime]:
    """A new token for `user` and its expiry. Expired tokens of the user are deleted, and the
    oldest live ones beyond MAX_TOKENS_PER_USER."""
    now = timezone.now()
    AuthToken.objects.filter(user=user, expiry__lte=now).delete()
    instance, token = AuthToken.objects.create(user=user, expiry=token_ttl())
    surplus = AuthToken.objects.filter(user=user).order_by("-created", "-pk")[MAX_TOKENS_PER_USER:]
    AuthToken.objects.filter(pk__in=list(surplus.values_list("pk", flat=True))).delete()
    return token, cast(datetime, instance.expiry)


def tokens_revoke_all(*, user: User) -> int:
    """Delete every token of `user`; returns how many there were."""
    deleted, _per_model = AuthToken.objects.filter(user=user).delete()
    return deleted


# A password change revokes every token, whatever path changed it: set_password() + save(),
# the admin's password form, password reset, `manage.py changepassword`, set_unusable_password.
# Compared on save, not hooked into set_password(), because only a saved password counts.
# (QuerySet.update(password=…) bypasses signals: nothing in the project does that.)


@receiver(pre_save, sender=User, dispatch_uid="accounts.tokens.password_check")
def _note_password_change(
    sender: Any, instance: User, update_fields: Any = None, **kwargs: Any
) -> None:
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        instance._password_changed = True  # type: ignore[attr-defined]


@receiver(post_save, sender=User, dispatch_uid="accounts.tokens.password_revoke")
def _revoke_on_password_change(sender: Any, instance: User, **kwargs: Any) -> None:
    if getattr(instance, "_password_changed", False):
        instance._password_changed = False  # type: ignore[attr-defined]
        tokens_revoke_all(user=instance)
