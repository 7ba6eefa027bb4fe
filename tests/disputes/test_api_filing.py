"""The filing API's fixes the complaint form needed: evidence kinds repeated or comma-joined,
failed keys named by their full text, masked form or id, and a filing limit that counts
accepted complaints only."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from disputes.models import Dispute
from tests.disputes.factories import fund, funded_order, png
from tests.factories import CardKeyFactory, ProductFactory, UserFactory
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _three_files() -> list[Any]:
    return [png("a.png"), png("b.png"), png("c.png")]


@pytest.mark.parametrize(
    "kinds",
    [
        ["order_screenshot", "payment_proof", "chat_record"],  # repeated fields
        ["order_screenshot,payment_proof,chat_record"],  # Swagger UI's multi-select
        ["order_screenshot, payment_proof", "chat_record"],  # a mix
    ],
    ids=["repeated", "comma-joined", "mixed"],
)
def test_evidence_kind_repeated_or_comma_joined(kinds):
    order = funded_order()
    response = client_for(order.buyer).post(
        "/api/v1/disputes/",
        {
            "order": order.number,
            "reason": "invalid_card_key",
            "claimed_amount": "48.00",
            "evidence": _three_files(),
            "evidence_kind": kinds,
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["evidence_checklist"]["complete"] is True


def test_a_comma_joined_kind_that_is_not_a_kind_is_still_a_field_error():
    order = funded_order()
    response = client_for(order.buyer).post(
        "/api/v1/disputes/",
        {
            "order": order.number,
            "reason": "other",
            "claimed_amount": "1.00",
            "evidence": [png()],
            "evidence_kind": ["order_screenshot,selfie"],
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert "evidence_kind" in response.json()
    assert not Dispute.objects.exists()


def test_the_schema_documents_both_forms_of_evidence_kind():
    response = APIClient().get("/api/schema/?format=json")
    schema = response.json()
    field = schema["components"]["schemas"]["FileRequest"]["properties"]["evidence_kind"]
    assert field["type"] == "array"
    assert "comma-separated" in field["description"]


def _two_key_order() -> Any:
    product = ProductFactory()
    CardKeyFactory(product=product, plain="WZRY-7Q2K-XR4P-AAAA")
    CardKeyFactory(product=product, plain="WZRY-9M3A-BBBB-CCCC")
    order = paid_order(product=product, quantity=2, stock=0)
    fund(product.merchant)
    return order


@pytest.mark.parametrize(
    "named",
    ["WZRY-9M3A-BBBB-CCCC", "  WZRY-9M3A-BBBB-CCCC ", "****CCCC", "CCCC", "id"],
    ids=["full-text", "full-text-with-spaces", "masked", "tail", "id"],
)
def test_card_keys_by_full_text_masked_or_id(named):
    order = _two_key_order()
    key = order.card_keys.get(tail="CCCC")
    value = str(key.pk) if named == "id" else named
    response = client_for(order.buyer).post(
        "/api/v1/disputes/",
        {
            "order": order.number,
            "reason": "invalid_card_key",
            "claimed_amount": "10.00",
            "card_keys": [value],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert [k["masked"] for k in response.json()["card_keys"]] == ["****CCCC"]


def test_another_orders_key_text_matches_nothing_and_is_not_echoed():
    order = _two_key_order()
    stranger_key = CardKeyFactory(plain="LOL-SECRET-KEY-9999")
    response = client_for(order.buyer).post(
        "/api/v1/disputes/",
        {
            "order": order.number,
            "reason": "invalid_card_key",
            "claimed_amount": "10.00",
            "card_keys": ["LOL-SECRET-KEY-9999", str(stranger_key.pk)],
        },
        format="json",
    )
    body = response.json()
    assert response.status_code == 400 and body["code"] == "card_keys_invalid"
    assert "LOL-SECRET" not in body["detail"] and "****9999" in body["detail"]


def test_the_filing_limit_counts_accepted_filings_only(settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["filing_user"] = "2/hour"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    buyer = UserFactory()
    orders = [funded_order(buyer=buyer) for _ in range(3)]
    client = client_for(buyer)
    # Refused attempts (a wrong amount, an unknown order) never use up the limit.
    for _ in range(5):
        refused = client.post(
            "/api/v1/disputes/",
            {"order": orders[0].number, "reason": "other", "claimed_amount": "999.00"},
            format="json",
        )
        assert refused.status_code == 400
    for order in orders[:2]:
        response = client.post(
            "/api/v1/disputes/",
            {"order": order.number, "reason": "other", "claimed_amount": "1.00"},
            format="json",
        )
        assert response.status_code == 201
    response = client.post(
        "/api/v1/disputes/",
        {"order": orders[2].number, "reason": "other", "claimed_amount": "1.00"},
        format="json",
    )
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    assert response.has_header("Retry-After")
    assert Dispute.objects.count() == 2


def test_attempts_are_capped_by_their_own_looser_limit(settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["filing_attempt_user"] = "3/hour"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    client = client_for(UserFactory())
    codes = [
        client.post("/api/v1/disputes/", {"order": "nope"}, format="json").status_code
        for _ in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    assert client.get("/api/v1/disputes/").status_code == 200
