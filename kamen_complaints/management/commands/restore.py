"""`python manage.py restore BACKUP`: a backup (folder or .tar from `manage.py backup`) into
the configured database (DATABASE_URL) and MEDIA_ROOT, then verified (kamen_complaints/
backups.py, docs/backup.md).

    manage.py restore var/backups/kamen-backup-20261202T094500123456Z
    manage.py restore /srv/backups/kamen-backup-….tar --force   # overwrite a non-empty target
    manage.py restore --check     # only the verification, on the database and media as they are
                                  # (after a point-in-time recovery, or any time)

Order: the keys kept with the backup in the environment first (CARD_KEY_KEYS, FINGERPRINT_KEY,
PACKAGE_SIGNING_KEY, BACKUP_SIGNING_KEY) — a backup made with other keys, or whose manifest
does not verify with BACKUP_SIGNING_KEY, is refused before anything is written —
then this command (database → media → verify: every evidence file's SHA-256, row counts,
every encrypted value decrypts, check_ledger), then start web, worker and beat. Web, worker and
beat must be stopped while it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kamen_complaints.backups import BackupError, restore_backup, verify_platform


class Command(BaseCommand):
    help = "Restore a backup into an empty database and media folder, then verify it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("backup", nargs="?", help="the backup folder or .tar")
        parser.add_argument(
            "--force",
            action="store_true",
            help="overwrite a database or MEDIA_ROOT that is not empty (everything in the "
            "database is dropped first)",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="restore nothing: verify the configured database and MEDIA_ROOT as they are",
        )

    def handle(
        self, *args: Any, backup: str | None, force: bool, check: bool, **options: Any
    ) -> None:
        if check:
            if backup:
                raise CommandError("--check verifies what is there: give no backup with it")
            result = verify_platform()
        elif not backup:
            raise CommandError("name the backup folder or .tar to restore (or --check)")
        else:
            try:
                result = restore_backup(Path(backup), force=force, say=self.stdout.write)
            except BackupError as exc:
                raise CommandError(f"restore refused: {exc}") from exc
        self.stdout.write("summary:")
        for line in result.lines:
            self.stdout.write(f"  {line}")
        for warning in result.warnings:
            self.stdout.write(self.style.WARNING(f"  warning: {warning}"))
        if result.problems:
            for problem in result.problems:
                self.stdout.write(self.style.ERROR(f"  {problem}"))
            raise CommandError(
                f"{len(result.problems)} problem(s) found: do not start the platform before "
                "they are understood"
            )
        if check:
            self.stdout.write(self.style.SUCCESS("verified"))
            return
        self.stdout.write(
            self.style.SUCCESS("restore verified: start web, worker and beat (the clock resumes)")
        )
