"""Compensation (先行赔付): the platform pays the buyer first, recovers it from the merchant,
and reverses a recovery an appeal cleared (docs/money.md)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

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
from escrow.services.holds import active_hold_sql, hold_consume_sql, hold_from_row
from escrow.services.ledger import (
    GateRefused,
    amount_fen,
    existing_transaction,
    lock_by_kind,
    lock_by_kind_with,
    no_savepoint,
    post,
    post_platform,
    post_with,
    sync_suspension,
    yuan,
)
from escrow.signals import debt_recorded
from kamen_complaints.celery import enqueue
from kamen_complaints.errors import DomainError
from kamen_complaints.money import format_yuan
from orders import services as order_services
from orders.models import Merchant, Order
from orders.services.refunds import refund_booking_sql, refundable_lock_sql

_TX = LedgerTransaction._meta.db_table
_LEG = LedgerEntry._meta.db_table
_PAYOUT = Payout._meta.db_table


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
        % {"number": order.number, "max": yuan(headroom), "amount": format_yuan(order.amount)},
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
    fen = amount_fen(amount)
    if not connection.in_atomic_block:  # the order's lock means nothing outside a transaction
        with transaction.atomic():
            return _pay_buyer(key=key, kind=kind, dispute_id=dispute_id, order=order, amount=amount)
    # The order first (as the payout's send and a failed delivery lock it), then the ledger;
    # the refusal comes before anything is written, so the caller's transaction stays usable.
    if connection.vendor == "postgresql":
        # The order's lock and headroom ride in the payout's statement (post_platform's gate):
        # one round trip less.
        with no_savepoint():
            try:
                return _pay_buyer_locked(
                    key=key, kind=kind, dispute_id=dispute_id, order=order, fen=fen, gate=True
                )
            except GateRefused as refused:  # caught inside: nothing was written
                headroom = refused.value
    else:
        headroom = compensation_headroom(order_ids=[order.pk]).get(order.pk, 0)
    if fen > headroom:
        # A retry of what was booked before: nothing moves again.
        existing = existing_transaction(key)
        if existing is not None:
            return existing
        raise _over_order(order, headroom)
    with no_savepoint():
        return _pay_buyer_locked(key=key, kind=kind, dispute_id=dispute_id, order=order, fen=fen)


def _pay_buyer_locked(
    *, key: str, kind: TransactionKind, dispute_id: int, order: Order, fen: int, gate: bool = False
) -> LedgerTransaction:
    """Post and book a payout the caller checked against the order's headroom, under the
    order's lock — or, `gate` (PostgreSQL), one that this statement locks the order for and
    checks first, raising `GateRefused` with the headroom when it is short."""
    # The accounts' lock, the posting, the order's booking and the outbox row are one
    # statement (post_platform): booked only if the posting is new, so a retry books nothing
    # twice.
    tx, created, (booked, payout_ids) = _posted_with(
        post_platform(
            key=key,
            kind=kind,
            legs=[(AccountKind.COMPENSATION_FUND, -fen), (AccountKind.BUYER_REFUNDS, fen)],
            merchant_id=order.merchant_id,
            dispute_id=dispute_id,
            also=[
                refund_booking_sql({order.pk: fen}, only_if="EXISTS (SELECT 1 FROM tx)"),
                _payout_sql(order_id=order.pk, source_key=key, fen=fen),
            ],
            gate=(*refundable_lock_sql(order.pk), fen) if gate else None,
        ),
        2,
    )
    if created:
        if booked != [order.pk] or len(payout_ids) != 1:
            raise RuntimeError(f"{key}: booked {booked}, payouts {payout_ids}")
        payout_id = int(payout_ids[0])
        transaction.on_commit(lambda: _enqueue_payout(payout_id), robust=True)
    return tx


def _posted_with(
    posted: tuple[LedgerTransaction, bool, list[list[Any]]], statements: int
) -> tuple[LedgerTransaction, bool, list[list[Any]]]:
    tx, created, returned = posted
    return tx, created, returned if created else [[] for _i in range(statements)]


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
    fen = amount_fen(amount)
    if not connection.in_atomic_block:  # the accounts' locks mean nothing outside a transaction
        with transaction.atomic():
            return compensation_recover(dispute_id=dispute_id, merchant=merchant, amount=amount)
    key = f"dispute:{dispute_id}:recovery"
    # One statement locks the accounts and reads what the complaint paid its buyer and its
    # hold (locked too, after the accounts). Payouts of a complaint are made under its lock
    # (disputes), before its recovery, and so are its holds placed: neither can appear while
    # this statement waits for the accounts. The refusal comes before anything is written
    # (and outside no_savepoint, so the caller's transaction stays usable).
    accounts, (paid_rows, hold_rows) = lock_by_kind_with(
        merchant.pk,
        (AccountKind.COMPENSATION_FUND,),
        after=[
            _paid_out_sql([dispute_id]),
            active_hold_sql(f"dispute:{dispute_id}", merchant_id=merchant.pk, lock=True),
        ],
    )
    paid = sum(int(row["paid"]) for row in paid_rows)
    if fen > paid:
        existing = existing_transaction(key)
        if existing is not None:
            return existing
        raise _over_payout(dispute_id, fen, paid)
    hold = hold_from_row(hold_rows[0]) if hold_rows else None
    with no_savepoint():
        return _recover(dispute_id=dispute_id, merchant=merchant, fen=fen, locked=(accounts, hold))


PAYOUT_KINDS = (TransactionKind.COMPENSATION_PAYOUT, TransactionKind.APPEAL_PAYOUT)


def paid_out(dispute_ids: Iterable[int]) -> dict[int, int]:
    """What each complaint has paid its buyer (its payout and appeal payout, in fen): the most
    a recovery for it may take from the merchant."""
    sql, params = _paid_out_sql(dispute_ids)
    if not sql:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {int(d): int(total) for d, total in cursor.fetchall()}


def _paid_out_sql(dispute_ids: Iterable[int]) -> tuple[str, list[Any]]:
    """`paid_out` as a query (columns dispute_id, paid); ("", []) for no complaint."""
    ids = sorted(set(dispute_ids))
    if not ids:
        return "", []
    return (
        f"SELECT t.dispute_id AS dispute_id, SUM(l.amount) AS paid FROM {_TX} t "  # noqa: S608
        f"JOIN {_LEG} l ON l.transaction_id = t.id "
        f"WHERE t.dispute_id IN ({', '.join(['%s'] * len(ids))}) "
        f"AND t.kind IN (%s, %s) AND l.amount > 0 GROUP BY t.dispute_id",
        [*ids, *[str(k) for k in PAYOUT_KINDS]],
    )


def paid_out_by_reference(references: Iterable[str]) -> dict[str, int]:
    """What each payout reference without a complaint (a collective case's order,
    `collective:<case>:<order>`) has paid its buyer, in fen: the most its recovery may take."""
    refs = sorted(set(references))
    if not refs:
        return {}
    keys = {f"{ref}:payout": ref for ref in refs}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.key, SUM(l.amount) FROM {_TX} t "  # noqa: S608
            f"JOIN {_LEG} l ON l.transaction_id = t.id "
            f"WHERE t.key IN ({', '.join(['%s'] * len(keys))}) AND l.amount > 0 GROUP BY t.key",
            list(keys),
        )
        return {keys[key]: int(total) for key, total in cursor.fetchall()}


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
        % {"amount": yuan(fen), "paid": yuan(paid), "id": dispute_id},
        code="amount_invalid",
    )


def _recover(
    *,
    dispute_id: int,
    merchant: Merchant,
    fen: int,
    locked: tuple[dict[str, Account], Hold | None] | None = None,
) -> LedgerTransaction:
    """Post a recovery the caller checked against what the complaint paid: under the
    accounts' locks and with the complaint's active hold read under them (`locked`, from
    `compensation_recover`'s statement), or taking them here."""
    key = f"dispute:{dispute_id}:recovery"
    if locked is None:
        accounts, (hold_rows,) = lock_by_kind_with(
            merchant.pk,
            (AccountKind.COMPENSATION_FUND,),
            after=[active_hold_sql(f"dispute:{dispute_id}", merchant_id=merchant.pk, lock=True)],
        )
        locked = accounts, hold_from_row(hold_rows[0]) if hold_rows else None
    accounts, hold = locked
    deposit = accounts[AccountKind.DEPOSIT]
    receivable = accounts[AccountKind.RECEIVABLE]
    from_hold, from_free, shortfall = recovery_split(
        fen, hold=hold.amount if hold else 0, available=deposit.available
    )
    if hold is not None:
        deposit.held -= hold.amount  # the rest of the hold is freed with it
    now = timezone.now()
    # The hold is consumed in the posting's own statement: only if the posting is new.
    tx, created, consumed = post_with(
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
        also=[] if hold is None else [hold_consume_sql(hold, consumed=from_hold, at=now)],
        now=now,
    )
    if not created:
        return tx
    if hold is not None:
        if consumed != [[hold.pk]]:
            raise RuntimeError(f"{key}: consumed holds {consumed}, not [{hold.pk}]")
        hold.status = HoldStatus.CONSUMED
        hold.consumed = from_hold
        hold.closed_at = now
    sync_suspension(deposit, receivable, lowered=True)
    if shortfall:
        debt_recorded.send(
            sender=Merchant,
            merchant=merchant,
            dispute_id=dispute_id,
            shortfall=shortfall,
            owed=-receivable.balance,
        )
    return tx


def channel_refund_recover(
    *, channel: str, refund_number: str, merchant: Merchant, amount: Decimal, order_number: str
) -> LedgerTransaction:
    """A refund the payment channel forced for a complaint filed there (booked on the order by
    orders.services.refunds.channel_refund_forced) left the platform's channel account: the
    ledger says so (compensation_fund → bank, `channel-refund:<channel>:<number>:forced`) and
    the shop bears it as it bears a complaint's compensation — a recovery from the deposit's
    unheld balance, what it cannot cover the shop's receivable (which suspends it), under
    `channel-refund:<channel>:<number>:recovery`. Once per forced refund whoever asks again;
    a complaint's own recovery covers only what that complaint paid, which the forced refund
    already lowered, so the shop is charged once for each yuan the buyer got back
    (docs/channel-complaints.md). Other complaints' holds are never touched."""
    fen = amount_fen(amount)
    base = f"channel-refund:{channel}:{refund_number}"
    if not connection.in_atomic_block:
        with transaction.atomic():
            return channel_refund_recover(
                channel=channel,
                refund_number=refund_number,
                merchant=merchant,
                amount=amount,
                order_number=order_number,
            )
    with no_savepoint():
        accounts = lock_by_kind(merchant.pk, (AccountKind.COMPENSATION_FUND, AccountKind.BANK))
        fund = accounts[AccountKind.COMPENSATION_FUND]
        post(
            key=f"{base}:forced",
            kind=TransactionKind.ADJUSTMENT,
            legs=[(fund, -fen), (accounts[AccountKind.BANK], fen)],
            merchant_id=merchant.pk,
            memo=f"{channel} refund {refund_number} forced on order {order_number}",
        )
        deposit = accounts[AccountKind.DEPOSIT]
        receivable = accounts[AccountKind.RECEIVABLE]
        _hold, from_free, shortfall = recovery_split(fen, hold=0, available=deposit.available)
        tx, created = post(
            key=f"{base}:recovery",
            kind=TransactionKind.RECOVERY,
            legs=[(deposit, -from_free), (receivable, -shortfall), (fund, fen)],
            touched=[deposit],
            merchant_id=merchant.pk,
            memo=f"{channel} refund {refund_number} forced on order {order_number}",
        )
        if not created:
            return tx
        sync_suspension(deposit, receivable, lowered=True)
        if shortfall:
            debt_recorded.send(
                sender=Merchant,
                merchant=merchant,
                dispute_id=None,
                shortfall=shortfall,
                owed=-receivable.balance,
                reference=base,
            )
        return tx


@transaction.atomic
def compensation_recovery_reversal(
    *, dispute_id: int, merchant: Merchant, amount: Decimal
) -> LedgerTransaction:
    """An appeal cleared the merchant: give back (at most) what the recovery took, once
    (`dispute:<id>:recovery-reversal`) — the receivable is reduced first, then the deposit
    credited. The buyer keeps what they were paid; the platform bears it."""
    fen = amount_fen(amount)
    key = f"dispute:{dispute_id}:recovery-reversal"
    accounts = lock_by_kind(merchant.pk, (AccountKind.COMPENSATION_FUND,))
    existing = existing_transaction(key)
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
            % {"amount": yuan(recovered)},
            code="amount_invalid",
        )
    deposit = accounts[AccountKind.DEPOSIT]
    receivable = accounts[AccountKind.RECEIVABLE]
    to_receivable = min(fen, -receivable.balance)
    tx, created = post(
        key=key,
        kind=TransactionKind.RECOVERY_REVERSAL,
        legs=[(fund, -fen), (receivable, to_receivable), (deposit, fen - to_receivable)],
        merchant_id=merchant.pk,
        dispute_id=dispute_id,
    )
    if created:
        sync_suspension(deposit, receivable, lowered=False)
    return tx


def _payout_sql(*, order_id: int, source_key: str, fen: int) -> tuple[str, list[Any]]:
    """The outbox row of a new payout, as a statement of its posting (ledger.post_with)."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return (
        f"INSERT INTO {_PAYOUT} (order_id, source_key, amount, status, attempts, "  # noqa: S608
        "last_error, next_attempt_at, provider_refund_id, created_at) "
        "SELECT %s, %s, %s, %s, 0, '', %s, '', %s FROM tx RETURNING id",
        [order_id, source_key, fen, str(PayoutStatus.PENDING), now, now],
    )
