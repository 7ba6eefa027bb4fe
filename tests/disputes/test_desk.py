"""The arbitration desk in the admin: the review queue, the complaint screen and its actions
(rule, ask for information, note, recovery) through the disputes services, the roles that may
see and act, four eyes above the threshold, and the audit log they write."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from disputes import services
from disputes.models import EventType, Outcome, Status, Visibility
from kamen_complaints.models import Approval, ApprovalStatus, AuditAction, AuditEntry
from kamen_complaints.roles import ROLES, ensure_roles
from tests.disputes.factories import deposit, funded_order, png, under_review
from tests.factories import ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db

D = Decimal


def member(role: str) -> User:
    user = StaffFactory()
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def arbiter_client(client):
    client.force_login(member("arbitrator"))
    return client


def case_url(dispute, action: str = "") -> str:
    if action:
        return reverse("admin:disputes_dispute_case_action", args=[dispute.pk, action])
    return reverse("admin:disputes_dispute_case", args=[dispute.pk])


# --- Roles ----------------------------------------------------------------------------------


def test_the_four_groups_exist_with_exactly_their_permissions():
    ensure_roles()
    ensure_roles()  # idempotent
    for name, perms in ROLES.items():
        group = Group.objects.get(name=name)
        have = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        assert have == set(perms), name
    assert Group.objects.filter(name__in=ROLES).count() == 4


def test_a_permission_added_by_hand_is_removed_again():
    from django.contrib.auth.models import Permission

    group = Group.objects.get(name="policy")
    group.permissions.add(Permission.objects.get(codename="approve_withdrawal"))
    ensure_roles()
    assert not group.permissions.filter(codename="approve_withdrawal").exists()


@pytest.mark.parametrize("role", ["verifier", "finance", "policy"])
def test_staff_outside_arbitration_get_the_translated_403_page(client, role):
    dispute = under_review()
    client.force_login(member(role))
    for url in [reverse("admin:disputes_dispute_changelist"), case_url(dispute)]:
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert page.status_code == 403
        body = page.content.decode()
        assert "此页面不在您的职责范围内" in body
        assert "Kamen" in body or "卡盟" in body  # the admin's branded header
    response = client.post(
        case_url(dispute, "rule"),
        {"outcome": "refunded", "reason": "x", "recover_from_merchant": "1"},
    )
    assert response.status_code == 403
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW


def test_the_index_shows_no_link_outside_ones_role(client):
    client.force_login(member("finance"))
    page = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:disputes_dispute_changelist") not in page
    assert reverse("admin:escrow_account_changelist") in page


def test_anonymous_visitors_go_to_the_login(client):
    dispute = under_review()
    response = client.get(case_url(dispute))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- The queue ------------------------------------------------------------------------------


def test_the_queue_shows_reviews_and_pending_recoveries_by_deadline(arbiter_client):
    later = under_review()
    sooner = under_review()
    sooner.review_due = timezone.now() + timedelta(hours=1)
    sooner.save(update_fields=["review_due"])
    waiting = services.dispute_file(
        buyer=(o := funded_order()).buyer,
        order=o,
        reason="invalid_card_key",
        claimed_amount=o.amount,
    )
    page = arbiter_client.get(reverse("admin:disputes_dispute_changelist"))
    body = page.content.decode()
    assert page.status_code == 200
    assert sooner.number in body and later.number in body
    assert waiting.number not in body  # awaiting the merchant: not in the queue
    assert body.index(sooner.number) < body.index(later.number)
    assert "desk-due--red" in body  # under 2 h
    every = arbiter_client.get(reverse("admin:disputes_dispute_changelist") + "?view=all")
    assert waiting.number in every.content.decode()


def test_queue_filters_and_exact_search(arbiter_client):
    overdue = under_review()
    overdue.review_due = timezone.now() - timedelta(minutes=5)
    overdue.save(update_fields=["review_due"])
    fine = under_review()
    url = reverse("admin:disputes_dispute_changelist")
    body = arbiter_client.get(url + "?due=overdue").content.decode()
    assert overdue.number in body and fine.number not in body
    body = arbiter_client.get(url + f"?q={fine.number}").content.decode()
    assert fine.number in body and overdue.number not in body
    body = arbiter_client.get(url + f"?q={fine.order.number}").content.decode()
    assert fine.number in body and overdue.number not in body
    for query in ["?amount=small", "?appealed=1", "?fast_track__exact=1", "?due=8h"]:
        assert arbiter_client.get(url + query).status_code == 200


def test_the_queue_query_count_does_not_grow_with_rows(
    arbiter_client, django_assert_max_num_queries
):
    under_review()
    url = reverse("admin:disputes_dispute_changelist")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        first = arbiter_client.get(url)
    assert first.status_code == 200  # the queue itself, not a cheaper refusal
    more = [under_review() for _ in range(4)]
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = arbiter_client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert all(dispute.number in body for dispute in more)


# --- The complaint screen -------------------------------------------------------------------


def test_the_case_screen_shows_the_whole_case(arbiter_client):
    dispute = under_review()
    page = arbiter_client.get(case_url(dispute), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200
    body = page.content.decode()
    assert dispute.order.number in body
    assert "desk-table" in body and '"order":' not in body  # tables, not JSON
    assert "desk-thumb" in body  # the merchant's image as a thumbnail
    assert "The key was valid when delivered." in body  # the message
    assert "desk-timeline" in body and "contested" not in body  # human labels, no raw codes
    assert "（北京时间）" in body  # the timeline says its zone (the desk reads Chinese)
    image = dispute.evidence.exclude(kind="platform_record").first()
    response = arbiter_client.get(
        reverse("admin:disputes_dispute_case_evidence", args=[dispute.pk, image.pk])
    )
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "sandbox" in response["Content-Security-Policy"]


def test_the_old_change_page_leads_to_the_case_screen(arbiter_client):
    dispute = under_review()
    response = arbiter_client.get(reverse("admin:disputes_dispute_change", args=[dispute.pk]))
    assert response.status_code == 302 and response["Location"] == case_url(dispute)


def test_ruling_from_the_case_screen_moves_the_money(arbiter_client):
    dispute = under_review()
    before = deposit(dispute.merchant).balance
    response = arbiter_client.post(
        case_url(dispute, "rule"),
        {
            "outcome": "refunded",
            "reason": "Key was redeemed before delivery",
            "recover_from_merchant": "1",
        },
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.status, dispute.outcome) == (Status.RESOLVED, Outcome.REFUNDED)
    assert deposit(dispute.merchant).balance == before - dispute.claimed_amount
    entry = AuditEntry.objects.get(action=AuditAction.RULING)
    assert entry.object_id == str(dispute.pk) and entry.reason.startswith("Key was")
    assert entry.before["status"] == Status.UNDER_REVIEW and entry.after["outcome"] == "refunded"


def test_a_ruling_without_a_reason_keeps_the_input_and_says_why(arbiter_client):
    dispute = under_review()
    page = arbiter_client.post(
        case_url(dispute, "rule"),
        {"outcome": "partially_refunded", "amount": "", "reason": "", "recover_from_merchant": "1"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert "This field is required." in body
    assert "Give the amount of the partial refund." in body
    assert 'value="partially_refunded" selected' in body
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW


def test_a_refusal_by_the_service_is_an_admin_message_not_a_500(arbiter_client):
    dispute = under_review()
    page = arbiter_client.post(
        case_url(dispute, "rule"),
        {
            "outcome": "partially_refunded",
            "amount": "9999.00",
            "reason": "half",
            "recover_from_merchant": "1",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert page.status_code == 200
    assert "A partial refund is above ¥0.00 and below the claimed" in page.content.decode()
    assert 'value="9999.00"' in page.content.decode()


def test_asking_for_information_pauses_the_clock(arbiter_client):
    dispute = under_review()
    response = arbiter_client.post(
        case_url(dispute, "info"), {"party": "merchant", "question": "Upstream log please"}
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.review_paused_at is not None and dispute.info_requested_from == "merchant"
    # Asked twice: the service refuses, shown as a message.
    page = arbiter_client.post(
        case_url(dispute, "info"), {"party": "buyer", "question": "And you?"}
    )
    assert page.status_code == 200 and b"errornote" in page.content or b"error" in page.content


def test_an_internal_note_is_staff_only(arbiter_client):
    dispute = under_review()
    arbiter_client.post(case_url(dispute, "note"), {"body": "Checked upstream by phone"})
    note = dispute.events.get(type=EventType.NOTE)
    assert note.visibility == Visibility.STAFF
    assert "Checked upstream by phone" in arbiter_client.get(case_url(dispute)).content.decode()
    buyer_page = dispute.buyer
    from django.test import Client

    other = Client()
    other.force_login(buyer_page)
    assert (
        "Checked upstream by phone"
        not in other.get(f"/complaints/{dispute.number}/").content.decode()
    )


def test_deciding_recovery_from_the_case_screen(arbiter_client):
    dispute = under_review()
    with time_machine.travel(dispute.review_due + timedelta(seconds=1), tick=False):
        assert services.dispute_review_expire(dispute=dispute)
    dispute.refresh_from_db()
    assert dispute.recovery_pending
    body = arbiter_client.get(reverse("admin:disputes_dispute_changelist")).content.decode()
    assert dispute.number in body  # awaiting the recovery decision: still in the queue
    missing = arbiter_client.post(
        case_url(dispute, "recovery"), {"bears": "merchant", "reason": ""}
    )
    assert missing.status_code == 200
    response = arbiter_client.post(
        case_url(dispute, "recovery"), {"bears": "merchant", "reason": "Key invalid"}
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert not dispute.recovery_pending and dispute.recovered == dispute.claimed_amount
    assert AuditEntry.objects.filter(action=AuditAction.RECOVERY_DECIDED).count() == 1
    again = arbiter_client.post(
        case_url(dispute, "recovery"), {"bears": "platform", "reason": "again"}
    )
    assert again.status_code == 200  # refused by the service, shown as a message


# --- Four eyes ------------------------------------------------------------------------------


def _big_case():
    return under_review(
        order=funded_order(product=ProductFactory(price=D("6000.00")), deposit_amount=D("10000.00"))
    )


def test_a_ruling_above_the_threshold_waits_for_a_second_arbitrator(client):
    dispute = _big_case()
    first, second = member("arbitrator"), member("arbitrator")
    balance = deposit(dispute.merchant).balance
    client.force_login(first)
    response = client.post(
        case_url(dispute, "rule"),
        {"outcome": "refunded", "reason": "Invalid key", "recover_from_merchant": "1"},
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW  # nothing moved
    assert deposit(dispute.merchant).balance == balance
    approval = Approval.objects.get()
    decide = reverse("admin:kamen_complaints_approval_approve", args=[approval.pk])
    # The same person cannot approve their own ruling.
    client.post(decide, {"reason": ""})
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW
    # Nor can a member of finance.
    client.force_login(member("finance"))
    client.post(decide, {"reason": ""})
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    # A second arbitrator carries it out, through dispute_rule.
    client.force_login(second)
    assert client.post(decide, {"reason": "agreed"}).status_code == 302
    approval.refresh_from_db()
    dispute.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED and approval.decided_by == second
    assert dispute.status == Status.RESOLVED and dispute.decided_by_user == second
    assert deposit(dispute.merchant).balance == balance - dispute.claimed_amount
    # Decided once: approving again changes nothing.
    third = member("arbitrator")
    client.force_login(third)
    client.post(decide, {"reason": "again"})
    approval.refresh_from_db()
    assert approval.decided_by == second


def test_the_api_refuses_a_ruling_above_the_threshold(api_client):
    dispute = _big_case()
    api_client.force_authenticate(member("arbitrator"))
    response = api_client.post(
        f"/api/v1/disputes/{dispute.number}/rule/",
        {"outcome": "refunded", "reason": "Invalid key"},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "second_approval_required"
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW


# --- The audit log --------------------------------------------------------------------------


def test_the_audit_log_cannot_be_changed_or_deleted_in_the_admin(admin_client):
    dispute = under_review()
    services.dispute_note(dispute=dispute, staff=member("arbitrator"), body="x")
    services.dispute_rule(
        dispute=dispute, staff=member("arbitrator"), outcome="rejected", reason="no proof"
    )
    entry = AuditEntry.objects.get()
    assert (
        admin_client.get(reverse("admin:kamen_complaints_auditentry_changelist")).status_code == 200
    )
    url = reverse("admin:kamen_complaints_auditentry_delete", args=[entry.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    admin_client.post(
        reverse("admin:kamen_complaints_auditentry_change", args=[entry.pk]), {"reason": "edited"}
    )
    entry.refresh_from_db()
    assert entry.reason == "no proof"


def test_the_database_refuses_to_change_an_audit_entry():
    from django.db import DatabaseError, transaction

    dispute = under_review()
    services.dispute_rule(
        dispute=dispute, staff=member("arbitrator"), outcome="rejected", reason="no proof"
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.update(reason="rewritten")


@pytest.mark.postgres
def test_the_database_refuses_to_delete_an_audit_entry():
    from django.db import DatabaseError, transaction

    dispute = under_review()
    services.dispute_rule(
        dispute=dispute, staff=member("arbitrator"), outcome="rejected", reason="no proof"
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.all().delete()


def test_nothing_is_deletable_in_the_complaints_admin(admin_client):
    dispute = under_review()
    assert (
        admin_client.get(reverse("admin:disputes_dispute_delete", args=[dispute.pk])).status_code
        == 403
    )
    page = admin_client.get(reverse("admin:disputes_dispute_changelist") + "?view=all")
    assert b"delete_selected" not in page.content


def test_evidence_upload_still_works_for_the_merchant_on_a_case():
    dispute = under_review()
    services.dispute_add_evidence(
        dispute=dispute, user=dispute.merchant.owner, kind="other", file=png("more.png")
    )
    assert dispute.evidence.count() >= 3


@pytest.mark.django_db
def test_the_desk_timeline_names_the_party_not_you():
    """Staff read 'the buyer added …', never the buyer's own 'you added …'."""
    from django.utils import translation

    from disputes import presenting
    from disputes.models import EventType, Role
    from tests.disputes.factories import file, png

    dispute = file()
    services.dispute_add_evidence(
        dispute=dispute, user=dispute.buyer, kind="chat_record", file=png()
    )
    event = dispute.events.filter(type=EventType.EVIDENCE_ADDED).latest("pk")
    with translation.override("en"):
        assert presenting.event_sentence(event, Role.STAFF).startswith("The buyer")
        assert presenting.event_sentence(event, Role.BUYER).startswith("You")
        assert presenting.who(Role.STAFF, Role.STAFF) == "The platform"


def test_the_desk_reads_acceptance_withdrawal_and_payout_in_the_third_person():
    """The buyer's page says 'refund you', 'you withdrew', 'refunded to you'; staff read who."""
    from django.utils import translation

    from disputes import presenting
    from disputes.models import EventType, Role
    from tests.disputes.factories import file, resolved_by_refund

    paid = resolved_by_refund()
    accepted = paid.events.get(type=EventType.ACCEPTED)
    payout = paid.events.get(type=EventType.MONEY, data__movement="payout")
    withdrawn = file()
    services.dispute_withdraw(dispute=withdrawn, buyer=withdrawn.buyer)
    gone = withdrawn.events.get(type=EventType.WITHDRAWN)
    with translation.override("en"):
        staff = [presenting.event_sentence(e, Role.STAFF) for e in (accepted, gone, payout)]
        buyer = [presenting.event_sentence(e, Role.BUYER) for e in (accepted, gone, payout)]
    assert staff[0] == "The merchant agreed to refund the buyer."
    assert staff[1] == "The buyer withdrew the complaint."
    assert staff[2].endswith(": refunded to the buyer") and "¥" in staff[2]
    assert all("you" not in s.lower() for s in staff)
    assert all("you" in s.lower() for s in buyer)
