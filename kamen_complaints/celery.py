"""The Celery app, and `enqueue`: the one way code hands a task to the broker.

A web request must never fail or hang because the broker is down. Every task is therefore
backed by a database row (an outbox or a due deadline) that the periodic sweep picks up, and
publishing is best effort: short timeouts, one bounded retry, a logged warning on failure.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery import Celery
from celery.signals import before_task_publish, import_modules, task_postrun, task_prerun

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


# The web request's id travels with each task it publishes (a message header) and is the
# worker's while the task runs, so the task's log lines carry it (kamen_complaints/
# request_context.py, docs/operations.md "Logs"). Eager tasks run inside the request and
# keep its id as they are.
REQUEST_ID_HEADER = "kamen_request_id"
_task_request_ids: dict[str, Any] = {}


@before_task_publish.connect
def _publish_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    from kamen_complaints.request_context import current_request_id

    request_id = current_request_id()
    if request_id and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


@task_prerun.connect
def _task_request_id(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    from kamen_complaints.request_context import SANE_ID, request_id_var

    request_id = getattr(task.request, REQUEST_ID_HEADER, None) if task is not None else None
    if not task_id or not isinstance(request_id, str) or not SANE_ID.fullmatch(request_id):
        return
    _task_request_ids[task_id] = request_id_var.set(request_id)
    logger.info("task %s started", task.name, extra={"task_id": task_id})


@task_postrun.connect
def _task_request_id_done(task_id: str | None = None, **kwargs: Any) -> None:
    from kamen_complaints.request_context import request_id_var

    token = _task_request_ids.pop(task_id, None) if task_id else None
    if token is not None:
        request_id_var.reset(token)


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


# A broker that failed is not asked again for a while: the rows a task would have carried wait
# for the sweep, and no request pays the connection timeout twice in a row. One state for every
# caller (the notification outbox, the integrations' deliveries): it is one broker.
BROKER_BACKOFF_SECONDS = 30.0
_broker_down_until = 0.0


def publish(task: Any, *args: Any) -> bool:
    """Hand a task to the broker now if it seems up (never raises, see `enqueue`)."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        logger.info("broker marked down; %s left to the sweep", task.name)
        return False
    if enqueue(task, *args):
        return True
    _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
    return False


def broker_assumed_up() -> None:
    """Forget an earlier failure: the next publish tries the broker again (tests)."""
    global _broker_down_until
    _broker_down_until = 0.0
