"""Redis down (issue 23, "Faults under load"): the pages and the API that touch the cache answer
as they would with an empty cache instead of 500 (kamen_complaints/cache.py, README "Redis
down"). The cache is configured exactly as production's settings make it from
CACHE_URL=rediscache://…, pointed at a port nothing listens on (a stopped Redis: connections
refused), and at a redis-server this test stops and starts again."""

from __future__ import annotations

import logging
import runpy
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.test import APIClient

from tests.factories import PASSWORD, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

SETTINGS = Path(__file__).resolve().parents[2] / "kamen_complaints" / "settings.py"


def _spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _caches_for(url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The CACHES production's settings module makes of CACHE_URL=`url`."""
    monkeypatch.setenv("CACHE_URL", url)
    caches = runpy.run_path(str(SETTINGS))["CACHES"]
    monkeypatch.undo()
    return dict(caches)


@pytest.fixture
def redis_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    port = _spare_port()
    with override_settings(CACHES=_caches_for(f"rediscache://127.0.0.1:{port}/0", monkeypatch)):
        yield port


def _token(client: APIClient, username: str, password: str) -> Any:
    return client.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )


def test_throttled_api_and_pages_answer_while_redis_is_down(redis_down, caplog):
    user = UserFactory()
    merchant = MerchantFactory()
    api = APIClient()
    caplog.set_level(logging.WARNING, logger="kamen_complaints.cache")
    # The token endpoint: the login throttles (cache.get/set) and the lockout counters
    # (cache.add/incr/get) on a wrong password, then the right one.
    wrong = _token(api, user.username, "wrong")
    assert wrong.status_code == 400, wrong.content
    right = _token(api, user.username, PASSWORD)
    assert right.status_code == 200, right.content
    # The login page (the same lockout), and the shop record page (its figures are cached).
    page = Client()
    wrong_page = page.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    assert wrong_page.status_code == 400  # the form again, with its error
    right_page = page.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert right_page.status_code == 302
    assert page.get(f"/shops/{merchant.pk}/").status_code == 200
    # Said once (rate-limited), not once per call.
    warnings = [r for r in caplog.records if "cache unavailable" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert "reads miss and writes are dropped" in warnings[0].getMessage()


def test_the_throttle_fails_open_while_redis_is_down(redis_down, settings):
    """A throttle that cannot count lets the request through (README "Redis down")."""
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {
        **rest["DEFAULT_THROTTLE_RATES"],
        "login_ip": "2/min",
        "login_user": "2/min",
    }
    settings.REST_FRAMEWORK = rest
    user = UserFactory()
    api = APIClient()
    answers = [_token(api, user.username, PASSWORD).status_code for _ in range(4)]
    assert answers == [200] * 4


def test_a_dead_redis_costs_milliseconds(redis_down):
    """Refused connections and the back-off: a hundred calls in well under a second; and the
    socket timeouts a hung Redis would cost are short."""
    options = cache._options  # type: ignore[attr-defined]
    assert options["socket_connect_timeout"] <= 0.5
    assert options["socket_timeout"] <= 0.5
    began = time.monotonic()
    for n in range(100):
        assert cache.get(f"k{n}", "miss") == "miss"
        cache.set(f"k{n}", n)
        assert cache.add(f"lock{n}", 1) is True
        assert cache.incr(f"count{n}") == 1
    assert time.monotonic() - began < 1.0


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_redis_stopped_and_started_again(monkeypatch, tmp_path):
    """A redis-server of the test's own on a spare port: throttled while up, answering while
    stopped, counting again once it is back."""
    port = _spare_port()

    def start() -> subprocess.Popen[bytes]:
        server = subprocess.Popen(  # noqa: S603
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
            + ["--save", "", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return server
            time.sleep(0.05)
        server.kill()
        pytest.fail("redis-server did not start")

    server = start()
    try:
        with override_settings(CACHES=_caches_for(f"rediscache://127.0.0.1:{port}/0", monkeypatch)):
            user = UserFactory()
            api = APIClient()
            assert _token(api, user.username, "wrong").status_code == 400
            assert cache.get_many(["nothing"]) == {}
            server.terminate()
            server.wait(10)
            assert _token(api, user.username, "wrong").status_code == 400
            assert _token(api, user.username, PASSWORD).status_code == 200
            server = start()
            cache.assume_up()  # type: ignore[attr-defined]
            cache.set("back", 1)
            assert cache.get("back") == 1
    finally:
        server.terminate()
        server.wait(10)
