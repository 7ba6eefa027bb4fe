"""Check an evidence package: the platform's signature of its manifest, and every file's size
and SHA-256 against it. Exit status 0 when authentic, 1 (CommandError) with the problems.

    python manage.py verify_package PACKAGE.zip
    python manage.py verify_package PACKAGE.zip --public-key platform-2026.pem
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from disputes.package_signing import inspect_package, load_public_key_pem


class Command(BaseCommand):
    help = "Verify a complaint's evidence package (signature and every file's SHA-256)."
    # Needs neither the database nor the app's checks: a court's copy of the platform can run it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("package", help="the evidence package (.zip)")
        parser.add_argument(
            "--public-key",
            dest="public_key",
            default=None,
            help="PEM file of the platform public key to verify with (default: this "
            "platform's configured key)",
        )

    def handle(self, *args: Any, package: str, public_key: str | None = None, **opts: Any) -> None:
        key = None
        if public_key:
            try:
                key = load_public_key_pem(Path(public_key).read_bytes())
            except OSError as exc:
                raise CommandError(f"cannot read the public key {public_key}: {exc}") from exc
            except (ValueError, TypeError) as exc:
                raise CommandError(
                    f"{public_key} is not an Ed25519 public key in PEM format"
                ) from exc
        try:
            data = Path(package).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {package}: {exc}") from exc

        report = inspect_package(data, public_key=key)
        write = self.stdout.write
        write(f"package: {package}")
        if report.dispute_number:
            write(f"complaint: {report.dispute_number}, created {report.created_at}")
        write(
            f"signature: {'valid' if report.signature_ok else 'INVALID'} "
            f"(Ed25519, key {report.key_id})"
        )
        write(f"{len(report.files)} file(s) checked against the manifest (SHA-256, size, path):")
        for checked in report.files:
            mark = "" if checked.matches else "  <- DOES NOT MATCH THE MANIFEST"
            write(f"  {checked.sha256}  {checked.size:>10}  {checked.path}{mark}")
        if report.problems:
            raise CommandError(
                "the package is NOT authentic:\n"
                + "\n".join(f"  - {problem}" for problem in report.problems)
            )
        write(self.style.SUCCESS("authentic: the signature and every file's hash match"))
