"""Real staff accounts: `createsuperuser --noinput` with DJANGO_SUPERUSER_* (README "URLs")."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_createsuperuser_noinput_reads_the_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "ops-admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "ops@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-enough-secret-9")
    call_command("createsuperuser", interactive=False, stdout=StringIO())
    user = User.objects.get(username="ops-admin")
    assert (user.is_staff, user.is_superuser, user.email) == (True, True, "ops@example.com")
    assert authenticate(username="ops-admin", password="a-long-enough-secret-9") == user
    assert user.has_perm("orders.view_identity") and user.has_perm("orders.verify_merchant")
