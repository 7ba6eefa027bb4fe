"""Collective cases exactly once, with real transactions on PostgreSQL (a test wrapped in one
transaction could not see a missing lock): two sweepers at once, the task after an outcome
delivered twice at the same moment, the task racing a sweeper, and the check task delivered
twice — one case opens, each bad order is refunded once, the ledger stays balanced
(docs/collective-cases.md)."""

from __future__ import annotations

from typing import Any

import pytest

from disputes import services, tasks
from disputes.models import CollectiveCase, CollectiveOrder, CollectiveStatus, Dispute, Status
from disputes.services import collective
from escrow.models import LedgerTransaction, Payout, TransactionKind
from orders.models import Order
from tests.disputes.factories import check_ledger, file
from tests.disputes.test_collective import PRICE, _bad_batch
from tests.disputes.test_concurrency import _race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tasks_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The collective tasks published on commit never reach a worker: the test runs them (or
    the sweep) itself, at the same moment."""
    monkeypatch.setattr(collective, "_publish_consider", lambda dispute_id: None)
    monkeypatch.setattr(collective, "_publish_check", lambda case_id: None)


def _three_upheld() -> tuple[list[Order], list[Dispute]]:
    """20 keys, the first 6 unknown to the issuer, 10 sold; the first 3 buyers complain and
    the automatic check (its task on commit, for real) upholds each."""
    _product, _batch, orders = _bad_batch(sold=10)
    disputes = [file(order) for order in orders[:3]]
    for dispute in disputes:
        dispute.refresh_from_db()
        assert dispute.status == Status.RESOLVED
    assert not CollectiveCase.objects.exists()
    return orders, disputes


def _settled_once(orders: list[Order], disputes: list[Dispute]) -> CollectiveCase:
    case = CollectiveCase.objects.get()
    assert case.status == CollectiveStatus.SETTLED
    assert CollectiveOrder.objects.filter(case=case).count() == 10
    assert set(case.members.values_list("pk", flat=True)) == {d.pk for d in disputes}
    # The complainants: paid once, by their complaints.
    for order, dispute in zip(orders[:3], disputes, strict=True):
        keys = list(Payout.objects.filter(order=order).values_list("source_key", flat=True))
        assert keys == [f"dispute:{dispute.pk}:payout"]
    # The other 3 bad keys: one payout and one recovery each, by the case.
    for order in orders[3:6]:
        keys = list(Payout.objects.filter(order=order).values_list("source_key", flat=True))
        assert keys == [f"collective:{case.pk}:{order.pk}:payout"]
        order.refresh_from_db()
        assert order.refund_reserved + order.refunded_amount == PRICE
    for order in orders[6:]:
        assert not Payout.objects.filter(order=order).exists()
    moved = LedgerTransaction.objects.filter(key__startswith=f"collective:{case.pk}:")
    assert moved.count() == 6
    assert moved.filter(kind=TransactionKind.RECOVERY).count() == 3
    assert case.refunded_count == 3 and case.refunded_amount == 3 * PRICE
    check_ledger()
    return case


def _no_errors(results: list[Any]) -> None:
    assert not [r for r in results if isinstance(r, Exception)], results


def test_two_sweepers_at_once_open_one_case_and_refund_each_order_once(tasks_lost):
    orders, disputes = _three_upheld()
    results = _race(services.deadlines_sweep, services.deadlines_sweep)
    _no_errors(results)
    # Whatever one sweeper left (its rival held the rows), the next sweep finishes.
    services.deadlines_sweep()
    _settled_once(orders, disputes)


def test_the_task_delivered_twice_at_once_opens_one_case(tasks_lost):
    orders, disputes = _three_upheld()
    results = _race(*[lambda: tasks.collective_consider(disputes[2].pk)] * 2)
    _no_errors(results)
    assert sorted(results) == [0, 1]
    case = CollectiveCase.objects.get()
    assert case.status == CollectiveStatus.CHECKING
    # The check task, delivered twice at once: asked and settled once.
    results = _race(*[lambda: tasks.collective_case_check(case.pk)] * 2)
    _no_errors(results)
    assert sum(r["settled"] for r in results) == 1, results
    assert sum(r["asked"] for r in results) == 10, results
    _settled_once(orders, disputes)


def test_the_task_racing_a_sweeper_opens_one_case(tasks_lost):
    orders, disputes = _three_upheld()
    results = _race(
        lambda: tasks.collective_consider(disputes[0].pk),
        services.deadlines_sweep,
    )
    _no_errors(results)
    assert CollectiveCase.objects.count() == 1
    results = _race(
        lambda: tasks.collective_case_check(CollectiveCase.objects.get().pk),
        services.deadlines_sweep,
    )
    _no_errors(results)
    services.deadlines_sweep()
    _settled_once(orders, disputes)
