"""Compensations posted in batches: the clock's sweep resolves hundreds of complaints in one
transaction, and writing their money one posting at a time (a lock, a key claim, the legs and
the balances per posting) would cost more than everything else the sweep does.

`compensations_post` writes exactly what `compensation_pay` / `compensation_appeal_payout`,
`compensation_recover` and `hold_release` would write for each item — the same idempotency
keys (`dispute:<id>:payout`, `…:appeal-payout`, `…:recovery`), legs, running balances, holds,
payout outbox rows and suspensions — in a fixed number of statements per batch:

- lock the platform accounts, then every merchant account the batch touches (id order, one
  statement each: the same order as a single compensation, which pays before it recovers);
- claim every key at once (`INSERT … ON CONFLICT (key) DO NOTHING RETURNING`): a key posted
  before moves nothing again, so a batch re-run after a crash, or raced by a single posting,
  never pays twice;
- insert all legs in one statement (balances computed in order, so `balance_after` is each
  account's running total), write each account's balance once, close the holds, write the
  payout outbox rows.

The caller owns the transaction (one per batch) and hands the returned payout ids to a worker
after commit; the payouts sweep sends whatever that hand-over loses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone

from escrow import services
from escrow.models import (
    Account,
    AccountKind,
    Hold,
    HoldStatus,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutStatus,
    TransactionKind,
)
from escrow.services import ledger
from escrow.signals import debt_recorded
from orders import services as order_services
from orders.models import Merchant

_TX = LedgerTransaction._meta.db_table
_LEG = LedgerEntry._meta.db_table
_HOLD = Hold._meta.db_table
_PAYOUT = Payout._meta.db_table
_CHUNK = 2000  # rows per INSERT statement (SQLite allows 32766 parameters)


@dataclass(frozen=True, slots=True)
class Compensation:
    """The money of one complaint — or of one order a collective case refunds without a
    complaint (`reference` `collective:<case>:<order>`, no dispute, no hold). Amounts in fen;
    a zero amount is no movement."""

    dispute_id: int | None
    order_id: int
    merchant_id: int
    pay: int = 0  # platform fund → buyer
    appeal: bool = False  # pay under `appeal-payout` (a payout was made before the appeal)
    recover: int = 0  # merchant deposit → platform fund, the shortfall a receivable
    release_hold: bool = False  # release the complaint's hold if no recovery consumed it
    reference: str = ""  # the movements' keys and the hold's reference; `dispute:<id>` if empty

    @property
    def ref(self) -> str:
        return self.reference or f"dispute:{self.dispute_id}"


@dataclass
class Posted:
    """What the batch moved: the keys it posted now (a key posted before is not here)."""

    keys: set[str] = field(default_factory=set)
    payout_ids: list[int] = field(default_factory=list)
    # dispute id → (from the hold, from unheld balance, booked as receivable), in fen
    recoveries: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    # the same by reference (`dispute:<id>`, `collective:<case>:<order>`)
    recovered: dict[str, tuple[int, int, int]] = field(default_factory=dict)


def _pay_movement(item: Compensation) -> str:
    return "appeal-payout" if item.appeal else "payout"


def _lock_accounts(ids: Sequence[int]) -> dict[int, Account]:
    """The accounts locked in id order (escrow.services.ledger.lock_account_rows), by id."""
    return {account.pk: account for account in ledger.lock_account_rows(ids)}


def _locked(
    merchant_ids: Sequence[int],
) -> tuple[dict[str, Account], dict[int, dict[str, Account]]]:
    """Lock the platform's fund and buyer refunds, then the merchants' deposits and
    receivables; checked against the cached ids like escrow.services.ledger.lock_by_kind."""
    platform_kinds = (AccountKind.COMPENSATION_FUND, AccountKind.BUYER_REFUNDS)
    for attempt in range(2):
        platform_ids = ledger.account_ids(None, platform_kinds)
        per_merchant = {m: ledger.account_ids(m, ()) for m in merchant_ids}
        platform = _lock_accounts(sorted(platform_ids.values()))
        merchant_accounts = _lock_accounts(
            sorted(pk for ids in per_merchant.values() for pk in ids.values())
        )
        ok = all(
            pk in platform and platform[pk].kind == kind and platform[pk].merchant_id is None
            for kind, pk in platform_ids.items()
        ) and all(
            pk in merchant_accounts
            and merchant_accounts[pk].kind == kind
            and merchant_accounts[pk].merchant_id == m
            for m, ids in per_merchant.items()
            for kind, pk in ids.items()
        )
        if ok:
            return (
                {kind: platform[pk] for kind, pk in platform_ids.items()},
                {
                    m: {kind: merchant_accounts[pk] for kind, pk in ids.items()}
                    for m, ids in per_merchant.items()
                },
            )
        if attempt == 0:  # a cached id whose row was rolled back: look them up again
            ledger.forget_account_ids()
    raise RuntimeError("escrow accounts could not be resolved")


def _active_holds(references: Sequence[str]) -> dict[str, Hold]:
    if not references:
        return {}
    fields = ["id", "merchant_id", "reference", "amount", "consumed", "status"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(fields)} FROM {_HOLD} "  # noqa: S608
            f"WHERE status = %s AND reference IN ({', '.join(['%s'] * len(references))})",
            [str(HoldStatus.ACTIVE), *references],
        )
        rows = cursor.fetchall()
    holds = [Hold.from_db(connection.alias, fields, row) for row in rows]
    return {hold.reference: hold for hold in holds}


def _claim(claims: list[tuple[str, str, int, int | None]]) -> dict[str, int]:
    """Insert the transaction rows whose keys are new; returns key → id of those inserted."""
    created: dict[str, int] = {}
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        for start in range(0, len(claims), _CHUNK):
            chunk = claims[start : start + _CHUNK]
            params: list[Any] = []
            for key, kind, merchant_id, dispute_id in chunk:
                params += [key, kind, merchant_id, dispute_id, now]
            cursor.execute(
                f"INSERT INTO {_TX} (key, kind, merchant_id, dispute_id, memo, created_by_id, "  # noqa: S608
                "created_at) VALUES "
                + ", ".join(["(%s, %s, %s, %s, '', NULL, %s)"] * len(chunk))
                + " ON CONFLICT (key) DO NOTHING RETURNING id, key",
                params,
            )
            created.update({key: tx_id for tx_id, key in cursor.fetchall()})
    return created


def _insert(table: str, columns: str, width: int, rows: list[list[Any]]) -> list[int]:
    ids: list[int] = []
    placeholder = "(" + ", ".join(["%s"] * width) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608
                + ", ".join([placeholder] * len(chunk))
                + " RETURNING id",
                [v for row in chunk for v in row],
            )
            ids += sorted(r[0] for r in cursor.fetchall())
    return ids


def compensations_post(items: Sequence[Compensation]) -> Posted:
    """Post the money of many complaints in the caller's transaction (see the module doc).

    Per item, in this order, as the single services do: the payout (fund → buyer refunds, and
    its outbox row), then the recovery (the complaint's own hold first, then unheld balance,
    the rest booked as receivable; the hold is consumed), or else the hold's release. A shop
    whose deposit the batch leaves short is suspended (reason `deposit`)."""
    posted = Posted()
    items = [i for i in items if i.pay or i.recover or i.release_hold]
    if not items:
        return posted
    for item in items:
        if item.pay < 0 or item.recover < 0:
            raise ValueError(f"negative amount in {item}")
    merchant_ids = sorted({i.merchant_id for i in items if i.recover or i.release_hold})
    # The orders first (as a single compensation, a payout's send and a failed delivery lock
    # them), then the ledger accounts.
    headroom = services.compensation_headroom(order_ids=[i.order_id for i in items if i.pay])
    platform, merchants = _locked(merchant_ids)
    fund = platform[AccountKind.COMPENSATION_FUND]
    refunds = platform[AccountKind.BUYER_REFUNDS]
    holds = _active_holds([i.ref for i in items if i.recover or i.release_hold])

    claims: list[tuple[str, str, int, int | None]] = []
    for item in items:
        if item.pay:
            movement, kind = (
                ("appeal-payout", TransactionKind.APPEAL_PAYOUT)
                if item.appeal
                else ("payout", TransactionKind.COMPENSATION_PAYOUT)
            )
            claims.append((f"{item.ref}:{movement}", kind, item.merchant_id, item.dispute_id))
    for item in items:
        if item.recover:
            claims.append(
                (
                    f"{item.ref}:recovery",
                    TransactionKind.RECOVERY,
                    item.merchant_id,
                    item.dispute_id,
                )
            )
    created = _claim(claims)
    posted.keys = set(created)

    # What each order may still give back bounds what this batch books for it, exactly as a
    # single compensation is bounded (escrow.services.compensation._pay_buyer_locked).
    booked: dict[int, int] = {}
    paid_now: dict[str, int] = {}
    for item in items:
        if item.pay and f"{item.ref}:{_pay_movement(item)}" in created:
            booked[item.order_id] = booked.get(item.order_id, 0) + item.pay
            paid_now[item.ref] = paid_now.get(item.ref, 0) + item.pay
    for order_id, fen in booked.items():
        if fen > headroom.get(order_id, 0):
            raise ValueError(
                f"order {order_id}: booking {fen} fen, may give back {headroom.get(order_id, 0)}"
            )
    # A merchant never bears more than its complaint paid the buyer.
    recovering = [i for i in items if i.recover and f"{i.ref}:recovery" in created]
    paid_before = services.paid_out(
        [i.dispute_id for i in recovering if i.dispute_id is not None and not i.reference]
    )
    paid_before_ref = services.paid_out_by_reference([i.ref for i in recovering if i.reference])
    for item in recovering:
        before = (
            paid_before_ref.get(item.ref, 0)
            if item.reference
            else paid_before.get(item.dispute_id or 0, 0)
        )
        paid = before + paid_now.get(item.ref, 0)
        if item.recover > paid:
            raise ValueError(f"{item.ref}: recovering {item.recover}, paid {paid}")

    now = timezone.now()
    legs: list[list[Any]] = []
    touched: dict[int, Account] = {}
    payouts: list[list[Any]] = []
    consumed: list[tuple[int, int]] = []  # (hold id, consumed fen)
    released: list[int] = []
    short: dict[int, tuple[Account, Account]] = {}
    # (merchant id, dispute id, reference, shortfall, owed after it): told after the
    # suspension is synced, as escrow.services.compensation_recover tells each one
    # (signals.debt_recorded); a collective case's orders are told once per case, summed.
    debts: list[tuple[int, int | None, str, int, int]] = []

    def leg(tx_id: int, account: Account, amount: int) -> None:
        if amount:
            account.balance += amount
            legs.append([tx_id, account.pk, amount, account.balance])
            touched[account.pk] = account

    adapt = connection.ops.adapt_datetimefield_value
    for item in items:
        if not item.pay:
            continue
        key = f"{item.ref}:{_pay_movement(item)}"
        tx_id = created.get(key)
        if tx_id is None:
            continue
        leg(tx_id, fund, -item.pay)
        leg(tx_id, refunds, item.pay)
        payouts.append(
            [
                item.order_id,
                key,
                item.pay,
                str(PayoutStatus.PENDING),
                0,
                "",
                adapt(now),
                "",
                adapt(now),
            ]
        )
    for item in items:
        reference = item.ref
        hold = holds.get(reference)
        if hold is not None and hold.merchant_id != item.merchant_id:
            hold = None  # another shop's reference: never touched
        accounts = merchants.get(item.merchant_id)
        if item.recover:
            tx_id = created.get(f"{reference}:recovery")
            if tx_id is None or accounts is None:
                continue
            deposit = accounts[AccountKind.DEPOSIT]
            receivable = accounts[AccountKind.RECEIVABLE]
            from_hold, from_free, shortfall = services.recovery_split(
                item.recover, hold=hold.amount if hold else 0, available=deposit.available
            )
            if hold is not None:
                deposit.held -= hold.amount  # the rest of the hold is freed with it
                touched[deposit.pk] = deposit
                consumed.append((hold.pk, from_hold))
                del holds[reference]
            leg(tx_id, deposit, -(from_hold + from_free))
            leg(tx_id, receivable, -shortfall)
            leg(tx_id, fund, item.recover)
            if item.dispute_id is not None and not item.reference:
                posted.recoveries[item.dispute_id] = (from_hold, from_free, shortfall)
            posted.recovered[reference] = (from_hold, from_free, shortfall)
            short[item.merchant_id] = (deposit, receivable)
            if shortfall:
                debts.append(
                    (
                        item.merchant_id,
                        None if item.reference else item.dispute_id,
                        item.reference.rsplit(":", 1)[0] if item.reference else "",
                        shortfall,
                        -receivable.balance,
                    )
                )
        elif item.release_hold and hold is not None and accounts is not None:
            deposit = accounts[AccountKind.DEPOSIT]
            if hold.amount:
                deposit.held -= hold.amount
                touched[deposit.pk] = deposit
            released.append(hold.pk)
            del holds[reference]

    if legs:
        _insert(_LEG, "transaction_id, account_id, amount, balance_after", 4, legs)
    if touched:
        ledger.save_balances(touched.values())
    with connection.cursor() as cursor:
        if consumed:
            cases = " ".join(["WHEN %s THEN %s"] * len(consumed))
            cursor.execute(
                f"UPDATE {_HOLD} SET status = %s, closed_at = %s, "  # noqa: S608
                f"consumed = CASE id {cases} END "
                f"WHERE id IN ({', '.join(['%s'] * len(consumed))})",
                [str(HoldStatus.CONSUMED), adapt(now)]
                + [v for pair in consumed for v in pair]
                + [pk for pk, _fen in consumed],
            )
        if released:
            cursor.execute(
                f"UPDATE {_HOLD} SET status = %s, closed_at = %s "  # noqa: S608
                f"WHERE id IN ({', '.join(['%s'] * len(released))})",
                [str(HoldStatus.RELEASED), adapt(now), *released],
            )
    order_services.orders_reserve_refunds(booked)
    if payouts:
        posted.payout_ids = _insert(
            _PAYOUT,
            "order_id, source_key, amount, status, attempts, last_error, next_attempt_at, "
            "provider_refund_id, created_at",
            9,
            payouts,
        )
    for deposit, receivable in short.values():
        ledger.sync_suspension(deposit, receivable, lowered=True)
    if debts:
        shops = Merchant.objects.in_bulk({merchant_id for merchant_id, *_rest in debts})
        told: dict[tuple[int, int | None, str], tuple[int, int]] = {}
        for merchant_id, dispute_id, reference, shortfall, owed in debts:
            summed, _owed = told.get((merchant_id, dispute_id, reference), (0, 0))
            told[(merchant_id, dispute_id, reference)] = (summed + shortfall, owed)
        for (merchant_id, dispute_id, reference), (shortfall, owed) in told.items():
            debt_recorded.send(
                sender=Merchant,
                merchant=shops[merchant_id],
                dispute_id=dispute_id,
                reference=reference,
                shortfall=shortfall,
                owed=owed,
            )
    return posted
