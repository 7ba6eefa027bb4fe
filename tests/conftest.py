"""Test-wide setup.

- `postgres` tests need PostgreSQL behaviour (row locks, SKIP LOCKED, triggers): skipped on
  SQLite with a reason, and under CI=true the run refuses to start without PostgreSQL.
- `browser` tests need Debian's Chromium: skipped without it, an error under CI=true.
- Celery runs tasks eagerly unless a test says otherwise; `.delay()` inside
  `django_capture_on_commit_callbacks(execute=True)` then runs the task inline.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache

CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def pytest_configure(config: pytest.Config) -> None:
    _flush_through_the_purge_door()
    if CI and not settings.USING_POSTGRES:
        raise pytest.UsageError("CI=true: DATABASE_URL must point at PostgreSQL")
    if CI and not Path(CHROMIUM).exists():
        raise pytest.UsageError(f"CI=true: Chromium is required for browser tests ({CHROMIUM})")


def _flush_through_the_purge_door() -> None:
    """A transactional test ends with Django's flush (TRUNCATE on PostgreSQL, DELETE on
    SQLite), which the append-only tables refuse; the flush alone goes through the one door
    kamen_complaints/append_only.py keeps for it."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    from kamen_complaints.append_only import purge_allowed

    original = BaseDatabaseOperations.execute_sql_flush
    if getattr(original, "_through_purge_door", False):
        return

    def execute_sql_flush(self: BaseDatabaseOperations, sql_list: Any) -> None:
        with purge_allowed(self.connection):
            original(self, sql_list)

    execute_sql_flush._through_purge_door = True  # type: ignore[attr-defined]
    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://…)")
    skip_browser = pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM}")
    for item in items:
        if "postgres" in item.keywords and not settings.USING_POSTGRES:
            item.add_marker(skip_pg)
        if "browser" in item.keywords and not Path(CHROMIUM).exists():
            item.add_marker(skip_browser)


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Path) -> Iterator[None]:
    from celery._state import _set_task_join_will_block

    from kamen_complaints.celery import app

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SANDBOX_TOPUP_SLOW_SECONDS = 0.01
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    # A test that ran a real worker in this process (test_broker_outage.py) leaves Celery's
    # "inside a worker" flag set, and every later `.delay().get()` would then refuse to join.
    _set_task_join_will_block(False)
    cache.clear()
    yield
    cache.clear()
    shutil.rmtree(tmp_path / "media", ignore_errors=True)


@pytest.fixture
def api_client() -> Any:
    from rest_framework.test import APIClient

    return APIClient()
