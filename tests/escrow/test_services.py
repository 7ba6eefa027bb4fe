"""escrow.services: holds, compensation, top-ups, withdrawals, adjustments, payouts.

Every money-moving test ends with `check_ledger` clean (assert_ledger_clean)."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from escrow import services
from escrow.models import (
    Account,
    AccountKind,
    Hold,
    HoldStatus,
    ImmutableRowError,
    LedgerTransaction,
    Payout,
    PayoutStatus,
    TransactionKind,
    Withdrawal,
    WithdrawalStatus,
)
from kamen_complaints.errors import DomainError, Forbidden
from orders import services as order_services
from orders.models import (
    MemberRole,
    MerchantMember,
    MerchantStatus,
    Payment,
    Refund,
    SuspensionReason,
)
from orders.payments import PaymentError
from tests.escrow.factories import (
    assert_ledger_clean,
    balances,
    finance_staff,
    funded_merchant,
    platform,
    recover_paid,
)
from tests.factories import MerchantFactory, ProductFactory, StaffFactory, UserFactory
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db

D = Decimal


def order_of(merchant, price="48.00"):
    return paid_order(product=ProductFactory(merchant=merchant, price=D(price)))


def agent_of(merchant):
    user = UserFactory()
    MerchantMember.objects.create(merchant=merchant, user=user, role=MemberRole.AGENT)
    return user


# --- Top-ups ------------------------------------------------------------------------------


def test_topup_credits_the_deposit_and_records_a_topup_payment():
    merchant = MerchantFactory()
    tx = services.deposit_topup(merchant=merchant, amount=D("1500.00"), user=merchant.owner)
    assert tx.kind == TransactionKind.TOPUP
    assert tx.key.startswith("topup:SBX")
    payment = Payment.objects.get(reference=tx.key.removeprefix("topup:"))
    assert payment.purpose == "topup" and payment.amount == D("1500.00") and payment.order is None
    assert balances(merchant) == {"deposit": 150000, "held": 0, "receivable": 0}
    assert platform(AccountKind.BANK) == -150000
    assert_ledger_clean()


def test_topup_by_a_team_agent_is_forbidden_and_moves_nothing():
    merchant = MerchantFactory()
    with pytest.raises(Forbidden):
        services.deposit_topup(merchant=merchant, amount=D("10.00"), user=agent_of(merchant))
    assert not LedgerTransaction.objects.exists()


def test_topup_confirmed_twice_moves_money_once():
    merchant = MerchantFactory()
    first = services.deposit_topup_confirm(
        merchant=merchant,
        reference="REF1",
        amount=D("100.00"),
        channel="sandbox",
        user=merchant.owner,
    )
    again = services.deposit_topup_confirm(
        merchant=merchant,
        reference="REF1",
        amount=D("100.00"),
        channel="sandbox",
        user=merchant.owner,
    )
    assert again.pk == first.pk
    assert balances(merchant)["deposit"] == 10000
    assert Payment.objects.filter(reference="REF1").count() == 1
    assert_ledger_clean()


def test_topup_pays_the_receivable_first_and_lifts_the_deposit_suspension():
    merchant = funded_merchant("1000.00")
    recover_paid(merchant, 1, D("1200.00"))
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.SUSPENDED
    assert merchant.suspension_reason == SuspensionReason.DEPOSIT
    assert balances(merchant) == {"deposit": 0, "held": 0, "receivable": -20000}

    services.deposit_topup(merchant=merchant, amount=D("500.00"), user=merchant.owner)
    merchant.refresh_from_db()
    assert balances(merchant) == {"deposit": 30000, "held": 0, "receivable": 0}
    assert merchant.status == MerchantStatus.SUSPENDED  # 300.00 is still under the 1000.00

    services.deposit_topup(merchant=merchant, amount=D("700.00"), user=merchant.owner)
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.ACTIVE and merchant.suspension_reason == ""
    assert_ledger_clean()


def test_topup_never_lifts_a_manual_suspension():
    merchant = MerchantFactory()
    order_services.merchant_suspend(
        merchant=merchant, reason=SuspensionReason.MANUAL, note="fraud check"
    )
    services.deposit_topup(merchant=merchant, amount=D("5000.00"), user=merchant.owner)
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.SUSPENDED
    assert merchant.suspension_reason == SuspensionReason.MANUAL


@pytest.mark.parametrize("amount", ["0", "-5.00", "1.005"])
def test_topup_of_an_impossible_amount_is_refused(amount):
    merchant = MerchantFactory()
    with pytest.raises(DomainError) as refused:
        services.deposit_topup(merchant=merchant, amount=D(amount), user=merchant.owner)
    assert refused.value.code == "amount_invalid"


def test_topup_through_an_unknown_channel_is_refused():
    merchant = MerchantFactory()
    with pytest.raises(DomainError) as refused:
        services.deposit_topup(
            merchant=merchant, amount=D("1.00"), user=merchant.owner, channel="paypal"
        )
    assert refused.value.code == "channel_invalid"


# --- Holds --------------------------------------------------------------------------------


def test_hold_reserves_the_claim_or_what_is_available():
    merchant = funded_merchant("100.00", minimum_deposit=D("0"))
    first = services.deposit_hold(merchant=merchant, amount=D("60.00"), reference="dispute:1")
    second = services.deposit_hold(merchant=merchant, amount=D("60.00"), reference="dispute:2")
    third = services.deposit_hold(merchant=merchant, amount=D("60.00"), reference="dispute:3")
    assert (first.amount, second.amount, third.amount) == (6000, 4000, 0)
    assert third.status == HoldStatus.ACTIVE  # a buyer may always complain
    assert balances(merchant)["held"] == 10000
    assert_ledger_clean()


def test_hold_is_idempotent_per_reference_and_released_once():
    merchant = funded_merchant("100.00")
    hold = services.deposit_hold(merchant=merchant, amount=D("30.00"), reference="dispute:9")
    again = services.deposit_hold(merchant=merchant, amount=D("50.00"), reference="dispute:9")
    assert again.pk == hold.pk and balances(merchant)["held"] == 3000
    released = services.hold_release(reference="dispute:9")
    assert released is not None and released.status == HoldStatus.RELEASED
    assert services.hold_release(reference="dispute:9") is None
    assert services.hold_release(reference="dispute:unknown") is None
    assert balances(merchant)["held"] == 0
    assert_ledger_clean()


def test_a_merchant_without_accounts_gets_them_lazily():
    merchant = MerchantFactory()
    assert not Account.objects.filter(merchant=merchant).exists()
    hold = services.deposit_hold(merchant=merchant, amount=D("10.00"), reference="dispute:1")
    assert hold.amount == 0
    assert set(Account.objects.filter(merchant=merchant).values_list("kind", flat=True)) == {
        AccountKind.DEPOSIT,
        AccountKind.RECEIVABLE,
    }


# --- Compensation -------------------------------------------------------------------------


def test_recovery_takes_its_hold_then_unheld_balance_then_books_a_receivable():
    merchant = funded_merchant("100.00", minimum_deposit=D("0"))
    services.deposit_hold(merchant=merchant, amount=D("30.00"), reference="dispute:1")
    services.deposit_hold(merchant=merchant, amount=D("50.00"), reference="dispute:2")
    # 100.00 on deposit: 30 held for #1, 50 held for #2, 20 free. #1 recovers 70:
    # 30 from its hold, 20 unheld, 20 receivable; #2's hold is untouched.
    tx = recover_paid(merchant, 1, D("70.00"))
    legs = {leg.account.kind: leg.amount for leg in tx.legs.select_related("account")}
    assert legs == {"deposit": -5000, "receivable": -2000, "compensation_fund": 7000}
    assert balances(merchant) == {"deposit": 5000, "held": 5000, "receivable": -2000}
    hold = Hold.objects.get(reference="dispute:1")
    assert (hold.status, hold.consumed) == (HoldStatus.CONSUMED, 3000)
    assert Hold.objects.get(reference="dispute:2").status == HoldStatus.ACTIVE
    merchant.refresh_from_db()
    assert merchant.suspension_reason == SuspensionReason.DEPOSIT  # owes a receivable
    assert_ledger_clean()


def test_recovery_below_the_hold_frees_the_rest_of_it():
    merchant = funded_merchant("100.00", minimum_deposit=D("0"))
    services.deposit_hold(merchant=merchant, amount=D("40.00"), reference="dispute:1")
    recover_paid(merchant, 1, D("15.00"))
    assert balances(merchant) == {"deposit": 8500, "held": 0, "receivable": 0}
    assert Hold.objects.get(reference="dispute:1").consumed == 1500
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.ACTIVE
    assert_ledger_clean()


def test_recovery_that_leaves_the_deposit_under_its_minimum_suspends_the_shop():
    merchant = funded_merchant("1000.00")
    recover_paid(merchant, 3, D("0.01"))
    merchant.refresh_from_db()
    assert (merchant.status, merchant.suspension_reason) == ("suspended", "deposit")


def test_compensation_with_the_same_key_twice_moves_money_once(
    django_capture_on_commit_callbacks,
):
    merchant = funded_merchant("1000.00")
    order = order_of(merchant)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.compensation_pay(dispute_id=5, order=order, amount=D("48.00"))
        again = services.compensation_pay(dispute_id=5, order=order, amount=D("48.00"))
    assert again.pk == first.pk
    assert Payout.objects.count() == 1
    recovered = services.compensation_recover(dispute_id=5, merchant=merchant, amount=D("48.00"))
    assert (
        services.compensation_recover(dispute_id=5, merchant=merchant, amount=D("48.00")).pk
        == recovered.pk
    )
    assert balances(merchant)["deposit"] == 100000 - 4800
    assert platform(AccountKind.COMPENSATION_FUND) == 0
    assert_ledger_clean()


def test_payout_is_refunded_through_the_channel_on_commit(django_capture_on_commit_callbacks):
    merchant = funded_merchant("1000.00")
    order = order_of(merchant)
    with django_capture_on_commit_callbacks(execute=True):
        services.compensation_pay(dispute_id=8, order=order, amount=D("20.00"))
    payout = Payout.objects.get()
    assert payout.status == PayoutStatus.SENT and payout.provider_refund_id.startswith("SBXR")
    refund = Refund.objects.get(idempotency_key=f"payout:{payout.pk}")
    assert refund.amount == D("20.00")
    order.refresh_from_db()
    assert order.refunded_amount == D("20.00") and order.status == "partially_refunded"
    assert platform(AccountKind.BUYER_REFUNDS) == 0
    assert platform(AccountKind.COMPENSATION_FUND) == -2000
    assert LedgerTransaction.objects.filter(key=f"payout:{payout.pk}").count() == 1
    # Sending it again (a re-delivered task) pays nothing twice.
    services.payout_send(payout_id=payout.pk)
    assert Refund.objects.count() == 1
    assert_ledger_clean()


def test_a_failed_payout_stays_visible_and_the_sweep_retries_it():
    merchant = funded_merchant("1000.00")
    order = order_of(merchant)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        services.compensation_pay(dispute_id=4, order=order, amount=D("10.00"))
        payout = Payout.objects.get()
        with mock.patch(
            "orders.payments.SandboxProvider.refund", side_effect=PaymentError("channel down")
        ):
            assert services.payouts_send_pending() == 0
        payout.refresh_from_db()
        assert payout.status == PayoutStatus.FAILED and "channel down" in payout.last_error
        assert payout.attempts == 1 and payout.next_attempt_at > start
        assert platform(AccountKind.BUYER_REFUNDS) == 1000  # still owed, never lost
        assert services.payouts_send_pending() == 0  # not due yet
        clock.shift(timedelta(minutes=5))
        assert services.payouts_send_pending() == 1
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SENT and payout.attempts == 2 and payout.last_error == ""
    assert platform(AccountKind.BUYER_REFUNDS) == 0
    assert_ledger_clean()


def test_the_sweep_sends_a_payout_whose_task_the_broker_lost():
    merchant = funded_merchant("1000.00")
    order = order_of(merchant)
    services.compensation_pay(dispute_id=4, order=order, amount=D("10.00"))  # no on-commit run
    assert Payout.objects.get().status == PayoutStatus.PENDING
    assert services.payouts_send_pending() == 1
    assert Payout.objects.get().status == PayoutStatus.SENT
    assert services.payouts_send_pending() == 0
    assert_ledger_clean()


def test_compensation_above_the_order_amount_is_refused():
    merchant = funded_merchant("1000.00")
    order = order_of(merchant, price="48.00")
    with pytest.raises(DomainError) as refused:
        services.compensation_pay(dispute_id=1, order=order, amount=D("48.01"))
    assert refused.value.code == "amount_invalid"
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.COMPENSATION_PAYOUT).exists()


# --- Scenarios: the buyer is paid once, the merchant charged at most once ----------------


def _charged(merchant) -> int:
    """What the merchant bears: deposit taken plus receivable booked, net of reversals."""
    return sum(
        -leg.amount
        for tx in LedgerTransaction.objects.filter(
            merchant=merchant,
            kind__in=[TransactionKind.RECOVERY, TransactionKind.RECOVERY_REVERSAL],
        )
        for leg in tx.legs.select_related("account")
        if leg.account.kind in (AccountKind.DEPOSIT, AccountKind.RECEIVABLE)
    )


def _paid_to_buyer(order) -> Decimal:
    return sum((r.amount for r in Refund.objects.filter(payment__order=order)), D("0"))


def test_fast_track_then_later_recovery(django_capture_on_commit_callbacks):
    """Small claim: paid at filing; the case later decides the merchant bears it."""
    merchant = funded_merchant("1000.00")
    order = order_of(merchant, price="50.00")
    with django_capture_on_commit_callbacks(execute=True):
        services.deposit_hold(merchant=merchant, amount=D("50.00"), reference="dispute:11")
        services.compensation_pay(dispute_id=11, order=order, amount=D("50.00"))
    assert _paid_to_buyer(order) == D("50.00")
    # ... days later, staff rule that the merchant bears it; the sweep runs twice.
    with django_capture_on_commit_callbacks(execute=True):
        services.compensation_recover(dispute_id=11, merchant=merchant, amount=D("50.00"))
        services.compensation_recover(dispute_id=11, merchant=merchant, amount=D("50.00"))
        services.compensation_pay(dispute_id=11, order=order, amount=D("50.00"))
    assert _paid_to_buyer(order) == D("50.00")
    assert _charged(merchant) == 5000
    assert balances(merchant) == {"deposit": 95000, "held": 0, "receivable": 0}
    assert platform(AccountKind.COMPENSATION_FUND) == 0
    assert_ledger_clean()


def test_fast_track_the_platform_bears(django_capture_on_commit_callbacks):
    merchant = funded_merchant("1000.00")
    order = order_of(merchant, price="30.00")
    with django_capture_on_commit_callbacks(execute=True):
        services.deposit_hold(merchant=merchant, amount=D("30.00"), reference="dispute:12")
        services.compensation_pay(dispute_id=12, order=order, amount=D("30.00"))
        services.hold_release(reference="dispute:12")
    assert _paid_to_buyer(order) == D("30.00") and _charged(merchant) == 0
    assert platform(AccountKind.COMPENSATION_FUND) == -3000
    assert balances(merchant) == {"deposit": 100000, "held": 0, "receivable": 0}
    assert_ledger_clean()


def test_default_judgment_pays_and_recovers_in_one_go(django_capture_on_commit_callbacks):
    """The merchant stayed silent: the buyer wins by default, the deposit bears it."""
    merchant = funded_merchant("1000.00")
    order = order_of(merchant, price="48.00")
    services.deposit_hold(merchant=merchant, amount=D("48.00"), reference="dispute:13")
    for _run in range(2):  # the deadline sweep may run twice
        with django_capture_on_commit_callbacks(execute=True):
            services.compensation_pay(dispute_id=13, order=order, amount=D("48.00"))
            services.compensation_recover(dispute_id=13, merchant=merchant, amount=D("48.00"))
    assert _paid_to_buyer(order) == D("48.00") and _charged(merchant) == 4800
    assert LedgerTransaction.objects.filter(dispute_id=13).count() == 2
    assert_ledger_clean()


def test_appeal_reversal_gives_the_merchant_back_but_never_claws_back_the_buyer(
    django_capture_on_commit_callbacks,
):
    merchant = funded_merchant("1000.00", minimum_deposit=D("0"))
    order = order_of(merchant, price="80.00")
    with django_capture_on_commit_callbacks(execute=True):
        services.compensation_pay(dispute_id=14, order=order, amount=D("80.00"))
        services.compensation_recover(dispute_id=14, merchant=merchant, amount=D("80.00"))
    # The merchant's appeal succeeds: the recovery is reversed (twice asked, once done).
    for _run in range(2):
        services.compensation_recovery_reversal(dispute_id=14, merchant=merchant, amount=D("80.00"))
    assert _paid_to_buyer(order) == D("80.00")
    assert _charged(merchant) == 0
    assert balances(merchant) == {"deposit": 100000, "held": 0, "receivable": 0}
    assert platform(AccountKind.COMPENSATION_FUND) == -8000  # the platform bears it
    assert_ledger_clean()


def test_appeal_that_raises_the_award_pays_the_difference_once(
    django_capture_on_commit_callbacks,
):
    merchant = funded_merchant("1000.00")
    order = order_of(merchant, price="100.00")
    with django_capture_on_commit_callbacks(execute=True):
        services.compensation_pay(dispute_id=15, order=order, amount=D("40.00"))
        services.compensation_appeal_payout(dispute_id=15, order=order, amount=D("60.00"))
        services.compensation_appeal_payout(dispute_id=15, order=order, amount=D("60.00"))
    assert _paid_to_buyer(order) == D("100.00")
    assert Payout.objects.filter(status=PayoutStatus.SENT).count() == 2
    assert_ledger_clean()


def test_reversal_reduces_the_receivable_first_and_lifts_the_suspension():
    merchant = funded_merchant("100.00", minimum_deposit=D("50.00"))
    recover_paid(merchant, 16, D("130.00"))
    assert balances(merchant) == {"deposit": 0, "held": 0, "receivable": -3000}
    services.compensation_recovery_reversal(dispute_id=16, merchant=merchant, amount=D("130.00"))
    assert balances(merchant) == {"deposit": 10000, "held": 0, "receivable": 0}
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.ACTIVE
    assert_ledger_clean()


def test_reversal_is_refused_without_a_recovery_or_above_it():
    merchant = funded_merchant("100.00")
    with pytest.raises(DomainError) as refused:
        services.compensation_recovery_reversal(dispute_id=1, merchant=merchant, amount=D("1.00"))
    assert refused.value.code == "not_allowed_in_state"
    recover_paid(merchant, 1, D("10.00"))
    with pytest.raises(DomainError) as refused:
        services.compensation_recovery_reversal(dispute_id=1, merchant=merchant, amount=D("10.01"))
    assert refused.value.code == "amount_invalid"


# --- Withdrawals --------------------------------------------------------------------------


def test_withdrawal_waits_for_finance_then_leaves_the_deposit():
    merchant = funded_merchant("1500.00")
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("400.00"), user=merchant.owner
    )
    assert withdrawal.status == WithdrawalStatus.PENDING
    assert balances(merchant)["deposit"] == 150000
    staff = finance_staff()
    withdrawal = services.withdrawal_approve(withdrawal=withdrawal, staff=staff)
    assert withdrawal.status == WithdrawalStatus.APPROVED
    assert withdrawal.transaction is not None
    assert withdrawal.transaction.key == f"withdrawal:{withdrawal.pk}"
    assert balances(merchant)["deposit"] == 110000
    with pytest.raises(DomainError) as refused:
        services.withdrawal_approve(withdrawal=withdrawal, staff=staff)
    assert refused.value.code == "not_allowed_in_state"
    assert_ledger_clean()


def test_an_open_complaint_holds_its_claim_and_the_rest_may_be_withdrawn():
    merchant = funded_merchant("1500.00")  # minimum 1000.00: 500.00 above it
    services.deposit_hold(merchant=merchant, amount=D("120.00"), reference="dispute:1")
    with pytest.raises(DomainError) as refused:
        services.withdrawal_request(merchant=merchant, amount=D("380.01"), user=merchant.owner)
    assert refused.value.code == "insufficient_funds"
    assert "¥380.00" in refused.value.message and "¥120.00" in refused.value.message
    services.withdrawal_request(merchant=merchant, amount=D("380.00"), user=merchant.owner)


def test_withdrawal_above_the_available_funds_is_refused():
    merchant = funded_merchant("1500.00", minimum_deposit=D("0"))
    services.withdrawal_request(merchant=merchant, amount=D("1000.00"), user=merchant.owner)
    with pytest.raises(DomainError) as refused:  # the pending one counts as taken
        services.withdrawal_request(merchant=merchant, amount=D("500.01"), user=merchant.owner)
    assert refused.value.code == "insufficient_funds"


def test_withdrawal_that_would_leave_less_than_the_minimum_is_refused():
    merchant = funded_merchant("1500.00")  # minimum 1000.00
    with pytest.raises(DomainError) as refused:
        services.withdrawal_request(merchant=merchant, amount=D("500.01"), user=merchant.owner)
    assert refused.value.code == "below_minimum"
    services.withdrawal_request(merchant=merchant, amount=D("500.00"), user=merchant.owner)


def test_withdrawal_is_checked_again_at_approval():
    merchant = funded_merchant("1500.00")
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("300.00"), user=merchant.owner
    )
    services.deposit_hold(merchant=merchant, amount=D("250.00"), reference="dispute:2")
    with pytest.raises(DomainError) as refused:  # 500.00 above the minimum, 250.00 held
        services.withdrawal_approve(withdrawal=withdrawal, staff=finance_staff())
    assert refused.value.code == "insufficient_funds"
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PENDING


def test_withdrawal_by_an_agent_is_forbidden():
    merchant = funded_merchant("1500.00")
    with pytest.raises(Forbidden):
        services.withdrawal_request(merchant=merchant, amount=D("1.00"), user=agent_of(merchant))


def test_withdrawal_decisions_need_the_finance_permission_and_a_reason():
    merchant = funded_merchant("1500.00")
    withdrawal = services.withdrawal_request(
        merchant=merchant, amount=D("100.00"), user=merchant.owner
    )
    with pytest.raises(Forbidden):
        services.withdrawal_approve(withdrawal=withdrawal, staff=StaffFactory())
    with pytest.raises(Forbidden):
        services.withdrawal_reject(withdrawal=withdrawal, staff=StaffFactory(), reason="no")
    staff = finance_staff()
    with pytest.raises(DomainError) as refused:
        services.withdrawal_reject(withdrawal=withdrawal, staff=staff, reason="  ")
    assert refused.value.code == "reason_required"
    withdrawal = services.withdrawal_reject(withdrawal=withdrawal, staff=staff, reason="KYC")
    assert withdrawal.status == WithdrawalStatus.REJECTED and withdrawal.reason == "KYC"
    assert balances(merchant)["deposit"] == 150000
    assert not Withdrawal.objects.filter(status=WithdrawalStatus.APPROVED).exists()


# --- Manual postings ----------------------------------------------------------------------


def test_adjustment_needs_the_permission_and_a_reason():
    merchant = funded_merchant("100.00")
    with pytest.raises(Forbidden):
        services.adjustment_post(
            merchant=merchant, amount=D("5.00"), reason="goodwill", staff=StaffFactory()
        )
    with pytest.raises(DomainError) as refused:
        services.adjustment_post(
            merchant=merchant, amount=D("5.00"), reason=" ", staff=finance_staff()
        )
    assert refused.value.code == "reason_required"


def test_adjustment_moves_money_with_its_reason_and_author():
    merchant = funded_merchant("100.00", minimum_deposit=D("0"))
    staff = finance_staff()
    tx = services.adjustment_post(
        merchant=merchant,
        amount=D("-30.00"),
        reason="bank fee",
        staff=staff,
        counterpart=AccountKind.BANK,
    )
    assert (tx.memo, tx.created_by_id) == ("bank fee", staff.pk)
    assert balances(merchant)["deposit"] == 7000
    services.deposit_hold(merchant=merchant, amount=D("60.00"), reference="dispute:1")
    with pytest.raises(DomainError) as refused:  # never under what is held
        services.adjustment_post(merchant=merchant, amount=D("-10.01"), reason="fee", staff=staff)
    assert refused.value.code == "insufficient_funds"
    assert_ledger_clean()


def test_adjustment_can_write_off_a_receivable_but_not_past_zero():
    merchant = funded_merchant("10.00", minimum_deposit=D("0"))
    recover_paid(merchant, 1, D("25.00"))
    staff = finance_staff()
    with pytest.raises(DomainError):
        services.adjustment_post(
            merchant=merchant,
            amount=D("15.01"),
            reason="write-off",
            staff=staff,
            account=AccountKind.RECEIVABLE,
        )
    services.adjustment_post(
        merchant=merchant,
        amount=D("15.00"),
        reason="write-off",
        staff=staff,
        account=AccountKind.RECEIVABLE,
    )
    assert balances(merchant)["receivable"] == 0
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.ACTIVE
    assert_ledger_clean()


def test_finance_tops_up_the_compensation_fund_from_the_bank():
    tx = services.compensation_fund_topup(
        amount=D("10000.00"), reason="Q4 budget", staff=finance_staff()
    )
    assert tx.kind == TransactionKind.FUND_TOPUP
    assert platform(AccountKind.COMPENSATION_FUND) == 1000000
    assert_ledger_clean()


# --- Activation guard ---------------------------------------------------------------------


def test_verifying_a_shop_whose_deposit_is_short_keeps_it_suspended_for_the_deposit():
    merchant = MerchantFactory(status=MerchantStatus.PENDING_VERIFICATION, verified_at=None)
    staff = StaffFactory(perms=["orders.verify_merchant"])
    merchant = order_services.merchant_verify(merchant=merchant, staff=staff)
    assert (merchant.status, merchant.suspension_reason) == ("suspended", "deposit")
    services.deposit_topup(merchant=merchant, amount=D("1000.00"), user=merchant.owner)
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.ACTIVE


def test_verifying_a_funded_shop_activates_it():
    merchant = MerchantFactory(status=MerchantStatus.PENDING_VERIFICATION, verified_at=None)
    services.deposit_topup(merchant=merchant, amount=D("1000.00"), user=merchant.owner)
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.PENDING_VERIFICATION  # top-ups do not open shops
    staff = StaffFactory(perms=["orders.verify_merchant"])
    merchant = order_services.merchant_verify(merchant=merchant, staff=staff)
    assert merchant.status == MerchantStatus.ACTIVE


# --- The ledger itself --------------------------------------------------------------------


def test_ledger_rows_cannot_be_changed_or_deleted_through_the_models():
    merchant = funded_merchant("10.00")
    tx = LedgerTransaction.objects.get()
    tx.memo = "edited"
    with pytest.raises(ImmutableRowError):
        tx.save()
    with pytest.raises(ImmutableRowError):
        tx.delete()
    leg = tx.legs.first()
    with pytest.raises(ImmutableRowError):
        leg.save()
    assert merchant


def test_check_ledger_prints_its_checks_and_fails_on_a_breach(capsys):
    merchant = funded_merchant("10.00")
    call_command("check_ledger")
    out = capsys.readouterr().out
    assert "sum to zero" in out and "ledger clean" in out
    Account.objects.filter(merchant=merchant, kind=AccountKind.DEPOSIT).update(balance=999)
    with pytest.raises(CommandError):
        call_command("check_ledger")
    out = capsys.readouterr().out
    assert "FAIL  every account balance equals the sum of its legs" in out


def test_check_ledger_catches_held_money_without_a_hold_row():
    merchant = funded_merchant("10.00")
    Account.objects.filter(merchant=merchant, kind=AccountKind.DEPOSIT).update(held=500)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_ledger", stdout=out)
    assert "FAIL  holds equal the active hold rows" in out.getvalue()


def test_check_ledger_catches_money_owed_to_buyers_without_a_payout():
    merchant = funded_merchant("10.00")
    order = order_of(merchant)
    services.compensation_pay(dispute_id=1, order=order, amount=D("5.00"))
    Payout.objects.all().delete()
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_ledger", stdout=out)
    assert "dispute:1:payout: no payout to the buyer" in out.getvalue()


# --- Celery shells ------------------------------------------------------------------------


def test_the_beat_sweep_task_sends_due_payouts():
    from escrow import tasks

    merchant = funded_merchant("1000.00")
    services.compensation_pay(dispute_id=3, order=order_of(merchant), amount=D("5.00"))
    assert tasks.payouts_sweep.delay().get() == 1
    assert Payout.objects.get().status == PayoutStatus.SENT


def test_the_payout_task_asks_celery_to_retry_a_failure():
    from celery.exceptions import Retry

    from escrow import tasks

    merchant = funded_merchant("1000.00")
    services.compensation_pay(dispute_id=3, order=order_of(merchant), amount=D("5.00"))
    payout = Payout.objects.get()
    with (
        mock.patch("orders.payments.SandboxProvider.refund", side_effect=PaymentError("down")),
        mock.patch.object(tasks.payout_send, "retry", side_effect=Retry()) as retry,
        pytest.raises(Retry),
    ):
        tasks.payout_send.run(payout.pk)
    assert retry.call_args.kwargs["countdown"] == 120  # 1 min x 2^attempts, attempts = 1
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED
