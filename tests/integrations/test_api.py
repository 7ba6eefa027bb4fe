"""The webhooks API (docs/api.md "Webhooks"): the contract, and who may use it — the shop's
owner only; a team member 403, another shop's webhook 404, no shop 404, anonymous 401."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from rest_framework.test import APIClient

from integrations.models import Endpoint
from kamen_complaints.models import AuditEntry
from tests.disputes.factories import agent_of
from tests.factories import MerchantFactory, StaffFactory, UserFactory
from tests.loopback import loopback_server

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private")]

URL = "/api/v1/merchant/webhooks/"


def _api(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def shop():
    return MerchantFactory()


def test_the_owner_registers_lists_tests_rotates_disables_and_deletes(
    shop, django_capture_on_commit_callbacks
):
    api = _api(shop.owner)
    with loopback_server() as receiver:
        answer = api.post(
            URL, {"url": receiver.url + "/hook", "events": ["complaint.filed"]}, format="json"
        )
        assert answer.status_code == 201, answer.content
        created = answer.json()
        assert created["secret"].startswith("whsec_")
        assert created["events"] == ["complaint.filed"]
        assert created["enabled"] is True
        pk = created["id"]
        assert Endpoint.objects.get(pk=pk).secret_encrypted != created["secret"]

        listed = api.get(URL).json()
        assert listed["count"] == 1
        assert "secret" not in listed["results"][0]
        assert "secret" not in api.get(f"{URL}{pk}/").json()

        with django_capture_on_commit_callbacks(execute=True):
            tested = api.post(f"{URL}{pk}/test/")
        assert tested.status_code == 202
        ping = receiver.wait_for(1)[0]
        assert ping.json()["type"] == "ping"
        assert ping.json()["id"] == tested.json()["event_id"]
        t, v1 = (p.split("=", 1)[1] for p in ping.headers["Kamen-Signature"].split(","))
        expected = hmac.new(
            created["secret"].encode(), f"{t}.".encode() + ping.body, hashlib.sha256
        ).hexdigest()
        assert v1 == expected

        log = api.get(f"{URL}{pk}/deliveries/").json()
        assert log["count"] == 1
        entry = log["results"][0]
        assert entry["id"] == ping.json()["id"] and entry["status"] == "delivered"
        assert entry["tries"][0]["status"] == 200

        rotated = api.post(f"{URL}{pk}/rotate/").json()["secret"]
        assert rotated.startswith("whsec_") and rotated != created["secret"]

        off = api.patch(f"{URL}{pk}/", {"enabled": False}, format="json")
        assert off.status_code == 200 and off.json()["enabled"] is False
        assert off.json()["disabled_reason"] == "owner"
        refused = api.post(f"{URL}{pk}/test/")
        assert refused.status_code == 409 and refused.json()["code"] == "endpoint_disabled"
        assert api.patch(f"{URL}{pk}/", {"enabled": True}, format="json").json()["enabled"]

        assert api.delete(f"{URL}{pk}/").status_code == 204
        assert api.get(f"{URL}{pk}/").status_code == 404
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "integration_endpoint_created",
        "integration_secret_rotated",
        "integration_endpoint_disabled",
        "integration_endpoint_enabled",
        "integration_endpoint_deleted",
    } <= actions
    # SQLite does not enforce the column's length; PostgreSQL does.
    longest = AuditEntry._meta.get_field("action").max_length
    assert all(len(action) <= longest for action in actions)


def test_events_omitted_mean_all_and_unknown_events_are_refused(shop):
    api = _api(shop.owner)
    with loopback_server() as receiver:
        everything = api.post(URL, {"url": receiver.url}, format="json")
        assert everything.status_code == 201 and everything.json()["events"] == []
        bad = api.post(URL, {"url": receiver.url, "events": ["complaint.nope"]}, format="json")
    assert bad.status_code == 400 and "events" in bad.json()


def test_a_refused_url_is_a_clear_400(shop, settings):
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = False
    api = _api(shop.owner)
    for url in ("http://127.0.0.1/x", "http://169.254.169.254/", "ftp://a.example/", "x"):
        answer = api.post(URL, {"url": url}, format="json")
        assert answer.status_code == 400, url
        assert answer.json()["code"] == "url_refused"
    assert api.post(URL, {"events": []}, format="json").status_code == 400
    assert not Endpoint.objects.exists()


def test_team_members_other_shops_staff_and_strangers_are_refused(shop):
    with loopback_server() as receiver:
        pk = _api(shop.owner).post(URL, {"url": receiver.url}, format="json").json()["id"]
    member = _api(agent_of(shop))
    assert member.get(URL).status_code == 403
    assert member.post(URL, {"url": "https://a.example/"}, format="json").status_code == 403
    assert member.delete(f"{URL}{pk}/").status_code == 403
    assert member.post(f"{URL}{pk}/rotate/").status_code == 403
    other = _api(MerchantFactory().owner)
    assert other.get(f"{URL}{pk}/").status_code == 404
    assert other.delete(f"{URL}{pk}/").status_code == 404
    assert other.post(f"{URL}{pk}/test/").status_code == 404
    assert other.get(URL).json()["count"] == 0
    assert _api(StaffFactory()).get(URL).status_code == 404
    assert _api(UserFactory()).post(URL, {"url": "https://a.example/"}).status_code == 404
    assert _api(None).get(URL).status_code == 401
    assert Endpoint.objects.filter(pk=pk).exists()


def test_the_schema_describes_the_webhooks():
    schema = _api(None).get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/merchant/webhooks/"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/merchant/webhooks/{id}/"])
    assert "post" in paths["/api/v1/merchant/webhooks/{id}/rotate/"]
    assert "post" in paths["/api/v1/merchant/webhooks/{id}/test/"]
    assert "get" in paths["/api/v1/merchant/webhooks/{id}/deliveries/"]
