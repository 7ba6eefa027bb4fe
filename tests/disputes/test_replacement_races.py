"""A replaced key and a full refund, on PostgreSQL with real transactions (docs/money.md
"Replacement keys"): the clock's set-based batch (its SQL casts are PostgreSQL's) and a staff
ruling racing it each count the replacement, whichever commits first."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from disputes import services
from disputes.models import Dispute, Outcome, Status
from kamen_complaints.errors import DomainError
from tests.disputes.factories import arbitrator, check_ledger
from tests.disputes.test_concurrency import _race
from tests.disputes.test_replacement_money import _appealed, _given_back, _replaced

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal


def _due(dispute: Dispute, time_machine) -> None:
    dispute.refresh_from_db()
    time_machine.move_to(dispute.review_due + timedelta(seconds=1), tick=False)


def test_the_sweep_after_an_appeal_against_replaced_pays_nothing_for_the_replaced_key(
    time_machine,
):
    dispute = _appealed(_replaced())
    _due(dispute, time_machine)
    assert services.deadlines_sweep().enforced["review"] == 1
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.outcome == Outcome.REFUNDED
    assert dispute.paid_out == D("0.00")
    assert _given_back(dispute.order) == D("0.00")
    check_ledger()


@pytest.mark.parametrize("replacement_bad", [False, True], ids=["replacement-stands", "bad-too"])
def test_a_ruling_racing_the_review_clock_counts_the_replacement_either_way(
    time_machine, replacement_bad
):
    dispute = _appealed(_replaced())
    staff = arbitrator()
    _due(dispute, time_machine)
    results = _race(
        lambda: services.deadlines_sweep(),
        lambda: services.dispute_rule(
            dispute=dispute,
            staff=staff,
            outcome=Outcome.REFUNDED,
            reason="Looked again.",
            **({"replacement_bad": True} if replacement_bad else {}),
        ),
    )
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    assert not unexpected, results
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED
    ruled = any(isinstance(r, Dispute) for r in results)
    # Only a ruling that found the replacement bad pays the key in money; never twice.
    expected = D("30.00") if ruled and replacement_bad else D("0.00")
    assert dispute.paid_out == expected
    assert _given_back(dispute.order) + dispute.replaced_value <= dispute.order.amount
    assert _given_back(dispute.order) == expected
    check_ledger()
