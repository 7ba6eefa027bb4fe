"""The desk's money actions as production runs them: no test transaction around the request
(PostgreSQL; the balanced-legs trigger is deferred to commit, so a service without its own
transaction fails here). A ruling, a ruling carried out by a second arbitrator, and a recovery
decision, each through the admin test client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.urls import reverse

from disputes import services
from disputes.models import Policy, Status
from kamen_complaints.models import Approval
from tests.disputes.factories import check_ledger, deposit, funded_order, under_review
from tests.factories import ProductFactory, StaffFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _policy() -> None:
    # A transactional test flushes the seeded default policy; put it back.
    if not Policy.objects.filter(product_kind="").exists():
        Policy.objects.create(
            product_kind="",
            effective_from=datetime(1970, 1, 1, tzinfo=UTC),
            published_at=datetime(2020, 1, 1, tzinfo=UTC),
        )


def arbiter() -> User:
    user = StaffFactory()
    user.groups.add(Group.objects.get(name="arbitrator"))
    return User.objects.get(pk=user.pk)


def _action(dispute, action: str) -> str:
    return reverse("admin:disputes_dispute_case_action", args=[dispute.pk, action])


def test_a_ruling_commits_balanced(client):
    dispute = under_review()
    before = deposit(dispute.merchant).balance
    client.force_login(arbiter())
    response = client.post(
        _action(dispute, "rule"),
        {"outcome": "refunded", "reason": "invalid key", "recover_from_merchant": "1"},
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED
    assert deposit(dispute.merchant).balance == before - dispute.claimed_amount
    check_ledger()


def test_a_ruling_approved_by_a_second_arbitrator_commits_balanced(client):
    dispute = under_review(
        order=funded_order(
            product=ProductFactory(price=Decimal("6000.00")), deposit_amount=Decimal("10000.00")
        )
    )
    client.force_login(arbiter())
    client.post(
        _action(dispute, "rule"),
        {"outcome": "refunded", "reason": "invalid key", "recover_from_merchant": "1"},
    )
    approval = Approval.objects.get()
    client.force_login(arbiter())
    response = client.post(
        reverse("admin:kamen_complaints_approval_approve", args=[approval.pk]), {"reason": "ok"}
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.paid_out == dispute.claimed_amount
    check_ledger()


def test_a_recovery_decision_commits_balanced(client):
    dispute = under_review()
    with time_machine.travel(dispute.review_due + timedelta(seconds=1), tick=False):
        assert services.dispute_review_expire(dispute=dispute)
    client.force_login(arbiter())
    response = client.post(
        _action(dispute, "recovery"), {"bears": "merchant", "reason": "key invalid"}
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert not dispute.recovery_pending and dispute.recovered == dispute.claimed_amount
    check_ledger()
