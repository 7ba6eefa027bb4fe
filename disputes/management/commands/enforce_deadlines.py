"""`python manage.py enforce_deadlines`: one sweep of every due deadline, now.

The same sweep Celery beat runs every SWEEP_INTERVAL_SECONDS (disputes.tasks.deadlines_sweep);
safe to run beside it (the sweepers share the work, nothing happens twice). Prints what it
did, per clock."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from disputes.services import deadlines_sweep

LABELS = {
    "merchant": "default judgments (merchant silent)",
    "buyer": "offers accepted by silence (buyer silent)",
    "review": "platform paid first (review deadline passed)",
    "info": "review clocks resumed (information not given)",
}
REMINDER_LABELS = {
    "merchant": "reminders to merchants",
    "buyer": "reminders to buyers",
    "review": "reminders to staff",
}


class Command(BaseCommand):
    help = "Enforce every due complaint deadline now (one sweep) and print what was done."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--max-seconds", type=float, default=None, help="stop after this long")
        parser.add_argument(
            "--no-drain", action="store_true", help="do not send the outbox's pending messages"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = deadlines_sweep(
            batch_size=options["batch_size"],
            max_seconds=options["max_seconds"],
            drain=not options["no_drain"],
        )
        for clock, label in LABELS.items():
            self.stdout.write(f"{report.enforced.get(clock, 0):8d}  {label}")
        for clock, label in REMINDER_LABELS.items():
            self.stdout.write(f"{report.reminded.get(clock, 0):8d}  {label}")
        self.stdout.write(f"{report.notifications_sent:8d}  pending notifications sent")
        summary = report.as_dict()
        line = f"sweep done in {summary['seconds']} s, {report.batches} batch(es)"
        if report.failed:
            self.stdout.write(self.style.ERROR(f"{line}; {report.failed} failed (see the log)"))
        elif not report.complete:
            self.stdout.write(self.style.WARNING(f"{line}; stopped early, more is due"))
        else:
            self.stdout.write(self.style.SUCCESS(line))
