"""Staff screens: policy with notice and history, blacklist through the services, read-only
complaints with their timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from disputes import services
from disputes.models import BlacklistEntry, Policy, PolicyChange
from tests.disputes.factories import arbitrator, under_review
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


def _policy_form(effective_from, **overrides):
    data = {
        "product_kind": "",
        "effective_from_0": timezone.localtime(effective_from).strftime("%Y-%m-%d"),
        "effective_from_1": timezone.localtime(effective_from).strftime("%H:%M:%S"),
        "complaint_window_hours": 96,
        "merchant_response_hours": 24,
        "buyer_response_hours": 24,
        "review_hours": 48,
        "info_response_hours": 24,
        "small_claim_threshold": "100.00",
        "appeal_window_days": 7,
        "blacklist_threshold": 3,
        "blacklist_window_days": 180,
        "blacklist_duration_days": 180,
        "max_evidence_bytes": 10 * 1024 * 1024,
        "max_evidence_files": 20,
        "fast_track_min_account_days": 7,
        "fast_track_clean_days": 180,
        "fast_track_max_count": 3,
        "fast_track_period_days": 30,
        "second_approval_threshold": "5000.00",
        "collective_threshold": 3,
        "collective_window_hours": 24,
        "note": "Longer window",
        "changes-TOTAL_FORMS": 0,
        "changes-INITIAL_FORMS": 0,
    }
    data.update(overrides)
    return data


def test_admin_publishes_a_policy_with_notice_and_history(admin_client):
    page = admin_client.get("/admin/disputes/policy/add/")
    assert page.status_code == 200
    too_soon = admin_client.post(
        "/admin/disputes/policy/add/", _policy_form(timezone.now() + timedelta(days=2))
    )
    assert too_soon.status_code == 200  # the form again, with the error
    assert Policy.objects.count() == 1
    response = admin_client.post(
        "/admin/disputes/policy/add/", _policy_form(timezone.now() + timedelta(days=8))
    )
    assert response.status_code == 302, response.content[:2000]
    policy = Policy.objects.exclude(effective_from__year=1970).get()
    assert policy.complaint_window_hours == 96 and policy.published_by == admin_client.user
    assert PolicyChange.objects.get(policy=policy).changed_by == admin_client.user


def test_a_policy_in_force_is_read_only_in_the_admin(admin_client):
    seeded = Policy.objects.get()
    page = admin_client.get(f"/admin/disputes/policy/{seeded.pk}/change/")
    assert page.status_code == 200
    assert b'name="complaint_window_hours"' not in page.content
    admin_client.post(
        f"/admin/disputes/policy/{seeded.pk}/change/",
        _policy_form(timezone.now() + timedelta(days=8), complaint_window_hours=1),
    )
    seeded.refresh_from_db()
    assert seeded.complaint_window_hours == 72


def test_admin_blacklists_and_lifts(admin_client):
    target = UserFactory()
    response = admin_client.post(
        "/admin/disputes/blacklistentry/add/", {"user": target.pk, "reason": "Abuse"}
    )
    assert response.status_code == 302, response.content[:2000]
    entry = BlacklistEntry.objects.get(user=target)
    assert entry.created_by == admin_client.user and entry.is_active()
    response = admin_client.post(
        "/admin/disputes/blacklistentry/",
        {"action": "lift_entries", "_selected_action": [entry.pk]},
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.lifted_at is not None


def test_complaints_are_read_only_in_the_admin_with_their_timeline(admin_client):
    dispute = under_review()
    services.dispute_note(dispute=dispute, staff=arbitrator(), body="Internal thought")
    # The change page opens the case screen, where internal notes are shown to staff.
    page = admin_client.get(f"/admin/disputes/dispute/{dispute.pk}/change/", follow=True)
    assert page.status_code == 200
    assert b"Internal thought" in page.content
    assert admin_client.get(f"/admin/disputes/dispute/{dispute.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/disputes/dispute/add/").status_code == 403


def test_staff_without_the_blacklist_permission_cannot_add_in_the_admin(client):
    staff = StaffFactory(perms=["disputes.view_blacklistentry"])
    client.force_login(staff)
    assert client.get("/admin/disputes/blacklistentry/add/").status_code == 403


def test_staff_without_the_blacklist_permission_cannot_lift_in_the_admin(client):
    manager = StaffFactory(perms=["disputes.manage_blacklist"])
    entry = services.blacklist_add(user=UserFactory(), staff=manager, reason="Abuse")
    staff = StaffFactory(perms=["disputes.view_blacklistentry"])
    client.force_login(staff)
    assert client.get("/admin/disputes/blacklistentry/").status_code == 200
    client.post(
        "/admin/disputes/blacklistentry/",
        {"action": "lift_entries", "_selected_action": [entry.pk]},
    )
    entry.refresh_from_db()
    assert entry.lifted_at is None and entry.is_active()
