"""Fixtures shared by the complaint tests (tests/disputes) and the cross-app flows
(tests/flows): each package's conftest imports them, so they apply there only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # Factories set a password for every user; PBKDF2 would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _seeded_policy(request: pytest.FixtureRequest) -> None:
    """The default policy the data migrations seed (in force since 1970, published when the
    platform was installed: disputes 0013). A transactional test anywhere in the run
    flushes the tables (and the seed with them), so put it back when it is missing."""
    if "django_db" not in request.keywords:
        return
    request.getfixturevalue("_django_db_helper")  # the database is set up first
    from disputes.models import Policy

    if not Policy.objects.filter(product_kind="").exists():
        Policy.objects.create(
            product_kind="",
            effective_from=datetime(1970, 1, 1, tzinfo=UTC),
            published_at=datetime(2020, 1, 1, tzinfo=UTC),
            note="Default policy (seeded).",
        )


@pytest.fixture(autouse=True)
def _broker_assumed_up() -> None:
    """A test that made a publish fail must not leave the next test's broker marked down."""
    from disputes.channels import channels
    from kamen_complaints.celery import broker_assumed_up

    broker_assumed_up()
    channels.cache_clear()
