"""The clock under real processes on PostgreSQL: several sweepers at once, and a sweeper
killed in the middle of a batch. Each process is `manage.py enforce_deadlines` against this
test's database (committed rows: transaction=True); the deadlines are seeded in the past."""

from __future__ import annotations

import signal
import subprocess

import pytest
from django.db.models import Count
from django.utils import timezone

from disputes.models import Dispute, DisputeEvent, EventType, Status
from disputes.selectors import disputes_merchant_overdue
from escrow.models import Hold, HoldStatus, LedgerTransaction, Payout
from tests.disputes.clock_seed import (
    enforced,
    seed_due_complaints,
    sweeper_command,
    sweeper_env,
)
from tests.disputes.factories import check_ledger

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _assert_each_resolved_exactly_once(ids: list[int]) -> None:
    assert Dispute.objects.filter(pk__in=ids, status=Status.RESOLVED).count() == len(ids)
    judgments = (
        DisputeEvent.objects.filter(dispute_id__in=ids, type=EventType.DEFAULT_JUDGMENT)
        .values("dispute_id")
        .annotate(n=Count("id"))
    )
    assert len(judgments) == len(ids) and {j["n"] for j in judgments} == {1}
    moved = LedgerTransaction.objects.filter(dispute_id__in=ids)
    assert moved.filter(key__endswith=":payout").count() == len(ids)
    assert moved.filter(key__endswith=":recovery").count() == len(ids)
    assert moved.count() == 2 * len(ids)
    assert Payout.objects.filter(source_key__endswith=":payout").count() == len(ids)
    assert not Hold.objects.filter(status=HoldStatus.ACTIVE).exists()
    assert disputes_merchant_overdue(timezone.now()).count() == 0
    check_ledger()


def test_four_sweepers_at_once_resolve_2000_complaints_each_exactly_once():
    ids = seed_due_complaints(2000)
    env = sweeper_env()
    sweepers = [
        subprocess.Popen(
            sweeper_command("--batch-size", "50"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=300) for p in sweepers]
    for sweeper, (_out, err) in zip(sweepers, outputs, strict=True):
        assert sweeper.returncode == 0, err
    counts = [enforced(out) for out, _err in outputs]
    assert sum(counts) == 2000, counts
    assert sum(1 for c in counts if c) >= 2, counts  # they really shared the work
    _assert_each_resolved_exactly_once(ids)


def test_a_sweeper_killed_mid_batch_loses_only_that_batch_and_the_next_run_finishes():
    ids = seed_due_complaints(500, shops=4)
    killed = subprocess.run(
        sweeper_command("--batch-size", "100"),
        env=sweeper_env(KAMEN_FAULT_KILL_AFTER_N="250"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # Two batches committed; the third wrote its money and died before committing it.
    assert Dispute.objects.filter(pk__in=ids, status=Status.RESOLVED).count() == 200
    assert LedgerTransaction.objects.filter(dispute_id__in=ids).count() == 400
    assert disputes_merchant_overdue(timezone.now()).count() == 300
    check_ledger()

    again = subprocess.run(
        sweeper_command("--batch-size", "100"),
        env=sweeper_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert enforced(again.stdout) == 300
    _assert_each_resolved_exactly_once(ids)
