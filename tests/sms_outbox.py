"""The SMS sandbox's outbox for a test: settings.VAR_DIR moved to the test's own directory, and
what the sandbox provider wrote there (var/sms/outbox.jsonl), one dict per message.

    from tests.sms_outbox import sms_outbox  # noqa: F401 (fixture)

    def test_…(sms_outbox):
        … sms_outbox()[-1]["params"]["code"]
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def sms_outbox(settings: Any, tmp_path: Path) -> Callable[[], list[dict[str, Any]]]:
    settings.VAR_DIR = tmp_path
    settings.SMS_PROVIDER = "sandbox"
    path = tmp_path / "sms" / "outbox.jsonl"

    def read() -> list[dict[str, Any]]:
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    return read
