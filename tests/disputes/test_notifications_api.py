"""The notifications API (issue 19): GET /api/v1/notifications/ lists the caller's own in-app
notifications, newest first, worded in the request's language; POST
/api/v1/notifications/read/ marks all or some read through the page's service."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from disputes.models import Notification
from tests.disputes.factories import file, funded_order
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/notifications/"
READ = "/api/v1/notifications/read/"


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_anonymous_gets_401():
    assert APIClient().get(URL).status_code == 401
    assert APIClient().post(READ, {}, format="json").status_code == 401


def test_the_reader_sees_their_own_newest_first_in_their_language():
    first = file()
    second = file()
    owner = first.merchant.owner
    buyer = first.buyer
    response = _client(buyer).get(URL, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.json()
    mine = Notification.objects.filter(recipient=buyer, channel="inapp")
    assert body["count"] == mine.count() >= 1
    row = body["results"][0]
    assert set(row) == {"id", "kind", "text", "link", "complaint", "read", "created_at"}
    assert row["kind"] == "filed" and row["read"] is False
    assert row["complaint"] == first.number
    assert row["link"] == f"/complaints/{first.number}/"
    assert "Your complaint was filed, claiming" in row["text"]
    # Nobody else's: the other buyer's complaint is not in this list.
    assert second.number not in {r["complaint"] for r in body["results"]}
    zh = _client(buyer).get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans").json()["results"][0]["text"]
    assert "投诉" in zh and "Your complaint" not in zh
    # The merchant's row links to the dashboard's page of the complaint.
    merchant_row = _client(owner).get(URL).json()["results"][0]
    assert merchant_row["link"] == f"/merchant/complaints/{first.number}/"
    ids = [r["id"] for r in _client(owner).get(URL).json()["results"]]
    rows = Notification.objects.filter(recipient=owner, channel="inapp")
    assert ids == list(rows.order_by("-created_at", "-id").values_list("id", flat=True))


def test_the_list_is_paginated_like_the_other_lists():
    buyer = UserFactory()
    for _ in range(3):
        file(funded_order(buyer=buyer))
    body = _client(buyer).get(URL, {"page_size": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert _client(buyer).get(URL, {"page_size": "x"}).status_code == 400


def test_marking_read_by_id_touches_only_the_readers_own_then_all():
    dispute = file()
    buyer = dispute.buyer
    other = file()
    theirs = Notification.objects.filter(recipient=other.buyer, channel="inapp").first()
    assert theirs is not None
    mine = list(Notification.objects.filter(recipient=buyer, channel="inapp"))
    client = _client(buyer)
    response = client.post(READ, {"ids": [mine[0].pk, theirs.pk]}, format="json")
    assert response.status_code == 200
    assert response.json()["marked"] == 1
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert client.get(URL).json()["results"][-1]["read"] is True
    response = client.post(READ, {}, format="json")
    assert response.json() == {"marked": len(mine) - 1, "unread": 0}
    assert client.post(READ, {"ids": "all"}, format="json").status_code == 400
