"""Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

Browser tests are marked `browser`; tests/conftest.py skips them when Chromium is absent (an
error under CI=true). Screenshots go to $KAMEN_SCREENSHOT_DIR (default <tmp>/kc-screenshots)
so a person can look at the pages the tests saw.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in the test's thread; Django refuses ORM calls
# from a thread with a running loop unless told that this is deliberate.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

# The same path tests/conftest.py checks before it lets browser tests run.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshot_dir() -> Path:
    default = Path(tempfile.gettempdir()) / "kc-screenshots"
    folder = Path(os.environ.get("KAMEN_SCREENSHOT_DIR", default))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _new_page(chromium: Any, live_server: Any, **context_options: Any) -> Iterator[Any]:
    context = chromium.new_context(base_url=live_server.url, **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """A desktop-sized page of a browser set to Chinese; the clipboard is allowed so copy
    buttons can be checked."""
    yield from _new_page(
        chromium,
        live_server,
        locale="zh-CN",
        viewport={"width": 1280, "height": 860},
        permissions=["clipboard-read", "clipboard-write"],
    )


@pytest.fixture
def phone_page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """A phone-sized page (390 × 844, touch), to check the layout on mobile."""
    yield from _new_page(
        chromium,
        live_server,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
