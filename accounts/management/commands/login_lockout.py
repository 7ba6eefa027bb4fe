"""See or lift the login lockout of an account (accounts/logins.py).

    manage.py login_lockout buyer1                  # failures and lock of the username alone
    manage.py login_lockout buyer1 --ip 192.0.2.7   # … and of buyer1 from that address
    manage.py login_lockout buyer1 --reset          # unlock buyer1, from every address

The counters live in the cache (CACHE_URL): run it where the web processes' cache is reachable.
Lockouts are also logged (logger accounts.logins, WARNING) with username and address.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts import logins


class Command(BaseCommand):
    help = "Show the login failures and lockout of a username; --reset unlocks it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--ip", help="also show the counter of this client address")
        parser.add_argument(
            "--reset", action="store_true", help="unlock the username from every address"
        )

    def handle(
        self, *args: Any, username: str, ip: str | None, reset: bool, **options: Any
    ) -> None:
        if reset:
            logins.login_lockout_reset(username=username)
            self.stdout.write(f"{username}: unlocked, failures forgotten")
            return
        for status in logins.login_lockout_status(username=username, ip=ip):
            locked = (
                f"locked for {status.locked_seconds} more seconds"
                if status.locked_seconds is not None
                else "not locked"
            )
            self.stdout.write(f"{status.scope}: {status.failures} failure(s), {locked}")
