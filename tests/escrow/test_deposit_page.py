"""The deposit page of the merchant dashboard, /merchant/deposit/ (merchant/views/deposit.py):
the figures, the suspension banner with its cure, the ledger with the balance after each
entry and its complaint, and the owner-only top-up and withdrawal forms — a team member sees
a note instead, and a POST from one is refused by the service with the 403 page."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from disputes.models import Dispute
from escrow import services as escrow_services
from escrow.models import Withdrawal, WithdrawalStatus
from orders.models import Merchant, MerchantStatus, SuspensionReason
from tests.disputes.factories import agent_of, deposit, file, fund, funded_order, resolved_by_refund
from tests.factories import MerchantFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/merchant/deposit/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def merchant() -> Merchant:
    merchant = MerchantFactory()
    fund(merchant, Decimal("1500.00"))
    return merchant


# --- Who may see and do what --------------------------------------------------------------


def test_anonymous_visitors_go_to_the_login_page() -> None:
    response = Client().get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    response = Client().post(URL, {"action": "withdraw", "amount": "10"})
    assert response.status_code == 302


def test_a_buyer_without_a_shop_is_sent_to_the_application() -> None:
    buyer = UserFactory()
    response = logged_in(buyer).get(URL)
    assert response.status_code == 302
    assert not response["Location"].startswith("/accounts/login/")
    response = logged_in(buyer).post(URL, {"action": "topup", "amount": "10"})
    assert response.status_code == 302


def test_the_owner_sees_the_figures_and_both_forms(merchant: Merchant) -> None:
    response = logged_in(merchant.owner).get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-figure="balance">¥1,500.00<' in page
    assert 'data-figure="minimum">¥1,000.00<' in page
    assert 'id="topup-form"' in page and 'id="withdrawal-form"' in page
    assert "suspension-banner" not in page


def test_a_team_member_sees_the_page_with_a_note_instead_of_the_forms(merchant: Merchant) -> None:
    response = logged_in(agent_of(merchant)).get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-figure="balance">¥1,500.00<' in page
    assert 'id="topup-form"' not in page and 'id="withdrawal-form"' not in page
    assert "ms-owner-note" in page


@pytest.mark.parametrize("action", ["topup", "withdraw"])
@pytest.mark.parametrize("amount", ["100.00", "not money"])
def test_a_team_member_posting_the_owners_forms_gets_the_403_page(
    merchant: Merchant, action: str, amount: str
) -> None:
    before = deposit(merchant)
    response = logged_in(agent_of(merchant)).post(URL, {"action": action, "amount": amount})
    assert response.status_code == 403
    assert "merchant/403.html" in [t.name for t in response.templates]
    assert deposit(merchant) == before
    assert not Withdrawal.objects.exists()


def test_another_shops_owner_sees_only_their_own_deposit(merchant: Merchant) -> None:
    other = MerchantFactory()
    response = logged_in(other.owner).get(URL)
    assert response.status_code == 200
    assert response.context["merchant"] == other
    assert 'data-figure="balance">¥0.00<' in response.content.decode()


# --- Top-up -------------------------------------------------------------------------------


def test_the_owner_tops_up_through_the_sandbox(merchant: Merchant) -> None:
    client = logged_in(merchant.owner)
    response = client.post(URL, {"action": "topup", "amount": "¥250.50"})
    assert response.status_code == 302
    assert response["Location"] == URL
    assert deposit(merchant).balance == Decimal("1750.50")
    page = client.get(URL).content.decode()
    assert "¥250.50" in page  # the success message and the ledger row
    assert "balance after: ¥1,750.50" in page or "¥1,750.50" in page


@pytest.mark.parametrize("amount", ["", "abc", "12.345", "0", "-10", "1e3"])
def test_a_bad_top_up_amount_is_refused_next_to_the_field(merchant: Merchant, amount: str) -> None:
    response = logged_in(merchant.owner).post(URL, {"action": "topup", "amount": amount})
    assert response.status_code == 400
    assert response.context["topup_form"].errors["amount"]
    assert deposit(merchant).balance == Decimal("1500.00")


def test_an_unknown_action_is_a_400(merchant: Merchant) -> None:
    response = logged_in(merchant.owner).post(URL, {"action": "steal", "amount": "10"})
    assert response.status_code == 400


# --- Suspension banner --------------------------------------------------------------------


def test_a_shop_suspended_for_its_deposit_is_told_what_to_top_up_and_the_top_up_lifts_it() -> None:
    merchant = MerchantFactory()
    fund(merchant, Decimal("400.00"))
    Merchant.objects.filter(pk=merchant.pk).update(
        status=MerchantStatus.SUSPENDED, suspension_reason=SuspensionReason.DEPOSIT
    )
    client = logged_in(merchant.owner)
    response = client.get(URL)
    page = response.content.decode()
    assert 'id="suspension-banner"' in page
    assert response.context["cure"] == Decimal("600.00")
    assert "¥600.00" in page
    # The top-up form is filled with the cure.
    assert response.context["topup_form"].initial["amount"] == "600.00"
    assert client.post(URL, {"action": "topup", "amount": "600.00"}).status_code == 302
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.ACTIVE
    assert 'id="suspension-banner"' not in client.get(URL).content.decode()


def test_a_manual_suspension_shows_the_staff_note_and_who_lifts_it(merchant: Merchant) -> None:
    Merchant.objects.filter(pk=merchant.pk).update(
        status=MerchantStatus.SUSPENDED,
        suspension_reason=SuspensionReason.MANUAL,
        status_note="Keys resold from another shop",
    )
    response = logged_in(merchant.owner).get(URL)
    page = response.content.decode()
    assert 'id="suspension-banner"' in page
    assert "Keys resold from another shop" in page
    assert response.context["suspended_for_deposit"] is False


# --- Withdrawal ---------------------------------------------------------------------------


def test_a_withdrawal_beyond_what_open_complaints_leave_free_is_refused_with_the_reason(
    merchant: Merchant,
) -> None:
    order = funded_order(product=ProductFactory(merchant=merchant), deposit_amount=Decimal("0"))
    dispute = file(order)
    free = Decimal("500.00") - dispute.claimed_amount  # 1,500.00 less the minimum and the hold
    too_much = f"{free + Decimal('0.01'):.2f}"
    response = logged_in(merchant.owner).post(URL, {"action": "withdraw", "amount": too_much})
    assert response.status_code == 400
    errors = response.context["withdrawal_form"].errors["amount"]
    assert (
        errors and f"¥{free:,.2f}" in errors[0] and f"¥{dispute.claimed_amount:,.2f}" in errors[0]
    )
    assert errors[0] in response.content.decode()
    assert f'value="{too_much}"' in response.content.decode()  # the amount is kept
    assert not Withdrawal.objects.exists()


def test_the_page_lists_which_complaint_holds_how_much_and_what_may_be_withdrawn(
    merchant: Merchant,
) -> None:
    first = file(
        funded_order(
            product=ProductFactory(merchant=merchant, price=Decimal("30.00")),
            deposit_amount=Decimal("0"),
        )
    )
    second = file(
        funded_order(
            product=ProductFactory(merchant=merchant, price=Decimal("75.50")),
            deposit_amount=Decimal("0"),
        )
    )
    response = logged_in(merchant.owner).get(URL)
    page = response.content.decode()
    holds = response.context["withdrawable"].holds
    assert [(h.number, h.amount) for h in holds] == [
        (first.number, Decimal("30.00")),
        (second.number, Decimal("75.50")),
    ]
    section = page[page.index('id="holds"') :]
    for dispute, amount in ((first, "¥30.00"), (second, "¥75.50")):
        assert f'href="/merchant/complaints/{dispute.number}/"' in section
        row = section[section.index(f'data-hold="dispute:{dispute.pk}"') :]
        assert amount in row[: row.index("</li>")]
    # 1,500.00 − 105.50 held − 0 pending − 1,000.00 minimum − 0 owed
    assert response.context["withdrawable"].amount == Decimal("394.50")
    assert 'data-figure="withdrawable">¥394.50<' in page
    assert "¥394.50" in page[page.index('id="withdrawable-breakdown"') :]


def test_a_withdrawal_under_the_minimum_is_refused(merchant: Merchant) -> None:
    response = logged_in(merchant.owner).post(URL, {"action": "withdraw", "amount": "600"})
    assert response.status_code == 400
    assert "¥1,000.00" in response.context["withdrawal_form"].errors["amount"][0]
    assert not Withdrawal.objects.exists()


def test_the_owner_requests_a_withdrawal_and_sees_it_pending(merchant: Merchant) -> None:
    client = logged_in(merchant.owner)
    response = client.post(URL, {"action": "withdraw", "amount": "500"})
    assert response.status_code == 302
    withdrawal = Withdrawal.objects.get()
    assert withdrawal.amount == 50000 and withdrawal.status == WithdrawalStatus.PENDING
    page = client.get(URL)
    assert [item["withdrawal"] for item in page.context["withdrawals"]] == [withdrawal]
    assert page.context["withdrawals"][0]["amount"] == Decimal("500.00")


# --- Ledger -------------------------------------------------------------------------------


def test_ledger_entries_show_the_balance_after_and_link_their_complaint() -> None:
    dispute = resolved_by_refund()
    merchant = dispute.merchant
    response = logged_in(merchant.owner).get(URL)
    rows = response.context["rows"]
    linked = [row for row in rows if row["complaint"]]
    assert linked and all(row["complaint"] == dispute.number for row in linked)
    assert f'href="{reverse("merchant:complaint", args=[dispute.number])}"' in (
        response.content.decode()
    )
    # Newest first; each row's balance after is its account's running balance.
    deposit_rows = [row for row in rows if not row["receivable"]]
    assert deposit_rows[0]["balance_after"] == deposit(merchant).balance
    assert Dispute.objects.count() == 1


def test_the_ledger_page_costs_the_same_queries_at_1_and_50_entries() -> None:
    counts = []
    for size in (1, 50):
        merchant = MerchantFactory()
        for _ in range(size):
            escrow_services.deposit_topup_confirm(
                merchant=merchant,
                reference=f"page-{uuid.uuid4().hex}",
                amount=Decimal("10.00"),
                channel="sandbox",
                user=merchant.owner,
            )
        client = logged_in(merchant.owner)
        client.get(URL)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL)
        assert len(response.context["rows"]) == min(size, 25)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
