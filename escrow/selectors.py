"""Reads of the ledger: a merchant's deposit summary and entries, and the invariant check
behind `manage.py check_ledger`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce

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
    Withdrawal,
    WithdrawalStatus,
)
from kamen_complaints.money import from_fen, to_fen
from orders.models import Merchant, Order, Payment, Refund, SuspensionReason


@dataclass(frozen=True)
class DepositSummary:
    """Yuan with 2 places; `receivable` is what the merchant owes (≥ 0)."""

    balance: Decimal
    held: Decimal
    available: Decimal
    receivable: Decimal
    minimum: Decimal
    status: str
    suspension_reason: str


def _merchant_balances(merchant_id: int) -> tuple[int, int, int]:
    """(deposit balance, held, receivable balance) in fen; zeros for a shop with no accounts."""
    rows = Account.objects.filter(
        merchant_id=merchant_id, kind__in=[AccountKind.DEPOSIT, AccountKind.RECEIVABLE]
    ).values_list("kind", "balance", "held")
    balance = held = receivable = 0
    for kind, amount, account_held in rows:
        if kind == AccountKind.DEPOSIT:
            balance, held = amount, account_held
        else:
            receivable = amount
    return balance, held, receivable


def deposit_summary(merchant: Merchant) -> DepositSummary:
    balance, held, receivable = _merchant_balances(merchant.pk)
    return DepositSummary(
        balance=from_fen(balance),
        held=from_fen(held),
        available=from_fen(balance - held),
        receivable=from_fen(-receivable),
        minimum=merchant.minimum_deposit,
        status=merchant.status,
        suspension_reason=merchant.suspension_reason,
    )


def deposit_cure_amount(summary: DepositSummary) -> Decimal:
    """What a top-up must bring to lift a `deposit` suspension: the debt first (a top-up
    pays the receivable before the deposit), then the deposit up to its minimum."""
    short = max(summary.minimum - summary.balance, Decimal("0"))
    return summary.receivable + short


def withdrawable_fen(*, balance: int, held: int, pending: int, minimum: int, owed: int) -> int:
    """The one rule of docs/rules.md "Shops, teams and deposits": what the owner may still
    withdraw, in fen — the balance less every open complaint's hold, the withdrawals still
    pending, the minimum deposit and what the shop owes (`owed` ≥ 0), never below zero.
    `escrow.services.withdrawal_request` and `withdrawal_approve` refuse above it, under the
    deposit's lock; the deposit page and the API show it with this breakdown."""
    return max(0, balance - held - pending - minimum - owed)


@dataclass(frozen=True)
class ComplaintFacts:
    """What escrow reads of the complaints, as the disputes app registers it at start-up
    (`register_complaint_facts`; escrow never imports the complaints app, docs/architecture.md):
    `numbers(merchant_id, ids)` the numbers of that shop's complaints by id (the holds on its
    deposit); `replaced_values()` (order id, value) of every replacement key handed over
    (check_ledger: given back at its value)."""

    numbers: Callable[[int, set[int]], dict[int, str]]
    replaced_values: Callable[[], Iterable[tuple[int, Decimal]]]


_complaint_facts: list[ComplaintFacts] = []


def register_complaint_facts(facts: ComplaintFacts) -> None:
    """The one provider (the complaints app); registering again replaces it."""
    _complaint_facts[:] = [facts]


@dataclass(frozen=True)
class HeldFor:
    """One open complaint's hold on the deposit (escrow keeps only the reference; the
    complaint's number comes from what the complaints app registered, `ComplaintFacts`)."""

    reference: str
    dispute_id: int | None
    number: str
    amount: Decimal
    since: datetime


@dataclass(frozen=True)
class Withdrawable:
    """The withdrawable amount and each term of it, in yuan (`owed` ≥ 0), with the holds
    that make up `held`, oldest first."""

    balance: Decimal
    held: Decimal
    pending: Decimal
    minimum: Decimal
    owed: Decimal
    amount: Decimal
    holds: list[HeldFor]


def pending_withdrawals_fen(merchant_id: int, *, exclude: int | None = None) -> int:
    """What the shop's pending withdrawals take (fen), `exclude` one of them (its own
    approval)."""
    pending = Withdrawal.objects.filter(merchant_id=merchant_id, status=WithdrawalStatus.PENDING)
    if exclude is not None:
        pending = pending.exclude(pk=exclude)
    return int(pending.aggregate(s=Sum("amount"))["s"] or 0)


def merchant_holds(merchant: Merchant) -> list[HeldFor]:
    """The open complaints holding part of this deposit, with their numbers and amounts,
    oldest first (two queries whatever the count)."""
    holds = list(
        Hold.objects.filter(merchant_id=merchant.pk, status=HoldStatus.ACTIVE)
        .order_by("created_at", "id")
        .values_list("reference", "amount", "created_at")
    )
    ids: dict[str, int] = {}
    for reference, _amount, _at in holds:
        prefix, _sep, rest = reference.partition(":")
        if prefix == "dispute" and rest.isdigit():
            ids[reference] = int(rest)
    numbers: dict[int, str] = {}
    if ids:
        for facts in _complaint_facts:
            numbers = facts.numbers(merchant.pk, set(ids.values()))
    return [
        HeldFor(
            reference=reference,
            dispute_id=ids.get(reference),
            number=numbers.get(ids.get(reference, 0), ""),
            amount=from_fen(amount),
            since=at,
        )
        for reference, amount, at in holds
    ]


def deposit_withdrawable(merchant: Merchant) -> Withdrawable:
    """What the owner may withdraw now and why (the terms of `withdrawable_fen`)."""
    balance, held, receivable = _merchant_balances(merchant.pk)
    pending = pending_withdrawals_fen(merchant.pk)
    minimum = to_fen(merchant.minimum_deposit)
    owed = max(-receivable, 0)
    amount = withdrawable_fen(
        balance=balance, held=held, pending=pending, minimum=minimum, owed=owed
    )
    return Withdrawable(
        balance=from_fen(balance),
        held=from_fen(held),
        pending=from_fen(pending),
        minimum=merchant.minimum_deposit,
        owed=from_fen(owed),
        amount=from_fen(amount),
        holds=merchant_holds(merchant),
    )


def deposit_activation_guard(merchant: Merchant) -> SuspensionReason | None:
    """Registered with orders: a shop that owes a receivable or whose deposit is under its
    minimum stays suspended (reason `deposit`) when staff verify or unsuspend it."""
    balance, _held, receivable = _merchant_balances(merchant.pk)
    if receivable < 0 or balance < to_fen(merchant.minimum_deposit):
        return SuspensionReason.DEPOSIT
    return None


def merchant_entries(merchant: Merchant) -> QuerySet[LedgerEntry]:
    """The legs on the merchant's deposit and receivable, newest first (one query a page)."""
    return (
        LedgerEntry.objects.filter(account__merchant_id=merchant.pk)
        .select_related("transaction", "account")
        .order_by("-id")
    )


def merchant_withdrawals(merchant: Merchant) -> QuerySet[Withdrawal]:
    return Withdrawal.objects.filter(merchant_id=merchant.pk).order_by("-id")


# --- Invariants ---------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    breaches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaches


def _limited(items: list[str], limit: int = 20) -> list[str]:
    if len(items) > limit:
        return [*items[:limit], f"… and {len(items) - limit} more"]
    return items


def ledger_check() -> list[Check]:
    """Every invariant of the ledger, each as a named check with its breaches (empty = ok)."""
    checks: list[Check] = []

    # 1. Every transaction has at least two legs summing to zero.
    check = Check("every transaction has at least two legs summing to zero")
    bad = (
        LedgerTransaction.objects.annotate(
            total=Coalesce(Sum("legs__amount"), Value(0)), legs_count=Count("legs")
        )
        .filter(~Q(total=0) | Q(legs_count__lt=2))
        .values_list("key", "total", "legs_count")
    )
    check.breaches = _limited([f"{k}: sum {t}, {n} legs" for k, t, n in bad])
    checks.append(check)

    # 2. Every balance equals the sum of its legs.
    check = Check("every account balance equals the sum of its legs")
    bad_accounts = (
        Account.objects.annotate(total=Coalesce(Sum("legs__amount"), Value(0)))
        .exclude(balance=F("total"))
        .values_list("pk", "kind", "merchant_id", "balance", "total")
    )
    check.breaches = _limited(
        [
            f"account {pk} ({k}, merchant {m}): balance {b}, legs {t}"
            for pk, k, m, b, t in bad_accounts
        ]
    )
    checks.append(check)

    # 3. Every leg's balance_after is the running sum of its account's legs.
    check = Check("every entry's balance_after is its account's running total")
    running = (
        LedgerEntry.objects.annotate(
            running=Window(Sum("amount"), partition_by=[F("account_id")], order_by=F("id").asc())
        )
        .filter(~Q(balance_after=F("running")))
        .values_list("pk", "account_id", "balance_after", "running")
    )
    check.breaches = _limited(
        [f"entry {pk} (account {a}): balance_after {b}, running {r}" for pk, a, b, r in running]
    )
    checks.append(check)

    # 4. Signs: no deposit negative, no receivable positive, nothing negative owed to buyers.
    check = Check("no deposit is negative, no receivable positive, buyer refunds not negative")
    signs = Account.objects.filter(
        Q(kind=AccountKind.DEPOSIT, balance__lt=0)
        | Q(kind=AccountKind.RECEIVABLE, balance__gt=0)
        | Q(kind=AccountKind.BUYER_REFUNDS, balance__lt=0)
    ).values_list("pk", "kind", "balance")
    check.breaches = [f"account {pk} ({k}): balance {b}" for pk, k, b in signs]
    checks.append(check)

    # 5. Holds: the account's `held` is the sum of its active holds, never above the balance.
    check = Check("holds equal the active hold rows and never exceed the balance")
    active = (
        Hold.objects.filter(merchant_id=OuterRef("merchant_id"), status=HoldStatus.ACTIVE)
        .order_by()
        .values("merchant_id")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    holds = (
        Account.objects.annotate(
            active_holds=Coalesce(Subquery(active, output_field=IntegerField()), Value(0))
        )
        .filter(
            Q(kind=AccountKind.DEPOSIT)
            & (~Q(held=F("active_holds")) | Q(held__gt=F("balance")) | Q(held__lt=0))
        )
        .values_list("pk", "merchant_id", "balance", "held", "active_holds")
    )
    check.breaches = [
        f"deposit {pk} (merchant {m}): balance {b}, held {h}, active holds {a}"
        for pk, m, b, h, a in holds
    ]
    stray = Account.objects.exclude(kind=AccountKind.DEPOSIT).exclude(held=0).values_list("pk")
    check.breaches += [
        f"account {pk}: holds on an account that is not a deposit" for (pk,) in stray
    ]
    orphan = Hold.objects.filter(status=HoldStatus.ACTIVE).exclude(
        merchant_id__in=Account.objects.filter(kind=AccountKind.DEPOSIT).values("merchant_id")
    )
    check.breaches += [f"hold {h.reference}: no deposit account" for h in orphan]
    checks.append(check)

    # 6. No reference paid twice: one payout per compensation posting, with the same amount;
    # each sent payout moved out once (`payout:<id>`), none moved out before it was sent;
    # what buyer_refunds holds is exactly what is still to be paid out.
    check = Check("no reference was paid twice; buyer refunds equal the unpaid payouts")
    breaches: list[str] = []
    pay_kinds = [TransactionKind.COMPENSATION_PAYOUT, TransactionKind.APPEAL_PAYOUT]
    payouts = {p.source_key: p for p in Payout.objects.all()}
    postings = LedgerTransaction.objects.filter(kind__in=pay_kinds).prefetch_related("legs")
    for tx in postings:
        payout = payouts.pop(tx.key, None)
        paid = sum(leg.amount for leg in tx.legs.all() if leg.amount > 0)
        if payout is None:
            breaches.append(f"{tx.key}: no payout to the buyer")
        elif payout.amount != paid:
            breaches.append(f"{tx.key}: payout {payout.amount} for a posting of {paid}")
    breaches += [f"payout {p.pk} ({key}): no posting" for key, p in payouts.items()]
    moved = dict(
        LedgerTransaction.objects.filter(kind=TransactionKind.REFUND_PAYOUT)
        .values("key")
        .annotate(n=Count("id"))
        .values_list("key", "n")
    )
    unpaid = 0
    for payout in Payout.objects.all():
        times = moved.pop(payout.key, 0)
        if payout.status == PayoutStatus.SENT and times != 1:
            breaches.append(f"{payout.key}: sent, moved out {times} times")
        if payout.status != PayoutStatus.SENT:
            unpaid += payout.amount
            if times:
                breaches.append(f"{payout.key}: moved out but not sent")
    breaches += [f"{key}: moved out without a payout" for key in moved]
    owed = (
        Account.objects.filter(kind=AccountKind.BUYER_REFUNDS, merchant__isnull=True)
        .values_list("balance", flat=True)
        .first()
        or 0
    )
    if owed != unpaid:
        breaches.append(f"buyer_refunds holds {owed}, unpaid payouts are {unpaid}")
    check.breaches = _limited(breaches)
    checks.append(check)

    # 7. A recovery reversal never gives back more than its recovery took.
    check = Check("a recovery reversal never exceeds its recovery")
    fund_in = {
        tx.key: sum(
            leg.amount for leg in tx.legs.all() if leg.account.kind == AccountKind.COMPENSATION_FUND
        )
        for tx in LedgerTransaction.objects.filter(
            kind__in=[TransactionKind.RECOVERY, TransactionKind.RECOVERY_REVERSAL]
        ).prefetch_related("legs__account")
    }
    for key, amount in fund_in.items():
        if key.endswith(":recovery-reversal"):
            recovered = fund_in.get(key.removesuffix("-reversal"), 0)
            if -amount > recovered:
                breaches_text = f"{key}: gave back {-amount}, recovered {recovered}"
                check.breaches.append(breaches_text)
    checks.append(check)

    checks += _order_checks()

    # 8. All balances together are zero (money is only ever moved, never made).
    check = Check("all balances together sum to zero")
    total = Account.objects.aggregate(s=Sum("balance"))["s"] or 0
    if total:
        check.breaches.append(f"balances sum to {total}")
    checks.append(check)
    return checks


def _order_checks() -> list[Check]:
    """The compensation of an order, beside the ledger's own invariants (docs/money.md):
    an order is never given back more than was paid, a merchant never bears more than its
    complaint paid out, and every queued payout can be sent."""
    checks: list[Check] = []
    payouts_by_order: dict[int, int] = defaultdict(int)
    unsent_by_order: dict[int, int] = defaultdict(int)
    payout_keys: set[str] = set()
    for order_id, pk, amount, status in Payout.objects.values_list(
        "order_id", "pk", "amount", "status"
    ):
        payouts_by_order[order_id] += amount
        payout_keys.add(f"payout:{pk}")
        if status != PayoutStatus.SENT:
            unsent_by_order[order_id] += amount
    own_refunds: dict[int, int] = defaultdict(int)
    for order_id, key, refunded in Refund.objects.filter(payment__order__isnull=False).values_list(
        "payment__order_id", "idempotency_key", "amount"
    ):
        if key not in payout_keys:
            own_refunds[order_id] += to_fen(refunded)
    # Replacement keys handed over are given back too, at their value (docs/money.md); the
    # complaints app registered how to read them (ComplaintFacts).
    replaced: dict[int, int] = defaultdict(int)
    for facts in _complaint_facts:
        for order_id, value in facts.replaced_values():
            replaced[order_id] += to_fen(value)
    ids = set(payouts_by_order) | set(own_refunds) | set(replaced)
    orders = {
        pk: (number, to_fen(paid), to_fen(refunded), to_fen(reserved))
        for pk, number, paid, refunded, reserved in Order.objects.filter(
            Q(pk__in=ids) | ~Q(refund_reserved=0)
        ).values_list("pk", "number", "amount", "refunded_amount", "refund_reserved")
    }

    # 9. Per order: every complaint's payouts (sent or queued) plus its own refunds plus the
    # replacement keys handed over ≤ paid.
    check = Check(
        "no order is given back more than was paid (payouts + refunds + replacement keys ≤ amount)"
    )
    for pk, (number, paid_fen, refunded_fen, reserved_fen) in sorted(orders.items()):
        given = payouts_by_order.get(pk, 0) + own_refunds.get(pk, 0) + replaced.get(pk, 0)
        if given > paid_fen or refunded_fen + reserved_fen + replaced.get(pk, 0) > paid_fen:
            check.breaches.append(
                f"order {number}: paid {_y(paid_fen)}, payouts {_y(payouts_by_order.get(pk, 0))}"
                f" + own refunds {_y(own_refunds.get(pk, 0))}"
                f" + replacement keys {_y(replaced.get(pk, 0))}; refunded {_y(refunded_fen)}"
                f" + booked {_y(reserved_fen)}"
            )
    check.breaches = _limited(check.breaches)
    checks.append(check)

    # 10. Per complaint (and per order a collective case refunded without one, its movements
    # keyed `collective:<case>:<order>:…`, and per refund a payment channel forced,
    # `channel-refund:<channel>:<number>:…`, whose `:forced` posting is what it paid out): what
    # the merchant bears (recovery less reversal) ≤ what it paid out.
    check = Check("no recovery exceeds what its complaint paid out")
    paid: dict[str, int] = defaultdict(int)
    taken: dict[str, int] = defaultdict(int)
    kinds = [
        TransactionKind.COMPENSATION_PAYOUT,
        TransactionKind.APPEAL_PAYOUT,
        TransactionKind.RECOVERY,
        TransactionKind.RECOVERY_REVERSAL,
    ]
    legs = LedgerEntry.objects.filter(
        Q(transaction__dispute_id__isnull=False, transaction__kind__in=kinds)
        | Q(transaction__key__startswith="collective:", transaction__kind__in=kinds)
        | Q(transaction__key__startswith="channel-refund:"),
    ).values_list(
        "transaction__dispute_id",
        "transaction__key",
        "transaction__kind",
        "account__kind",
        "amount",
    )
    for dispute_id, key, kind, account_kind, amount in legs:
        subject = f"complaint {dispute_id}" if dispute_id is not None else key.rsplit(":", 1)[0]
        if key.endswith(":forced") and key.startswith("channel-refund:"):
            if account_kind == AccountKind.COMPENSATION_FUND:
                paid[subject] -= amount  # what the channel gave the buyer, from the fund
        elif kind in (TransactionKind.COMPENSATION_PAYOUT, TransactionKind.APPEAL_PAYOUT):
            if account_kind == AccountKind.BUYER_REFUNDS:
                paid[subject] += amount
        elif account_kind == AccountKind.COMPENSATION_FUND:
            taken[subject] += amount  # + recovered, − given back
    check.breaches = _limited(
        [
            f"{d}: recovered {_y(t)}, paid out {_y(paid.get(d, 0))}"
            for d, t in sorted(taken.items())
            if t > paid.get(d, 0)
        ]
    )
    checks.append(check)

    # 11. The payout queue: every unsent payout is booked on its order, so it can be sent.
    check = Check("every queued payout is booked on its order and can be sent")
    for pk, (number, _amount, _refunded, reserved) in sorted(orders.items()):
        if unsent_by_order.get(pk, 0) != reserved:
            check.breaches.append(
                f"order {number}: queued payouts {_y(unsent_by_order.get(pk, 0))}, "
                f"booked {_y(reserved)}"
            )
    check.breaches = _limited(check.breaches)
    checks.append(check)
    return checks


def _y(fen: int) -> str:
    return str(from_fen(fen))


@dataclass(frozen=True)
class UnreconciledDay:
    channel: str
    day: date
    why: str


def unreconciled_days(*, today: date | None = None) -> list[UnreconciledDay]:
    """The days before today (Asia/Shanghai) whose channel bill is not reconciled clean: money
    moved through a real channel that day and no run compared it, or the run listed
    differences, or the bill could not be had (docs/reconciliation.md). check_ledger reports
    them."""
    from zoneinfo import ZoneInfo

    from django.db.models.functions import TruncDate

    from escrow.models import ReconciliationRun, ReconciliationStatus
    from orders.payments import CHANNEL_CLASSES

    shanghai = ZoneInfo("Asia/Shanghai")
    today = today or datetime.now(shanghai).date()
    moved: set[tuple[str, date]] = set()
    for model, channel_field in ((Payment, "channel"), (Refund, "payment__channel")):
        rows = (
            model.objects.filter(**{f"{channel_field}__in": list(CHANNEL_CLASSES)})
            .annotate(day=TruncDate("created_at", tzinfo=shanghai))
            .filter(day__lt=today)
            .values_list(channel_field, "day")
            .distinct()
        )
        moved.update(rows)
    runs = {
        (run.channel, run.day): run
        for run in ReconciliationRun.objects.filter(day__lt=today).only(
            "channel", "day", "status", "differences", "error"
        )
    }
    days: list[UnreconciledDay] = []
    for key in sorted(moved | set(runs)):
        run = runs.get(key)
        if run is None:
            days.append(UnreconciledDay(*key, "not reconciled"))
        elif run.status == ReconciliationStatus.DIFFERENCES:
            days.append(UnreconciledDay(*key, f"{run.differences} difference(s)"))
        elif run.status == ReconciliationStatus.FAILED:
            days.append(UnreconciledDay(*key, f"no bill: {run.error}"))
    return days
