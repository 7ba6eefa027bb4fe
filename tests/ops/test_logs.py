"""Logs as JSON lines with a request id, carried from the web request into the Celery task it
enqueues and run by a real worker process (kamen_complaints/request_context.py, logs.py,
celery.py; docs/operations.md "Logs")."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import override_settings

from kamen_complaints.logs import logging_config
from tests.factories import UserFactory

WORKER_BOUND = 120.0  # only stops a broken run; a passing one returns as soon as the line is in


@pytest.fixture
def json_lines():
    """The project's JSON logging, its handler writing into a buffer; the test's own
    configuration is put back afterwards."""
    logging.config.dictConfig(logging_config(log_format="json", level="INFO"))
    handler = logging.getLogger().handlers[0]
    buffer = io.StringIO()
    handler.setStream(buffer)  # type: ignore[attr-defined]

    def lines() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    yield lines
    logging.config.dictConfig(django_settings.LOGGING)


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="tests.ops.urls")
def test_a_log_line_is_one_json_object_with_the_request_id_user_and_path(client, json_lines):
    user = UserFactory()
    client.force_login(user)
    response = client.get("/ops-test/enqueue", HTTP_X_REQUEST_ID="edge-4f2a.9")
    assert response["X-Request-ID"] == "edge-4f2a.9"
    line = next(line for line in json_lines() if line["logger"] == "tests.ops")
    assert line["message"] == "enqueueing for request edge-4f2a.9"
    assert line["request_id"] == "edge-4f2a.9"
    assert line["path"] == "/ops-test/enqueue"
    assert line["level"] == "INFO"
    assert line["time"].endswith("+00:00")
    # The account gate middleware asked who is signed in, so the line names them.
    assert line["user_id"] == user.pk
    assert set(line) >= {"time", "level", "logger", "message", "request_id", "user_id", "path"}


@pytest.mark.django_db
def test_djangos_own_404_line_after_the_middleware_carries_the_id_and_user(client, json_lines):
    user = UserFactory()
    client.force_login(user)
    response = client.get("/no-such-page", HTTP_X_REQUEST_ID="req-404")
    assert response.status_code == 404
    line = next(line for line in json_lines() if line["logger"] == "django.request")
    assert line["request_id"] == "req-404"
    assert line["path"] == "/no-such-page"
    assert line["user_id"] == user.pk  # the page's navigation asked who is signed in
    assert "request" not in line  # the request's repr (its query string) is not logged


@pytest.mark.django_db
@pytest.mark.parametrize(
    "offered", ["has space", "x" * 65, "line\nbreak", '{"forged": 1}', "-starts-with-dash", ""]
)
def test_an_id_that_is_not_a_sane_token_is_replaced(client, offered):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=offered)
    assert response["X-Request-ID"] != offered
    assert len(response["X-Request-ID"]) == 32
    assert client.get("/healthz")["X-Request-ID"] != response["X-Request-ID"]


def test_console_format_keeps_the_id_readable():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    config = logging_config(log_format="console", level="INFO")
    formatter = logging.Formatter(config["formatters"]["console"]["format"])
    from kamen_complaints.request_context import RequestContextFilter, request_id_set

    with request_id_set("abc123"):
        RequestContextFilter().filter(record)
    assert "[abc123] hello" in formatter.format(record)


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@override_settings(ROOT_URLCONF="tests.ops.urls")
def test_the_worker_logs_the_task_with_the_request_id_that_enqueued_it(
    client, tmp_path: Path, monkeypatch
):
    """A real `celery worker` process on a broker folder of its own: the web request publishes
    through `enqueue`, the worker's JSON line for the task carries the request's id."""
    from kamen_complaints.celery import app

    folders = {
        "data_folder_in": str(tmp_path / "celery" / "queue"),
        "data_folder_out": str(tmp_path / "celery" / "queue"),
        "processed_folder": str(tmp_path / "celery" / "processed"),
        "control_folder": str(tmp_path / "celery" / "control"),
        "store_processed": False,
    }
    for key in ("data_folder_in", "processed_folder", "control_folder"):
        os.makedirs(folders[key], exist_ok=True)
    monkeypatch.setattr(django_settings, "CELERY_BROKER_TRANSPORT_OPTIONS", folders)
    monkeypatch.setitem(app.conf, "broker_transport_options", folders)
    monkeypatch.setitem(app.conf, "broker_url", "filesystem://localhost/")
    # Celery reads CELERY_BROKER_URL from the environment before its own setting (CI points it
    # at Redis): the publish must go to this test's folder too.
    monkeypatch.setenv("CELERY_BROKER_URL", "filesystem://localhost/")
    app.conf.task_always_eager = False
    app._pool = None  # connections made before used the test run's own broker folder
    app.amqp._producer_pool = None
    try:
        response = client.get("/ops-test/enqueue", HTTP_X_REQUEST_ID="web-7c1e")
    finally:
        app._pool = None
        app.amqp._producer_pool = None
    assert response.status_code == 200
    assert list((tmp_path / "celery" / "queue").iterdir()), "nothing was published"

    env = {
        **os.environ,
        "KAMEN_ENV": "development",
        "KAMEN_VAR_DIR": str(tmp_path),
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": "filesystem://localhost/",
        "LOG_FORMAT": "json",
        "DJANGO_SETTINGS_MODULE": "kamen_complaints.settings",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "kamen_complaints",
            "worker",
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
        ],
        env=env,
        cwd=str(Path(__file__).resolve().parents[2]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    found = None
    try:
        give_up = time.monotonic() + WORKER_BOUND
        assert worker.stderr is not None
        while found is None and time.monotonic() < give_up:
            line = worker.stderr.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("message") == "task disputes.tasks.notifications_send started":
                    found = record
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert found is not None, "".join(lines[-30:])
    assert found["request_id"] == "web-7c1e"
    assert found["logger"] == "kamen_complaints.celery"
    assert found["task_id"]
