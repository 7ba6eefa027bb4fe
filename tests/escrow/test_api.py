"""REST API of the deposit (README "Deposits"), with negative permission tests and
constant query counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escrow import services
from escrow.models import Withdrawal, WithdrawalStatus
from orders.models import MemberRole, MerchantMember
from tests.escrow.factories import assert_ledger_clean, balances, funded_merchant, recover_paid
from tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
DEPOSIT = "/api/v1/merchant/deposit/"
ENTRIES = "/api/v1/merchant/deposit/entries/"
TOPUPS = "/api/v1/merchant/deposit/topups/"
WITHDRAWALS = "/api/v1/merchant/deposit/withdrawals/"


def agent_of(merchant):
    user = UserFactory()
    MerchantMember.objects.create(merchant=merchant, user=user, role=MemberRole.AGENT)
    return user


def test_deposit_summary_shows_the_shops_money(api_client):
    merchant = funded_merchant("1200.00")
    services.deposit_hold(merchant=merchant, amount=D("50.00"), reference="dispute:1")
    api_client.force_authenticate(merchant.owner)
    response = api_client.get(DEPOSIT)
    assert response.status_code == 200
    body = response.json()
    withdrawable = body.pop("withdrawable")
    assert body == {
        "balance": "1200.00",
        "held": "50.00",
        "available": "1150.00",
        "receivable": "0.00",
        "minimum": "1000.00",
        "status": "active",
        "suspension_reason": "",
    }
    holds = withdrawable.pop("holds")
    assert withdrawable == {
        "amount": "150.00",  # 1,200.00 − 50.00 held − 0 pending − 1,000.00 minimum − 0 owed
        "balance": "1200.00",
        "held": "50.00",
        "pending": "0.00",
        "minimum": "1000.00",
        "owed": "0.00",
    }
    assert [(h["complaint"], h["amount"]) for h in holds] == [("", "50.00")]


def test_deposit_summary_shows_what_is_owed_as_a_positive_receivable(api_client):
    merchant = funded_merchant("10.00", minimum_deposit=D("0"))
    recover_paid(merchant, 1, D("25.50"))
    api_client.force_authenticate(merchant.owner)
    body = api_client.get(DEPOSIT).json()
    assert (body["balance"], body["receivable"], body["status"]) == ("0.00", "15.50", "suspended")


def test_a_team_agent_sees_the_deposit(api_client):
    merchant = funded_merchant("1000.00")
    api_client.force_authenticate(agent_of(merchant))
    assert api_client.get(DEPOSIT).status_code == 200
    assert api_client.get(ENTRIES).status_code == 200


@pytest.mark.parametrize("path", [DEPOSIT, ENTRIES, WITHDRAWALS])
def test_someone_without_a_shop_gets_404(api_client, path):
    funded_merchant("1000.00")
    api_client.force_authenticate(UserFactory())
    response = api_client.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", [DEPOSIT, ENTRIES, TOPUPS, WITHDRAWALS])
def test_anonymous_gets_401(api_client, path):
    response = api_client.get(path) if path in (DEPOSIT, ENTRIES) else api_client.post(path, {})
    assert response.status_code == 401


def test_entries_are_signed_lines_with_running_balances(api_client):
    merchant = funded_merchant("1000.00", minimum_deposit=D("0"))
    recover_paid(merchant, 42, D("1012.34"))
    api_client.force_authenticate(merchant.owner)
    body = api_client.get(ENTRIES).json()
    assert body["count"] == 3
    recovery_receivable, recovery_deposit, topup = body["results"]
    assert topup["kind"] == "topup" and topup["amount"] == "1000.00"
    assert topup["balance_after"] == "1000.00" and topup["account"] == "deposit"
    assert recovery_deposit == {
        **recovery_deposit,
        "kind": "recovery",
        "account": "deposit",
        "amount": "-1000.00",
        "balance_after": "0.00",
        "reference": "dispute:42:recovery",
        "dispute": 42,
    }
    assert recovery_receivable["account"] == "receivable"
    assert recovery_receivable["amount"] == "-12.34"
    assert recovery_receivable["balance_after"] == "-12.34"


def test_entries_of_another_shop_are_not_shown(api_client):
    funded_merchant("1000.00")
    other = funded_merchant("5.00")
    api_client.force_authenticate(other.owner)
    body = api_client.get(ENTRIES).json()
    assert body["count"] == 1 and body["results"][0]["amount"] == "5.00"


def test_entries_take_the_same_number_of_queries_at_1_and_50_rows(api_client):
    merchant = funded_merchant("1.00")
    api_client.force_authenticate(merchant.owner)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get(ENTRIES, {"page_size": 50})
        assert response.status_code == 200
        return len(queries)

    at_one = count()
    for i in range(49):
        services.deposit_topup_confirm(
            merchant=merchant,
            reference=f"REF{i}",
            amount=D("1.00"),
            channel="sandbox",
            user=merchant.owner,
        )
    at_fifty = count()
    assert api_client.get(ENTRIES, {"page_size": 50}).json()["count"] == 50
    assert at_one == at_fifty


def test_owner_tops_up_through_the_sandbox(api_client):
    merchant = MerchantFactory()
    api_client.force_authenticate(merchant.owner)
    response = api_client.post(TOPUPS, {"amount": "1500.50", "channel": "sandbox"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == "1500.50" and body["reference"].startswith("topup:SBX")
    assert body["deposit"]["balance"] == "1500.50"
    assert balances(merchant)["deposit"] == 150050
    assert_ledger_clean()


def test_a_deposit_above_ten_billion_yuan_is_still_answered(api_client):
    # One top-up is at most MAX_YUAN, but several add up past 12 digits: the summary must
    # still serialise (it once answered 500 after crediting the money).
    merchant = funded_merchant("9999999999.99")
    api_client.force_authenticate(merchant.owner)
    response = api_client.post(TOPUPS, {"amount": "1.01"})
    assert response.status_code == 201, response.content
    assert response.json()["deposit"]["balance"] == "10000000001.00"
    assert api_client.get(DEPOSIT).json()["available"] == "10000000001.00"


def test_a_team_agent_may_not_top_up(api_client):
    merchant = MerchantFactory()
    api_client.force_authenticate(agent_of(merchant))
    response = api_client.post(TOPUPS, {"amount": "10.00"})
    assert response.status_code == 403
    assert balances(merchant)["deposit"] == 0


def test_someone_without_a_shop_may_not_top_up(api_client):
    api_client.force_authenticate(UserFactory())
    assert api_client.post(TOPUPS, {"amount": "10.00"}).status_code == 404


@pytest.mark.parametrize(
    ("amount", "status", "field_error"),
    [("10.001", 400, True), ("abc", 400, True), ("0", 400, False), ("-3.00", 400, False)],
)
def test_a_bad_top_up_amount_is_a_clear_400(api_client, amount, status, field_error):
    merchant = MerchantFactory()
    api_client.force_authenticate(merchant.owner)
    response = api_client.post(TOPUPS, {"amount": amount})
    assert response.status_code == status
    body = response.json()
    if field_error:
        assert "amount" in body
    else:
        assert body["code"] == "amount_invalid"
    assert balances(merchant)["deposit"] == 0


def test_owner_requests_a_withdrawal_that_waits_for_finance(api_client):
    merchant = funded_merchant("1500.00")
    api_client.force_authenticate(merchant.owner)
    response = api_client.post(WITHDRAWALS, {"amount": "200.00"})
    assert response.status_code == 201
    assert response.json()["status"] == "pending" and response.json()["amount"] == "200.00"
    assert Withdrawal.objects.get().status == WithdrawalStatus.PENDING
    listed = api_client.get(WITHDRAWALS).json()
    assert listed["count"] == 1 and listed["results"][0]["amount"] == "200.00"


@pytest.mark.parametrize(
    ("setup", "amount", "code"),
    [
        ("open_complaint", "495.01", "insufficient_funds"),
        (None, "1500.01", "insufficient_funds"),
        (None, "600.00", "below_minimum"),
        (None, "0.00", "amount_invalid"),
    ],
)
def test_withdrawal_refusals_carry_their_code(api_client, setup, amount, code):
    merchant = funded_merchant("1500.00")
    if setup == "open_complaint":
        services.deposit_hold(merchant=merchant, amount=D("5.00"), reference="dispute:1")
    api_client.force_authenticate(merchant.owner)
    response = api_client.post(WITHDRAWALS, {"amount": amount})
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert not Withdrawal.objects.exists()


def test_a_team_agent_may_not_withdraw(api_client):
    merchant = funded_merchant("1500.00")
    api_client.force_authenticate(agent_of(merchant))
    response = api_client.post(WITHDRAWALS, {"amount": "10.00"})
    assert response.status_code == 403
    assert not Withdrawal.objects.exists()


def test_someone_without_a_shop_may_not_withdraw(api_client):
    api_client.force_authenticate(UserFactory())
    assert api_client.post(WITHDRAWALS, {"amount": "10.00"}).status_code == 404


def test_the_schema_describes_the_deposit_endpoints(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ["/api/v1/merchant/deposit/", ENTRIES, TOPUPS, WITHDRAWALS]:
        assert path in paths
