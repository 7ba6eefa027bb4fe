"""Automatic outcomes exactly once, with real transactions on PostgreSQL (a test wrapped in
one transaction could not see a missing lock): the checks' task delivered twice at the same
moment, two sweepers at once, the task racing the merchant's own answer, and the task on
commit running for real after the filing commits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from disputes import services, tasks
from disputes.models import AutoCheck, CheckDecision, CheckStatus, DecidedBy, Dispute, Status
from disputes.services import auto
from escrow.models import LedgerTransaction, TransactionKind
from tests.disputes.auto_helpers import auto_events, file_topup, key_order, topup_order
from tests.disputes.factories import check_ledger, file
from tests.disputes.test_concurrency import _race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal


@pytest.fixture
def task_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The task on commit never reaches a worker: the test runs it (or the sweep) itself."""
    monkeypatch.setattr(auto, "_publish_run", lambda dispute_id: None)


def _one_outcome(dispute: Dispute) -> None:
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.decided_by == DecidedBy.SYSTEM
    assert len(auto_events(dispute)) == 1
    assert (
        LedgerTransaction.objects.filter(
            dispute_id=dispute.pk, kind=TransactionKind.COMPENSATION_PAYOUT
        ).count()
        == 1
    )
    assert (
        LedgerTransaction.objects.filter(
            dispute_id=dispute.pk, kind=TransactionKind.RECOVERY
        ).count()
        == 1
    )
    assert dispute.paid_out == dispute.recovered == dispute.claimed_amount


def test_the_task_on_commit_decides_after_the_filing_commits():
    dispute = file_topup(topup_order("13912341111"))  # on commit runs for real (eager)
    _one_outcome(dispute)
    check_ledger()


def test_a_task_delivered_twice_at_once_decides_once(task_lost):
    disputes = [file(key_order(f"GAME-PREUSED-{i:04d}")) for i in range(3)]
    for dispute in disputes:
        results = _race(*[lambda d=dispute: tasks.dispute_auto_checks(d.pk)] * 2)
        assert not [r for r in results if isinstance(r, Exception)], results
        assert sum(r["decided"] for r in results) == 1, results
        _one_outcome(dispute)
    check_ledger()


def test_two_sweepers_at_once_ask_each_check_once_and_decide_once(task_lost):
    disputes = [file_topup(topup_order(f"139{i:04d}1111")) for i in range(4)]
    disputes += [file(key_order(f"GAME-UNKNOWN-{i:04d}")) for i in range(4)]
    results = _race(
        lambda: services.deadlines_sweep(batch_size=3),
        lambda: services.deadlines_sweep(batch_size=3),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    asked = sum(r.auto_checks["asked"] for r in results)
    assert asked == AutoCheck.objects.count() == 12  # 4 top-ups; 4 keys × issuer, deliveries
    assert sum(r.auto_checks["decided"] for r in results) == 8
    for dispute in disputes:
        _one_outcome(dispute)
    assert not AutoCheck.objects.filter(status=CheckStatus.PENDING).exists()
    check_ledger()


def test_the_task_racing_the_merchants_acceptance_makes_one_outcome(task_lost):
    for i in range(3):
        dispute = file_topup(topup_order(f"138{i:04d}1111"))
        results = _race(
            lambda d=dispute: tasks.dispute_auto_checks(d.pk),
            lambda d=dispute: services.dispute_respond(
                dispute=d, merchant_user=d.merchant.owner, action="accept", remedy="refund"
            ),
        )
        dispute.refresh_from_db()
        assert dispute.status == Status.RESOLVED
        payouts = LedgerTransaction.objects.filter(
            dispute_id=dispute.pk, kind=TransactionKind.COMPENSATION_PAYOUT
        )
        assert payouts.count() == 1, results
        if dispute.decided_by == DecidedBy.SYSTEM:
            # The merchant came second and was refused: the complaint was already decided.
            refused = [r for r in results if isinstance(r, Exception)]
            assert len(refused) == 1 and refused[0].code == "not_allowed_in_state"
        else:
            assert dispute.decided_by == DecidedBy.MERCHANT
            check = AutoCheck.objects.get(dispute=dispute)
            assert check.decision == CheckDecision.ALREADY_DECIDED
            assert not auto_events(dispute)
    check_ledger()
