"""Manual postings by finance, each with a mandatory reason: corrections of a merchant's
accounts and top-ups of the platform's compensation fund."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _

from escrow.models import AccountKind, LedgerTransaction, TransactionKind
from escrow.services.ledger import (
    amount_fen,
    lock_by_kind,
    post,
    require_perm,
    sync_suspension,
    yuan,
)
from kamen_complaints.errors import DomainError
from orders import conflicts
from orders.models import Merchant

# --- Manual postings (finance) ------------------------------------------------------------

ADJUSTABLE = (AccountKind.DEPOSIT, AccountKind.RECEIVABLE)
COUNTERPARTS = (AccountKind.COMPENSATION_FUND, AccountKind.BANK)


@conflicts.refusals_audited
@transaction.atomic
def adjustment_post(
    *,
    merchant: Merchant,
    amount: Decimal,
    reason: str,
    staff: User,
    account: str = AccountKind.DEPOSIT,
    counterpart: str = AccountKind.COMPENSATION_FUND,
) -> LedgerTransaction:
    """A correction by finance, with a mandatory reason: `amount` (signed, + raises the
    merchant's account) moves between the merchant's deposit or receivable and the platform's
    compensation fund (or the bank, for money that came or went outside the channel).
    A deposit never goes under its holds; a receivable is never credited past zero."""
    require_perm(staff, "escrow.post_adjustment")
    conflicts.refuse_party(
        staff=staff, action="adjustment_post", obj=merchant, merchant_id=merchant.pk
    )
    if not reason.strip():
        raise DomainError(_("A reason is required."), code="reason_required")
    if account not in ADJUSTABLE or counterpart not in COUNTERPARTS:
        raise DomainError(_("Choose a merchant account and a counterpart."), code="invalid")
    fen = amount_fen(amount, allow_negative=True)
    accounts = lock_by_kind(merchant.pk, (counterpart,))
    deposit = accounts[AccountKind.DEPOSIT]
    receivable = accounts[AccountKind.RECEIVABLE]
    target = accounts[account]
    if account == AccountKind.DEPOSIT and deposit.available + fen < 0:
        raise DomainError(
            _("The deposit has only %(available)s available (not held).")
            % {"available": yuan(deposit.available)},
            code="insufficient_funds",
        )
    if account == AccountKind.RECEIVABLE and receivable.balance + fen > 0:
        raise DomainError(
            _("The merchant owes only %(owed)s.") % {"owed": yuan(-receivable.balance)},
            code="amount_invalid",
        )
    tx, _created = post(
        key=f"adjustment:{uuid.uuid4().hex}",
        kind=TransactionKind.ADJUSTMENT,
        legs=[(target, fen), (accounts[counterpart], -fen)],
        merchant_id=merchant.pk,
        memo=reason.strip(),
        user=staff,
    )
    sync_suspension(deposit, receivable, lowered=fen < 0)
    return tx


@transaction.atomic
def compensation_fund_topup(*, amount: Decimal, reason: str, staff: User) -> LedgerTransaction:
    """Finance tops up the platform's compensation fund from the bank (negative: takes money
    back out), with a mandatory reason. One transaction: the platform accounts' locks are held until
    the balance is written, and the deferred balanced-legs trigger sees both legs at commit."""
    require_perm(staff, "escrow.post_adjustment")
    if not reason.strip():
        raise DomainError(_("A reason is required."), code="reason_required")
    fen = amount_fen(amount, allow_negative=True)
    accounts = lock_by_kind(None, (AccountKind.COMPENSATION_FUND, AccountKind.BANK))
    tx, _created = post(
        key=f"fund-topup:{uuid.uuid4().hex}",
        kind=TransactionKind.FUND_TOPUP,
        legs=[(accounts[AccountKind.COMPENSATION_FUND], fen), (accounts[AccountKind.BANK], -fen)],
        memo=reason.strip(),
        user=staff,
    )
    return tx
