from typing import Any

import pytest

from tests.sms_outbox import sms_outbox  # noqa: F401 - a fixture (SMS tests)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
