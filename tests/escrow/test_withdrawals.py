"""What a shop may withdraw (docs/rules.md "Shops, teams and deposits"): the balance less
every open complaint's hold — an appealed one included —, the pending withdrawals, the
minimum deposit and what the shop owes. A busy shop withdraws what its holds leave free; an
appeal holds its claim again until the appeal's ruling (or the recovery decision after its
review clock) releases or consumes it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from disputes import services as dispute_services
from disputes.models import Status
from escrow import selectors, services
from escrow.models import AccountKind, Hold, HoldStatus, WithdrawalStatus
from kamen_complaints.errors import DomainError
from tests.disputes.factories import arbitrator, contest, file, fund, funded_order
from tests.escrow.factories import assert_ledger_clean, balances, finance_staff, funded_merchant
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

D = Decimal


def refused(merchant, amount: str) -> DomainError:
    with pytest.raises(DomainError) as caught:
        services.withdrawal_request(merchant=merchant, amount=D(amount), user=merchant.owner)
    return caught.value


def hold_of(dispute) -> Hold | None:
    return Hold.objects.filter(reference=f"dispute:{dispute.pk}", status=HoldStatus.ACTIVE).first()


def rejected_then_appealed():
    """A ¥3,000 complaint against a shop with ¥5,000 on deposit (minimum ¥1,000), ruled
    `rejected` (its hold released) and then appealed by the buyer."""
    order = funded_order(price=D("3000.00"), deposit_amount=D("5000.00"))
    dispute = contest(file(order))
    dispute = dispute_services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome="rejected", reason="The key was valid"
    )
    assert hold_of(dispute) is None
    dispute = dispute_services.dispute_appeal(
        dispute=dispute, user=dispute.buyer, reason="It was redeemed before I got it"
    )
    assert dispute.status == Status.UNDER_REVIEW
    return dispute


# --- An appeal holds its claim again ---------------------------------------------------------


def test_an_appeal_holds_the_claim_and_a_withdrawal_takes_only_what_is_free() -> None:
    dispute = rejected_then_appealed()
    merchant = dispute.merchant
    hold = hold_of(dispute)
    assert hold is not None and hold.amount == 300000
    assert balances(merchant) == {"deposit": 500000, "held": 300000, "receivable": 0}
    error = refused(merchant, "3000.00")  # the withdrawal of the report
    assert error.code == "insufficient_funds"
    assert "¥1,000.00" in error.message and "¥3,000.00" in error.message
    refused(merchant, "1000.01")
    # 5,000.00 − 3,000.00 held − 1,000.00 minimum
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("1000.00"), user=merchant.owner
    )
    assert services.withdrawal_approve(withdrawal=withdrawal, staff=finance_staff()).status == (
        WithdrawalStatus.APPROVED
    )
    assert_ledger_clean()


def test_a_withdrawal_requested_before_the_appeal_is_refused_at_approval() -> None:
    order = funded_order(price=D("3000.00"), deposit_amount=D("5000.00"))
    dispute = contest(file(order))
    dispute = dispute_services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome="rejected", reason="The key was valid"
    )
    merchant = dispute.merchant
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("3000.00"), user=merchant.owner
    )
    dispute_services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="Redeemed before")
    with pytest.raises(DomainError) as caught:
        services.withdrawal_approve(withdrawal=withdrawal, staff=finance_staff())
    assert caught.value.code == "insufficient_funds"
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PENDING
    assert balances(merchant)["deposit"] == 500000


def test_the_appeals_ruling_consumes_the_hold_it_placed() -> None:
    dispute = rejected_then_appealed()
    dispute = dispute_services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome="refunded", reason="Redeemed before delivery"
    )
    assert hold_of(dispute) is None
    consumed = Hold.objects.filter(reference=f"dispute:{dispute.pk}").order_by("-id").first()
    assert consumed is not None and consumed.status == HoldStatus.CONSUMED
    assert consumed.consumed == 300000
    assert balances(dispute.merchant) == {"deposit": 200000, "held": 0, "receivable": 0}
    assert_ledger_clean()


def test_an_appeals_ruling_for_the_merchant_releases_the_hold() -> None:
    dispute = rejected_then_appealed()
    dispute_services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome="rejected", reason="Upheld"
    )
    assert hold_of(dispute) is None
    assert balances(dispute.merchant) == {"deposit": 500000, "held": 0, "receivable": 0}
    assert selectors.deposit_withdrawable(dispute.merchant).amount == D("4000.00")
    assert_ledger_clean()


def test_the_clock_keeps_an_appeals_hold_until_the_recovery_decision() -> None:
    """The batch path: the appeal's review clock runs out, the platform pays first, the hold
    stays for the recovery decision, which consumes it."""
    dispute = rejected_then_appealed()
    with time_machine.travel(dispute.review_due + timedelta(minutes=1), tick=False):
        assert dispute_services.dispute_review_expire(dispute=dispute)
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.recovery_pending
    assert hold_of(dispute) is not None
    assert selectors.deposit_withdrawable(dispute.merchant).amount == D("1000.00")
    dispute_services.dispute_decide_recovery(
        dispute=dispute, staff=arbitrator(), bears="merchant", reason="The shop sold a used key"
    )
    assert hold_of(dispute) is None
    assert balances(dispute.merchant) == {"deposit": 200000, "held": 0, "receivable": 0}
    assert_ledger_clean()


# --- A busy shop withdraws what its holds leave free -----------------------------------------


def test_a_busy_shop_with_small_holds_withdraws_the_excess() -> None:
    merchant = funded_merchant("6411.00")  # minimum 1,000.00
    for price in ("100.00", "208.00"):
        file(
            funded_order(
                product=ProductFactory(merchant=merchant, price=D(price)), deposit_amount=D("0")
            )
        )
    assert balances(merchant)["held"] == 30800
    assert refused(merchant, "5103.01").code == "insufficient_funds"
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("5103.00"), user=merchant.owner
    )
    free = selectors.deposit_withdrawable(merchant)
    assert (free.balance, free.held, free.minimum, free.owed) == (
        D("6411.00"),
        D("308.00"),
        D("1000.00"),
        D("0.00"),
    )
    assert selectors.deposit_withdrawable(merchant).pending == D("5103.00")
    assert selectors.deposit_withdrawable(merchant).amount == D("0.00")
    assert refused(merchant, "0.01").code == "insufficient_funds"
    services.withdrawal_approve(withdrawal=withdrawal, staff=finance_staff())
    assert balances(merchant) == {"deposit": 130800, "held": 30800, "receivable": 0}
    assert_ledger_clean()


# --- The debt term ---------------------------------------------------------------------------


def owing(amount: str, *, deposit: str = "1500.00"):
    """A shop with `deposit` on deposit (minimum 1,000.00) that owes the platform `amount`."""
    merchant = funded_merchant(deposit)
    services.adjustment_post(
        merchant=merchant,
        amount=-D(amount),
        reason="Compensation paid beyond the deposit",
        staff=finance_staff(),
        account=AccountKind.RECEIVABLE,
    )
    merchant.refresh_from_db()
    return merchant


def test_what_a_shop_owes_is_taken_off_what_it_may_withdraw() -> None:
    merchant = owing("90.00")
    assert balances(merchant) == {"deposit": 150000, "held": 0, "receivable": -9000}
    # 1,500.00 − 0 held − 0 pending − 1,000.00 minimum − 90.00 owed
    error = refused(merchant, "410.01")
    assert error.code == "below_minimum"  # the money is there, but the debt eats the minimum
    assert "¥410.00" in error.message and "¥90.00" in error.message
    assert selectors.deposit_withdrawable(merchant).amount == D("410.00")
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("410.00"), user=merchant.owner
    )
    services.withdrawal_approve(withdrawal=withdrawal, staff=finance_staff())
    assert balances(merchant) == {"deposit": 109000, "held": 0, "receivable": -9000}
    assert_ledger_clean()


def test_a_debt_larger_than_the_free_money_leaves_nothing_to_withdraw() -> None:
    merchant = owing("700.00")
    assert refused(merchant, "0.01").code == "below_minimum"
    assert selectors.deposit_withdrawable(merchant).amount == D("0.00")
    fund(merchant, D("700.00"))  # a top-up pays the debt first
    assert selectors.deposit_withdrawable(merchant).amount == D("500.00")


def test_the_deposit_page_names_the_debt_in_the_breakdown() -> None:
    merchant = owing("90.00")
    client = Client()
    client.force_login(merchant.owner)
    response = client.get("/merchant/deposit/")
    page = response.content.decode()
    assert 'data-figure="withdrawable">¥410.00<' in page
    breakdown = page[page.index('id="withdrawable-breakdown"') :]
    breakdown = breakdown[: breakdown.index("</p>")]
    assert "¥410.00" in breakdown and "¥90.00" in breakdown and "¥1,000.00" in breakdown


# --- The selector ----------------------------------------------------------------------------


def test_the_withdrawable_amount_costs_the_same_queries_at_1_and_30_holds() -> None:
    def queries(merchant) -> int:
        with CaptureQueriesContext(connection) as captured:
            found = selectors.deposit_withdrawable(merchant)
        assert len(found.holds) == Hold.objects.filter(merchant=merchant).count()
        return len(captured)

    small = funded_merchant("2000.00")
    file(funded_order(product=ProductFactory(merchant=small), deposit_amount=D("0")))
    busy = funded_merchant("5000.00")
    for _ in range(30):
        file(funded_order(product=ProductFactory(merchant=busy), deposit_amount=D("0")))
    assert queries(small) == queries(busy)
