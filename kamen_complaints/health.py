"""/healthz: is the database reachable, is the broker reachable. 200 when both are, else 503."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

# Other apps add lines (e.g. the deadline sweep's) by appending callables here at app ready.
extra_checks: list[Any] = []


def _database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor}


def _broker() -> dict[str, Any]:
    url = settings.CELERY_BROKER_URL
    if settings.CELERY_BROKER_IS_FILESYSTEM:
        folder = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        os.makedirs(folder, exist_ok=True)
        return {"ok": os.access(folder, os.W_OK), "transport": "filesystem"}
    from kamen_complaints.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return {"ok": False, "transport": url.split(":", 1)[0], "error": exc.__class__.__name__}
    return {"ok": True, "transport": url.split(":", 1)[0]}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    body: dict[str, Any] = {"database": _database(), "broker": _broker()}
    for check in extra_checks:
        name, value = check()
        body[name] = value
    healthy = body["database"]["ok"] and body["broker"]["ok"]
    body["status"] = "ok" if healthy else "unavailable"
    return JsonResponse(body, status=200 if healthy else 503)
