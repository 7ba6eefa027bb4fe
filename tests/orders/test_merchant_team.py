"""The shop's team (orders.services merchant_member_add / merchant_member_remove, the
/merchant/team/ page and /api/v1/merchant/team/), the owner-only rules of the deposit
(escrow.services deposit_topup / withdrawal_request and their API), and the shop
application and verification pages (/merchant/apply/, /merchant/verification/)."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from escrow import services as escrow_services
from escrow.models import Withdrawal
from kamen_complaints.errors import DomainError, Forbidden, NotFound
from kamen_complaints.models import AuditEntry
from orders import selectors, services
from orders.models import (
    MemberRole,
    Merchant,
    MerchantMember,
    MerchantStatus,
    SuspensionReason,
)
from tests.disputes.factories import agent_of, file, fund
from tests.factories import VALID_ID_NUMBER, MerchantFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "Ka-men-2026-team!"


@pytest.fixture
def shop() -> Merchant:
    return MerchantFactory()


@pytest.fixture
def agent(shop: Merchant) -> User:
    return agent_of(shop)


def _api(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


# --- Services -------------------------------------------------------------------------------


def test_owner_adds_an_existing_account_recorded_in_the_audit_log(
    shop: Merchant, caplog: pytest.LogCaptureFixture
) -> None:
    someone = UserFactory(username="xiaoli")
    with caplog.at_level(logging.INFO, logger="orders.services"):
        member = services.merchant_member_add(merchant=shop, actor=shop.owner, username="xiaoli")
    assert member.user == someone
    assert member.role == MemberRole.AGENT
    assert selectors.merchant_for_user(someone) == shop
    entry = AuditEntry.objects.get(object_id=str(member.pk))
    assert entry.action == services.AUDIT_TEAM_MEMBER_ADDED
    assert entry.actor == shop.owner
    assert entry.after["user"] == "xiaoli" and entry.after["merchant"] == shop.pk
    assert any("added team member xiaoli" in r.getMessage() for r in caplog.records)


def test_owner_creates_a_new_account() -> None:
    shop = MerchantFactory()
    member = services.merchant_member_add(
        merchant=shop,
        actor=shop.owner,
        username="kefu01",
        email="kefu@example.com",
        password=STRONG,
    )
    user = User.objects.get(username="kefu01")
    assert member.user == user
    assert user.email == "kefu@example.com"
    assert user.check_password(STRONG)
    assert not user.is_staff


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"username": "nobody-here"}, "user_not_found"),
        ({"username": "  "}, "username_required"),
        (
            {"username": "kefu02", "email": "kefu@example.com", "password": "123"},
            "password_invalid",
        ),
        ({"username": "kefu02", "password": STRONG}, "email_required"),
        ({"username": "kefu02", "email": "not-an-address", "password": STRONG}, "email_invalid"),
        ({"username": "kefu02", "email": "kefu@example.com"}, "password_required"),
        (
            {"username": "bad name!", "email": "k@example.com", "password": STRONG},
            "username_invalid",
        ),
    ],
)
def test_add_refusals_create_nothing(shop: Merchant, kwargs: dict[str, Any], code: str) -> None:
    users = User.objects.count()
    with pytest.raises(DomainError) as refused:
        services.merchant_member_add(merchant=shop, actor=shop.owner, **kwargs)
    assert refused.value.code == code
    assert User.objects.count() == users
    assert MerchantMember.objects.filter(merchant=shop).count() == 1


def test_a_taken_username_is_not_created_again(shop: Merchant) -> None:
    UserFactory(username="taken")
    with pytest.raises(DomainError) as refused:
        services.merchant_member_add(
            merchant=shop,
            actor=shop.owner,
            username="Taken",
            email="t@example.com",
            password=STRONG,
        )
    assert refused.value.code == "username_taken"


def test_one_shop_per_account(shop: Merchant, agent: User) -> None:
    other = MerchantFactory()
    with pytest.raises(DomainError) as refused:
        services.merchant_member_add(merchant=other, actor=other.owner, username=agent.username)
    assert refused.value.code == "member_of_other_shop"
    with pytest.raises(DomainError) as refused:
        services.merchant_member_add(
            merchant=other, actor=other.owner, username=shop.owner.username
        )
    assert refused.value.code == "member_of_other_shop"
    with pytest.raises(DomainError) as refused:
        services.merchant_member_add(merchant=shop, actor=shop.owner, username=agent.username)
    assert refused.value.code == "already_member"
    assert selectors.merchant_for_user(agent) == shop


def test_staff_and_disabled_accounts_are_refused(shop: Merchant) -> None:
    staff = StaffFactory()
    with pytest.raises(DomainError) as refused:
        services.merchant_member_add(merchant=shop, actor=shop.owner, username=staff.username)
    assert refused.value.code == "staff_account"
    disabled = UserFactory(is_active=False)
    with pytest.raises(DomainError) as refused:
        services.merchant_member_add(merchant=shop, actor=shop.owner, username=disabled.username)
    assert refused.value.code == "account_disabled"


def test_only_the_owner_adds(shop: Merchant, agent: User) -> None:
    someone = UserFactory()
    with pytest.raises(Forbidden):
        services.merchant_member_add(merchant=shop, actor=agent, username=someone.username)
    stranger_owner = MerchantFactory().owner
    with pytest.raises(Forbidden):
        services.merchant_member_add(merchant=shop, actor=stranger_owner, username=someone.username)
    assert selectors.merchant_for_user(someone) is None


def test_owner_removes_a_member_recorded_and_the_account_kept(shop: Merchant, agent: User) -> None:
    member = MerchantMember.objects.get(user=agent)
    services.merchant_member_remove(merchant=shop, actor=shop.owner, member_id=member.pk)
    assert not MerchantMember.objects.filter(pk=member.pk).exists()
    assert User.objects.filter(pk=agent.pk).exists()
    assert selectors.merchant_for_user(agent) is None
    entry = AuditEntry.objects.get(
        object_id=str(member.pk), action=services.AUDIT_TEAM_MEMBER_REMOVED
    )
    assert entry.actor == shop.owner
    assert entry.before["user"] == agent.username


def test_remove_refusals(shop: Merchant, agent: User) -> None:
    owner_row = MerchantMember.objects.get(user=shop.owner)
    with pytest.raises(DomainError) as refused:
        services.merchant_member_remove(merchant=shop, actor=shop.owner, member_id=owner_row.pk)
    assert refused.value.code == "owner_not_removable"
    agent_row = MerchantMember.objects.get(user=agent)
    with pytest.raises(Forbidden):
        services.merchant_member_remove(merchant=shop, actor=agent, member_id=owner_row.pk)
    with pytest.raises(Forbidden):
        services.merchant_member_remove(merchant=shop, actor=agent, member_id=agent_row.pk)
    other = MerchantFactory()
    with pytest.raises(NotFound):  # another shop's member is not this owner's to see
        services.merchant_member_remove(merchant=other, actor=other.owner, member_id=agent_row.pk)
    assert MerchantMember.objects.filter(merchant=shop).count() == 2


# --- Only the owner tops up and withdraws (escrow.services) -------------------------------


def test_team_member_neither_tops_up_nor_withdraws(shop: Merchant, agent: User) -> None:
    fund(shop, Decimal("1500.00"))
    with pytest.raises(Forbidden):
        escrow_services.deposit_topup(merchant=shop, amount=Decimal("100.00"), user=agent)
    with pytest.raises(Forbidden):
        escrow_services.withdrawal_request(merchant=shop, amount=Decimal("100.00"), user=agent)
    assert not Withdrawal.objects.exists()
    withdrawal = escrow_services.withdrawal_request(
        merchant=shop, amount=Decimal("100.00"), user=shop.owner
    )
    assert withdrawal.requested_by == shop.owner


def test_team_member_gets_403_from_the_deposit_api_but_reads_it(
    shop: Merchant, agent: User
) -> None:
    fund(shop, Decimal("1500.00"))
    client = _api(agent)
    assert client.get("/api/v1/merchant/deposit/").status_code == 200
    topup = client.post("/api/v1/merchant/deposit/topups/", {"amount": "100.00"}, format="json")
    assert topup.status_code == 403
    withdraw = client.post(
        "/api/v1/merchant/deposit/withdrawals/", {"amount": "100.00"}, format="json"
    )
    assert withdraw.status_code == 403
    assert not Withdrawal.objects.exists()


def test_team_member_answers_complaints(agent: User) -> None:
    from disputes import services as dispute_services
    from disputes.models import Status

    dispute = file()
    shop = dispute.merchant
    member = agent_of(shop)
    answered = dispute_services.dispute_respond(
        dispute=dispute, merchant_user=member, action="offer", amount=Decimal("10.00"), message="ok"
    )
    assert answered.status == Status.AWAITING_BUYER


# --- The team page ------------------------------------------------------------------------


def test_team_page_owner_sees_the_form_and_adds(
    client: Client, shop: Merchant, agent: User
) -> None:
    client.force_login(shop.owner)
    page = client.get("/merchant/team/")
    assert page.status_code == 200
    body = page.content.decode()
    assert agent.username in body and shop.owner.username in body
    assert 'name="username"' in body
    assert f"/merchant/team/{MerchantMember.objects.get(user=agent).pk}/remove/" in body
    someone = UserFactory()
    response = client.post("/merchant/team/", {"username": someone.username})
    assert response.status_code == 302
    assert response["Location"] == "/merchant/team/"
    assert selectors.merchant_for_user(someone) == shop


def test_team_page_refusal_next_to_its_field_input_kept(client: Client, shop: Merchant) -> None:
    client.force_login(shop.owner)
    response = client.post(
        "/merchant/team/",
        {"username": "kefu09", "email": "kefu09@example.com", "password": "12345678"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["password"]
    body = response.content.decode()
    assert 'value="kefu09"' in body and 'value="kefu09@example.com"' in body
    assert "12345678" not in body  # a password is never sent back
    assert not User.objects.filter(username="kefu09").exists()
    missing = client.post("/merchant/team/", {"username": "no-such-account"})
    assert missing.status_code == 400
    assert missing.context["form"].errors["username"]


def test_team_member_sees_the_list_without_forms_and_gets_403_on_posts(
    client: Client, shop: Merchant, agent: User
) -> None:
    client.force_login(agent)
    page = client.get("/merchant/team/")
    assert page.status_code == 200
    body = page.content.decode()
    assert shop.owner.username in body
    assert 'name="username"' not in body
    assert "/remove/" not in body
    someone = UserFactory()
    refused = client.post("/merchant/team/", {"username": someone.username})
    assert refused.status_code == 403
    assert selectors.merchant_for_user(someone) is None
    owner_row = MerchantMember.objects.get(user=shop.owner)
    assert client.post(f"/merchant/team/{owner_row.pk}/remove/").status_code == 403
    assert MerchantMember.objects.filter(merchant=shop).count() == 2


def test_team_page_other_shop_buyer_anonymous(client: Client, shop: Merchant, agent: User) -> None:
    agent_row = MerchantMember.objects.get(user=agent)
    other = MerchantFactory()
    client.force_login(other.owner)
    assert client.post(f"/merchant/team/{agent_row.pk}/remove/").status_code == 404
    assert shop.owner.username not in client.get("/merchant/team/").content.decode()
    client.force_login(UserFactory())
    response = client.get("/merchant/team/")
    assert response.status_code == 302 and response["Location"] == "/merchant/apply/"
    client.logout()
    response = client.get("/merchant/team/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.post(f"/merchant/team/{agent_row.pk}/remove/").status_code == 302
    assert MerchantMember.objects.filter(pk=agent_row.pk).exists()


def test_owner_removes_from_the_page_and_cannot_remove_self(client: Client, shop: Merchant) -> None:
    agent = agent_of(shop)
    client.force_login(shop.owner)
    row = MerchantMember.objects.get(user=agent)
    assert client.post(f"/merchant/team/{row.pk}/remove/").status_code == 302
    assert selectors.merchant_for_user(agent) is None
    own = MerchantMember.objects.get(user=shop.owner)
    response = client.post(f"/merchant/team/{own.pk}/remove/", follow=True)
    assert response.status_code == 200
    assert MerchantMember.objects.filter(pk=own.pk).exists()
    assert any(m.level_tag == "error" for m in response.context["messages"])


def test_team_page_queries_the_same_at_1_and_50_members(
    client: Client, shop: Merchant, django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(shop.owner)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/merchant/team/").status_code == 200
        return len(ctx.captured_queries)

    one = count()
    for _ in range(49):
        agent_of(shop)
    assert count() == one


# --- The team API -------------------------------------------------------------------------


def test_team_api_list_for_owner_and_team(shop: Merchant, agent: User) -> None:
    for user in (shop.owner, agent):
        data = _api(user).get("/api/v1/merchant/team/").json()
        assert data["count"] == 2
        assert [m["username"] for m in data["results"]] == [shop.owner.username, agent.username]
        assert data["results"][0]["role"] == "owner"
    assert _api(UserFactory()).get("/api/v1/merchant/team/").status_code == 404
    assert _api(None).get("/api/v1/merchant/team/").status_code == 401


def test_team_api_add_and_delete_owner_only(shop: Merchant, agent: User) -> None:
    someone = UserFactory()
    refused = _api(agent).post("/api/v1/merchant/team/", {"username": someone.username})
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    created = _api(shop.owner).post(
        "/api/v1/merchant/team/",
        {"username": "api-kefu", "email": "api@example.com", "password": STRONG},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["username"] == "api-kefu"
    assert "password" not in created.json()
    member_id = created.json()["id"]
    again = _api(shop.owner).post("/api/v1/merchant/team/", {"username": "api-kefu"})
    assert again.status_code == 409 and again.json()["code"] == "already_member"
    bad = _api(shop.owner).post("/api/v1/merchant/team/", {}, format="json")
    assert bad.status_code == 400 and "username" in bad.json()
    assert _api(agent).delete(f"/api/v1/merchant/team/{member_id}/").status_code == 403
    other = MerchantFactory()
    assert _api(other.owner).delete(f"/api/v1/merchant/team/{member_id}/").status_code == 404
    assert _api(UserFactory()).delete(f"/api/v1/merchant/team/{member_id}/").status_code == 404
    assert _api(None).delete(f"/api/v1/merchant/team/{member_id}/").status_code == 401
    own = MerchantMember.objects.get(user=shop.owner)
    self_removal = _api(shop.owner).delete(f"/api/v1/merchant/team/{own.pk}/")
    assert self_removal.status_code == 409 and self_removal.json()["code"] == "owner_not_removable"
    assert _api(shop.owner).delete(f"/api/v1/merchant/team/{member_id}/").status_code == 204
    assert not MerchantMember.objects.filter(pk=member_id).exists()


# --- Apply and verification ---------------------------------------------------------------


def _application(**changes: str) -> dict[str, str]:
    values = {
        "shop_name": "新开的点卡店",
        "legal_name": "李四",
        "id_number": VALID_ID_NUMBER,
        "phone": "13912345678",
        "address": "上海市浦东新区世纪大道100号",
        "business_license": "",
    }
    values.update(changes)
    return values


def test_apply_page_opens_a_pending_shop(client: Client) -> None:
    user = UserFactory()
    client.force_login(user)
    page = client.get("/merchant/apply/")
    assert page.status_code == 200
    for name in ("shop_name", "legal_name", "id_number", "phone", "address", "business_license"):
        assert f'name="{name}"' in page.content.decode()
    response = client.post("/merchant/apply/", _application())
    assert response.status_code == 302 and response["Location"] == "/merchant/verification/"
    merchant = Merchant.objects.get(owner=user)
    assert merchant.status == MerchantStatus.PENDING_VERIFICATION
    status = client.get("/merchant/verification/")
    assert status.status_code == 200
    body = status.content.decode()
    assert "standing--waiting" in body
    assert VALID_ID_NUMBER not in body and VALID_ID_NUMBER[-4:] in body


def test_apply_refusal_next_to_the_field_and_the_identity_number_not_echoed(
    client: Client,
) -> None:
    user = UserFactory()
    client.force_login(user)
    wrong = VALID_ID_NUMBER[:-1] + ("0" if VALID_ID_NUMBER[-1] != "0" else "1")
    response = client.post("/merchant/apply/", _application(id_number=wrong))
    assert response.status_code == 400
    assert response.context["form"].errors["id_number"]
    body = response.content.decode()
    assert wrong not in body
    assert "新开的点卡店" in body and "13912345678" in body  # the rest is kept
    phone = client.post("/merchant/apply/", _application(phone="12345"))
    assert phone.status_code == 400
    assert phone.context["form"].errors["phone"]
    assert VALID_ID_NUMBER not in phone.content.decode()
    MerchantFactory(shop_name="已有的店")
    taken = client.post("/merchant/apply/", _application(shop_name="已有的店"))
    assert taken.status_code == 400 and taken.context["form"].errors["shop_name"]
    assert not Merchant.objects.filter(owner=user).exists()


def test_apply_page_for_a_merchant_and_for_anonymous(client: Client, shop: Merchant) -> None:
    client.force_login(shop.owner)
    response = client.get("/merchant/apply/")
    assert response.status_code == 302 and response["Location"] == "/merchant/verification/"
    client.logout()
    response = client.get("/merchant/apply/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_verification_warns_a_month_ahead(client: Client) -> None:
    soon = MerchantFactory(reverification_due=timezone.now() + timedelta(days=20, hours=1))
    client.force_login(soon.owner)
    body = client.get("/merchant/verification/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "standing--warning" in body
    assert "due in 20 days" in body
    later = MerchantFactory(reverification_due=timezone.now() + timedelta(days=60))
    client.force_login(later.owner)
    body = client.get("/merchant/verification/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "standing--ok" in body
    assert "due in" not in body


def test_verification_says_why_rejected_and_what_a_suspension_means(client: Client) -> None:
    rejected = MerchantFactory(
        status=MerchantStatus.REJECTED, status_note="营业执照照片模糊，请重新提交。"
    )
    client.force_login(rejected.owner)
    body = client.get("/merchant/verification/").content.decode()
    assert "standing--danger" in body and "营业执照照片模糊" in body
    suspended = MerchantFactory(
        status=MerchantStatus.SUSPENDED, suspension_reason=SuspensionReason.DEPOSIT
    )
    agent = agent_of(suspended)
    client.force_login(agent)  # the team sees it too
    body = client.get("/merchant/verification/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "deposit is below its minimum of ¥1,000.00" in body
    assert "Complaints go on" in body
