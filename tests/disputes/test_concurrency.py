"""Races on PostgreSQL: two requests at once get one outcome and one clear refusal."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from disputes import services
from disputes.models import Dispute, Status
from escrow.models import LedgerTransaction
from kamen_complaints.errors import DomainError
from tests.disputes.factories import check_ledger, file, funded_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(*works: Callable[[], Any]) -> list[Any]:
    """Run the callables at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(works))
    results: list[Any] = []
    lock = threading.Lock()

    def run(work: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            outcome: Any = work()
        except Exception as exc:
            outcome = exc
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_filings_at_once_make_one_complaint_and_one_clear_refusal():
    order = funded_order()
    results = _race(*[lambda: file(order, claimed_amount=Decimal("10.00"))] * 2)
    made = [r for r in results if isinstance(r, Dispute)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(made) == 1 and len(refused) == 1, results
    assert refused[0].code == "complaint_exists"
    assert Dispute.objects.filter(order=order).count() == 1
    check_ledger()


def test_two_acceptances_at_once_move_money_once():
    dispute = file()
    owner = dispute.merchant.owner
    results = _race(
        *[
            lambda: services.dispute_respond(
                dispute=dispute, merchant_user=owner, action="accept", remedy="refund"
            )
        ]
        * 2
    )
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1 and refused[0].code == "not_allowed_in_state", results
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED
    assert LedgerTransaction.objects.filter(key=f"dispute:{dispute.pk}:payout").count() == 1
    check_ledger()


def test_the_merchant_answer_and_the_clock_racing_give_one_outcome(time_machine):
    dispute = file()
    owner = dispute.merchant.owner
    time_machine.move_to(dispute.merchant_response_due, tick=False)

    results = _race(
        lambda: services.dispute_default_judgment(dispute=dispute),
        lambda: services.dispute_respond(
            dispute=dispute, merchant_user=owner, action="accept", remedy="refund"
        ),
    )
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED
    resolutions = dispute.events.filter(to_status=Status.RESOLVED).exclude(
        from_status=Status.RESOLVED
    )
    assert resolutions.count() == 1, results
    assert LedgerTransaction.objects.filter(key=f"dispute:{dispute.pk}:payout").count() == 1
    check_ledger()
