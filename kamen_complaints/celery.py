"""The Celery app, and `enqueue`: the one way code hands a task to the broker.

A web request must never fail or hang because the broker is down. Every task is therefore
backed by a database row (an outbox or a due deadline) that the periodic sweep picks up, and
publishing is best effort: short timeouts, one bounded retry, a logged warning on failure.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import import_modules

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen_complaints.settings")

app = Celery("kamen_complaints")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


@import_modules.connect
def _refuse_development_secrets(**kwargs: Any) -> None:
    """Worker and beat import their task modules at start (loader.init_worker) and re-raise an
    error from this signal, so neither starts on a development secret outside development.
    Celery's Django fixup runs the system checks but ignores what they find
    (kamen_complaints/deployment.py)."""
    from kamen_complaints.deployment import refuse_development_secrets

    refuse_development_secrets()


def _ensure_filesystem_broker_dirs() -> None:
    from django.conf import settings

    if getattr(settings, "CELERY_BROKER_IS_FILESYSTEM", False):
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
            if folder:
                os.makedirs(str(folder), exist_ok=True)


def enqueue(task: Any, *args: Any, **kwargs: Any) -> bool:
    """Publish `task` with args; return False (and log) instead of raising if the broker fails.

    Callers only use this for work that a database row also records, so a lost publish is
    picked up by the next sweep: at-least-once, never lost.
    """
    try:
        _ensure_filesystem_broker_dirs()
        task.apply_async(args=args, kwargs=kwargs)
    except Exception:  # the broker's failure modes are many; none may fail the caller
        logger.warning("could not publish %s; the sweep will pick it up", task.name, exc_info=True)
        return False
    return True
