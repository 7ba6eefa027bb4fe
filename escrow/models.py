"""Merchant deposits (保证金) as a double-entry ledger.

Sign convention
---------------
Amounts in these tables are integers of fen (分). Every account holds a signed `balance`, and
every leg (`LedgerEntry.amount`) is the change it makes to its account's balance:

    + money into the account            - money out of the account

A movement "from A to B" of x is one `LedgerTransaction` with the legs A: -x and B: +x, and the
legs of every transaction sum to zero, so the balances of all accounts together always sum to
zero. What a balance means, per kind:

- `deposit` (a merchant's 保证金): what the merchant has on deposit; never below zero
  (a CheckConstraint), and `held` (the sum of its active holds) never above it.
- `receivable` (a merchant's debt to the platform): zero or below; -x means the merchant owes x.
  A recovery the deposit cannot cover makes it more negative; a top-up brings it back to zero
  first. (The API shows `receivable` as the positive amount owed.)
- `compensation_fund` (the platform's own money for 先行赔付): may go below zero — the platform
  always pays — and finance tops it up from `bank`.
- `buyer_refunds` (owed to buyers until the payment channel pays it out): zero or above.
- `bank` (the outside world): money entering the platform leaves it, so it is usually negative;
  -x means the platform holds x that came in from outside.

Examples: a top-up of 100 is bank -100, deposit +100; a compensation payout of 30 is
compensation_fund -30, buyer_refunds +30, and its payout through the channel buyer_refunds -30,
bank +30; a recovery of 50 from a deposit of 20 is deposit -20, receivable -30,
compensation_fund +50.

The API shows these signs (README "Deposits"): an entry's `amount` is the leg (+ raises the deposit,
or lowers the debt) and its `balance_after` the account's balance after it.

Ledger rows are never updated or deleted (电子商务法 art. 31: records kept ≥ 3 years); on
PostgreSQL triggers refuse it, and a deferred constraint trigger refuses a transaction whose legs
do not sum to zero (migration 0002). Every write goes through escrow/services/.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kamen_complaints.money import from_fen
from orders.models import Merchant, Order


class AccountKind(models.TextChoices):
    DEPOSIT = "deposit", _("deposit")
    RECEIVABLE = "receivable", _("receivable")
    COMPENSATION_FUND = "compensation_fund", _("compensation fund")
    BUYER_REFUNDS = "buyer_refunds", _("owed to buyers")
    BANK = "bank", _("bank (outside the platform)")


MERCHANT_KINDS = (AccountKind.DEPOSIT, AccountKind.RECEIVABLE)
PLATFORM_KINDS = (AccountKind.COMPENSATION_FUND, AccountKind.BUYER_REFUNDS, AccountKind.BANK)


class ImmutableRowError(Exception):
    """A ledger row was about to be changed or deleted: a bug, refused."""


class Account(models.Model):
    """One account of the ledger. `balance` (and `held` for deposits) change only in
    escrow/services/, under a row lock, in the transaction that writes the legs."""

    kind = models.CharField(_("kind"), max_length=24, choices=AccountKind.choices)
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="escrow_accounts",
        verbose_name=_("merchant"),
    )
    balance = models.BigIntegerField(_("balance (fen)"), default=0)
    held = models.BigIntegerField(_("held (fen)"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["id"]
        permissions = [
            ("post_adjustment", _("Can post manual ledger adjustments and fund top-ups")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind"],
                condition=Q(merchant__isnull=False),
                name="escrow_account_one_per_merchant_kind",
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(merchant__isnull=True),
                name="escrow_account_one_platform_kind",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=[k.value for k in MERCHANT_KINDS]) & Q(merchant__isnull=False)
                )
                | (Q(kind__in=[k.value for k in PLATFORM_KINDS]) & Q(merchant__isnull=True)),
                name="escrow_account_kind_owner",
            ),
            # The database holds the line even against a bug: a deposit never negative, holds
            # never above it; a receivable is a debt (≤ 0); owed-to-buyers never negative.
            models.CheckConstraint(
                condition=~Q(kind=AccountKind.DEPOSIT)
                | (Q(balance__gte=0) & Q(held__gte=0) & Q(held__lte=F("balance"))),
                name="escrow_deposit_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(kind=AccountKind.DEPOSIT) | Q(held=0),
                name="escrow_only_deposits_hold",
            ),
            models.CheckConstraint(
                condition=~Q(kind=AccountKind.RECEIVABLE) | Q(balance__lte=0),
                name="escrow_receivable_not_positive",
            ),
            models.CheckConstraint(
                condition=~Q(kind=AccountKind.BUYER_REFUNDS) | Q(balance__gte=0),
                name="escrow_buyer_refunds_not_negative",
            ),
        ]

    def __str__(self) -> str:
        owner = self.merchant.shop_name if self.merchant_id and self.merchant else _("platform")
        return f"{owner} · {self.get_kind_display()}"

    @property
    def available(self) -> int:
        return self.balance - self.held


class TransactionKind(models.TextChoices):
    COMPENSATION_PAYOUT = "compensation_payout", _("compensation paid to the buyer")
    RECOVERY = "recovery", _("compensation recovered from the deposit")
    APPEAL_PAYOUT = "appeal_payout", _("compensation paid after an appeal")
    RECOVERY_REVERSAL = "recovery_reversal", _("recovery reversed after an appeal")
    TOPUP = "topup", _("deposit top-up")
    WITHDRAWAL = "withdrawal", _("deposit withdrawal")
    REFUND_PAYOUT = "refund_payout", _("paid out to the buyer through the payment channel")
    ADJUSTMENT = "adjustment", _("manual adjustment")
    FUND_TOPUP = "fund_topup", _("compensation fund top-up")


class LedgerTransaction(models.Model):
    """A balanced set of legs, written once, under a unique idempotency key
    (`dispute:<id>:payout`, `topup:<payment ref>`, `withdrawal:<id>`, `payout:<id>`, …)."""

    key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=24, choices=TransactionKind.choices)
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("merchant"),
    )
    dispute_id = models.BigIntegerField(_("complaint"), null=True, blank=True)
    memo = models.TextField(_("reason"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("ledger transaction")
        verbose_name_plural = _("ledger transactions")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=TransactionKind.values), name="escrow_tx_kind_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["dispute_id"], name="escrow_tx_dispute_idx"),
        ]

    def __str__(self) -> str:
        return self.key

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ImmutableRowError("ledger transactions are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableRowError("ledger transactions are never deleted")


class LedgerEntry(models.Model):
    """One leg: the signed change (fen) to one account, and that account's balance after it."""

    transaction = models.ForeignKey(
        LedgerTransaction,
        on_delete=models.PROTECT,
        related_name="legs",
        verbose_name=_("ledger transaction"),
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="legs", verbose_name=_("account")
    )
    amount = models.BigIntegerField(_("amount (fen)"))
    balance_after = models.BigIntegerField(_("balance after (fen)"))

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="escrow_leg_not_zero"),
        ]
        indexes = [
            models.Index(fields=["account", "-id"], name="escrow_leg_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount:+d}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ImmutableRowError("ledger entries are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableRowError("ledger entries are never deleted")

    @property
    def amount_yuan(self) -> Any:
        return from_fen(self.amount)


class HoldStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    RELEASED = "released", _("released")
    CONSUMED = "consumed", _("consumed by a recovery")


class Hold(models.Model):
    """Part of a deposit reserved while a complaint is open: `min(claimed, available)` when
    placed (may be zero — the row still says a complaint is open). Released or consumed once."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="escrow_holds", verbose_name=_("merchant")
    )
    reference = models.CharField(_("reference"), max_length=120)
    amount = models.BigIntegerField(_("amount (fen)"))
    consumed = models.BigIntegerField(_("consumed (fen)"), default=0)
    status = models.CharField(
        _("status"), max_length=12, choices=HoldStatus.choices, default=HoldStatus.ACTIVE
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference"],
                condition=Q(status="active"),
                name="escrow_one_active_hold_per_reference",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(consumed__gte=0) & Q(consumed__lte=F("amount")),
                name="escrow_hold_amounts_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=HoldStatus.values), name="escrow_hold_status_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["merchant"],
                condition=Q(status="active"),
                name="escrow_hold_active_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {from_fen(self.amount)} ({self.status})"


class PayoutStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed, will retry")


class Payout(models.Model):
    """Outbox row: money owed to a buyer (in `buyer_refunds`) to be refunded through the order's
    payment channel. Written in the posting's transaction, sent on commit by a Celery task, and
    picked up by the periodic sweep when the broker lost it. The channel refund is idempotent
    on `payout:<id>`, so a retry never pays twice."""

    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="escrow_payouts", verbose_name=_("order")
    )
    source_key = models.CharField(_("for"), max_length=120, unique=True)
    amount = models.BigIntegerField(_("amount (fen)"))
    status = models.CharField(
        _("status"), max_length=12, choices=PayoutStatus.choices, default=PayoutStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    provider_refund_id = models.CharField(_("refund id"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("payout to a buyer")
        verbose_name_plural = _("payouts to buyers")
        ordering = ["-id"]
        permissions = [("retry_payout", _("Can retry a payout to a buyer now"))]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="escrow_payout_positive"),
            models.CheckConstraint(
                condition=Q(status__in=PayoutStatus.values), name="escrow_payout_status_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "failed"]),
                name="escrow_payout_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"payout:{self.pk} {from_fen(self.amount)} ({self.status})"

    @property
    def key(self) -> str:
        return f"payout:{self.pk}"


class WithdrawalStatus(models.TextChoices):
    PENDING = "pending", _("awaiting approval")
    APPROVED = "approved", _("approved and paid")
    REJECTED = "rejected", _("rejected")


class Withdrawal(models.Model):
    """A merchant's request to take money out of its deposit; finance staff approve it."""

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        related_name="escrow_withdrawals",
        verbose_name=_("merchant"),
    )
    amount = models.BigIntegerField(_("amount (fen)"))
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=WithdrawalStatus.choices,
        default=WithdrawalStatus.PENDING,
        db_index=True,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    transaction = models.OneToOneField(
        LedgerTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ledger transaction"),
    )

    class Meta:
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")
        ordering = ["-id"]
        permissions = [("approve_withdrawal", _("Can approve or reject deposit withdrawals"))]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="escrow_withdrawal_positive"),
            models.CheckConstraint(
                condition=Q(status__in=WithdrawalStatus.values),
                name="escrow_withdrawal_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"withdrawal:{self.pk} {from_fen(self.amount)} ({self.status})"


# --- Reconciliation with the channels' bills (docs/reconciliation.md) ---------------------


class ReconciliationStatus(models.TextChoices):
    CLEAN = "clean", _("all matched")
    DIFFERENCES = "differences", _("differences for finance")
    FAILED = "failed", _("bill not had")


class ReconciliationResult(models.TextChoices):
    MATCHED = "matched", _("matched")
    MISSING_IN_BILL = "missing_in_bill", _("in the ledger, not in the bill")
    MISSING_IN_LEDGER = "missing_in_ledger", _("in the bill, not in the ledger")
    AMOUNT_DIFFERS = "amount_differs", _("different amount")
    REFUND_WITHOUT_PAYOUT = "refund_without_payout", _("refund without a payout")


class ReconciliationRun(models.Model):
    """One channel's bill of one day compared with the ledger. Running it again replaces its
    rows: one run per channel and day, the same rows for the same bill and ledger."""

    channel = models.CharField(_("payment channel"), max_length=24)
    day = models.DateField(_("bill date"))
    status = models.CharField(
        _("status"), max_length=12, choices=ReconciliationStatus.choices, db_index=True
    )
    matched = models.PositiveIntegerField(_("matched"), default=0)
    differences = models.PositiveIntegerField(_("differences"), default=0)
    error = models.CharField(_("error"), max_length=255, blank=True)
    ran_at = models.DateTimeField(_("ran at"), default=timezone.now)
    runs = models.PositiveIntegerField(_("times run"), default=1)

    class Meta:
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")
        ordering = ["-day", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "day"], name="escrow_recon_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.day} ({self.status})"


class ReconciliationItem(models.Model):
    """One payment or refund of a day, the ledger's row beside the bill's."""

    run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.CASCADE,
        related_name="items",
        verbose_name=_("reconciliation"),
    )
    kind = models.CharField(_("kind"), max_length=8)  # "payment" or "refund"
    result = models.CharField(
        _("result"), max_length=24, choices=ReconciliationResult.choices, db_index=True
    )
    out_trade_no = models.CharField(_("our trade number"), max_length=64, blank=True)
    reference = models.CharField(_("channel's trade number"), max_length=64, blank=True)
    refund_number = models.CharField(_("refund number"), max_length=64, blank=True)
    ledger_amount = models.DecimalField(
        _("ledger amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    bill_amount = models.DecimalField(
        _("bill amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    ledger_row = models.CharField(_("ledger row"), max_length=255, blank=True)
    bill_row = models.JSONField(_("bill row"), default=dict, blank=True)

    class Meta:
        verbose_name = _("reconciliation row")
        verbose_name_plural = _("reconciliation rows")
        ordering = ["run", "kind", "out_trade_no", "refund_number"]

    def __str__(self) -> str:
        return f"{self.kind} {self.out_trade_no or self.reference} {self.result}"
