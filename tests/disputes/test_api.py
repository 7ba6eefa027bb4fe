"""The complaints REST API: shapes, every permission negatively, throttling, query counts."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from disputes import services
from disputes.models import BlacklistEntry, Dispute, PackageDownload
from disputes.package_signing import verify_package
from orders import services as order_services
from tests.disputes.factories import (
    agent_of,
    arbitrator,
    check_ledger,
    file,
    funded_order,
    offered,
    png,
    png_bytes,
    resolved_by_refund,
    under_review,
)
from tests.factories import MerchantFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def client_for(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def url(dispute: Dispute, action: str = "") -> str:
    base = f"/api/v1/disputes/{dispute.number}/"
    return f"{base}{action}/" if action else base


# --- Filing ------------------------------------------------------------------------------------


def test_filing_through_the_api_with_paired_evidence():
    order = funded_order(quantity=2)
    masked = order.card_keys.order_by("id").first().masked
    response = client_for(order.buyer).post(
        "/api/v1/disputes/",
        {
            "order": order.number,
            "reason": "invalid_card_key",
            "description": "Already redeemed",
            "claimed_amount": "48.00",
            "card_keys": [masked],
            "evidence": [png("a.png"), png("b.png")],
            "evidence_kind": ["order_screenshot", "payment_proof"],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "awaiting_merchant"
    assert body["claimed_amount"] == "48.00"
    assert body["order"] == order.number
    assert [k["masked"] for k in body["card_keys"]] == [masked]
    assert body["merchant_response_due"].endswith("+08:00")
    checklist = body["evidence_checklist"]
    assert checklist["missing"] == ["chat_record"] and checklist["complete"] is False
    assert {e["kind"] for e in body["evidence"]} == {
        "order_screenshot",
        "payment_proof",
        "platform_record",
    }
    assert body["events"][0]["type"] == "filed"
    assert body["role"] == "buyer" and "withdraw" in body["actions"]


def test_filing_as_json_without_files():
    order = funded_order()
    response = client_for(order.buyer).post(
        "/api/v1/disputes/",
        {"order": order.number, "reason": "other", "claimed_amount": 10},
        format="json",
    )
    assert response.status_code == 201, response.json()


def test_evidence_files_and_kinds_must_pair_up():
    order = funded_order()
    response = client_for(order.buyer).post(
        "/api/v1/disputes/",
        {
            "order": order.number,
            "reason": "other",
            "claimed_amount": "1.00",
            "evidence": [png()],
            "evidence_kind": ["order_screenshot", "chat_record"],
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert "evidence_kind" in response.json()
    assert not Dispute.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("claimed_amount", "1.005"), ("reason", "because"), ("claimed_amount", "abc")],
)
def test_bad_fields_are_field_errors(field, value):
    order = funded_order()
    data = {"order": order.number, "reason": "other", "claimed_amount": "1.00", field: value}
    response = client_for(order.buyer).post("/api/v1/disputes/", data, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_domain_refusals_have_detail_and_code():
    order = funded_order()
    response = client_for(order.buyer).post(
        "/api/v1/disputes/",
        {"order": order.number, "reason": "other", "claimed_amount": "999.00"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "amount_invalid"
    assert "¥48.00" in response.json()["detail"]


def test_a_second_complaint_is_a_409_not_a_500():
    order = funded_order()
    file(order)
    response = client_for(order.buyer).post(
        "/api/v1/disputes/",
        {"order": order.number, "reason": "other", "claimed_amount": "1.00"},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "complaint_exists"


def test_filing_on_someone_elses_order_is_404():
    order = funded_order()
    response = client_for(UserFactory()).post(
        "/api/v1/disputes/",
        {"order": order.number, "reason": "other", "claimed_amount": "1.00"},
        format="json",
    )
    assert response.status_code == 404


def test_anonymous_filing_is_401():
    response = APIClient().post("/api/v1/disputes/", {}, format="json")
    assert response.status_code == 401


def test_filing_is_throttled_per_user(settings):
    # Refused attempts count against the looser attempt limit only; accepted filings against
    # the filing limit (tests/disputes/test_api_filing.py).
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["filing_attempt_user"] = "2/hour"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    user = UserFactory()
    client = client_for(user)
    codes = [
        client.post("/api/v1/disputes/", {"order": "nope"}, format="json").status_code
        for _ in range(3)
    ]
    assert codes[:2] == [400, 400]
    assert codes[2] == 429
    response = client.post("/api/v1/disputes/", {"order": "nope"}, format="json")
    assert response.json()["code"] == "throttled"
    # Reading is not throttled.
    assert client.get("/api/v1/disputes/").status_code == 200


def test_a_blacklisted_buyer_gets_the_reason_and_end_date_through_the_api():
    order = funded_order()
    manager = StaffFactory(perms=["disputes.manage_blacklist"])
    services.blacklist_add(user=order.buyer, staff=manager, reason="Abuse")
    response = client_for(order.buyer).post(
        "/api/v1/disputes/",
        {"order": order.number, "reason": "other", "claimed_amount": "1.00"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "blacklisted"
    assert "Abuse" in response.json()["detail"]
    assert response.json()["until"]


# --- Seeing ------------------------------------------------------------------------------------


def test_each_role_sees_its_own_complaints_only():
    mine = file()
    theirs = file()
    view_staff = StaffFactory(perms=["disputes.view_dispute"])
    listing = {
        "buyer": client_for(mine.buyer).get("/api/v1/disputes/").json(),
        "merchant": client_for(mine.merchant.owner).get("/api/v1/disputes/").json(),
        "agent": client_for(agent_of(mine.merchant)).get("/api/v1/disputes/").json(),
        "staff": client_for(view_staff).get("/api/v1/disputes/").json(),
        "plain_staff": client_for(StaffFactory()).get("/api/v1/disputes/").json(),
        "stranger": client_for(UserFactory()).get("/api/v1/disputes/").json(),
    }
    numbers = {k: {d["number"] for d in v["results"]} for k, v in listing.items()}
    assert numbers["buyer"] == {mine.number}
    assert numbers["merchant"] == {mine.number}
    assert numbers["agent"] == {mine.number}
    assert numbers["staff"] == {mine.number, theirs.number}
    assert numbers["plain_staff"] == set()
    assert numbers["stranger"] == set()


def test_detail_is_404_for_anyone_who_may_not_see_it():
    dispute = file()
    for user in (UserFactory(), MerchantFactory().owner, StaffFactory()):
        assert client_for(user).get(url(dispute)).status_code == 404
    assert APIClient().get(url(dispute)).status_code == 401
    assert client_for(dispute.buyer).get(url(dispute)).status_code == 200
    assert client_for(dispute.merchant.owner).get(url(dispute)).status_code == 200


def test_list_filters_by_status():
    dispute = file()
    resolved = resolved_by_refund(order=funded_order(buyer=dispute.buyer))
    client = client_for(dispute.buyer)
    body = client.get("/api/v1/disputes/?status=resolved").json()
    assert [d["number"] for d in body["results"]] == [resolved.number]
    assert client.get("/api/v1/disputes/?status=lost").status_code == 400


def test_internal_notes_never_reach_the_parties():
    dispute = under_review()
    staff = arbitrator()
    services.dispute_note(dispute=dispute, staff=staff, body="SECRET-NOTE")
    for user in (dispute.buyer, dispute.merchant.owner):
        text = client_for(user).get(url(dispute)).content.decode()
        assert "SECRET-NOTE" not in text
        listing = client_for(user).get("/api/v1/disputes/").content.decode()
        assert "SECRET-NOTE" not in listing
    staff_view = client_for(staff).get(url(dispute)).json()
    assert any(e["body"] == "SECRET-NOTE" for e in staff_view["events"])


def test_staff_names_are_shown_to_staff_only():
    dispute = under_review()
    staff = arbitrator(username="judge-li")
    services.dispute_message(dispute=dispute, user=staff, body="Platform asks")
    buyer_view = client_for(dispute.buyer).get(url(dispute)).json()
    message = next(e for e in buyer_view["events"] if e["type"] == "message")
    assert message["role"] == "staff" and message["actor"] is None
    staff_view = client_for(staff).get(url(dispute)).json()
    message = next(e for e in staff_view["events"] if e["type"] == "message")
    assert message["actor"] == "judge-li"


def test_the_merchant_does_not_see_the_buyers_reveal_ip():
    order = funded_order()
    order_services.order_reveal_keys(order=order, user=order.buyer, ip="10.9.8.7", user_agent="UA")
    dispute = file(order)
    merchant_view = client_for(dispute.merchant.owner).get(url(dispute)).json()
    assert "10.9.8.7" not in str(merchant_view["platform_records"])
    assert merchant_view["platform_records"]["reveals"][0]["at"]
    buyer_view = client_for(dispute.buyer).get(url(dispute)).json()
    assert buyer_view["platform_records"]["reveals"][0]["ip"] == "10.9.8.7"


def test_the_merchant_cannot_download_the_platform_record_with_the_buyers_ip():
    order = funded_order()
    order_services.order_reveal_keys(order=order, user=order.buyer, ip="10.9.8.7", user_agent="UA")
    dispute = file(order)
    record = dispute.evidence.get(kind="platform_record")
    merchant = client_for(dispute.merchant.owner)
    merchant_view = merchant.get(url(dispute)).json()
    assert "platform_record" not in {e["kind"] for e in merchant_view["evidence"]}
    assert merchant_view["evidence_checklist"]["platform_records"] is True
    assert merchant.get(f"{url(dispute)}evidence/{record.pk}/").status_code == 404
    buyer = client_for(dispute.buyer)
    assert "platform_record" in {e["kind"] for e in buyer.get(url(dispute)).json()["evidence"]}
    download = buyer.get(f"{url(dispute)}evidence/{record.pk}/")
    assert download.status_code == 200
    assert b"10.9.8.7" in b"".join(download.streaming_content)


# --- Acting ------------------------------------------------------------------------------------


def test_the_full_conversation_through_the_api():
    dispute = file(claimed_amount=Decimal("48.00"))
    merchant = client_for(dispute.merchant.owner)
    buyer = client_for(dispute.buyer)
    response = merchant.post(
        url(dispute, "respond"), {"action": "offer", "amount": "20.00", "message": "20?"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "awaiting_buyer"
    assert response.json()["offer_amount"] == "20.00"
    response = buyer.post(url(dispute, "reject-offer"), {"message": "No"})
    assert response.json()["status"] == "under_review"
    staff = client_for(arbitrator())
    response = staff.post(url(dispute, "request-info"), {"party": "merchant", "question": "Log?"})
    assert response.json()["review_paused"] is True
    response = merchant.post(url(dispute, "messages"), {"body": "Here it is"})
    assert response.status_code == 201 and response.json()["review_paused"] is False
    response = staff.post(
        url(dispute, "rule"), {"outcome": "partially_refunded", "amount": "30.00", "reason": "Half"}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "resolved" and body["resolved_amount"] == "30.00"
    assert body["decided_by"] == "staff"
    response = merchant.post(url(dispute, "appeal"), {"reason": "Too much"})
    assert (
        response.json()["status"] == "under_review" and response.json()["appealed_by"] == "merchant"
    )
    check_ledger()


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("respond", {"action": "accept", "remedy": "refund"}),
        ("rule", {"outcome": "refunded", "reason": "x"}),
        ("request-info", {"party": "buyer", "question": "x"}),
        ("notes", {"body": "x"}),
        ("recovery", {"bears": "merchant", "reason": "x"}),
    ],
)
def test_a_buyer_calling_merchant_or_staff_actions_gets_403(action, payload):
    dispute = under_review() if action != "respond" else file()
    response = client_for(dispute.buyer).post(url(dispute, action), payload, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("action", ["accept-offer", "reject-offer", "withdraw"])
def test_a_merchant_calling_buyer_actions_gets_403(action):
    dispute = offered()
    response = client_for(dispute.merchant.owner).post(url(dispute, action), {}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("rule", {"outcome": "refunded", "reason": "x"}),
        ("request-info", {"party": "buyer", "question": "x"}),
        ("notes", {"body": "x"}),
        ("messages", {"body": "x"}),
        ("recovery", {"bears": "merchant", "reason": "x"}),
    ],
)
def test_staff_who_may_view_but_not_arbitrate_get_403(action, payload):
    dispute = under_review()
    viewer = StaffFactory(perms=["disputes.view_dispute"])
    response = client_for(viewer).post(url(dispute, action), payload, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("rule", {"outcome": "rejected", "reason": "x"}),
        ("request-info", {"party": "buyer", "question": "x"}),
        ("notes", {"body": "x"}),
        ("recovery", {"bears": "platform", "reason": "x"}),
    ],
)
def test_a_merchant_calling_staff_actions_gets_403(action, payload):
    dispute = under_review()
    agent = agent_of(dispute.merchant)
    for user in (dispute.merchant.owner, agent):
        response = client_for(user).post(url(dispute, action), payload, format="json")
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert Dispute.objects.get(pk=dispute.pk).status == "under_review"


@pytest.mark.parametrize(
    "action",
    [
        "respond",
        "accept-offer",
        "reject-offer",
        "withdraw",
        "appeal",
        "messages",
        "rule",
        "request-info",
        "recovery",
        "notes",
        "evidence",
        "evidence-package",
    ],
)
def test_actions_on_an_invisible_complaint_are_404_and_anonymous_401(action):
    dispute = under_review()
    for user in (
        UserFactory(),
        MerchantFactory().owner,
        StaffFactory(perms=["disputes.arbitrate"]),
    ):
        client = client_for(user)
        response = (
            client.get(url(dispute, action))
            if action == "evidence-package"
            else client.post(url(dispute, action), {}, format="json")
        )
        assert response.status_code == 404, (user, response.content)
    anonymous = APIClient().post(url(dispute, action), {}, format="json")
    assert anonymous.status_code == 401


def test_actions_are_not_offered_once_their_deadline_has_passed(time_machine):
    # Between a deadline and the sweep that enforces it, the services refuse the answer
    # (deadline_passed); the hint must not offer it.
    dispute = file()
    merchant = client_for(dispute.merchant.owner)
    assert "respond" in merchant.get(url(dispute)).json()["actions"]
    time_machine.move_to(dispute.merchant_response_due + timedelta(seconds=1))
    assert "respond" not in merchant.get(url(dispute)).json()["actions"]
    offer = offered()
    buyer = client_for(offer.buyer)
    assert {"accept-offer", "reject-offer"} <= set(buyer.get(url(offer)).json()["actions"])
    time_machine.move_to(offer.buyer_response_due + timedelta(seconds=1))
    actions = buyer.get(url(offer)).json()["actions"]
    assert "accept-offer" not in actions and "reject-offer" not in actions
    response = buyer.post(url(offer, "accept-offer"), {}, format="json")
    assert response.json()["code"] == "deadline_passed"


def test_a_state_conflict_is_409_with_a_code():
    dispute = resolved_by_refund()
    response = client_for(dispute.buyer).post(url(dispute, "withdraw"), {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "not_allowed_in_state"


def test_respond_validates_its_fields():
    dispute = file()
    client = client_for(dispute.merchant.owner)
    assert client.post(url(dispute, "respond"), {"action": "shrug"}).status_code == 400
    response = client.post(url(dispute, "respond"), {"action": "offer", "amount": "1.234"})
    assert response.status_code == 400 and "amount" in response.json()


# --- Evidence files ----------------------------------------------------------------------------


def test_evidence_upload_and_download_for_parties_and_staff_only():
    dispute = file()
    response = client_for(dispute.buyer).post(
        url(dispute, "evidence"),
        {"kind": "chat_record", "file": png("chat.png"), "note": "WeChat"},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    item = next(e for e in response.json()["evidence"] if e["kind"] == "chat_record")
    assert item["note"] == "WeChat" and item["content_type"] == "image/png"
    assert response.json()["evidence_checklist"]["items"][2]["present"] is True
    file_url = item["url"]
    for user in (
        dispute.buyer,
        dispute.merchant.owner,
        StaffFactory(perms=["disputes.view_dispute"]),
    ):
        download = client_for(user).get(file_url)
        assert download.status_code == 200
        assert download["X-Content-Type-Options"] == "nosniff"
        assert download["Content-Disposition"].startswith("attachment")
        assert "chat" not in download["Content-Disposition"]  # a generated name
        assert b"".join(download.streaming_content).startswith(b"\x89PNG")
    for user in (UserFactory(), MerchantFactory().owner, StaffFactory()):
        assert client_for(user).get(file_url).status_code == 404
    assert APIClient().get(file_url).status_code == 401


def test_evidence_of_another_complaint_is_404_through_this_one():
    mine = file()
    other = file(evidence=[services.EvidenceUpload(kind="other", file=png())])
    other_id = other.evidence.filter(role="buyer").first().pk
    response = client_for(mine.buyer).get(f"{url(mine)}evidence/{other_id}/")
    assert response.status_code == 404


def test_evidence_is_never_under_a_public_media_url(client, settings):
    dispute = file(evidence=[services.EvidenceUpload(kind="other", file=png())])
    stored = dispute.evidence.filter(role="buyer").first().stored_name
    assert client.get(f"/media/{stored}").status_code == 404


# --- Evidence package --------------------------------------------------------------------------


def test_the_evidence_package_is_signed_complete_and_logged():
    dispute = under_review(evidence=[services.EvidenceUpload(kind="order_screenshot", file=png())])
    services.dispute_note(dispute=dispute, staff=arbitrator(), body="INTERNAL-ONLY")
    response = client_for(dispute.buyer).get(url(dispute, "evidence-package"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["X-Content-Type-Options"] == "nosniff"
    data = response.content
    assert verify_package(data) == []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        summary = archive.read("summary.html").decode()
    assert sum(1 for n in names if n.startswith("evidence/")) == dispute.evidence.count()
    assert "INTERNAL-ONLY" not in summary
    merchant = dispute.merchant
    assert merchant.legal_name in summary and merchant.address in summary
    assert merchant.phone in summary
    assert "11010519491231002X" not in summary and merchant.id_number_masked in summary
    assert dispute.order.product.source in summary
    assert dispute.order.payment_reference in summary
    log = PackageDownload.objects.get(dispute=dispute)
    assert log.user == dispute.buyer and len(log.sha256) == 64


def test_the_downloaded_package_passes_the_verify_package_command(tmp_path):
    dispute = file(evidence=[services.EvidenceUpload(kind="chat_record", file=png())])
    data = client_for(dispute.buyer).get(url(dispute, "evidence-package")).content
    path = tmp_path / "package.zip"
    path.write_bytes(data)
    call_command("verify_package", str(path), stdout=io.StringIO())
    source = zipfile.ZipFile(io.BytesIO(data))
    tampered = io.BytesIO()
    with zipfile.ZipFile(tampered, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "summary.html":
                content = content.replace(dispute.merchant.legal_name.encode(), b"Someone else")
            target.writestr(info, content)
    path.write_bytes(tampered.getvalue())
    with pytest.raises(CommandError):
        call_command("verify_package", str(path), stdout=io.StringIO())


def test_a_tampered_package_fails_verification():
    dispute = file(evidence=[services.EvidenceUpload(kind="other", file=png())])
    data = client_for(dispute.buyer).get(url(dispute, "evidence-package")).content
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename.startswith("evidence/") and info.filename.endswith(".png"):
                content = png_bytes(color=(0, 0, 0))
            target.writestr(info, content)
    assert verify_package(out.getvalue()) != []


def test_staff_may_download_the_package_the_merchant_may_not():
    dispute = file()
    staff = StaffFactory(perms=["disputes.view_dispute"])
    package = client_for(staff).get(url(dispute, "evidence-package"))
    assert package.status_code == 200 and package["Content-Type"] == "application/zip"
    assert verify_package(package.content) == []  # the signed package, not just a 200
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        assert dispute.number in archive.read("summary.html").decode()
    response = client_for(dispute.merchant.owner).get(url(dispute, "evidence-package"))
    assert response.status_code == 403
    assert PackageDownload.objects.filter(dispute=dispute).count() == 1


# --- Blacklist ---------------------------------------------------------------------------------


def test_staff_add_and_lift_blacklist_entries():
    manager = client_for(StaffFactory(perms=["disputes.manage_blacklist"]))
    target = UserFactory()
    response = manager.post(
        "/api/v1/staff/blacklist/", {"user": target.pk, "reason": "Fraud ring"}, format="json"
    )
    assert response.status_code == 201, response.json()
    entry_id = response.json()["id"]
    assert response.json()["active"] is True and response.json()["source"] == "manual"
    again = manager.post(
        "/api/v1/staff/blacklist/", {"user": target.pk, "reason": "x"}, format="json"
    )
    assert again.status_code == 409 and again.json()["code"] == "already_blacklisted"
    listing = manager.get("/api/v1/staff/blacklist/?active=true").json()
    assert [e["id"] for e in listing["results"]] == [entry_id]
    response = manager.delete(
        f"/api/v1/staff/blacklist/{entry_id}/", {"reason": "Appeal ok"}, format="json"
    )
    assert response.status_code == 200 and response.json()["active"] is False
    assert BlacklistEntry.objects.get(pk=entry_id).lifted_at is not None  # kept, not deleted
    assert manager.delete(f"/api/v1/staff/blacklist/{entry_id}/").status_code == 409
    assert manager.delete("/api/v1/staff/blacklist/999999/").status_code == 404


def test_the_blacklist_listing_filters_active_entries(time_machine):
    manager = client_for(StaffFactory(perms=["disputes.manage_blacklist"]))
    staff = StaffFactory(perms=["disputes.manage_blacklist"])
    active = services.blacklist_add(user=UserFactory(), staff=staff, reason="active")
    lifted = services.blacklist_add(user=UserFactory(), staff=staff, reason="lifted")
    services.blacklist_lift(entry=lifted, staff=staff)
    expiring = services.blacklist_add(
        user=UserFactory(),
        staff=staff,
        reason="expires",
        expires_at=timezone.now() + timedelta(days=1),
    )
    time_machine.move_to(expiring.expires_at + timedelta(seconds=1))
    listing = manager.get("/api/v1/staff/blacklist/?active=true").json()
    assert [e["id"] for e in listing["results"]] == [active.pk]
    everything = manager.get("/api/v1/staff/blacklist/").json()
    assert {e["id"] for e in everything["results"]} == {active.pk, lifted.pk, expiring.pk}


def test_blacklist_validation():
    manager = client_for(StaffFactory(perms=["disputes.manage_blacklist"]))
    response = manager.post(
        "/api/v1/staff/blacklist/", {"user": 999999, "reason": "x"}, format="json"
    )
    assert response.status_code == 400 and "user" in response.json()
    target = UserFactory()
    response = manager.post(
        "/api/v1/staff/blacklist/",
        {"user": target.pk, "reason": "x", "expires_at": "2000-01-01T00:00:00+08:00"},
        format="json",
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "user", [lambda: UserFactory(), lambda: StaffFactory(), lambda: arbitrator()]
)
def test_blacklist_needs_the_manage_permission(user):
    client = client_for(user())
    target = UserFactory()
    assert (
        client.post(
            "/api/v1/staff/blacklist/", {"user": target.pk, "reason": "x"}, format="json"
        ).status_code
        == 403
    )
    assert client.get("/api/v1/staff/blacklist/").status_code == 403
    entry = BlacklistEntry.objects.create(
        user=target,
        reason="r",
        source="manual",
        expires_at=timezone.now() + timedelta(days=1),
    )
    assert client.delete(f"/api/v1/staff/blacklist/{entry.pk}/").status_code == 403


def test_blacklist_anonymous_is_401():
    assert APIClient().post("/api/v1/staff/blacklist/", {}, format="json").status_code == 401


# --- Query counts ------------------------------------------------------------------------------


def _count(user: Any, path: str) -> int:
    # A fresh user object each time: permission caches live on the instance.
    client = client_for(type(user).objects.get(pk=user.pk))
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_blacklist_query_count_is_the_same_at_1_and_50_rows():
    manager = StaffFactory(perms=["disputes.manage_blacklist"])
    services.blacklist_add(user=UserFactory(), staff=manager, reason="first")
    one = _count(manager, "/api/v1/staff/blacklist/?page_size=50")
    for _ in range(49):
        services.blacklist_add(user=UserFactory(), staff=manager, reason="more")
    fifty = _count(manager, "/api/v1/staff/blacklist/?page_size=50")
    assert one == fifty


@pytest.mark.parametrize("role", ["buyer", "merchant", "staff"])
def test_list_query_count_is_the_same_at_1_and_50_rows(role):
    buyer = UserFactory()
    first = file(order=funded_order(buyer=buyer))
    merchant = first.merchant
    product = first.order.product
    staff = arbitrator()
    viewer = {"buyer": buyer, "merchant": merchant.owner, "staff": staff}[role]
    one = _count(viewer, "/api/v1/disputes/?page_size=50")
    for _ in range(49):
        dispute = file(
            order=funded_order(buyer=buyer, product=product, deposit_amount=Decimal("0"))
        )
        services.dispute_message(dispute=dispute, user=buyer, body="more rows")
    fifty = _count(viewer, "/api/v1/disputes/?page_size=50")
    assert client_for(viewer).get("/api/v1/disputes/?page_size=50").json()["count"] == 50
    assert one == fifty


@pytest.mark.parametrize("role", ["buyer", "merchant", "staff"])
def test_detail_query_count_is_the_same_with_1_and_50_events_and_files(role):
    dispute = file()
    viewer = {"buyer": dispute.buyer, "merchant": dispute.merchant.owner, "staff": arbitrator()}[
        role
    ]
    one = _count(viewer, url(dispute))
    for i in range(25):
        services.dispute_message(dispute=dispute, user=dispute.buyer, body=f"message {i}")
    for _ in range(19):
        services.dispute_add_evidence(dispute=dispute, user=dispute.buyer, kind="other", file=png())
    many = _count(viewer, url(dispute))
    assert dispute.events.count() >= 45
    assert one == many


def test_the_openapi_schema_describes_the_complaint_endpoints(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/disputes/",
        "/api/v1/disputes/{number}/",
        "/api/v1/disputes/{number}/respond/",
        "/api/v1/disputes/{number}/evidence-package/",
        "/api/v1/staff/blacklist/",
        "/api/v1/staff/blacklist/{id}/",
    ):
        assert path in paths, path
