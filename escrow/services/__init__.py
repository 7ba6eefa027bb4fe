"""Every write of money: typed, keyword-only functions, one transaction each.

The rules (docs/architecture.md "The ledger"):
- Every movement is one balanced `LedgerTransaction` under a unique idempotency key; posting
  the same key again returns the first transaction and moves nothing.
- Balances live on the account rows and change only here, in the transaction that writes the
  legs, with the rows locked (`select_for_update`, always in id order, so two postings never
  deadlock and never lose an update).
- A complaint moves money at most once per movement: `dispute:<id>:payout`,
  `dispute:<id>:recovery`, `dispute:<id>:appeal-payout`, `dispute:<id>:recovery-reversal`.
  A buyer's payout is never clawed back.
- An order is never compensated twice (docs/money.md): a payout is booked on its order under
  the order's row lock and refused past what the order may still give back (its amount less
  refunds sent and booked); a recovery never exceeds what its complaint paid out.
- A hold reserves `min(claimed, available)` of a deposit; a recovery consumes its own hold,
  then unheld balance, and books the rest as the merchant's receivable, so holds never exceed
  the balance.
- A merchant that owes a receivable or whose deposit is under its minimum is suspended with
  reason `deposit`; the top-up that cures it lifts that suspension (never a manual one).

Lock order, everywhere: a caller's own rows (payout, withdrawal) first, then the order rows
(id order), then the ledger accounts — the platform's before the merchants', each in id
order — then the merchant row (orders.services.merchant_suspend).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from escrow import selectors
from escrow.models import (
    MERCHANT_KINDS,
    Account,
    AccountKind,
    Hold,
    HoldStatus,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutStatus,
    TransactionKind,
    Withdrawal,
    WithdrawalStatus,
)
from escrow.signals import payout_sent
from kamen_complaints.audit import audit_record
from kamen_complaints.celery import enqueue
from kamen_complaints.errors import DomainError, Forbidden
from kamen_complaints.models import AuditAction
from kamen_complaints.money import CENT, MAX_YUAN, format_yuan, from_fen, to_fen
from orders import conflicts
from orders import services as order_services
from orders.models import (
    Merchant,
    MerchantStatus,
    Order,
    Payment,
    PaymentStatus,
    SuspensionReason,
)
from orders.payments import PaymentError, get_provider
from orders.selectors import is_merchant_owner

logger = logging.getLogger(__name__)

# A failed payout is retried after 1, 2, 4, … minutes, at most an hour apart, forever:
# it stays visible to finance staff until it goes through.
PAYOUT_RETRY_BASE = timedelta(minutes=1)
PAYOUT_RETRY_MAX = timedelta(hours=1)

_Kind = str


# --- Amounts ------------------------------------------------------------------------------


def _fen(amount: Decimal, *, allow_zero: bool = False, allow_negative: bool = False) -> int:
    """Yuan → fen, refusing what no money movement can be."""
    try:
        if not isinstance(amount, Decimal):
            amount = Decimal(str(amount))
        if not amount.is_finite() or abs(amount) > MAX_YUAN:
            raise ValueError(amount)
        fen = to_fen(amount)
    except (ValueError, ArithmeticError) as exc:
        raise DomainError(
            _("Enter an amount in yuan with at most 2 decimal places, such as 12.50."),
            code="amount_invalid",
        ) from exc
    if fen < 0 and not allow_negative:
        raise DomainError(_("The amount must not be negative."), code="amount_invalid")
    if fen == 0 and not allow_zero:
        raise DomainError(_("The amount must not be zero."), code="amount_invalid")
    return fen


def _yuan(fen: int) -> str:
    return format_yuan(from_fen(fen))


# --- Accounts -----------------------------------------------------------------------------
#
# Accounts are created lazily (existing merchants just work). Their ids are cached per process
# once the transaction that saw them committed; the locking query checks every cached row is
# the one expected (kind and owner), so a stale cache — rows rolled back — only costs a retry.

_TX = LedgerTransaction._meta.db_table
_LEG = LedgerEntry._meta.db_table
_ACCOUNT = Account._meta.db_table
_MERCHANT = Merchant._meta.db_table

_platform_ids: dict[str, int] = {}
_merchant_ids: dict[int, dict[str, int]] = {}


def _remember(merchant_id: int | None, ids: dict[str, int]) -> None:
    def store() -> None:
        if merchant_id is None:
            _platform_ids.update(ids)
        else:
            _merchant_ids[merchant_id] = {k: ids[k] for k in MERCHANT_KINDS}

    transaction.on_commit(store)


def _forget() -> None:
    _platform_ids.clear()
    _merchant_ids.clear()


def _resolve_ids(merchant_id: int | None, platform: Sequence[_Kind]) -> dict[str, int]:
    """Ids of the merchant's accounts and the named platform accounts, creating missing ones.

    Called before any account is locked, so creating a row never waits while holding a lock."""
    wanted_merchant = merchant_id is not None and (
        merchant_id not in _merchant_ids
        or any(k not in _merchant_ids[merchant_id] for k in MERCHANT_KINDS)
    )
    wanted_platform = [k for k in platform if k not in _platform_ids]
    ids: dict[str, int] = {}
    if merchant_id is not None and not wanted_merchant:
        ids.update(_merchant_ids[merchant_id])
    ids.update({k: _platform_ids[k] for k in platform if k in _platform_ids})
    if not wanted_merchant and not wanted_platform:
        return ids
    if wanted_merchant and merchant_id is not None:
        found: dict[str, int] = dict(
            Account.objects.filter(merchant_id=merchant_id, kind__in=MERCHANT_KINDS).values_list(
                "kind", "pk"
            )
        )
        for merchant_kind in MERCHANT_KINDS:
            if merchant_kind not in found:
                account, _created = Account.objects.get_or_create(
                    merchant_id=merchant_id, kind=merchant_kind
                )
                found[merchant_kind] = account.pk
        ids.update(found)
        _remember(merchant_id, found)
    if wanted_platform:
        found = dict(
            Account.objects.filter(merchant__isnull=True, kind__in=wanted_platform).values_list(
                "kind", "pk"
            )
        )
        for kind in wanted_platform:
            if kind not in found:
                account, _created = Account.objects.get_or_create(merchant=None, kind=kind)
                found[kind] = account.pk
        ids.update(found)
        _remember(None, found)
    return ids


def _lock(merchant_id: int | None, platform: Sequence[_Kind] = ()) -> dict[str, Account]:
    """Lock the named platform accounts and the merchant's deposit and receivable (when a
    merchant is named), platform first, each in id order, in one statement; return them by
    kind. The merchant's
    status and minimum ride along (read, not locked) for the suspension rules."""
    for attempt in range(2):
        ids = _resolve_ids(merchant_id, platform)
        by_kind = _select_for_update(sorted(ids.values()))
        if len(by_kind) == len(ids) and all(
            kind in by_kind
            and by_kind[kind].pk == pk
            and by_kind[kind].merchant_id == (merchant_id if kind in MERCHANT_KINDS else None)
            for kind, pk in ids.items()
        ):
            return by_kind
        if attempt == 0:  # a cached id whose row was rolled back: look them up again
            _forget()
    raise RuntimeError("escrow accounts could not be resolved")


_ACCOUNT_FIELDS = ["id", "kind", "merchant_id", "balance", "held"]
_MERCHANT_FIELDS = ["id", "status", "suspension_reason", "minimum_deposit"]


def _select_for_update(ids: list[int]) -> dict[str, Account]:
    return {account.kind: account for account in _locked_accounts(ids)}


def _locked_accounts(ids: Sequence[int]) -> list[Account]:
    """`SELECT … FOR UPDATE OF account` — the platform's accounts first, then the merchants',
    each in id order — joined to the merchant (status and minimum read, not locked, for the
    suspension rules). Platform first because a settlement pays (fund, buyer refunds) and
    then recovers (deposit, receivable, fund) in one transaction: ordering by id alone let it
    hold the fund while asking for a deposit another transaction had locked before asking for
    the fund — a deadlock the payout race test found. The ledger's hot path, so plain SQL
    (the ORM's query compilation costs more than the database's work here). Also used by
    escrow.batch."""
    if not ids:
        return []
    lock = " FOR UPDATE OF a" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.id, a.kind, a.merchant_id, a.balance, a.held, "  # noqa: S608
            "m.status, m.suspension_reason, m.minimum_deposit "
            f"FROM {_ACCOUNT} a LEFT OUTER JOIN {_MERCHANT} m ON m.id = a.merchant_id "
            f"WHERE a.id IN ({', '.join(['%s'] * len(ids))}) "
            f"ORDER BY a.merchant_id IS NOT NULL, a.id{lock}",
            list(ids),
        )
        rows = cursor.fetchall()
    accounts: list[Account] = []
    for row in rows:
        account = Account.from_db(connection.alias, _ACCOUNT_FIELDS, row[:5])
        if row[2] is not None:
            account.merchant = Merchant.from_db(
                connection.alias,
                _MERCHANT_FIELDS,
                [row[2], row[5], row[6], Decimal(str(row[7])).quantize(CENT)],
            )
        accounts.append(account)
    return accounts


def _existing(key: str) -> LedgerTransaction | None:
    return LedgerTransaction.objects.filter(key=key).first()


def _claim(
    cursor: CursorWrapper,
    *,
    key: str,
    kind: TransactionKind,
    merchant_id: int | None,
    dispute_id: int | None,
    memo: str,
    user: User | None,
) -> tuple[LedgerTransaction, bool]:
    """Insert the transaction row unless its key exists: (row, True), or (first row, False).

    `INSERT … ON CONFLICT (key) DO NOTHING` (PostgreSQL, SQLite ≥ 3.35) is the savepoint-free
    form of "catch IntegrityError in a savepoint, read the existing row": a concurrent insert of
    the same key makes PostgreSQL wait for the other transaction, then do nothing if it
    committed, so the key is posted once however many threads race for it."""
    now = timezone.now()
    cursor.execute(
        f"INSERT INTO {_TX} (key, kind, merchant_id, dispute_id, memo, created_by_id, "  # noqa: S608
        "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (key) DO NOTHING RETURNING id",
        [
            key,
            str(kind),
            merchant_id,
            dispute_id,
            memo,
            user.pk if user else None,
            connection.ops.adapt_datetimefield_value(now),
        ],
    )
    row = cursor.fetchone()
    if row is None:
        return LedgerTransaction.objects.get(key=key), False
    tx = LedgerTransaction(
        pk=row[0],
        key=key,
        kind=kind,
        merchant_id=merchant_id,
        dispute_id=dispute_id,
        memo=memo,
        created_by=user,
        created_at=now,
    )
    tx._state.adding = False
    tx._state.db = connection.alias
    return tx, True


def _post(
    *,
    key: str,
    kind: TransactionKind,
    legs: Iterable[tuple[Account, int]],
    touched: Iterable[Account] = (),
    merchant_id: int | None = None,
    dispute_id: int | None = None,
    memo: str = "",
    user: User | None = None,
) -> tuple[LedgerTransaction, bool]:
    """Write one balanced transaction: the row, its legs, the new balances of the accounts
    (which the caller has locked). Returns (transaction, created); a key already posted
    returns the first transaction and moves nothing.

    Three statements, whatever the number of legs: this is the ledger's hot path."""
    real = [(account, amount) for account, amount in legs if amount]
    if sum(amount for _account, amount in real) != 0 or len(real) < 2:
        raise ValueError(f"unbalanced or empty transaction {key}: {real}")
    with connection.cursor() as cursor:
        tx, created = _claim(
            cursor,
            key=key,
            kind=kind,
            merchant_id=merchant_id,
            dispute_id=dispute_id,
            memo=memo,
            user=user,
        )
        if not created:
            return tx, False
        values: list[int] = []
        for account, amount in real:
            account.balance += amount
            values += [tx.pk, account.pk, amount, account.balance]
        cursor.execute(
            f"INSERT INTO {_LEG} (transaction_id, account_id, amount, balance_after) VALUES "  # noqa: S608
            + ", ".join(["(%s, %s, %s, %s)"] * len(real)),
            values,
        )
        changed = {account.pk: account for account, _amount in real}
        for account in touched:
            changed[account.pk] = account
        _save_accounts(changed.values(), cursor)
    return tx, True


def _save_accounts(accounts: Iterable[Account], cursor: CursorWrapper | None = None) -> None:
    """Write the balances (and holds) of locked accounts in one statement."""
    accounts = list(accounts)
    if not accounts:
        return
    if cursor is None:
        with connection.cursor() as own:
            return _save_accounts(accounts, own)
    cases = " ".join(["WHEN %s THEN %s"] * len(accounts))
    balance = [v for a in accounts for v in (a.pk, a.balance)]
    held = [v for a in accounts for v in (a.pk, a.held)]
    ids = [a.pk for a in accounts]
    cursor.execute(
        f"UPDATE {_ACCOUNT} SET balance = CASE id {cases} END, "  # noqa: S608
        f"held = CASE id {cases} END WHERE id IN ({', '.join(['%s'] * len(ids))})",
        [*balance, *held, *ids],
    )


def _sync_suspension(deposit: Account, receivable: Account, *, lowered: bool) -> None:
    """After money left the deposit (`lowered`): suspend (reason `deposit`) an active shop
    that now owes or is under its minimum. After money came in: lift a `deposit` suspension
    once cured — never another reason. A top-up too small to cure does not suspend a shop
    that was let sell; a shop awaiting verification tops up before it opens (the activation
    guard decides then)."""
    merchant = deposit.merchant
    if merchant is None:
        return
    short = receivable.balance < 0 or deposit.balance < to_fen(merchant.minimum_deposit)
    if lowered and short and merchant.status == MerchantStatus.ACTIVE:
        order_services.merchant_suspend(merchant=merchant, reason=SuspensionReason.DEPOSIT)
    elif (
        not lowered
        and not short
        and merchant.status == MerchantStatus.SUSPENDED
        and merchant.suspension_reason == SuspensionReason.DEPOSIT
    ):
        order_services.merchant_lift_suspension(merchant=merchant, reason=SuspensionReason.DEPOSIT)


_HOLD = Hold._meta.db_table
_HOLD_FIELDS = ["id", "merchant_id", "reference", "amount", "consumed", "status"]
_PAYOUT = Payout._meta.db_table


def _active_hold(reference: str, *, merchant_id: int) -> Hold | None:
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


def _insert_payout(*, order_id: int, source_key: str, fen: int) -> int:
    """The outbox row of a payout (hot path: plain SQL, the same row Payout() would write)."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_PAYOUT} (order_id, source_key, amount, status, attempts, "  # noqa: S608
            "last_error, next_attempt_at, provider_refund_id, created_at) "
            "VALUES (%s, %s, %s, %s, 0, '', %s, '', %s) RETURNING id",
            [order_id, source_key, fen, str(PayoutStatus.PENDING), now, now],
        )
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("payout insert returned no id")
    return int(row[0])


def _no_savepoint() -> transaction.Atomic:
    """The hot services (holds, payouts, recoveries) open no savepoint of their own inside a
    caller's transaction: they raise only on bad input — checked before their first query —
    or on a database error, which must fail the caller's whole transaction anyway (a complaint
    must never be resolved while its money movement was rolled back)."""
    return transaction.atomic(savepoint=False)


def _require(user: User, perm: str) -> None:
    if not (user.is_active and user.is_staff and user.has_perm(perm)):
        raise Forbidden(_("This needs the finance permission %(perm)s.") % {"perm": perm})


# --- Holds --------------------------------------------------------------------------------


def deposit_hold(*, merchant: Merchant, amount: Decimal, reference: str) -> Hold:
    """Reserve `min(amount, available)` of the deposit for an open complaint (a buyer may
    always complain: the hold may be 0.00, and the row still marks the complaint open).
    Idempotent per reference: an active hold for it is returned as it is."""
    fen = _fen(amount, allow_zero=True)
    with _no_savepoint():
        return _hold(merchant=merchant, fen=fen, reference=reference)


def _hold(*, merchant: Merchant, fen: int, reference: str) -> Hold:
    accounts = _lock(merchant.pk)
    existing = Hold.objects.filter(reference=reference, status=HoldStatus.ACTIVE).first()
    if existing is not None:
        return existing
    deposit = accounts[AccountKind.DEPOSIT]
    held = max(0, min(fen, deposit.available))
    if held:
        deposit.held += held
        _save_accounts([deposit])
    return Hold.objects.create(merchant_id=merchant.pk, reference=reference, amount=held)


@transaction.atomic(savepoint=False)
def hold_release(*, reference: str) -> Hold | None:
    """Release the active hold of `reference`; None (nothing moved) when there is none."""
    hold = Hold.objects.filter(reference=reference, status=HoldStatus.ACTIVE).first()
    if hold is None:
        return None
    accounts = _lock(hold.merchant_id)
    hold = Hold.objects.get(pk=hold.pk)  # read again under the deposit's lock
    if hold.status != HoldStatus.ACTIVE:
        return None
    deposit = accounts[AccountKind.DEPOSIT]
    if hold.amount:
        deposit.held -= hold.amount
        _save_accounts([deposit])
    hold.status = HoldStatus.RELEASED
    hold.closed_at = timezone.now()
    hold.save(update_fields=["status", "closed_at"])
    return hold


# --- Compensation (先行赔付) ----------------------------------------------------------------


def _enqueue_payout(payout_id: int) -> None:
    from escrow.tasks import payout_send

    enqueue(payout_send, payout_id)


def _over_order(order: Order, headroom: int) -> DomainError:
    return DomainError(
        _(
            "Order %(number)s may give back at most %(max)s more: its %(amount)s less what "
            "was already refunded or booked for the buyer."
        )
        % {"number": order.number, "max": _yuan(headroom), "amount": format_yuan(order.amount)},
        code="amount_invalid",
    )


def compensation_headroom(*, order_ids: Iterable[int]) -> dict[int, int]:
    """Lock the orders and say, in fen, what each may still pay its buyer: the amount paid
    less every refund sent or booked (the complaints' payouts, queued or sent, and the order's
    own refunds). A compensation for an order is measured against this, never against what
    the payment channel has sent so far (docs/money.md)."""
    return order_services.orders_lock_refundable(order_ids)


def _pay_buyer(
    *, key: str, kind: TransactionKind, dispute_id: int, order: Order, amount: Decimal
) -> LedgerTransaction:
    fen = _fen(amount)
    if not connection.in_atomic_block:  # the order's lock means nothing outside a transaction
        with transaction.atomic():
            return _pay_buyer(key=key, kind=kind, dispute_id=dispute_id, order=order, amount=amount)
    # The order first (as the payout's send and a failed delivery lock it), then the ledger;
    # the refusal comes before anything is written, so the caller's transaction stays usable.
    headroom = compensation_headroom(order_ids=[order.pk]).get(order.pk, 0)
    if fen > headroom:
        existing = _existing(key)  # a retry of what was booked before: nothing moves again
        if existing is not None:
            return existing
        raise _over_order(order, headroom)
    with _no_savepoint():
        return _pay_buyer_locked(key=key, kind=kind, dispute_id=dispute_id, order=order, fen=fen)


def _pay_buyer_locked(
    *, key: str, kind: TransactionKind, dispute_id: int, order: Order, fen: int
) -> LedgerTransaction:
    """Post and book a payout the caller checked against the order's headroom, under the
    order's lock."""
    accounts = _lock(None, (AccountKind.COMPENSATION_FUND, AccountKind.BUYER_REFUNDS))
    tx, created = _post(
        key=key,
        kind=kind,
        legs=[
            (accounts[AccountKind.COMPENSATION_FUND], -fen),
            (accounts[AccountKind.BUYER_REFUNDS], fen),
        ],
        merchant_id=order.merchant_id,
        dispute_id=dispute_id,
    )
    if created:
        order_services.orders_reserve_refunds({order.pk: fen})
        payout_id = _insert_payout(order_id=order.pk, source_key=key, fen=fen)
        transaction.on_commit(lambda: _enqueue_payout(payout_id), robust=True)
    return tx


def compensation_pay(*, dispute_id: int, order: Order, amount: Decimal) -> LedgerTransaction:
    """The platform pays the buyer first (先行赔付): compensation_fund → buyer_refunds, and an
    outbox payout refunds it through the order's payment channel after commit. At most once
    per complaint (`dispute:<id>:payout`); never clawed back; booked on the order and refused
    past what the order may still give back (`compensation_headroom`)."""
    return _pay_buyer(
        key=f"dispute:{dispute_id}:payout",
        kind=TransactionKind.COMPENSATION_PAYOUT,
        dispute_id=dispute_id,
        order=order,
        amount=amount,
    )


def compensation_appeal_payout(
    *, dispute_id: int, order: Order, amount: Decimal
) -> LedgerTransaction:
    """An appeal raised the buyer's compensation: pay the difference, once
    (`dispute:<id>:appeal-payout`)."""
    return _pay_buyer(
        key=f"dispute:{dispute_id}:appeal-payout",
        kind=TransactionKind.APPEAL_PAYOUT,
        dispute_id=dispute_id,
        order=order,
        amount=amount,
    )


def compensation_recover(
    *, dispute_id: int, merchant: Merchant, amount: Decimal
) -> LedgerTransaction:
    """The merchant bears the compensation: deposit → compensation_fund, once per complaint
    (`dispute:<id>:recovery`), and never more than the complaint paid the buyer (its payout
    and appeal payout). Taken from the complaint's own hold first, then from unheld
    balance; what the deposit cannot cover becomes the merchant's receivable and suspends the
    shop (reason `deposit`). Other complaints' holds are never touched, so holds never exceed
    the balance."""
    fen = _fen(amount)
    # Payouts of a complaint are made under its lock (disputes), before its recovery: the
    # check needs no lock of its own, and refuses before anything is written.
    paid = paid_out([dispute_id]).get(dispute_id, 0)
    if fen > paid:
        existing = _existing(f"dispute:{dispute_id}:recovery")
        if existing is not None:
            return existing
        raise _over_payout(dispute_id, fen, paid)
    with _no_savepoint():
        return _recover(dispute_id=dispute_id, merchant=merchant, fen=fen)


PAYOUT_KINDS = (TransactionKind.COMPENSATION_PAYOUT, TransactionKind.APPEAL_PAYOUT)


def paid_out(dispute_ids: Iterable[int]) -> dict[int, int]:
    """What each complaint has paid its buyer (its payout and appeal payout, in fen): the most
    a recovery for it may take from the merchant."""
    ids = sorted(set(dispute_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.dispute_id, SUM(l.amount) FROM {_TX} t "  # noqa: S608
            f"JOIN {_LEG} l ON l.transaction_id = t.id "
            f"WHERE t.dispute_id IN ({', '.join(['%s'] * len(ids))}) "
            f"AND t.kind IN (%s, %s) AND l.amount > 0 GROUP BY t.dispute_id",
            [*ids, *[str(k) for k in PAYOUT_KINDS]],
        )
        return {int(d): int(total) for d, total in cursor.fetchall()}


def recovery_split(fen: int, *, hold: int, available: int) -> tuple[int, int, int]:
    """How a recovery of `fen` is taken: (from the complaint's own hold, from the unheld
    balance, booked as the merchant's receivable). `available` is the deposit's balance less
    every active hold, this complaint's included. The one rule, for one complaint and a batch."""
    from_hold = min(fen, hold)
    from_free = max(0, min(fen - from_hold, available))
    return from_hold, from_free, fen - from_hold - from_free


def _over_payout(dispute_id: int, fen: int, paid: int) -> DomainError:
    return DomainError(
        _(
            "A recovery of %(amount)s is more than the %(paid)s complaint %(id)s paid the buyer; "
            "a merchant never bears more than the buyer was paid."
        )
        % {"amount": _yuan(fen), "paid": _yuan(paid), "id": dispute_id},
        code="amount_invalid",
    )


def _recover(*, dispute_id: int, merchant: Merchant, fen: int) -> LedgerTransaction:
    key = f"dispute:{dispute_id}:recovery"
    accounts = _lock(merchant.pk, (AccountKind.COMPENSATION_FUND,))
    deposit = accounts[AccountKind.DEPOSIT]
    receivable = accounts[AccountKind.RECEIVABLE]
    hold = _active_hold(f"dispute:{dispute_id}", merchant_id=merchant.pk)
    from_hold, from_free, shortfall = recovery_split(
        fen, hold=hold.amount if hold else 0, available=deposit.available
    )
    if hold is not None:
        deposit.held -= hold.amount  # the rest of the hold is freed with it
    tx, created = _post(
        key=key,
        kind=TransactionKind.RECOVERY,
        legs=[
            (deposit, -(from_hold + from_free)),
            (receivable, -shortfall),
            (accounts[AccountKind.COMPENSATION_FUND], fen),
        ],
        touched=[deposit],
        merchant_id=merchant.pk,
        dispute_id=dispute_id,
    )
    if not created:
        return tx
    if hold is not None:
        hold.status = HoldStatus.CONSUMED
        hold.consumed = from_hold
        hold.closed_at = tx.created_at
        hold.save(update_fields=["status", "consumed", "closed_at"])
    _sync_suspension(deposit, receivable, lowered=True)
    return tx


@transaction.atomic
def compensation_recovery_reversal(
    *, dispute_id: int, merchant: Merchant, amount: Decimal
) -> LedgerTransaction:
    """An appeal cleared the merchant: give back (at most) what the recovery took, once
    (`dispute:<id>:recovery-reversal`) — the receivable is reduced first, then the deposit
    credited. The buyer keeps what they were paid; the platform bears it."""
    fen = _fen(amount)
    key = f"dispute:{dispute_id}:recovery-reversal"
    accounts = _lock(merchant.pk, (AccountKind.COMPENSATION_FUND,))
    existing = _existing(key)
    if existing is not None:
        return existing
    recovery = LedgerTransaction.objects.filter(
        key=f"dispute:{dispute_id}:recovery", merchant_id=merchant.pk
    ).first()
    if recovery is None:
        raise DomainError(
            _("Nothing was recovered from this shop for complaint %(id)s.") % {"id": dispute_id},
            code="not_allowed_in_state",
        )
    fund = accounts[AccountKind.COMPENSATION_FUND]
    recovered = recovery.legs.filter(account_id=fund.pk).aggregate(s=Sum("amount"))["s"] or 0
    if fen > recovered:
        raise DomainError(
            _("A reversal gives back at most the %(amount)s recovered.")
            % {"amount": _yuan(recovered)},
            code="amount_invalid",
        )
    deposit = accounts[AccountKind.DEPOSIT]
    receivable = accounts[AccountKind.RECEIVABLE]
    to_receivable = min(fen, -receivable.balance)
    tx, created = _post(
        key=key,
        kind=TransactionKind.RECOVERY_REVERSAL,
        legs=[(fund, -fen), (receivable, to_receivable), (deposit, fen - to_receivable)],
        merchant_id=merchant.pk,
        dispute_id=dispute_id,
    )
    if created:
        _sync_suspension(deposit, receivable, lowered=False)
    return tx


# --- Payouts through the payment channel --------------------------------------------------


def _retry_delay(attempts: int) -> timedelta:
    return min(PAYOUT_RETRY_BASE * (2 ** min(attempts, 10)), PAYOUT_RETRY_MAX)


def payout_send(*, payout_id: int) -> Payout | None:
    """Refund what a buyer is owed through the order's payment channel, then move it
    buyer_refunds → bank (`payout:<id>`), in one transaction under the payout's row lock.

    A second worker skips a payout being sent (SKIP LOCKED); the channel refund is idempotent
    on `payout:<id>`, so a worker dying after the provider answered only repeats a call that
    pays nothing twice. A failure is recorded (attempts, error, next attempt) and retried."""
    with transaction.atomic():
        payout = (
            Payout.objects.select_for_update(skip_locked=True)
            .select_related("order")
            .filter(pk=payout_id)
            .first()
        )
        if payout is None or payout.status == PayoutStatus.SENT:
            return payout
        now = timezone.now()
        payout.attempts += 1
        try:
            with transaction.atomic():
                # Sent against its booking: the payout was measured against the order when
                # it was booked, and is again now (order_refund refuses what the booking
                # does not cover).
                refund = order_services.order_refund(
                    order=payout.order,
                    amount=from_fen(payout.amount),
                    reason=f"compensation {payout.source_key}",
                    key=payout.key,
                    reserved=True,
                )
        except Exception as exc:  # the channel's failures are many; each is recorded, retried
            logger.warning("payout %s failed: %s", payout.pk, exc)
            payout.status = PayoutStatus.FAILED
            payout.last_error = str(exc)[:1000] or exc.__class__.__name__
            payout.next_attempt_at = now + _retry_delay(payout.attempts)
            payout.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
            return payout
        accounts = _lock(None, (AccountKind.BUYER_REFUNDS, AccountKind.BANK))
        _post(
            key=payout.key,
            kind=TransactionKind.REFUND_PAYOUT,
            legs=[
                (accounts[AccountKind.BUYER_REFUNDS], -payout.amount),
                (accounts[AccountKind.BANK], payout.amount),
            ],
            merchant_id=payout.order.merchant_id,
        )
        payout.status = PayoutStatus.SENT
        payout.sent_at = now
        payout.last_error = ""
        payout.provider_refund_id = refund.provider_refund_id
        payout.save(
            update_fields=["status", "attempts", "sent_at", "last_error", "provider_refund_id"]
        )
        payout_sent.send(sender=Payout, payout=payout)
        return payout


def payouts_send_pending(*, limit: int = 100) -> int:
    """The sweep: send the payouts due (pending ones the broker lost, failed ones whose retry
    time came). Returns how many went through."""
    ids = list(
        Payout.objects.filter(
            status__in=[PayoutStatus.PENDING, PayoutStatus.FAILED],
            next_attempt_at__lte=timezone.now(),
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return payouts_send(payout_ids=ids)


def payouts_send(*, payout_ids: Sequence[int]) -> int:
    """Send these payouts one by one (each idempotent; a failure stays on its row for the
    sweep to retry). Returns how many went through."""
    sent = 0
    for payout_id in payout_ids:
        payout = payout_send(payout_id=payout_id)
        if payout is not None and payout.status == PayoutStatus.SENT:
            sent += 1
    return sent


# --- Top-ups ------------------------------------------------------------------------------


def deposit_topup(
    *, merchant: Merchant, amount: Decimal, user: User, channel: str = "sandbox"
) -> LedgerTransaction:
    """The shop's owner pays into the deposit through the payment provider. The charge
    happens first (outside the transaction, as for orders), then `deposit_topup_confirm`
    credits it once per payment reference."""
    if not is_merchant_owner(user, merchant):
        raise Forbidden(_("Only the shop's owner tops up the deposit."))
    fen = _fen(amount)
    try:
        provider = get_provider(channel)
    except PaymentError as exc:
        raise DomainError(
            _("Unknown payment channel %(channel)s.") % {"channel": channel},
            code="channel_invalid",
        ) from exc
    try:
        result = provider.charge(
            amount=from_fen(fen),
            description=f"deposit top-up {merchant.shop_name}",
            idempotency_key=f"topup:{merchant.pk}:{uuid.uuid4().hex}",
        )
    except PaymentError as exc:
        raise DomainError(_("The payment did not go through."), code="payment_failed") from exc
    if not result.succeeded:
        raise DomainError(_("The payment did not go through."), code="payment_failed")
    return deposit_topup_confirm(
        merchant=merchant,
        reference=result.reference,
        amount=from_fen(fen),
        channel=channel,
        user=user,
    )


@transaction.atomic
def deposit_topup_confirm(
    *, merchant: Merchant, reference: str, amount: Decimal, channel: str, user: User
) -> LedgerTransaction:
    """Credit a top-up the provider confirmed (`topup:<payment ref>`, once): bank → the
    receivable first (a debt is paid before anything else), the rest → the deposit. Lifts a
    `deposit` suspension when this cures it."""
    fen = _fen(amount)
    accounts = _lock(merchant.pk, (AccountKind.BANK,))
    deposit = accounts[AccountKind.DEPOSIT]
    receivable = accounts[AccountKind.RECEIVABLE]
    to_receivable = min(fen, -receivable.balance)
    tx, created = _post(
        key=f"topup:{reference}",
        kind=TransactionKind.TOPUP,
        legs=[
            (accounts[AccountKind.BANK], -fen),
            (receivable, to_receivable),
            (deposit, fen - to_receivable),
        ],
        merchant_id=merchant.pk,
        user=user,
    )
    if created:
        Payment.objects.get_or_create(
            reference=reference,
            defaults={
                "payer": user,
                "purpose": "topup",
                "channel": channel,
                "amount": from_fen(fen),
                "status": PaymentStatus.SUCCEEDED,
            },
        )
        _sync_suspension(deposit, receivable, lowered=False)
    return tx


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
            "amount": _yuan(fen),
            "withdrawable": _yuan(withdrawable),
            "balance": _yuan(deposit.balance),
            "held": _yuan(deposit.held),
            "pending": _yuan(pending),
            "minimum": _yuan(minimum),
            "owed": _yuan(owed),
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
    fen = _fen(amount)
    accounts = _lock(merchant.pk)
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
    _require(staff, "escrow.approve_withdrawal")
    withdrawal = _locked_pending_withdrawal(withdrawal)
    conflicts.refuse_party(
        staff=staff,
        action="withdrawal_approve",
        obj=withdrawal,
        merchant_id=withdrawal.merchant_id,
    )
    accounts = _lock(withdrawal.merchant_id, (AccountKind.BANK,))
    deposit = accounts[AccountKind.DEPOSIT]
    receivable = accounts[AccountKind.RECEIVABLE]
    _check_withdrawal(
        deposit=deposit, receivable=receivable, fen=withdrawal.amount, exclude=withdrawal.pk
    )
    tx, _created = _post(
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
    _sync_suspension(deposit, receivable, lowered=True)
    audit_record(
        actor=staff,
        action=AuditAction.WITHDRAWAL_APPROVED,
        obj=withdrawal,
        before={"status": WithdrawalStatus.PENDING, "deposit": deposit.balance + withdrawal.amount},
        after={"status": withdrawal.status, "deposit": deposit.balance, "transaction": tx.key},
    )
    return withdrawal


@conflicts.refusals_audited
@transaction.atomic
def withdrawal_reject(*, withdrawal: Withdrawal, staff: User, reason: str) -> Withdrawal:
    _require(staff, "escrow.approve_withdrawal")
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
    return withdrawal


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
    _require(staff, "escrow.post_adjustment")
    conflicts.refuse_party(
        staff=staff, action="adjustment_post", obj=merchant, merchant_id=merchant.pk
    )
    if not reason.strip():
        raise DomainError(_("A reason is required."), code="reason_required")
    if account not in ADJUSTABLE or counterpart not in COUNTERPARTS:
        raise DomainError(_("Choose a merchant account and a counterpart."), code="invalid")
    fen = _fen(amount, allow_negative=True)
    accounts = _lock(merchant.pk, (counterpart,))
    deposit = accounts[AccountKind.DEPOSIT]
    receivable = accounts[AccountKind.RECEIVABLE]
    target = accounts[account]
    if account == AccountKind.DEPOSIT and deposit.available + fen < 0:
        raise DomainError(
            _("The deposit has only %(available)s available (not held).")
            % {"available": _yuan(deposit.available)},
            code="insufficient_funds",
        )
    if account == AccountKind.RECEIVABLE and receivable.balance + fen > 0:
        raise DomainError(
            _("The merchant owes only %(owed)s.") % {"owed": _yuan(-receivable.balance)},
            code="amount_invalid",
        )
    tx, _created = _post(
        key=f"adjustment:{uuid.uuid4().hex}",
        kind=TransactionKind.ADJUSTMENT,
        legs=[(target, fen), (accounts[counterpart], -fen)],
        merchant_id=merchant.pk,
        memo=reason.strip(),
        user=staff,
    )
    _sync_suspension(deposit, receivable, lowered=fen < 0)
    return tx


@transaction.atomic
def deposit_set_minimum(
    *, merchant: Merchant, amount: Decimal, reason: str, staff: User
) -> Merchant:
    """Change a shop's minimum deposit (finance, with a reason). The shop's standing follows at
    once: a minimum raised above its balance suspends it (`deposit`); one lowered to what it
    holds lifts a deposit suspension (never a manual one)."""
    _require(staff, "escrow.post_adjustment")
    if not reason.strip():
        raise DomainError(_("A reason is required."), code="reason_required")
    fen = _fen(amount, allow_zero=True)
    accounts = _lock(merchant.pk)
    deposit = accounts[AccountKind.DEPOSIT]
    receivable = accounts[AccountKind.RECEIVABLE]
    assert deposit.merchant is not None  # noqa: S101 - _lock joins the merchant
    old = to_fen(deposit.merchant.minimum_deposit)
    merchant = order_services.merchant_set_minimum_deposit(merchant=merchant, amount=from_fen(fen))
    logger.info(
        "minimum deposit of merchant %s: %s -> %s by %s (%s)",
        merchant.pk,
        from_fen(old),
        from_fen(fen),
        staff.pk,
        reason.strip()[:200],
    )
    deposit.merchant.minimum_deposit = merchant.minimum_deposit
    audit_record(
        actor=staff,
        action=AuditAction.MINIMUM_DEPOSIT,
        obj=merchant,
        reason=reason,
        before={"minimum_deposit": str(from_fen(old))},
        after={"minimum_deposit": str(from_fen(fen))},
    )
    # "lowered" means the shop's standing can only have got worse: a higher minimum.
    _sync_suspension(deposit, receivable, lowered=fen > old)
    merchant.refresh_from_db()
    return merchant


@transaction.atomic
def compensation_fund_topup(*, amount: Decimal, reason: str, staff: User) -> LedgerTransaction:
    """Finance tops up the platform's compensation fund from the bank (negative: takes money
    back out), with a mandatory reason. One transaction: the platform accounts' locks are held until
    the balance is written, and the deferred balanced-legs trigger sees both legs at commit."""
    _require(staff, "escrow.post_adjustment")
    if not reason.strip():
        raise DomainError(_("A reason is required."), code="reason_required")
    fen = _fen(amount, allow_negative=True)
    accounts = _lock(None, (AccountKind.COMPENSATION_FUND, AccountKind.BANK))
    tx, _created = _post(
        key=f"fund-topup:{uuid.uuid4().hex}",
        kind=TransactionKind.FUND_TOPUP,
        legs=[(accounts[AccountKind.COMPENSATION_FUND], fen), (accounts[AccountKind.BANK], -fen)],
        memo=reason.strip(),
        user=staff,
    )
    return tx
