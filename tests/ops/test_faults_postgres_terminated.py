"""Every PostgreSQL connection terminated (issue 23, "Faults under load"; docs/load.md): the next
request on a process whose kept connection (CONN_MAX_AGE) was terminated reconnects instead of
answering 500 — also when its first use of the database is inside transaction.atomic.

Through Django's real WSGIHandler, not the test client: the client disconnects the
request_started receiver (close_old_connections) that arms the health check
(CONN_HEALTH_CHECKS), which is what this is about."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest
from django.contrib.auth.models import Group
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@csrf_exempt
def write_first(request: HttpRequest) -> HttpResponse:
    """A view whose first use of the database is a write inside an atomic block."""
    with transaction.atomic():
        group = Group.objects.create(name=f"faults-{time.monotonic_ns()}")
    return HttpResponse(str(group.pk))


urlpatterns = [path("write-first/", write_first)]


def _request(method: str, url: str) -> tuple[int, bytes]:
    """One request through WSGIHandler, as gunicorn makes it (request_started and all)."""
    environ = getattr(RequestFactory(), method)(url).environ
    environ["wsgi.errors"] = io.StringIO()
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
        answer["status"] = int(status.split()[0])

    response = WSGIHandler()(environ, start_response)
    try:
        body = b"".join(response)
    finally:
        response.close()  # request_finished, as the server sends it
    return answer["status"], body


def _terminate_this_process_connection() -> None:
    """pg_terminate_backend of the connection Django keeps in this thread, from a second
    connection, and wait until the server has let it go."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    other = psycopg2.connect(
        dbname=params["dbname"],
        user=params.get("user"),
        host=params.get("host"),
        port=params.get("port"),
        password=params.get("password"),
    )
    other.autocommit = True
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone() == (True,)
            for _ in range(100):
                cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
                if cursor.fetchone() is None:
                    return
                time.sleep(0.02)
        pytest.fail(f"backend {pid} still there")
    finally:
        other.close()


@pytest.fixture
def kept_connection() -> Iterator[None]:
    """A connection kept across requests, as in production (CONN_MAX_AGE)."""
    assert connection.settings_dict["CONN_MAX_AGE"] > 0
    with override_settings(ROOT_URLCONF=__name__):
        yield
    connection.close()


def test_a_write_first_request_after_the_connection_was_terminated(kept_connection):
    assert _request("post", "/write-first/")[0] == 200
    _terminate_this_process_connection()
    status, body = _request("post", "/write-first/")
    assert status == 200, body[:500]
    assert Group.objects.filter(pk=int(body)).exists()


def test_healthz_after_the_connection_was_terminated(kept_connection):
    with override_settings(ROOT_URLCONF="kamen_complaints.urls"):
        _request("get", "/healthz")
        _terminate_this_process_connection()
        status, body = _request("get", "/healthz")
    assert b'"database": {"ok": true' in body, body
    assert status in (200, 503)  # the broker is the test's own business, the database is not


def test_without_the_health_check_the_same_request_fails(kept_connection):
    """Why settings.py sets CONN_HEALTH_CHECKS: without it, a kept connection the server
    terminated fails the next request (what the test above guards against)."""
    assert _request("post", "/write-first/")[0] == 200
    connection.settings_dict["CONN_HEALTH_CHECKS"] = False
    try:
        connection.close()
        assert _request("post", "/write-first/")[0] == 200  # a new connection, no checks
        _terminate_this_process_connection()
        assert _request("post", "/write-first/")[0] == 500
    finally:
        connection.settings_dict["CONN_HEALTH_CHECKS"] = True
