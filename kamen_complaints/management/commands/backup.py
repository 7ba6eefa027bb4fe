"""`python manage.py backup`: one consistent backup of the database and the evidence files,
with a manifest and the fingerprints of the keys it needs (kamen_complaints/backups.py,
docs/backup.md).

    manage.py backup                              # into $KAMEN_VAR_DIR/backups (var/backups)
    manage.py backup --output /srv/backups --tar  # one .tar file
    manage.py backup --no-media                   # evidence in a bucket backed up on its own

Safe while web, worker and beat run. Prints where the backup is; exits non-zero when it could
not be written, or when it was written but an evidence file is missing or changed in
MEDIA_ROOT (the manifest lists them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kamen_complaints.backups import BackupError, create_backup


class Command(BaseCommand):
    help = "Back up the database and the evidence files into one folder (or .tar) with a manifest."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--output",
            default=None,
            help="folder the backup is written in (default: KAMEN_VAR_DIR/backups)",
        )
        parser.add_argument("--tar", action="store_true", help="write one .tar instead of a folder")
        parser.add_argument(
            "--no-media",
            action="store_true",
            help="leave the evidence files out (stored in a bucket backed up separately)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        output = Path(options["output"] or Path(settings.VAR_DIR) / "backups")
        try:
            result = create_backup(
                output,
                tar=options["tar"],
                media=not options["no_media"],
                say=self.stdout.write,
            )
        except BackupError as exc:
            raise CommandError(f"backup failed: {exc}") from exc
        manifest = result.manifest
        media = manifest["media"]
        self.stdout.write(
            f"database: {manifest['database']['vendor']} "
            f"{manifest['database']['server_version']}, {manifest['database']['size']} bytes, "
            f"{len(manifest['counts'])} tables"
        )
        self.stdout.write(f"media: {media['count']} file(s), {media['bytes']} bytes")
        self.stdout.write(f"evidence: {manifest['evidence']['count']} row(s) checked")
        self.stdout.write(
            "keys to keep with it (KEYS.txt, fingerprints only): "
            "CARD_KEY_KEYS, FINGERPRINT_KEY, PACKAGE_SIGNING_KEY"
        )
        if result.problems:
            for problem in result.problems:
                self.stdout.write(self.style.ERROR(f"  {problem}"))
            raise CommandError(
                f"backup written to {result.path}, but {len(result.problems)} problem(s) found "
                "(listed above and in its manifest)"
            )
        self.stdout.write(self.style.SUCCESS(f"backup written: {result.path}"))
