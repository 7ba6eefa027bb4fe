"""Two-step login (django-otp): who must pass a second step, and the gate every request goes
through (accounts/middleware.py).

- A staff account must, when settings.STAFF_REQUIRE_2FA is on (every environment but
  development): without an authenticator it is sent to set one up before anything else.
- Any other account (a shop's owner, typically) may turn it on from the "account and security"
  page; from then on it passes the second step at every login.

The second step takes the authenticator's current code or one of the ten one-time recovery
codes given at set-up. Design: docs/security/authentication.md.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_otp import devices_for_user


def has_device(user: Any) -> bool:
    return any(True for _device in devices_for_user(user, confirmed=True))


def required(user: Any) -> bool:
    """A second step is required of `user` even without an authenticator (staff)."""
    return bool(user.is_staff and settings.STAFF_REQUIRE_2FA)


def otpauth_uri(device: Any) -> str:
    return str(device.config_url)


def base32_secret(device: Any) -> str:
    from base64 import b32encode

    return b32encode(device.bin_key).decode()
