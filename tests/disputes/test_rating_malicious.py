"""A complaint ruled malicious is not rated, and a rating of one does not count (docs/rules.md,
"The shop record"): the service refuses it (page and API alike), and a rating such a complaint
already has — given before an appeal ruled it malicious — is left out of the shop record, the
platform's metrics and the staff desk's shop history."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from disputes import metrics, selectors, services
from disputes.admin import desk
from disputes.models import Dispute, DisputeRating, Outcome
from kamen_complaints.errors import DomainError
from tests.disputes.factories import arbitrator, funded_order, resolved_by_refund, under_review
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def ruled_malicious(**kwargs: object) -> Dispute:
    dispute = under_review(**kwargs)
    return services.dispute_rule(
        dispute=dispute,
        staff=arbitrator(),
        outcome="rejected_malicious",
        reason="The key was redeemed by the buyer.",
    )


def test_the_service_refuses_to_rate_a_complaint_ruled_malicious() -> None:
    dispute = ruled_malicious()
    assert dispute.outcome == Outcome.REJECTED_MALICIOUS
    with pytest.raises(DomainError) as refused:
        services.dispute_rate(dispute=dispute, buyer=dispute.buyer, score=1, comment="Bad shop")
    assert refused.value.code == "ruled_malicious"
    assert not DisputeRating.objects.exists()


def test_page_and_api_do_not_rate_a_complaint_ruled_malicious() -> None:
    dispute = ruled_malicious()
    page = Client()
    page.force_login(dispute.buyer)
    body = page.get(f"/complaints/{dispute.number}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"/complaints/{dispute.number}/rate/" not in body  # no form offered
    assert "A complaint ruled malicious cannot be rated." in body
    api = APIClient()
    api.force_authenticate(dispute.buyer)
    response = api.post(f"/api/v1/disputes/{dispute.number}/rating/", {"score": 1}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "ruled_malicious"
    assert not DisputeRating.objects.exists()


def test_an_existing_rating_of_a_complaint_ruled_malicious_does_not_count() -> None:
    product = ProductFactory(price=Decimal("48.00"))
    # Both sales before a recovery takes the deposit under its minimum.
    orders = [funded_order(product=product), funded_order(product=product)]
    fair = resolved_by_refund(order=orders[0])
    services.dispute_rate(dispute=fair, buyer=fair.buyer, score=5)
    malicious = ruled_malicious(order=orders[1])
    # Rated before an appeal ended in the malicious ruling (or before this rule existed).
    DisputeRating.objects.create(dispute=malicious, buyer=malicious.buyer, score=1)

    record = selectors.shop_record(product.merchant.pk, fresh=True)
    assert record["satisfaction"] == 5.0  # not (5 + 1) / 2
    assert record["complaints"] == 2  # the complaint itself still counts
    figures = metrics.metrics(metrics.Range.default(), merchant_id=product.merchant.pk)
    assert (figures["satisfaction"], figures["ratings"]) == (5.0, 1)
    shop = desk.party_history(malicious)["merchant"]
    assert (shop["satisfaction"], shop["ratings"]) == (5.0, 1)
