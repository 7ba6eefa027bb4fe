"""`python manage.py check_ledger`: verify every invariant of the deposit ledger, and that every
past day's channel bills are reconciled (docs/reconciliation.md).

Prints each check and its result; exits non-zero (CommandError) when any is breached."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from escrow.models import Account, LedgerEntry, LedgerTransaction
from escrow.selectors import ledger_check, unreconciled_days


class Command(BaseCommand):
    help = "Verify every ledger invariant; exit non-zero on a breach."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(
            f"ledger: {LedgerTransaction.objects.count()} transactions, "
            f"{LedgerEntry.objects.count()} entries, {Account.objects.count()} accounts"
        )
        failed = 0
        for check in ledger_check():
            if check.ok:
                self.stdout.write(self.style.SUCCESS(f"ok    {check.name}"))
                continue
            failed += 1
            self.stdout.write(self.style.ERROR(f"FAIL  {check.name}"))
            for breach in check.breaches:
                self.stdout.write(f"      {breach}")
        unreconciled = unreconciled_days()
        if unreconciled:
            failed += 1
            self.stdout.write(self.style.ERROR("FAIL  every past day's channel bill reconciled"))
            for day in unreconciled:
                self.stdout.write(f"      {day.channel} {day.day.isoformat()}: {day.why}")
        else:
            self.stdout.write(self.style.SUCCESS("ok    every past day's channel bill reconciled"))
        if failed:
            raise CommandError(f"{failed} ledger invariant(s) breached")
        self.stdout.write(self.style.SUCCESS("ledger clean"))
