"""Holds: a part of the deposit reserved for an open complaint, and released when it closes."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from escrow.models import AccountKind, Hold, HoldStatus
from escrow.services.ledger import amount_fen, lock_by_kind, no_savepoint, save_balances
from orders.models import Merchant

_HOLD = Hold._meta.db_table
_HOLD_FIELDS = ["id", "merchant_id", "reference", "amount", "consumed", "status"]


# --- Holds --------------------------------------------------------------------------------


def deposit_hold(*, merchant: Merchant, amount: Decimal, reference: str) -> Hold:
    """Reserve `min(amount, available)` of the deposit for an open complaint (a buyer may
    always complain: the hold may be 0.00, and the row still marks the complaint open).
    Idempotent per reference: an active hold for it is returned as it is."""
    fen = amount_fen(amount, allow_zero=True)
    with no_savepoint():
        return _hold(merchant=merchant, fen=fen, reference=reference)


def _hold(*, merchant: Merchant, fen: int, reference: str) -> Hold:
    accounts = lock_by_kind(merchant.pk)
    existing = Hold.objects.filter(reference=reference, status=HoldStatus.ACTIVE).first()
    if existing is not None:
        return existing
    deposit = accounts[AccountKind.DEPOSIT]
    held = max(0, min(fen, deposit.available))
    if held:
        deposit.held += held
        save_balances([deposit])
    return Hold.objects.create(merchant_id=merchant.pk, reference=reference, amount=held)


@transaction.atomic(savepoint=False)
def hold_release(*, reference: str) -> Hold | None:
    """Release the active hold of `reference`; None (nothing moved) when there is none."""
    hold = Hold.objects.filter(reference=reference, status=HoldStatus.ACTIVE).first()
    if hold is None:
        return None
    accounts = lock_by_kind(hold.merchant_id)
    hold = Hold.objects.get(pk=hold.pk)  # read again under the deposit's lock
    if hold.status != HoldStatus.ACTIVE:
        return None
    deposit = accounts[AccountKind.DEPOSIT]
    if hold.amount:
        deposit.held -= hold.amount
        save_balances([deposit])
    hold.status = HoldStatus.RELEASED
    hold.closed_at = timezone.now()
    hold.save(update_fields=["status", "closed_at"])
    return hold


def active_hold(reference: str, *, merchant_id: int) -> Hold | None:
    """The active hold of `reference` on this merchant's deposit (hot path: plain SQL; the
    caller holds the deposit's lock, under which every hold changes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_HOLD_FIELDS)} FROM {_HOLD} "  # noqa: S608
            "WHERE reference = %s AND status = %s AND merchant_id = %s",
            [reference, str(HoldStatus.ACTIVE), merchant_id],
        )
        row = cursor.fetchone()
    return Hold.from_db(connection.alias, _HOLD_FIELDS, row) if row else None
