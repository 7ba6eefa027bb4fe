"""An appeal is offered only when it can change the outcome for the party asking
(disputes.access.may_appeal): never to a buyer refunded the whole claim, never to a shop the
complaint was rejected against (docs/rules.md "Appeal")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from disputes import access, services
from disputes.access import Viewer
from disputes.models import Dispute
from tests.disputes.factories import arbitrator, offered, resolved_by_refund, under_review

pytestmark = pytest.mark.django_db


def _buyer(dispute: Dispute) -> Viewer:
    return Viewer.buyer(dispute.buyer)


def _shop(dispute: Dispute) -> Viewer:
    return Viewer(
        user=dispute.merchant.owner, staff=False, arbitrator=False, merchant_id=dispute.merchant_id
    )


def _ruled(outcome: str, amount: Decimal | None = None) -> Dispute:
    return services.dispute_rule(
        dispute=under_review(), staff=arbitrator(), outcome=outcome, reason="Ruled.", amount=amount
    )


def test_a_buyer_refunded_in_full_is_not_offered_an_appeal_the_shop_is():
    dispute = resolved_by_refund()

    assert "appeal" not in access.actions(dispute, _buyer(dispute))
    assert "appeal" in access.actions(dispute, _shop(dispute))


def test_a_partial_refund_can_be_appealed_by_either_party():
    dispute = offered(Decimal("20.00"))
    dispute = services.dispute_accept_offer(dispute=dispute, buyer=dispute.buyer)

    assert "appeal" in access.actions(dispute, _buyer(dispute))
    assert "appeal" in access.actions(dispute, _shop(dispute))


@pytest.mark.parametrize("outcome", ["rejected", "rejected_malicious"])
def test_a_rejection_is_offered_to_the_buyer_not_to_the_shop(outcome):
    dispute = _ruled(outcome)

    assert "appeal" in access.actions(dispute, _buyer(dispute))
    assert "appeal" not in access.actions(dispute, _shop(dispute))


def test_the_buyers_page_of_a_full_refund_has_no_appeal_form(client: Client):
    full = resolved_by_refund()
    partial = offered(Decimal("20.00"))
    partial = services.dispute_accept_offer(dispute=partial, buyer=partial.buyer)

    client.force_login(full.buyer)
    page = client.get(reverse("disputes:complaint", args=[full.number])).content.decode()
    assert 'id="appeal"' not in page
    assert 'href="#appeal"' not in page

    client.force_login(partial.buyer)
    page = client.get(reverse("disputes:complaint", args=[partial.number])).content.decode()
    assert 'id="appeal"' in page
