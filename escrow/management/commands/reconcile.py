"""`python manage.py reconcile --date YYYY-MM-DD [--channel alipay|wechatpay]`: compare the
channels' bills of that day with the ledger (docs/reconciliation.md). Running it again for a
date gives the same rows. Exits non-zero when a bill could not be had."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from escrow.models import ReconciliationStatus
from escrow.services.reconciliation import channels_to_reconcile, reconcile_day


class Command(BaseCommand):
    help = "Reconcile the payment channels' bills of a day with the ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", required=True, help="the bill's day, YYYY-MM-DD")
        parser.add_argument("--channel", default="", help="one channel (default: every one)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            day = date.fromisoformat(options["date"])
        except ValueError as exc:
            raise CommandError(f"--date: {options['date']!r} is not YYYY-MM-DD") from exc
        channel = options["channel"]
        configured = channels_to_reconcile()
        if channel and channel not in configured:
            raise CommandError(f"--channel: {channel!r} is not configured ({configured})")
        if not configured:
            raise CommandError("no payment channel with a bill is configured")
        failed = 0
        for outcome in reconcile_day(day=day, channel=channel):
            line = (
                f"{outcome.channel} {outcome.day}: {outcome.status}, "
                f"{outcome.matched} matched, {outcome.differences} difference(s)"
            )
            if outcome.status == ReconciliationStatus.FAILED:
                failed += 1
                self.stdout.write(self.style.ERROR(f"{line}: {outcome.error}"))
            elif outcome.differences:
                self.stdout.write(self.style.WARNING(line))
            else:
                self.stdout.write(self.style.SUCCESS(line))
        if failed:
            raise CommandError(f"{failed} bill(s) could not be had")
