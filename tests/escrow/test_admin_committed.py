"""Every admin money action, run the way production runs it: no test transaction around the
request, so each service must open its own. On PostgreSQL the balanced-legs trigger is deferred
to commit; a service without `transaction.atomic` commits each leg on its own and the trigger
refuses the first one — these tests then fail with the database's error."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from escrow import services
from escrow.models import (
    Account,
    AccountKind,
    LedgerTransaction,
    Payout,
    PayoutStatus,
    TransactionKind,
    Withdrawal,
    WithdrawalStatus,
)
from orders.models import MerchantStatus
from tests.escrow.factories import assert_ledger_clean, balances, finance_staff, funded_merchant
from tests.factories import ProductFactory
from tests.helpers import paid_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal


@pytest.fixture
def finance_client(client):
    client.force_login(finance_staff())
    return client


def _action(client, model: str, action: str, ids: list[int], **extra: str):
    return client.post(
        reverse(f"admin:escrow_{model}_changelist"),
        {"action": action, "_selected_action": [str(i) for i in ids], **extra},
        follow=True,
    )


def _approve_posting(client, data: dict[str, str]):
    """A manual posting needs two members of finance: the first requests it, a second
    approves it (docs/admin.md, "Four eyes")."""
    from kamen_complaints.models import Approval

    response = client.post(reverse("admin:escrow_account_adjust"), data)
    assert response.status_code == 302
    approval = Approval.objects.get(status="pending")
    second = finance_staff()
    client.force_login(second)
    return client.post(
        reverse("admin:kamen_complaints_approval_approve", args=[approval.pk]),
        {"reason": "checked against the bank statement"},
    )


def test_approving_a_withdrawal_commits_balanced(finance_client):
    merchant = funded_merchant("1500.00")
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("300.00"), user=merchant.owner
    )
    assert _action(finance_client, "withdrawal", "approve", [withdrawal.pk]).status_code == 200
    assert Withdrawal.objects.get().status == WithdrawalStatus.APPROVED
    assert balances(merchant)["deposit"] == 120000
    assert_ledger_clean()


def test_rejecting_a_withdrawal_commits(finance_client):
    merchant = funded_merchant("1500.00")
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("300.00"), user=merchant.owner
    )
    _action(finance_client, "withdrawal", "reject", [withdrawal.pk], reason="wrong account")
    assert Withdrawal.objects.get().status == WithdrawalStatus.REJECTED
    assert balances(merchant)["deposit"] == 150000


def test_retrying_a_payout_commits_balanced(finance_client):
    merchant = funded_merchant("1000.00")
    order = paid_order(product=ProductFactory(merchant=merchant))
    services.compensation_pay(dispute_id=1, order=order, amount=D("10.00"))
    payout = Payout.objects.get()
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.FAILED, last_error="timeout")
    _action(finance_client, "payout", "retry_now", [payout.pk])
    assert Payout.objects.get().status == PayoutStatus.SENT
    assert_ledger_clean()


def test_a_manual_adjustment_commits_balanced(finance_client):
    merchant = funded_merchant("1000.00")
    response = _approve_posting(
        finance_client,
        {
            "target": AccountKind.DEPOSIT,
            "merchant": str(merchant.pk),
            "amount": "-25.00",
            "counterpart": AccountKind.BANK,
            "reason": "chargeback fee",
        },
    )
    assert response.status_code == 302
    assert LedgerTransaction.objects.filter(kind=TransactionKind.ADJUSTMENT).count() == 1
    assert balances(merchant)["deposit"] == 97500
    assert_ledger_clean()


def test_a_fund_topup_commits_balanced(finance_client):
    """The defect of issue 11: `compensation_fund_topup` had no transaction of its own."""
    response = _approve_posting(
        finance_client,
        {
            "target": "compensation_fund",
            "amount": "5000.00",
            "counterpart": AccountKind.BANK,
            "reason": "monthly budget",
        },
    )
    assert response.status_code == 302
    fund = Account.objects.get(merchant__isnull=True, kind=AccountKind.COMPENSATION_FUND)
    assert fund.balance == 500000
    assert LedgerTransaction.objects.filter(kind=TransactionKind.FUND_TOPUP).count() == 1
    assert_ledger_clean()


def test_changing_the_minimum_deposit_commits(finance_client):
    merchant = funded_merchant("1000.00")
    response = finance_client.post(
        reverse("admin:escrow_account_minimum"),
        {"merchant": merchant.pk, "amount": "2000.00", "reason": "risk review"},
    )
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert (merchant.minimum_deposit, merchant.status) == (D("2000.00"), MerchantStatus.SUSPENDED)
    assert_ledger_clean()


def test_each_money_service_opens_its_own_transaction():
    """The approval above runs the posting inside its own transaction, which would hide a
    posting service without `atomic`: call each one bare, in autocommit, as any caller may."""
    staff = finance_staff()
    merchant = funded_merchant("1500.00")
    services.compensation_fund_topup(amount=D("100.00"), reason="budget", staff=staff)
    services.adjustment_post(
        merchant=merchant,
        amount=D("-5.00"),
        reason="fee",
        staff=staff,
        account=AccountKind.DEPOSIT,
        counterpart=AccountKind.BANK,
    )
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("100.00"), user=merchant.owner
    )
    services.withdrawal_approve(withdrawal=withdrawal, staff=staff)
    services.deposit_set_minimum(merchant=merchant, amount=D("500.00"), reason="x", staff=staff)
    assert balances(merchant)["deposit"] == 139500
    assert_ledger_clean()
