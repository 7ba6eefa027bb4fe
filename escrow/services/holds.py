"""Holds: a part of the deposit reserved for an open complaint, and released when it closes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

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
        cursor.execute(*active_hold_sql(reference, merchant_id=merchant_id))
        row = cursor.fetchone()
    return Hold.from_db(connection.alias, _HOLD_FIELDS, row) if row else None


def active_hold_sql(
    reference: str, *, merchant_id: int, lock: bool = False
) -> tuple[str, list[Any]]:
    """`active_hold` as a query (its columns: `hold_from_row`), `lock`ing the row where the
    database can — to run in the statement that locks the deposit
    (ledger.lock_by_kind_with), where only a lock reads the row's newest version."""
    lock_sql = " FOR UPDATE" if lock and connection.features.has_select_for_update else ""
    return (
        # The status written out, not a parameter: a prepared statement's generic plan can
        # then use the partial index of active holds (ledger.execute_hot).
        f"SELECT {', '.join(_HOLD_FIELDS)} FROM {_HOLD} "  # noqa: S608
        f"WHERE reference = %s AND status = '{HoldStatus.ACTIVE.value}' "
        f"AND merchant_id = %s{lock_sql}",
        [reference, merchant_id],
    )


def hold_from_row(row: dict[str, Any]) -> Hold:
    return Hold.from_db(connection.alias, _HOLD_FIELDS, [row[name] for name in _HOLD_FIELDS])


def hold_consume_sql(hold: Hold, *, consumed: int, at: datetime) -> tuple[str, list[Any]]:
    """The hold consumed by a recovery, as a statement of its posting (ledger.post_with:
    written only if the posting is new), RETURNING its id."""
    return (
        f"UPDATE {_HOLD} SET status = %s, consumed = %s, closed_at = %s "  # noqa: S608
        "WHERE id = %s AND status = %s AND EXISTS (SELECT 1 FROM tx) RETURNING id",
        [
            str(HoldStatus.CONSUMED),
            consumed,
            connection.ops.adapt_datetimefield_value(at),
            hold.pk,
            str(HoldStatus.ACTIVE),
        ],
    )
