"""No one on both sides of a case (docs/rules.md, orders.conflicts): staff never own or join a
shop, a shop's people are never made staff, and a staff member never rules, asks, decides
recovery, verifies, approves a withdrawal or a posting, or decides a second approval about a
shop they own or act for, or a complaint they filed — in the services, the admin, the API and
the pages alike, each refusal written to the audit log (and kept when the action rolls back)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from disputes import services
from disputes.models import Status
from escrow import approvals as escrow_approvals
from escrow import services as escrow_services
from escrow.models import AccountKind, LedgerTransaction, TransactionKind, WithdrawalStatus
from kamen_complaints import approvals
from kamen_complaints.errors import Forbidden
from kamen_complaints.models import Approval, ApprovalStatus, AuditEntry
from orders import services as order_services
from orders.models import MemberRole, Merchant, MerchantMember, MerchantStatus
from tests.disputes.factories import agent_of, arbitrator, deposit, funded_order, under_review
from tests.escrow.factories import finance_staff, funded_merchant
from tests.factories import VALID_ID_NUMBER, MerchantFactory, ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db

D = Decimal
REFUSED = "conflict_refused"

APPLICATION = {
    "shop_name": "员工的店",
    "legal_name": "王五",
    "id_number": VALID_ID_NUMBER,
    "phone": "13912345678",
    "address": "上海市浦东新区世纪大道100号",
    "business_license": "",
}


def refusals(actor: User) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(actor=actor, action=REFUSED).order_by("id"))


def join(user: User, merchant: Merchant) -> User:
    """What the services now refuse, made directly: a staff account already on a shop's team
    (as before this rule, or by an edit outside the application)."""
    MerchantMember.objects.create(merchant=merchant, user=user, role=MemberRole.AGENT)
    return User.objects.get(pk=user.pk)


def api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def role(name: str) -> User:
    user = StaffFactory()
    user.groups.add(Group.objects.get(name=name))
    return User.objects.get(pk=user.pk)


# --- Staff never own or join a shop ----------------------------------------------------------


def test_staff_cannot_open_a_shop_by_service_api_or_page(client: Client) -> None:
    staff = arbitrator()
    with pytest.raises(Forbidden) as refused:
        order_services.merchant_apply(user=staff, **APPLICATION)
    assert refused.value.code == "staff_account"
    response = api(staff).post("/api/v1/merchant/apply/", APPLICATION, format="json")
    assert response.status_code == 403 and response.json()["code"] == "staff_account"
    client.force_login(staff)
    page = client.post("/merchant/apply/", APPLICATION)
    assert page.status_code == 400 and page.context["form"].non_field_errors()
    assert not Merchant.objects.filter(owner=staff).exists()
    entries = refusals(staff)
    assert len(entries) == 3  # one per attempt, each kept although the service rolled back
    assert entries[0].after["refused"] == "merchant_apply"
    assert entries[0].object_type == "auth.user" and entries[0].object_id == str(staff.pk)


def test_a_shop_owner_cannot_add_a_staff_account_to_the_team() -> None:
    shop = MerchantFactory()
    staff = arbitrator()
    response = api(shop.owner).post(
        "/api/v1/merchant/team/", {"username": staff.username}, format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "staff_account"
    assert not MerchantMember.objects.filter(user=staff).exists()
    [entry] = refusals(shop.owner)
    assert entry.after["refused"] == "merchant_member_add"
    assert entry.object_id == str(shop.pk)


def _user_form(user: User, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    values.update(changes)
    return values


def test_a_shop_member_cannot_be_made_staff_in_the_admin(client: Client) -> None:
    superuser = StaffFactory(is_superuser=True)
    client.force_login(superuser)
    shop = MerchantFactory()
    agent = agent_of(shop)
    for account in (agent, shop.owner):
        url = reverse("admin:auth_user_change", args=[account.pk])
        page = client.post(url, _user_form(account, is_staff="on"))
        assert page.status_code == 200  # the form again, with the rule
        assert page.context["adminform"].form.non_field_errors()
        account.refresh_from_db()
        assert not account.is_staff
        page = client.post(url, _user_form(account, is_superuser="on"))
        account.refresh_from_db()
        assert page.status_code == 200 and not account.is_superuser
    assert [e.after["refused"] for e in refusals(superuser)] == ["staff_grant"] * 4
    # An account outside any shop is made staff as before.
    outsider = StaffFactory(is_staff=False)
    url = reverse("admin:auth_user_change", args=[outsider.pk])
    assert client.post(url, _user_form(outsider, is_staff="on")).status_code == 302
    outsider.refresh_from_db()
    assert outsider.is_staff


# --- Complaints: rulings, requests for information, recovery, notes ---------------------------


def test_an_arbitrator_on_the_shops_team_cannot_rule_on_its_complaint() -> None:
    dispute = under_review()
    staff = join(arbitrator(), dispute.merchant)
    with pytest.raises(Forbidden) as refused:
        services.dispute_rule(
            dispute=dispute, staff=staff, outcome="rejected_malicious", reason="Lies."
        )
    assert refused.value.code == "conflict_of_interest"
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW and dispute.outcome == ""
    for call in (
        lambda: services.dispute_request_info(
            dispute=dispute, staff=staff, party="buyer", question="Screenshot?"
        ),
        lambda: services.dispute_note(dispute=dispute, staff=staff, body="Mine."),
    ):
        with pytest.raises(Forbidden):
            call()
    dispute.refresh_from_db()
    assert dispute.review_paused_at is None
    entries = refusals(staff)
    assert [e.after["refused"] for e in entries] == ["ruling", "info_request", "note"]
    assert entries[0].object_type == "disputes.dispute"
    assert entries[0].after["shops"] == [dispute.merchant_id]
    # Another arbitrator rules as usual.
    services.dispute_rule(dispute=dispute, staff=arbitrator(), outcome="rejected", reason="Ok.")


def test_the_shop_owner_as_arbitrator_is_refused_on_the_desk_and_the_api(client: Client) -> None:
    dispute = under_review()
    owner = dispute.merchant.owner
    owner.is_staff = True  # the owner made staff outside the admin
    owner.save(update_fields=["is_staff"])
    owner.groups.add(Group.objects.get(name="arbitrator"))
    owner = User.objects.get(pk=owner.pk)
    client.force_login(owner)
    page = client.post(
        reverse("admin:disputes_dispute_case_action", args=[dispute.pk, "rule"]),
        {"outcome": "rejected_malicious", "reason": "Lies.", "recover_from_merchant": "1"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert page.status_code == 200
    assert "another staff member must decide it" in page.content.decode()
    response = api(owner).post(
        f"/api/v1/disputes/{dispute.number}/rule/",
        {"outcome": "rejected_malicious", "reason": "Lies.", "recover_from_merchant": True},
        format="json",
    )
    assert response.status_code == 403 and response.json()["code"] == "conflict_of_interest"
    info = api(owner).post(
        f"/api/v1/disputes/{dispute.number}/request-info/",
        {"party": "buyer", "question": "Why?"},
        format="json",
    )
    assert info.status_code == 403 and info.json()["code"] == "conflict_of_interest"
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW and dispute.review_paused_at is None
    assert [e.after["refused"] for e in refusals(owner)] == ["ruling", "ruling", "info_request"]


def test_staff_cannot_rule_on_a_complaint_they_filed() -> None:
    staff = arbitrator()
    dispute = under_review(order=funded_order(buyer=staff))
    with pytest.raises(Forbidden) as refused:
        services.dispute_rule(dispute=dispute, staff=staff, outcome="refunded", reason="Mine.")
    assert refused.value.code == "conflict_of_interest"
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW
    [entry] = refusals(staff)
    assert entry.after["filed_by_them"] is True and entry.after["shops"] == []


def test_staff_on_the_shops_team_cannot_decide_recovery() -> None:
    dispute = under_review()
    with time_machine.travel(dispute.review_due + timedelta(seconds=1), tick=False):
        assert services.dispute_review_expire(dispute=dispute) is True
    dispute.refresh_from_db()
    assert dispute.recovery_pending
    staff = join(arbitrator(), dispute.merchant)
    with pytest.raises(Forbidden):
        services.dispute_decide_recovery(
            dispute=dispute, staff=staff, bears="platform", reason="Our delay"
        )
    dispute.refresh_from_db()
    assert dispute.recovery_pending and deposit(dispute.merchant).held == dispute.claimed_amount
    assert refusals(staff)[0].after["refused"] == "recovery_decision"


def test_a_second_approval_of_a_ruling_by_the_shops_staff_is_refused(client: Client) -> None:
    dispute = under_review(
        order=funded_order(product=ProductFactory(price=D("6000.00")), deposit_amount=D("10000"))
    )
    services.dispute_rule_propose(
        dispute=dispute, staff=role("arbitrator"), outcome="refunded", reason="Invalid key"
    )
    approval = Approval.objects.get()
    conflicted = join(role("arbitrator"), dispute.merchant)
    client.force_login(conflicted)
    decide = reverse("admin:kamen_complaints_approval_approve", args=[approval.pk])
    assert client.post(decide, {"reason": "fine"}).status_code == 302
    client.post(decide, {"reason": "no", "_refuse": "1"})
    approval.refresh_from_db()
    dispute.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING and dispute.status == Status.UNDER_REVIEW
    assert [e.after["refused"] for e in refusals(conflicted)] == ["approval_decide"] * 2
    # Proposing a ruling on the shop's complaint is refused as well.
    with pytest.raises(Forbidden):
        services.dispute_rule_propose(
            dispute=dispute, staff=conflicted, outcome="rejected", reason="Mine"
        )


# --- Shops: verification ---------------------------------------------------------------------


def test_a_verifier_cannot_verify_their_own_shop(client: Client) -> None:
    shop = MerchantFactory(status=MerchantStatus.PENDING_VERIFICATION, verified_at=None)
    verifier = join(role("verifier"), shop)
    with pytest.raises(Forbidden):
        order_services.merchant_verify(merchant=shop, staff=verifier)
    response = api(verifier).post(f"/api/v1/staff/merchants/{shop.pk}/verify/")
    assert response.status_code == 403 and response.json()["code"] == "conflict_of_interest"
    client.force_login(verifier)
    client.post(
        reverse("admin:orders_merchant_changelist"),
        {"action": "verify", "_selected_action": [str(shop.pk)]},
    )
    shop.refresh_from_db()
    assert shop.status == MerchantStatus.PENDING_VERIFICATION and shop.verified_by is None
    assert [e.after["refused"] for e in refusals(verifier)] == ["merchant_verify"] * 3


# --- Money: withdrawals and manual postings --------------------------------------------------


def test_finance_cannot_approve_their_own_shops_withdrawal_in_the_admin(client: Client) -> None:
    finance = finance_staff()
    merchant = funded_merchant("1500.00")
    join(finance, merchant)
    withdrawal = escrow_services.withdrawal_request(
        merchant=merchant, amount=D("500.00"), user=merchant.owner
    )
    client.force_login(finance)
    changelist = reverse("admin:escrow_withdrawal_changelist")
    for action, extra in (("approve", {}), ("reject", {"reason": "not mine to decide"})):
        client.post(
            changelist, {"action": action, "_selected_action": [str(withdrawal.pk)], **extra}
        )
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PENDING
    assert deposit(merchant).balance == D("1500.00")
    assert [e.after["refused"] for e in refusals(finance)] == [
        "withdrawal_approve",
        "withdrawal_reject",
    ]
    escrow_services.withdrawal_approve(withdrawal=withdrawal, staff=finance_staff())
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.APPROVED


def test_finance_cannot_request_or_approve_a_posting_to_their_own_shop(client: Client) -> None:
    merchant = funded_merchant("1000.00")
    conflicted = join(finance_staff(), merchant)
    with pytest.raises(Forbidden):
        escrow_approvals.posting_request(
            staff=conflicted,
            target=AccountKind.DEPOSIT,
            amount=D("200.00"),
            reason="bonus",
            merchant_id=merchant.pk,
            merchant_name=merchant.shop_name,
            counterpart=AccountKind.COMPENSATION_FUND,
        )
    approval = escrow_approvals.posting_request(
        staff=finance_staff(),
        target=AccountKind.DEPOSIT,
        amount=D("200.00"),
        reason="goodwill",
        merchant_id=merchant.pk,
        merchant_name=merchant.shop_name,
        counterpart=AccountKind.COMPENSATION_FUND,
    )
    client.force_login(conflicted)
    client.post(
        reverse("admin:kamen_complaints_approval_approve", args=[approval.pk]), {"reason": "ok"}
    )
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    with pytest.raises(Forbidden):
        escrow_services.adjustment_post(
            merchant=merchant, amount=D("200.00"), reason="direct", staff=conflicted
        )
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.ADJUSTMENT).exists()
    assert [e.after["refused"] for e in refusals(conflicted)] == [
        "posting_request",
        "approval_decide",
        "adjustment_post",
    ]


@pytest.mark.django_db(transaction=True)
def test_the_refusal_is_kept_though_the_approval_rolls_back() -> None:
    """Committed for real: the approval's transaction rolls back, its audit row stays."""
    merchant = funded_merchant("1000.00")
    conflicted = join(finance_staff(), merchant)
    approval = escrow_approvals.posting_request(
        staff=finance_staff(),
        target=AccountKind.DEPOSIT,
        amount=D("-50.00"),
        reason="fee",
        merchant_id=merchant.pk,
        merchant_name=merchant.shop_name,
        counterpart=AccountKind.BANK,
    )
    with pytest.raises(Forbidden):
        approvals.approval_grant(approval=approval, staff=conflicted)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    [entry] = refusals(conflicted)
    assert entry.after["refused"] == "approval_decide" and entry.after["shops"] == [merchant.pk]
