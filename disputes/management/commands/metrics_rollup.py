"""`manage.py metrics_rollup`: one rollup run of the metrics' daily figures (what Celery beat
runs every few minutes; the first run backfills every day there is), or `--from D --to D`
to re-roll those days (docs/metrics.md)."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from disputes import metrics_rollup


class Command(BaseCommand):
    help = "Roll up the metrics' daily figures (a run), or re-roll the days --from to --to."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="first", type=date.fromisoformat, default=None)
        parser.add_argument("--to", dest="last", type=date.fromisoformat, default=None)

    def handle(self, *args: Any, first: date | None, last: date | None, **options: Any) -> None:
        start = time.monotonic()
        if first is None and last is None:
            days = metrics_rollup.rollup()
            if days is None:
                raise CommandError("Another rollup run is going on; try again when it ends.")
        elif first is None or last is None:
            raise CommandError("Give both --from and --to, or neither.")
        elif first > last:
            raise CommandError("--from is after --to.")
        else:
            days = metrics_rollup.rebuild(first, last)
        self.stdout.write(f"{days} days rolled up in {time.monotonic() - start:.1f} s")
