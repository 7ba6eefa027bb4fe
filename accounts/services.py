"""Every write of accounts: typed, keyword-only functions, one transaction each.

The register page and the API both call these (docs/architecture.md "one path per action")."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kamen_complaints.errors import DomainError


def buyer_register(*, username: str, email: str, password: str) -> User:
    """A buyer account, for the register page and the API alike. The caller's form or
    serializer has validated the password (Django's validators) and the name's shape."""
    try:
        with transaction.atomic():
            return User.objects.create_user(username=username, email=email, password=password)
    except IntegrityError as exc:  # the same name registered a moment ago
        raise DomainError(
            _("That username is taken."), code="username_taken", status_code=409
        ) from exc
