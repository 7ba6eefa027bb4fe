"""Withdrawals from the deposit: the owner asks, finance approves or rejects."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from escrow import selectors
from escrow.models import Account, AccountKind, TransactionKind, Withdrawal, WithdrawalStatus
from escrow.services.ledger import (
    amount_fen,
    lock_by_kind,
    post,
    require_perm,
    sync_suspension,
    yuan,
)
from escrow.signals import withdrawal_decided
from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError, Forbidden
from kamen_complaints.models import AuditAction
from kamen_complaints.money import to_fen
from orders import conflicts
from orders.models import Merchant
from orders.selectors import is_merchant_owner

# --- Withdrawals --------------------------------------------------------------------------


def _check_withdrawal(
    *, deposit: Account, receivable: Account, fen: int, exclude: int | None = None
) -> None:
    """Refuse a withdrawal above what may be withdrawn (`selectors.withdrawable_fen`, the one
    rule of docs/rules.md "Shops, teams and deposits": balance − holds − pending withdrawals −
    minimum deposit − what is owed), naming every term. The caller holds the deposit's lock."""
    merchant = deposit.merchant
    if merchant is None:
        raise RuntimeError("a withdrawal needs a merchant's deposit")
    pending = selectors.pending_withdrawals_fen(merchant.pk, exclude=exclude)
    minimum = to_fen(merchant.minimum_deposit)
    owed = max(-receivable.balance, 0)
    withdrawable = selectors.withdrawable_fen(
        balance=deposit.balance, held=deposit.held, pending=pending, minimum=minimum, owed=owed
    )
    if fen <= withdrawable:
        return
    # The code says what stands in the way: the minimum alone (`below_minimum`), else money
    # held, pending or owed (`insufficient_funds`); the sentence names every term.
    free = selectors.withdrawable_fen(
        balance=deposit.balance, held=deposit.held, pending=pending, minimum=0, owed=owed
    )
    unheld = selectors.withdrawable_fen(
        balance=deposit.balance, held=0, pending=pending, minimum=minimum, owed=owed
    )
    raise DomainError(
        _(
            "You asked for %(amount)s but at most %(withdrawable)s can be withdrawn: the "
            "balance of %(balance)s, less %(held)s held for open complaints, %(pending)s in "
            "pending withdrawals, the minimum deposit of %(minimum)s and %(owed)s owed to the "
            "platform."
        )
        % {
            "amount": yuan(fen),
            "withdrawable": yuan(withdrawable),
            "balance": yuan(deposit.balance),
            "held": yuan(deposit.held),
            "pending": yuan(pending),
            "minimum": yuan(minimum),
            "owed": yuan(owed),
        },
        code="below_minimum" if fen <= free and fen > unheld else "insufficient_funds",
    )


@transaction.atomic
def withdrawal_request(*, merchant: Merchant, amount: Decimal, user: User) -> Withdrawal:
    """The owner asks to take money out of the deposit: refused above what may be withdrawn
    (balance − every open complaint's hold − pending withdrawals − minimum deposit − what is
    owed: `_check_withdrawal`); otherwise it waits for finance staff."""
    if not is_merchant_owner(user, merchant):
        raise Forbidden(_("Only the shop's owner withdraws from the deposit."))
    fen = amount_fen(amount)
    accounts = lock_by_kind(merchant.pk)
    _check_withdrawal(
        deposit=accounts[AccountKind.DEPOSIT], receivable=accounts[AccountKind.RECEIVABLE], fen=fen
    )
    return Withdrawal.objects.create(merchant_id=merchant.pk, amount=fen, requested_by=user)


def _locked_pending_withdrawal(withdrawal: Withdrawal) -> Withdrawal:
    locked = Withdrawal.objects.select_for_update().get(pk=withdrawal.pk)
    if locked.status != WithdrawalStatus.PENDING:
        raise DomainError(
            _("This withdrawal was already %(status)s.") % {"status": locked.get_status_display()},
            code="not_allowed_in_state",
        )
    return locked


@conflicts.refusals_audited
@transaction.atomic
def withdrawal_approve(*, withdrawal: Withdrawal, staff: User) -> Withdrawal:
    """Finance approves: the rules are checked again now (a complaint may have been filed
    since), then deposit → bank (`withdrawal:<id>`); finance sends the transfer."""
    require_perm(staff, "escrow.approve_withdrawal")
    withdrawal = _locked_pending_withdrawal(withdrawal)
    conflicts.refuse_party(
        staff=staff,
        action="withdrawal_approve",
        obj=withdrawal,
        merchant_id=withdrawal.merchant_id,
    )
    accounts = lock_by_kind(withdrawal.merchant_id, (AccountKind.BANK,))
    deposit = accounts[AccountKind.DEPOSIT]
    receivable = accounts[AccountKind.RECEIVABLE]
    _check_withdrawal(
        deposit=deposit, receivable=receivable, fen=withdrawal.amount, exclude=withdrawal.pk
    )
    tx, _created = post(
        key=f"withdrawal:{withdrawal.pk}",
        kind=TransactionKind.WITHDRAWAL,
        legs=[(deposit, -withdrawal.amount), (accounts[AccountKind.BANK], withdrawal.amount)],
        merchant_id=withdrawal.merchant_id,
        user=staff,
    )
    withdrawal.status = WithdrawalStatus.APPROVED
    withdrawal.decided_by = staff
    withdrawal.decided_at = timezone.now()
    withdrawal.transaction = tx
    withdrawal.save(update_fields=["status", "decided_by", "decided_at", "transaction"])
    sync_suspension(deposit, receivable, lowered=True)
    audit_record(
        actor=staff,
        action=AuditAction.WITHDRAWAL_APPROVED,
        obj=withdrawal,
        before={"status": WithdrawalStatus.PENDING, "deposit": deposit.balance + withdrawal.amount},
        after={"status": withdrawal.status, "deposit": deposit.balance, "transaction": tx.key},
    )
    withdrawal_decided.send(sender=Withdrawal, withdrawal=withdrawal)
    return withdrawal


@conflicts.refusals_audited
@transaction.atomic
def withdrawal_reject(*, withdrawal: Withdrawal, staff: User, reason: str) -> Withdrawal:
    require_perm(staff, "escrow.approve_withdrawal")
    if not reason.strip():
        raise DomainError(_("A reason is required."), code="reason_required")
    withdrawal = _locked_pending_withdrawal(withdrawal)
    conflicts.refuse_party(
        staff=staff, action="withdrawal_reject", obj=withdrawal, merchant_id=withdrawal.merchant_id
    )
    withdrawal.status = WithdrawalStatus.REJECTED
    withdrawal.decided_by = staff
    withdrawal.decided_at = timezone.now()
    withdrawal.reason = reason.strip()
    withdrawal.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    audit_record(
        actor=staff,
        action=AuditAction.WITHDRAWAL_REJECTED,
        obj=withdrawal,
        reason=withdrawal.reason,
        before={"status": WithdrawalStatus.PENDING},
        after={"status": withdrawal.status},
    )
    withdrawal_decided.send(sender=Withdrawal, withdrawal=withdrawal)
    return withdrawal
