"""Compile locale/*/LC_MESSAGES/*.po to .mo with polib: no GNU gettext needed on the machine.

--check fails when a catalogue has an untranslated or fuzzy entry (CI keeps them complete).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Compile .po catalogues to .mo (pure Python); --check refuses incomplete ones."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--check", action="store_true", help="fail on untranslated entries")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        problems: list[str] = []
        count = 0
        for base in settings.LOCALE_PATHS:
            for po_path in sorted(Path(base).glob("*/LC_MESSAGES/*.po")):
                catalogue = polib.pofile(str(po_path))
                if check:
                    missing = [e.msgid for e in catalogue.untranslated_entries()]
                    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
                    for msgid in missing:
                        problems.append(f"{po_path}: untranslated: {msgid!r}")
                    for msgid in fuzzy:
                        problems.append(f"{po_path}: fuzzy: {msgid!r}")
                catalogue.save_as_mofile(str(po_path.with_suffix(".mo")))
                count += 1
        if problems:
            raise CommandError("incomplete translations:\n" + "\n".join(problems))
        self.stdout.write(f"compiled {count} catalogue(s)")
