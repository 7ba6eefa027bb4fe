"""Print the platform's public key for evidence packages (PEM), to give to a court or 12315
so they can check a package without trusting the copy inside it:

    python manage.py package_public_key > kamen-complaints-package-key.pem
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from disputes import package_signing


class Command(BaseCommand):
    help = "Print the public key that verifies evidence packages (PEM)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--key-id", action="store_true", help="print the key id instead of the PEM"
        )

    def handle(self, *args: Any, key_id: bool = False, **options: Any) -> None:
        if key_id:
            self.stdout.write(package_signing.key_id(package_signing.platform_public_key()))
            return
        self.stdout.write(package_signing.public_key_pem(), ending="")
