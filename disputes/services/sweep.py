"""The clock's sweep: one pass over every due deadline, reminder and undelivered message.

Run every SWEEP_INTERVAL_SECONDS by one Celery beat task (`disputes.tasks.deadlines_sweep`)
and by hand with `python manage.py enforce_deadlines`. For each clock it takes batches of due
complaints — `SELECT … WHERE status = X AND due <= %(now)s ORDER BY due FOR UPDATE SKIP
LOCKED LIMIT n` on a partial index, `now` being the application's clock — and acts on each
batch in one transaction (disputes.services.clock.enforce). So:

- several sweepers at once share the work (each skips the rows another holds);
- a sweeper killed mid-batch loses only its uncommitted batch, which the next sweep redoes;
- a sweep delivered twice finds nothing left to do the second time;
- an idle sweep is a handful of index look-ups that find nothing, whatever the history.

A batch that fails is retried complaint by complaint, so one bad complaint cannot hold back
the others (it is logged and skipped until the next sweep).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from disputes.models import ClockRun
from disputes.services import clock as clocks
from disputes.services import reminders as reminding
from disputes.services.auto import auto_checks_sweep
from disputes.services.channel_complaints import channel_complaint_pushes_plan
from disputes.services.collective import collective_cases_sweep
from disputes.services.notifications import notifications_send_pending
from disputes.services.shop_notices import shops_warn_verification_expiring

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100


@dataclass
class SweepReport:
    started_at: datetime
    finished_at: datetime | None = None
    now: datetime | None = None
    enforced: dict[str, int] = field(default_factory=dict)
    reminded: dict[str, int] = field(default_factory=dict)
    notifications_sent: int = 0
    auto_checks: dict[str, int] = field(default_factory=dict)
    collective: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    batches: int = 0
    complete: bool = True  # False: stopped at its time budget; the next sweep continues

    def as_dict(self) -> dict[str, Any]:
        return {
            "enforced": dict(self.enforced),
            "reminded": dict(self.reminded),
            "notifications_sent": self.notifications_sent,
            "auto_checks": dict(self.auto_checks),
            "collective": dict(self.collective),
            "failed": self.failed,
            "batches": self.batches,
            "complete": self.complete,
            "seconds": round(
                ((self.finished_at or timezone.now()) - self.started_at).total_seconds(), 3
            ),
        }


# --- Test-only fault injection --------------------------------------------------------------
#
# KAMEN_FAULT_KILL_AFTER_N=N makes this process SIGKILL itself inside the batch that takes it
# to N complaints acted on, after the batch's money was written and before anything committed —
# the moment a real crash would hurt most. It fires only against a test database (a database
# whose name starts with "test", which pytest-django creates); anywhere else it is ignored.

_fault_count = 0


def _fault_limit() -> int | None:
    raw = os.environ.get("KAMEN_FAULT_KILL_AFTER_N", "")
    if not raw:
        return None
    name = Path(str(connection.settings_dict.get("NAME") or "")).name
    if not name.startswith("test"):
        logger.error("KAMEN_FAULT_KILL_AFTER_N ignored: %s is not a test database", name)
        return None
    return int(raw)


def fault_point(count: int) -> None:
    global _fault_count
    limit = _fault_limit()
    if limit is None:
        return
    _fault_count += count
    if _fault_count >= limit:
        logger.warning("fault injection: SIGKILL after %s complaints", _fault_count)
        os.kill(os.getpid(), signal.SIGKILL)


# --- The sweep ------------------------------------------------------------------------------


def _batch_size(batch_size: int | None) -> int:
    return max(1, batch_size or getattr(settings, "SWEEP_BATCH_SIZE", DEFAULT_BATCH_SIZE))


def _out_of_time(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _sweep_clock(
    clock: str,
    *,
    now: datetime,
    size: int,
    deadline: float | None,
    max_batches: int | None,
    report: SweepReport,
) -> None:
    failed: set[int] = set()
    batches = 0
    appeal_days: dict[str, int] = {}  # the policy's appeal window, read once per sweep
    while True:
        if _out_of_time(deadline) or (max_batches is not None and batches >= max_batches):
            report.complete = False
            return
        batches += 1
        try:
            with transaction.atomic():
                rows = clocks.lock_due(clock, now=now, limit=size, exclude=sorted(failed))
                if not rows:
                    return
                acted = clocks.enforce(clock, rows, now=now, appeal_days=appeal_days)
        except SoftTimeLimitExceeded:
            raise  # the batch rolled back; the next sweep redoes it
        except Exception:
            logger.exception("%s batch failed; retrying its complaints one by one", clock)
            acted = _one_by_one(clock, now=now, size=size, failed=failed, report=report)
        else:
            report.batches += 1
        report.enforced[clock] = report.enforced.get(clock, 0) + acted
        if acted == 0 and not failed:
            return  # nothing changed: leave the rest to the next sweep rather than spin


def _one_by_one(
    clock: str, *, now: datetime, size: int, failed: set[int], report: SweepReport
) -> int:
    ids = list(
        clocks.OVERDUE[clock](now)
        .exclude(pk__in=sorted(failed))
        .values_list("pk", flat=True)[:size]
    )
    acted = 0
    for pk in ids:
        try:
            acted += clocks.enforce_one(clock, pk, skip_locked=True)
        except Exception:
            logger.exception("complaint %s: %s clock could not be enforced", pk, clock)
            failed.add(pk)
            report.failed += 1
    return acted


def _sweep_reminders(
    clock: str, *, now: datetime, size: int, deadline: float | None, report: SweepReport
) -> None:
    while not _out_of_time(deadline):
        try:
            with transaction.atomic():
                rows = reminding.lock_due(clock, now=now, limit=size)
                if not rows:
                    return
                sent = reminding.remind(clock, rows, now=now)
        except Exception:
            logger.exception("%s reminders failed; the next sweep tries again", clock)
            report.failed += 1
            return
        report.reminded[clock] = report.reminded.get(clock, 0) + sent
    report.complete = False


def deadlines_sweep(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    clocks_to_sweep: tuple[str, ...] = clocks.CLOCKS,
    reminders: bool = True,
    drain: bool = True,
    max_seconds: float | None = None,
    max_batches: int | None = None,
    record: bool = True,
    auto_checks: bool = True,
) -> SweepReport:
    """One sweep: every due deadline (default judgments, offer lapses, review expiries, info
    lapses), then the automatic checks still to ask or decide (`auto_checks`), then the
    reminders, then the outbox's undelivered messages. `now` defaults to `timezone.now()`
    (time-machine moves it); `max_seconds` bounds the run (the rest is left to the next
    sweep). Records its run for the health line."""
    report = SweepReport(started_at=timezone.now())
    moment = now or report.started_at
    report.now = moment
    size = _batch_size(batch_size)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    for clock in clocks_to_sweep:
        report.enforced.setdefault(clock, 0)
        _sweep_clock(
            clock, now=moment, size=size, deadline=deadline, max_batches=max_batches, report=report
        )
    if auto_checks and not _out_of_time(deadline):
        # The automatic checks a task on commit could not finish (a lost task, an upstream
        # that timed out or is still working): asked again in batches, SKIP LOCKED.
        try:
            report.auto_checks = auto_checks_sweep(now=moment, size=size, deadline=deadline)
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            logger.exception("automatic checks failed; the next sweep tries again")
            report.failed += 1
    if auto_checks and not _out_of_time(deadline):
        # Collective cases: open those due, ask what is still to ask, settle
        # (disputes/services/collective.py).
        try:
            report.collective = collective_cases_sweep(now=moment, deadline=deadline)
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            logger.exception("collective cases failed; the next sweep tries again")
            report.failed += 1
    if auto_checks and not _out_of_time(deadline):
        # Complaints filed on a payment channel: queue what the channel is to be told of
        # their cases (a reply, the refund decision, complete); orders' outbox sends it.
        try:
            with transaction.atomic():
                channel_complaint_pushes_plan()
        except Exception:
            logger.exception("channel complaint pushes failed; the next sweep tries again")
            report.failed += 1
    if reminders:
        for clock in reminding.CLOCKS:
            report.reminded.setdefault(clock, 0)
            _sweep_reminders(clock, now=moment, size=size, deadline=deadline, report=report)
    if reminders and not _out_of_time(deadline):
        # Shops whose real-name verification runs out soon are told once (shop_notices).
        try:
            report.reminded["verification_expiring"] = shops_warn_verification_expiring(now=moment)
        except Exception:
            logger.exception("verification warnings failed; the next sweep tries again")
            report.failed += 1
    if drain and not _out_of_time(deadline):
        report.notifications_sent = notifications_send_pending(now=timezone.now())
    report.finished_at = timezone.now()
    if record:
        _record(report)
    did = (
        any(report.enforced.values())
        or any(report.reminded.values())
        or any(report.auto_checks.values())
        or any(report.collective.values())
        or report.failed
    )
    logger.log(logging.INFO if did else logging.DEBUG, "deadlines sweep: %s", report.as_dict())
    return report


def _record(report: SweepReport) -> None:
    """The health line's source: one row, last writer wins (sweepers may overlap)."""
    assert report.finished_at is not None  # noqa: S101 - set just before
    try:
        ClockRun.objects.bulk_create(
            [
                ClockRun(
                    pk=1,
                    started_at=report.started_at,
                    finished_at=report.finished_at,
                    counts=report.as_dict(),
                )
            ],
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=["started_at", "finished_at", "counts"],
        )
    except Exception:  # the health line must never fail the sweep
        logger.exception("could not record the sweep's run")
