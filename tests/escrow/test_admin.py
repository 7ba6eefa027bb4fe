"""Finance screens in the admin: read-only ledger, withdrawal decisions, manual adjustments,
payout retries — all through the services, for the `finance` group only."""

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
from tests.escrow.factories import assert_ledger_clean, balances, finance_staff, funded_merchant
from tests.factories import ProductFactory, StaffFactory
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def finance_client(client):
    client.force_login(finance_staff())
    return client


def test_finance_sees_accounts_and_transactions_with_their_legs(finance_client):
    merchant = funded_merchant("1000.00")
    tx = LedgerTransaction.objects.get()
    response = finance_client.get(reverse("admin:escrow_account_changelist"))
    assert response.status_code == 200
    assert merchant.shop_name in response.content.decode()
    response = finance_client.get(reverse("admin:escrow_ledgertransaction_change", args=[tx.pk]))
    assert response.status_code == 200
    assert "+¥1,000.00" in response.content.decode()
    for name in ["hold", "payout", "withdrawal"]:
        assert finance_client.get(reverse(f"admin:escrow_{name}_changelist")).status_code == 200


def test_the_ledger_cannot_be_added_changed_or_deleted_in_the_admin(finance_client):
    funded_merchant("1000.00")
    tx = LedgerTransaction.objects.get()
    assert finance_client.get(reverse("admin:escrow_ledgertransaction_add")).status_code == 403
    assert finance_client.get(reverse("admin:escrow_account_add")).status_code == 403
    url = reverse("admin:escrow_ledgertransaction_delete", args=[tx.pk])
    assert finance_client.post(url, {"post": "yes"}).status_code == 403
    assert LedgerTransaction.objects.filter(pk=tx.pk).exists()
    url = reverse("admin:escrow_ledgertransaction_change", args=[tx.pk])
    finance_client.post(url, {"key": "changed", "memo": "changed"})
    tx.refresh_from_db()
    assert tx.key != "changed" and tx.memo == ""


def test_staff_outside_finance_see_no_ledger(client):
    funded_merchant("1000.00")
    client.force_login(StaffFactory())
    assert client.get(reverse("admin:escrow_account_changelist")).status_code == 403
    assert client.get(reverse("admin:escrow_account_adjust")).status_code == 403
    assert client.get(reverse("admin:escrow_withdrawal_changelist")).status_code == 403


def _action(client, model: str, action: str, ids: list[int], **extra: str):
    return client.post(
        reverse(f"admin:escrow_{model}_changelist"),
        {"action": action, "_selected_action": [str(i) for i in ids], **extra},
        follow=True,
    )


def test_finance_approves_a_withdrawal_through_the_service(finance_client):
    merchant = funded_merchant("1500.00")
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("300.00"), user=merchant.owner
    )
    response = _action(finance_client, "withdrawal", "approve", [withdrawal.pk])
    assert response.status_code == 200
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.APPROVED
    assert balances(merchant)["deposit"] == 120000
    assert_ledger_clean()


def test_rejecting_a_withdrawal_needs_a_reason(finance_client):
    merchant = funded_merchant("1500.00")
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("300.00"), user=merchant.owner
    )
    _action(finance_client, "withdrawal", "reject", [withdrawal.pk], reason="")
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PENDING
    _action(finance_client, "withdrawal", "reject", [withdrawal.pk], reason="bank details wrong")
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.REJECTED
    assert withdrawal.reason == "bank details wrong"


def test_staff_without_the_permission_cannot_approve(client):
    merchant = funded_merchant("1500.00")
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("300.00"), user=merchant.owner
    )
    client.force_login(StaffFactory(perms=["escrow.view_withdrawal"]))
    _action(client, "withdrawal", "approve", [withdrawal.pk])
    assert Withdrawal.objects.get().status == WithdrawalStatus.PENDING


def test_a_manual_adjustment_needs_a_reason(finance_client):
    merchant = funded_merchant("1000.00")
    url = reverse("admin:escrow_account_adjust")
    assert finance_client.get(url).status_code == 200
    response = finance_client.post(
        url,
        {
            "target": AccountKind.DEPOSIT,
            "merchant": merchant.pk,
            "amount": "25.00",
            "counterpart": AccountKind.COMPENSATION_FUND,
            "reason": "",
        },
    )
    assert response.status_code == 200  # the form again, with its error
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.ADJUSTMENT).exists()


def _second_approval(client):
    """Four eyes (docs/admin.md): a second member of finance approves the pending posting."""
    from kamen_complaints.models import Approval

    approval = Approval.objects.get(status="pending")
    client.force_login(finance_staff())
    return client.post(
        reverse("admin:kamen_complaints_approval_approve", args=[approval.pk]), {"reason": "ok"}
    )


def test_a_manual_adjustment_posts_through_the_service(finance_client):
    merchant = funded_merchant("1000.00")
    response = finance_client.post(
        reverse("admin:escrow_account_adjust"),
        {
            "target": AccountKind.DEPOSIT,
            "merchant": merchant.pk,
            "amount": "-25.00",
            "counterpart": AccountKind.BANK,
            "reason": "chargeback fee",
        },
    )
    assert response.status_code == 302
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.ADJUSTMENT).exists()
    assert balances(merchant)["deposit"] == 100000  # nothing moves before the second approval
    assert _second_approval(finance_client).status_code == 302
    tx = LedgerTransaction.objects.get(kind=TransactionKind.ADJUSTMENT)
    assert tx.memo == "chargeback fee" and tx.created_by is not None
    assert balances(merchant)["deposit"] == 97500
    assert_ledger_clean()


def test_a_refused_adjustment_shows_the_rule(finance_client):
    merchant = funded_merchant("10.00")
    response = finance_client.post(
        reverse("admin:escrow_account_adjust"),
        {
            "target": AccountKind.DEPOSIT,
            "merchant": merchant.pk,
            "amount": "-25.00",
            "counterpart": AccountKind.BANK,
            "reason": "fee",
        },
    )
    assert response.status_code == 302
    page = _second_approval(finance_client)
    assert page.status_code == 302  # back to the approval, with the rule as a message
    messages = [str(m) for m in page.wsgi_request._messages]
    assert any("available" in m or "可用" in m for m in messages), messages
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.ADJUSTMENT).exists()


def test_finance_tops_up_the_fund_from_the_adjustment_form(finance_client):
    response = finance_client.post(
        reverse("admin:escrow_account_adjust"),
        {
            "target": "compensation_fund",
            "amount": "5000.00",
            "counterpart": AccountKind.BANK,
            "reason": "monthly budget",
        },
    )
    assert response.status_code == 302
    assert _second_approval(finance_client).status_code == 302
    fund = Account.objects.get(merchant__isnull=True, kind=AccountKind.COMPENSATION_FUND)
    assert fund.balance == 500000


def test_finance_retries_a_failed_payout_from_the_admin(finance_client):
    merchant = funded_merchant("1000.00")
    order = paid_order(product=ProductFactory(merchant=merchant))
    services.compensation_pay(dispute_id=1, order=order, amount=D("10.00"))
    payout = Payout.objects.get()
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.FAILED, last_error="timeout")
    response = finance_client.get(reverse("admin:escrow_payout_changelist"))
    assert "timeout" in response.content.decode()
    _action(finance_client, "payout", "retry_now", [payout.pk])
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SENT
    assert_ledger_clean()


def test_staff_without_the_retry_permission_cannot_send_a_payout(client):
    merchant = funded_merchant("1000.00")
    order = paid_order(product=ProductFactory(merchant=merchant))
    services.compensation_pay(dispute_id=1, order=order, amount=D("10.00"))
    payout = Payout.objects.get()
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.FAILED, last_error="timeout")
    client.force_login(StaffFactory(perms=["escrow.view_payout"]))
    assert client.get(reverse("admin:escrow_payout_changelist")).status_code == 200
    _action(client, "payout", "retry_now", [payout.pk])
    payout.refresh_from_db()
    assert (payout.status, payout.attempts) == (PayoutStatus.FAILED, 0)


def test_the_finance_forms_find_a_shop_by_name_not_by_a_drop_down_of_every_shop(finance_client):
    """The adjustment and minimum-deposit forms grow with the platform if they list every
    shop: the shop is typed (its name as names compare, or its number) and looked up."""
    from tests.factories import MerchantFactory

    merchant = funded_merchant("1000.00")
    merchant.shop_name = "Ｓｔａｒ 卡铺"  # full-width, as a shop may register
    merchant.save()
    others = MerchantFactory.create_batch(3)
    for url in (reverse("admin:escrow_account_adjust"), reverse("admin:escrow_account_minimum")):
        page = finance_client.get(url).content.decode()
        assert '<select name="merchant"' not in page
        assert not any(other.shop_name in page for other in others)
    url = reverse("admin:escrow_account_minimum")
    unknown = finance_client.post(url, {"merchant": "no such shop", "amount": "10", "reason": "r"})
    assert unknown.status_code == 200
    assert unknown.context["form"].errors["merchant"]
    by_name = finance_client.post(url, {"merchant": " star 卡铺 ", "amount": "10", "reason": "r"})
    assert by_name.status_code == 302
    merchant.refresh_from_db()
    assert merchant.minimum_deposit == Decimal("10")
    by_number = finance_client.post(
        url, {"merchant": str(merchant.pk), "amount": "20", "reason": "r"}
    )
    assert by_number.status_code == 302
    merchant.refresh_from_db()
    assert merchant.minimum_deposit == Decimal("20")
