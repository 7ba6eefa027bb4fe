"""The queries of the three slowest API paths of the capacity run (docs/benchmarks.md
"Capacity", "Made faster"): filing a complaint with an image, the merchant accepting it, staff
ruling on a contested one. Each is pinned at what it sends now, so a read that comes back twice
fails here; `python -m bench fastpath` measures the same paths' time.

Counted inside the test's transaction, so the figures differ from the bench's: each
transaction of the services is a savepoint here (two statements, where the bench counts BEGIN
and COMMIT once), nothing runs on commit, and the caller is authenticated on the request (no
session read)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from disputes.models import Dispute, Outcome, Policy, Status
from disputes.selectors import policy_for
from tests.disputes.factories import arbitrator, contest, file, funded_order, png

pytestmark = pytest.mark.django_db

# Counted the same way on the code before (c03c810): filing 51, accepting 58, ruling 60.
FILING_QUERIES = 44
ACCEPT_QUERIES = 50
RULE_QUERIES = 54


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_filing_with_an_image(django_assert_max_num_queries):
    order = funded_order()
    client = client_for(order.buyer)
    with django_assert_max_num_queries(FILING_QUERIES):
        response = client.post(
            "/api/v1/disputes/",
            {
                "order": order.number,
                "reason": "invalid_card_key",
                "claimed_amount": str(order.amount),
                "description": "The key says already redeemed.",
                "evidence_kind": "order_screenshot",
                "evidence": png(),
            },
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    dispute = Dispute.objects.get(number=response.json()["number"])
    assert dispute.status == Status.AWAITING_MERCHANT
    assert dispute.merchant_id == order.merchant_id
    assert [e.kind for e in dispute.evidence.order_by("id")] == [
        "platform_record",
        "order_screenshot",
    ]


def accept(client: APIClient, dispute: Dispute) -> Any:
    return client.post(
        f"/api/v1/disputes/{dispute.number}/respond/",
        {"action": "accept", "remedy": "refund", "message": "Refunded."},
        format="json",
    )


def rule(client: APIClient, dispute: Dispute) -> Any:
    return client.post(
        f"/api/v1/disputes/{dispute.number}/rule/",
        {"outcome": "refunded", "reason": "Decided on the evidence."},
        format="json",
    )


def test_the_merchant_accepting_with_a_refund(django_assert_max_num_queries):
    dispute = file()
    client = client_for(dispute.merchant.owner)
    # Counted on the shop's second complaint, as a running platform serves it: the first makes
    # what the migrations made and a flush by an earlier test file in the same test worker
    # removed — the platform's ledger accounts, which the ledger then creates on first use (3
    # queries each; CI counted 53) — and prepares the session's ledger statements.
    assert accept(client, file(funded_order(product=dispute.order.product))).status_code == 200
    with django_assert_max_num_queries(ACCEPT_QUERIES):
        response = accept(client, dispute)
    assert response.status_code == 200, response.json()
    assert response.json()["outcome"] == Outcome.REFUNDED
    assert response.json()["role"] == "merchant"


def test_staff_ruling_a_refund(django_assert_max_num_queries):
    dispute = contest(file())
    client = client_for(arbitrator())
    # The first ruling makes what a flush removed (see the merchant accepting, above).
    assert rule(client, contest(file())).status_code == 200
    with django_assert_max_num_queries(RULE_QUERIES):
        response = rule(client, dispute)
    assert response.status_code == 200, response.json()
    assert response.json()["outcome"] == Outcome.REFUNDED
    assert "rule" not in response.json()["actions"]


def test_an_action_on_a_complaint_the_caller_cannot_see_is_still_a_404():
    dispute = file()
    stranger = funded_order().merchant.owner
    response = client_for(stranger).post(
        f"/api/v1/disputes/{dispute.number}/respond/",
        {"action": "accept", "remedy": "refund"},
        format="json",
    )
    assert response.status_code == 404
    assert Dispute.objects.get(pk=dispute.pk).status == Status.AWAITING_MERCHANT


def test_the_policy_in_force_is_one_query(django_assert_num_queries):
    """The kind's own version before the platform-wide one, each the latest in force."""
    now = timezone.now()
    general = policy_for("")
    with django_assert_num_queries(1):
        assert policy_for("game_card") == general
    own = Policy.objects.create(
        product_kind="game_card",
        effective_from=now - timedelta(days=1),
        published_at=now - timedelta(days=9),
        complaint_window_hours=24,
    )
    Policy.objects.create(  # a later platform-wide version does not hide the kind's own
        product_kind="",
        effective_from=now - timedelta(hours=1),
        published_at=now - timedelta(days=8),
    )
    Policy.objects.create(  # nor does one of the kind not in force yet
        product_kind="game_card",
        effective_from=now + timedelta(days=1),
        published_at=now - timedelta(days=7),
    )
    with django_assert_num_queries(1):
        assert policy_for("game_card") == own
    assert policy_for("phone_topup").product_kind == ""
    assert policy_for("game_card", at=now - timedelta(days=2)) == general
