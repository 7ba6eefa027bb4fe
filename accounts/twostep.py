"""Two-step login (django-otp): who must pass a second step, and the gate every request goes
through (accounts/middleware.py).

- A staff account must, when settings.STAFF_REQUIRE_2FA is on (every environment but
  development): without an authenticator it is sent to set one up before anything else.
- Any other account (a shop's owner, typically) may turn it on from the "account and security"
  page; from then on it passes the second step at every login. It may turn it off again with
  its password and a current code (accounts.services.twostep_turn_off): so may a staff account
  while STAFF_REQUIRE_2FA is off, never while it is on.

The second step takes the authenticator's current code or one of the ten one-time recovery
codes given at set-up. Design: docs/security/authentication.md.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.safestring import SafeString, mark_safe
from django_otp import devices_for_user


def has_device(user: Any) -> bool:
    return any(True for _device in devices_for_user(user, confirmed=True))


def required(user: Any) -> bool:
    """A second step is required of `user` even without an authenticator (staff)."""
    return bool(user.is_staff and settings.STAFF_REQUIRE_2FA)


def may_turn_off(user: Any) -> bool:
    """`user` has two-step login on and may turn it off: it is not required of them."""
    return has_device(user) and not required(user)


def otpauth_uri(device: Any) -> str:
    return str(device.config_url)


def otpauth_qr(device: Any, *, title: str) -> SafeString:
    """The otpauth URI as a QR code to scan from the screen at a desk: inline SVG drawn on the
    server (segno), so it needs no script, no image request and no inline style (CSP)."""
    import segno

    code = segno.make(otpauth_uri(device), error="m")
    svg = code.svg_inline(
        scale=4, border=4, title=title, svgclass="totp-qr", lineclass=None, light="#fff"
    )
    return mark_safe(svg)  # noqa: S308 - segno's own markup of our URI, the title escaped by it


def base32_secret(device: Any) -> str:
    """The key in groups of four ("4GD2 7HEJ …"), as a person copies it into an
    authenticator app (which ignores the spaces)."""
    from base64 import b32encode

    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))
