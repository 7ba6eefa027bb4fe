"""Complaints (投诉): policy, the complaint and its state, evidence, the append-only timeline,
the blacklist, evidence-package downloads and the notification outbox.

Retention (电子商务法 art. 31): complaints, evidence and events are kept at least 3 years, so
nothing here is deleted through the application: foreign keys are PROTECT, the admin offers no
delete, and timeline events refuse to be changed or deleted. Workflows live in
disputes/services/, never in save().
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from orders.models import CardKey, Merchant, Order, ProductKind

# --- Policy -------------------------------------------------------------------------------


class Policy(models.Model):
    """One published version of the complaint rules.

    `product_kind` empty is the platform-wide policy; a row with a kind overrides it for that
    kind of product (all values, not field by field: an override is a complete rule set, so
    what applies is always one row that staff can read). A version takes effect at
    `effective_from`, at least 7 days after it is published (电子商务法 art. 34), so buyers and
    merchants are told before rules change. A complaint keeps the deadlines computed when they
    started: a later version never moves a running clock.
    """

    product_kind = models.CharField(
        _("product kind"),
        max_length=16,
        choices=ProductKind.choices,
        blank=True,
        default="",
        help_text=_("Empty: every kind of product without an override of its own."),
    )
    effective_from = models.DateTimeField(_("effective from"))
    published_at = models.DateTimeField(_("published at"), default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published by"),
    )
    complaint_window_hours = models.PositiveIntegerField(
        _("complaint window (hours)"),
        default=72,
        validators=[MinValueValidator(1)],
        help_text=_("After delivery; for 'not received' counted from payment."),
    )
    merchant_response_hours = models.PositiveIntegerField(
        _("merchant response time (hours)"), default=24, validators=[MinValueValidator(1)]
    )
    buyer_response_hours = models.PositiveIntegerField(
        _("buyer response time to an offer (hours)"), default=24, validators=[MinValueValidator(1)]
    )
    review_hours = models.PositiveIntegerField(
        _("platform review time (hours)"), default=48, validators=[MinValueValidator(1)]
    )
    info_response_hours = models.PositiveIntegerField(
        _("time to answer a request for information (hours)"),
        default=24,
        validators=[MinValueValidator(1)],
    )
    small_claim_threshold = models.DecimalField(
        _("small-claim threshold (CNY, inclusive)"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("100.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    fast_track_min_account_days = models.PositiveIntegerField(
        _("fast track: account at least this old (days)"), default=7
    )
    fast_track_clean_days = models.PositiveIntegerField(
        _("fast track: no malicious ruling within (days)"), default=180
    )
    fast_track_max_count = models.PositiveIntegerField(
        _("fast track: at most this many per buyer"), default=3
    )
    fast_track_period_days = models.PositiveIntegerField(
        _("fast track: counted over (days)"), default=30, validators=[MinValueValidator(1)]
    )
    appeal_window_days = models.PositiveIntegerField(
        _("appeal window (days)"), default=7, validators=[MinValueValidator(1)]
    )
    blacklist_threshold = models.PositiveIntegerField(
        _("malicious complaints that blacklist"),
        default=3,
        validators=[MinValueValidator(1)],
        help_text=_("The ruling that reaches this count within the period blacklists the filer."),
    )
    blacklist_window_days = models.PositiveIntegerField(
        _("period counted for the blacklist (days)"), default=180, validators=[MinValueValidator(1)]
    )
    blacklist_duration_days = models.PositiveIntegerField(
        _("blacklist duration (days)"), default=180, validators=[MinValueValidator(1)]
    )
    max_evidence_bytes = models.PositiveIntegerField(
        _("largest evidence file (bytes)"),
        default=10 * 1024 * 1024,
        validators=[MinValueValidator(1024)],
    )
    max_evidence_files = models.PositiveIntegerField(
        _("evidence files per party and complaint"),
        default=20,
        validators=[MinValueValidator(1)],
    )
    second_approval_threshold = models.DecimalField(
        _("rulings above this amount need a second arbitrator (CNY)"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("5000.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("A ruling that pays the buyer more than this waits for a second approval."),
    )
    # Automatic outcomes (docs/automatic-checks.md): each rule can be switched off, e.g. for a
    # kind of product where a platform wants a person on every case. The checks still run and
    # their records are still kept as evidence; only the automatic outcome is not made.
    auto_topup_failed = models.BooleanField(
        _("automatic refund: top-up the upstream reports failed or not credited"), default=True
    )
    auto_key_redeemed_before_delivery = models.BooleanField(
        _("automatic refund: card key the issuer reports redeemed before delivery"), default=True
    )
    auto_key_unknown = models.BooleanField(
        _("automatic refund: card key unknown to the issuer"), default=True
    )
    auto_key_delivered_twice = models.BooleanField(
        _("automatic refund: card key delivered to two orders (the later buyer)"), default=True
    )
    # Collective cases (docs/collective-cases.md): this many complaints upheld within this many
    # hours against one card-key import, or one top-up product and upstream, open a case.
    collective_threshold = models.PositiveIntegerField(
        _("collective case: complaints upheld against one batch or channel"),
        default=3,
        validators=[MinValueValidator(2)],
    )
    collective_window_hours = models.PositiveIntegerField(
        _("collective case: counted within (hours)"), default=24, validators=[MinValueValidator(1)]
    )
    note = models.TextField(_("what changed and why"), blank=True)

    VALUE_FIELDS = (
        "complaint_window_hours",
        "merchant_response_hours",
        "buyer_response_hours",
        "review_hours",
        "info_response_hours",
        "small_claim_threshold",
        "fast_track_min_account_days",
        "fast_track_clean_days",
        "fast_track_max_count",
        "fast_track_period_days",
        "appeal_window_days",
        "blacklist_threshold",
        "blacklist_window_days",
        "blacklist_duration_days",
        "max_evidence_bytes",
        "max_evidence_files",
        "second_approval_threshold",
        "auto_topup_failed",
        "auto_key_redeemed_before_delivery",
        "auto_key_unknown",
        "auto_key_delivered_twice",
        "collective_threshold",
        "collective_window_hours",
    )

    class Meta:
        verbose_name = _("complaint policy")
        verbose_name_plural = _("complaint policies")
        ordering = ["product_kind", "-effective_from", "-id"]
        indexes = [
            models.Index(fields=["product_kind", "effective_from"], name="policy_kind_from_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(product_kind="") | Q(product_kind__in=ProductKind.values),
                name="policy_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(small_claim_threshold__gte=0), name="policy_threshold_not_negative"
            ),
        ]

    def __str__(self) -> str:
        kind = self.get_product_kind_display() if self.product_kind else _("every kind")
        return f"{kind} @ {self.effective_text()}"

    @property
    def since_the_start(self) -> bool:
        """The policy seeded with the platform (dated 1970-01-01 so it is always in force):
        shown as "since the platform started", never as a date in 1970."""
        return self.effective_from.year < 2000

    def effective_text(self) -> str:
        if self.since_the_start:
            return str(_("since the platform started"))
        return f"{timezone.localtime(self.effective_from):%Y-%m-%d %H:%M}"

    def values(self) -> dict[str, Any]:
        """The rule values, JSON-ready (for the history and the evidence package)."""
        out: dict[str, Any] = {}
        for name in self.VALUE_FIELDS:
            value = getattr(self, name)
            out[name] = str(value) if isinstance(value, Decimal) else value
        return out


class PolicyChange(models.Model):
    """The history of policies: who published or revised which version, when, old → new."""

    policy = models.ForeignKey(
        Policy, on_delete=models.PROTECT, related_name="changes", verbose_name=_("policy")
    )
    action = models.CharField(_("action"), max_length=16)  # published | revised
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    old = models.JSONField(_("old values"), encoder=DjangoJSONEncoder, default=dict)
    new = models.JSONField(_("new values"), encoder=DjangoJSONEncoder, default=dict)

    class Meta:
        verbose_name = _("policy change")
        verbose_name_plural = _("policy changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.policy} by {self.changed_by} at {self.changed_at:%Y-%m-%d}"


# --- Complaints ---------------------------------------------------------------------------


class Status(models.TextChoices):
    AWAITING_MERCHANT = "awaiting_merchant", _("awaiting the merchant")
    AWAITING_BUYER = "awaiting_buyer", _("awaiting the buyer")
    UNDER_REVIEW = "under_review", _("under review by the platform")
    RESOLVED = "resolved", _("resolved")
    WITHDRAWN = "withdrawn", _("withdrawn")


OPEN_STATUSES = (Status.AWAITING_MERCHANT, Status.AWAITING_BUYER, Status.UNDER_REVIEW)


class Reason(models.TextChoices):
    INVALID_CARD_KEY = "invalid_card_key", _("the card key does not work")
    NOT_RECEIVED = "not_received", _("not received")
    LATE_DELIVERY = "late_delivery", _("delivered late")
    WRONG_ITEM = "wrong_item", _("wrong item")
    ACCOUNT_STOLEN = "account_stolen", _("account stolen")
    OTHER = "other", _("other")


class Outcome(models.TextChoices):
    REFUNDED = "refunded", _("refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("partially refunded")
    REPLACED = "replaced", _("card key replaced")
    REJECTED = "rejected", _("rejected")
    REJECTED_MALICIOUS = "rejected_malicious", _("rejected as malicious")


class DecidedBy(models.TextChoices):
    MERCHANT = "merchant", _("the merchant")
    BUYER = "buyer", _("the buyer (an accepted offer)")
    STAFF = "staff", _("platform staff")
    SYSTEM = "system", _("the platform's clock")


class Role(models.TextChoices):
    BUYER = "buyer", _("buyer")
    MERCHANT = "merchant", _("merchant")
    STAFF = "staff", _("platform staff")
    SYSTEM = "system", _("platform")


class Party(models.TextChoices):
    BUYER = "buyer", _("buyer")
    MERCHANT = "merchant", _("merchant")


# What a buyer may want when a card key proves bad (and a merchant may give when accepting).
REMEDIES = [("refund", _("refund")), ("replace", _("replacement key"))]


class ReminderStage(models.TextChoices):
    """The escalating reminders before a merchant's or the review deadline: how long is left
    when each goes (disputes/services/reminders.py)."""

    H12 = "12h", _("12 hours left")
    H4 = "4h", _("4 hours left")
    H1 = "1h", _("1 hour left")


def _stages_unstarted(due: str, marker: str) -> Q:
    """The deadline in `due` has no stage marker of its own yet: a new clock, or one that
    moved. Written as three comparisons rather than a negation so the query and the partial
    index it uses say exactly the same SQL (PostgreSQL proves the index applies by matching
    it)."""
    return (
        Q(**{f"{marker}__isnull": True})
        | Q(**{f"{marker}__lt": F(due)})
        | Q(**{f"{marker}__gt": F(due)})
    )


STAGES_UNSTARTED: dict[str, Q] = {
    "merchant": _stages_unstarted("merchant_response_due", "merchant_reminder_due"),
    "review": _stages_unstarted("review_due", "review_reminder_due"),
}


class Dispute(models.Model):
    """A complaint about one order. One non-withdrawn complaint per order (a new one only
    after a withdrawal). Deadlines are stored on the row, computed when each clock starts, so
    the clock's sweep is an indexed range query and a policy change never moves them."""

    number = models.CharField(_("complaint number"), max_length=24, unique=True, editable=False)
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="disputes", verbose_name=_("order")
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="disputes",
        verbose_name=_("buyer"),
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="disputes", verbose_name=_("merchant")
    )
    policy = models.ForeignKey(
        Policy,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        help_text=_("The policy in force when the complaint was filed."),
        verbose_name=_("policy applied"),
    )
    reason = models.CharField(_("reason"), max_length=24, choices=Reason.choices)
    description = models.TextField(_("description"), blank=True)
    claimed_amount = models.DecimalField(_("claimed amount"), max_digits=12, decimal_places=2)
    # What the buyer would rather have if a card key proves bad: an automatic outcome replaces
    # the key from stock when the buyer chose that and stock exists, else refunds.
    remedy_wanted = models.CharField(
        _("remedy the buyer wants"),
        max_length=12,
        choices=REMEDIES,
        default="refund",
        db_default="refund",
    )
    card_keys = models.ManyToManyField(
        CardKey, blank=True, related_name="disputes", verbose_name=_("card keys that failed")
    )
    status = models.CharField(
        _("status"), max_length=24, choices=Status.choices, default=Status.AWAITING_MERCHANT
    )
    filed_at = models.DateTimeField(_("filed at"), default=timezone.now)
    window_closes_at = models.DateTimeField(_("complaint window closed at"), null=True)

    merchant_response_due = models.DateTimeField(_("merchant answers by"), null=True, blank=True)
    buyer_response_due = models.DateTimeField(
        _("buyer answers the offer by"), null=True, blank=True
    )
    review_due = models.DateTimeField(_("platform decides by"), null=True, blank=True)
    # A request for information pauses the review clock; review_due moves by the pause on resume.
    review_paused_at = models.DateTimeField(_("review paused at"), null=True, blank=True)
    info_requested_from = models.CharField(
        _("information requested from"),
        max_length=12,
        choices=Party.choices,
        blank=True,
        default="",
    )
    info_due = models.DateTimeField(_("information due by"), null=True, blank=True)
    # Reminders before a clock runs out (disputes/services/reminders.py). The buyer's offer
    # clock has one, sent once. The merchant's and the review clock escalate in stages (12 h,
    # 4 h, 1 h left): `*_reminder_due` is the deadline the stage marker belongs to — a deadline
    # that moves (the review resumed after a request for information, an appeal) no longer
    # matches it and starts its stages again —, `*_reminder_stage` the last stage sent for it,
    # `*_reminder_next` when the sweep looks again (the next stage, or the end of the shop's
    # quiet hours).
    buyer_reminded_at = models.DateTimeField(
        _("buyer reminded at"), null=True, blank=True, editable=False
    )
    merchant_reminder_due = models.DateTimeField(
        _("merchant reminders are for the deadline"), null=True, blank=True, editable=False
    )
    merchant_reminder_stage = models.CharField(
        _("last merchant reminder sent"),
        max_length=4,
        choices=ReminderStage.choices,
        blank=True,
        default="",
        editable=False,
    )
    merchant_reminder_next = models.DateTimeField(
        _("next merchant reminder at"), null=True, blank=True, editable=False
    )
    review_reminder_due = models.DateTimeField(
        _("review reminders are for the deadline"), null=True, blank=True, editable=False
    )
    review_reminder_stage = models.CharField(
        _("last review reminder sent"),
        max_length=4,
        choices=ReminderStage.choices,
        blank=True,
        default="",
        editable=False,
    )
    review_reminder_next = models.DateTimeField(
        _("next review reminder at"), null=True, blank=True, editable=False
    )

    offer_amount = models.DecimalField(
        _("offered amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    outcome = models.CharField(
        _("outcome"), max_length=24, choices=Outcome.choices, blank=True, default=""
    )
    resolved_amount = models.DecimalField(
        _("amount decided"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    decided_by = models.CharField(
        _("decided by"), max_length=12, choices=DecidedBy.choices, blank=True, default=""
    )
    decided_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by (account)"),
    )
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    appeal_due = models.DateTimeField(_("appeal possible until"), null=True, blank=True)

    fast_track = models.BooleanField(_("fast track"), default=False)
    # The platform paid first (review clock ran out, or fast track); staff decide who bears it.
    recovery_pending = models.BooleanField(_("recovery to decide"), default=False)
    # Money moved through escrow for this complaint, mirrored here (escrow's ledger is the
    # truth) so an appeal knows what was paid and recovered without reading the ledger.
    paid_out = models.DecimalField(
        _("paid to the buyer"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    recovered = models.DecimalField(
        _("recovered from the merchant"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    # What the replacement keys handed over for this complaint are worth (the order's unit
    # price per key): given back in kind, it counts against the claim and the order's headroom
    # like money does, unless staff find the replacement bad too (docs/money.md).
    replaced_value = models.DecimalField(
        _("replacement keys handed over, worth"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        db_default=Decimal("0.00"),
    )

    appealed_by = models.CharField(
        _("appealed by"), max_length=12, choices=Party.choices, blank=True, default=""
    )
    appealed_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("appealed by (account)"),
    )
    appeal_reason = models.TextField(_("reason for the appeal"), blank=True)
    appealed_at = models.DateTimeField(_("appealed at"), null=True, blank=True)
    appeal_final = models.BooleanField(_("final after appeal"), default=False)

    # The arbitrator working the case ("take it", docs/admin.md): a hold that lapses after
    # settings.CASE_TAKE_MINUTES (disputes/services/staff.py reads it against taken_at; no
    # sweep needed).
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("taken by"),
    )
    taken_at = models.DateTimeField(_("taken at"), null=True, blank=True)
    # The collective case this complaint is part of (it counted towards opening it, was on an
    # order of the batch when it opened, or the buyer joined it: docs/collective-cases.md).
    collective_case = models.ForeignKey(
        "CollectiveCase",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("collective case"),
    )

    # The platform's own records at filing (order, payment, delivery, key reveals).
    platform_records = models.JSONField(
        _("platform records"), encoder=DjangoJSONEncoder, default=dict, blank=True
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-filed_at", "-id"]
        permissions = [
            ("arbitrate", _("Can arbitrate complaints (rule, request information, recovery)")),
            ("view_metrics", _("Can see the complaint metrics")),
        ]
        indexes = [
            models.Index(fields=["buyer", "-filed_at"], name="dispute_buyer_recent_idx"),
            models.Index(fields=["merchant", "status"], name="dispute_merchant_status_idx"),
            models.Index(fields=["status", "-filed_at"], name="dispute_status_recent_idx"),
            # The admin's lists at scale (README "Metrics and scale"): the default ordering,
            # its filters, the review queue, and the metrics' closing dates.
            models.Index(fields=["-filed_at", "-id"], name="dispute_recent_idx"),
            models.Index(fields=["merchant", "-filed_at"], name="dispute_merchant_recent_idx"),
            models.Index(fields=["reason", "-filed_at"], name="dispute_reason_recent_idx"),
            models.Index(
                fields=["-filed_at"], condition=Q(fast_track=True), name="dispute_fast_track_idx"
            ),
            models.Index(
                fields=["review_due", "id"],
                condition=Q(status="under_review") | Q(recovery_pending=True),
                name="dispute_review_queue_idx",
            ),
            models.Index(
                fields=["resolved_at"],
                condition=Q(resolved_at__isnull=False),
                name="dispute_resolved_at_idx",
            ),
            # The merchant's inbox (a shop's open complaints by the deadline that runs) has an
            # expression index too, dispute_inbox_deadline_idx, made by migration 0009 rather
            # than listed here: Django's autodetector sees a CASE index as changed on every
            # run (makemigrations --check would never pass).
            # The clock's sweeps: one indexed range query per deadline.
            models.Index(
                fields=["merchant_response_due"],
                condition=Q(status="awaiting_merchant"),
                name="dispute_merchant_due_idx",
            ),
            models.Index(
                fields=["buyer_response_due"],
                condition=Q(status="awaiting_buyer"),
                name="dispute_buyer_due_idx",
            ),
            models.Index(
                fields=["review_due"],
                condition=Q(status="under_review", review_paused_at__isnull=True),
                name="dispute_review_due_idx",
            ),
            models.Index(
                fields=["info_due"],
                condition=Q(status="under_review", review_paused_at__isnull=False),
                name="dispute_info_due_idx",
            ),
            # The reminders' sweeps: only clocks still running and not yet reminded — for the
            # staged clocks, a deadline without its stage marker (new or moved, *_stage_idx) or
            # a stage marker whose next look is set (*_next_idx).
            models.Index(
                fields=["merchant_response_due"],
                condition=Q(status="awaiting_merchant") & STAGES_UNSTARTED["merchant"],
                name="dispute_merchant_stage_idx",
            ),
            models.Index(
                fields=["merchant_reminder_next"],
                condition=Q(status="awaiting_merchant", merchant_reminder_next__isnull=False),
                name="dispute_merchant_next_idx",
            ),
            models.Index(
                fields=["buyer_response_due"],
                condition=Q(status="awaiting_buyer", buyer_reminded_at__isnull=True),
                name="dispute_buyer_remind_idx",
            ),
            models.Index(
                fields=["review_due"],
                condition=Q(status="under_review", review_paused_at__isnull=True)
                & STAGES_UNSTARTED["review"],
                name="dispute_review_stage_idx",
            ),
            models.Index(
                fields=["review_reminder_next"],
                condition=Q(
                    status="under_review",
                    review_paused_at__isnull=True,
                    review_reminder_next__isnull=False,
                ),
                name="dispute_review_next_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="dispute_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(reason__in=Reason.values), name="dispute_reason_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(outcome__in=Outcome.values),
                name="dispute_outcome_valid",
            ),
            models.CheckConstraint(
                condition=Q(decided_by="") | Q(decided_by__in=DecidedBy.values),
                name="dispute_decided_by_valid",
            ),
            models.CheckConstraint(
                condition=Q(claimed_amount__gt=0), name="dispute_claim_positive"
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | ~Q(outcome=""),
                name="dispute_resolved_has_outcome",
            ),
            models.CheckConstraint(
                condition=Q(paid_out__gte=0) & Q(recovered__gte=0),
                name="dispute_money_not_negative",
            ),
            models.UniqueConstraint(
                fields=["order"],
                condition=~Q(status="withdrawn"),
                name="one_live_dispute_per_order",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def hold_reference(self) -> str:
        return f"dispute:{self.pk}"


class EvidenceKind(models.TextChoices):
    ORDER_SCREENSHOT = "order_screenshot", _("order screenshot")
    PAYMENT_PROOF = "payment_proof", _("payment proof")
    CHAT_RECORD = "chat_record", _("chat record")
    REDEMPTION_RECORD = "redemption_record", _("redemption record")
    UPSTREAM_PROOF = "upstream_proof", _("upstream proof")
    OTHER = "other", _("other")
    # Attached by the platform itself at filing; never uploaded.
    PLATFORM_RECORD = "platform_record", _("platform record")
    # An upstream's or the platform's answer to an automatic check (平台自动核验); never
    # uploaded. Unlike the platform record (the buyer's IP), both parties see it.
    AUTO_CHECK = "auto_check", _("platform automatic check record")


# 三证: the three core proofs a complaint's checklist asks for.
CORE_EVIDENCE = (
    EvidenceKind.ORDER_SCREENSHOT,
    EvidenceKind.PAYMENT_PROOF,
    EvidenceKind.CHAT_RECORD,
)
UPLOADABLE_EVIDENCE = [
    k
    for k in EvidenceKind.values
    if k not in (EvidenceKind.PLATFORM_RECORD, EvidenceKind.AUTO_CHECK)
]


class Evidence(models.Model):
    """One evidence file, checked by content, stored under a generated name (never served from
    a public URL), its SHA-256 recorded at upload."""

    dispute = models.ForeignKey(
        Dispute, on_delete=models.PROTECT, related_name="evidence", verbose_name=_("complaint")
    )
    kind = models.CharField(_("kind"), max_length=24, choices=EvidenceKind.choices)
    stored_name = models.CharField(_("stored name"), max_length=255, unique=True, editable=False)
    original_name = models.CharField(_("original file name"), max_length=255, blank=True)
    content_type = models.CharField(_("content type"), max_length=64)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    note = models.CharField(_("note"), max_length=500, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    role = models.CharField(_("uploaded as"), max_length=12, choices=Role.choices)
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["uploaded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=EvidenceKind.values), name="evidence_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.sha256[:12]}"

    @property
    def file_name(self) -> str:
        """The name the file is served under: generated, never the uploader's."""
        return self.stored_name.rsplit("/", 1)[-1]


class EventType(models.TextChoices):
    FILED = "filed", _("complaint filed")
    EVIDENCE_ADDED = "evidence_added", _("evidence added")
    MESSAGE = "message", _("message")
    NOTE = "note", _("internal note")
    ACCEPTED = "accepted", _("merchant accepted")
    OFFER_MADE = "offer_made", _("offer made")
    CONTESTED = "contested", _("merchant contested")
    OFFER_ACCEPTED = "offer_accepted", _("offer accepted")
    OFFER_REJECTED = "offer_rejected", _("offer rejected")
    OFFER_LAPSED = "offer_lapsed", _("offer accepted by silence")
    DEFAULT_JUDGMENT = "default_judgment", _("merchant did not answer in time")
    REVIEW_EXPIRED = "review_expired", _("platform paid first after its review time ran out")
    WITHDRAWN = "withdrawn", _("withdrawn")
    RULED = "ruled", _("ruling")
    INFO_REQUESTED = "info_requested", _("information requested; review clock paused")
    REVIEW_RESUMED = "review_resumed", _("review clock resumed")
    APPEALED = "appealed", _("appealed")
    RECOVERY_DECIDED = "recovery_decided", _("recovery decided")
    KEY_REPLACED = "key_replaced", _("card key replaced")
    MONEY = "money", _("money movement")
    FAST_TRACKED = "fast_tracked", _("fast tracked")
    BLACKLISTED = "blacklisted", _("filer blacklisted")
    AUTO_CHECK = "auto_check", _("platform automatic check")
    AUTO_DECIDED = "auto_decided", _("decided by the platform's automatic check")
    COLLECTIVE = "collective", _("part of a collective case")


class Visibility(models.TextChoices):
    ALL = "all", _("parties and staff")
    STAFF = "staff", _("staff only")


class AppendOnlyQuerySet(models.QuerySet):
    """Timeline rows are written once: no bulk update or delete through the application."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("dispute events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("dispute events are append-only")


class DisputeEvent(models.Model):
    """One entry of a complaint's timeline, written in the transaction of the change it
    records. Append-only: saving an existing row or deleting one raises (and on PostgreSQL a
    trigger refuses UPDATE and DELETE as well)."""

    dispute = models.ForeignKey(
        Dispute, on_delete=models.PROTECT, related_name="events", verbose_name=_("complaint")
    )
    type = models.CharField(_("type"), max_length=24, choices=EventType.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    role = models.CharField(_("role"), max_length=12, choices=Role.choices)
    from_status = models.CharField(_("from status"), max_length=24, blank=True)
    to_status = models.CharField(_("to status"), max_length=24, blank=True)
    visibility = models.CharField(
        _("visibility"), max_length=8, choices=Visibility.choices, default=Visibility.ALL
    )
    body = models.TextField(_("text"), blank=True)
    data = models.JSONField(_("data"), encoder=DjangoJSONEncoder, default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["dispute", "created_at"], name="event_dispute_time_idx"),
            # The metrics: rulings, withdrawals and payments first over a date range.
            models.Index(fields=["type", "created_at"], name="event_type_time_idx"),
            # The metrics: each complaint's first payment first (metrics.PAID_FIRST_EVENTS),
            # looked up once per complaint by every aggregate over a range or a day — only
            # those events, already in order, so a complaint without one costs one probe.
            models.Index(
                fields=["dispute", "created_at", "id"],
                condition=Q(type__in=["fast_tracked", "review_expired"]),
                name="event_paid_first_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(visibility__in=Visibility.values), name="event_visibility_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.type} {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("dispute events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("dispute events are append-only")


# --- Satisfaction rating -------------------------------------------------------------------


class DisputeRating(models.Model):
    """The buyer's one-time satisfaction rating of a resolved complaint (1–5 and a comment).
    Written once by disputes.services.dispute_rate, never changed: it feeds the shop record
    (disputes.selectors.shop_record) and the metrics."""

    dispute = models.OneToOneField(
        Dispute, on_delete=models.PROTECT, related_name="rating", verbose_name=_("complaint")
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("buyer"),
    )
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("rated at"), default=timezone.now)

    class Meta:
        verbose_name = _("satisfaction rating")
        verbose_name_plural = _("satisfaction ratings")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=1) & Q(score__lte=5), name="rating_score_1_to_5"
            ),
        ]
        # The metrics' rollup finds the ratings given since its last run (docs/metrics.md).
        indexes = [models.Index(fields=["created_at"], name="rating_created_idx")]

    def __str__(self) -> str:
        return f"{self.dispute_id}: {self.score}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("ratings are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("ratings are append-only")


# --- Blacklist ----------------------------------------------------------------------------


class BlacklistSource(models.TextChoices):
    MANUAL = "manual", _("added by staff")
    AUTOMATIC = "automatic", _("malicious complaints")


class BlacklistEntry(models.Model):
    """恶意投诉黑名单: a filer who may not complain until `expires_at` (or until lifted)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="blacklist_entries",
        # A person's login (账号), not the ledger's account (账户) escrow names "account".
        verbose_name=pgettext_lazy("a person's login", "account"),
    )
    reason = models.TextField(_("reason"))
    # Its own label: "source" is the product's (货源), which this is not.
    source = models.CharField(_("entry source"), max_length=12, choices=BlacklistSource.choices)
    dispute = models.ForeignKey(
        Dispute,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("complaint"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
    )
    created_at = models.DateTimeField(_("added at"), default=timezone.now)
    expires_at = models.DateTimeField(_("ends at"))
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lifted by"),
    )
    lift_reason = models.TextField(_("reason for lifting"), blank=True)

    class Meta:
        verbose_name = _("blacklist entry")
        verbose_name_plural = _("blacklist")
        ordering = ["-created_at", "-id"]
        permissions = [("manage_blacklist", _("Can add and lift blacklist entries"))]
        indexes = [
            models.Index(
                fields=["user", "expires_at"],
                condition=Q(lifted_at__isnull=True),
                name="blacklist_active_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="blacklist_expires_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} until {timezone.localtime(self.expires_at):%Y-%m-%d}"

    def is_active(self, at: Any = None) -> bool:
        moment = at or timezone.now()
        return self.lifted_at is None and self.expires_at > moment


# --- Logs and outbox ----------------------------------------------------------------------


class PackageDownload(models.Model):
    """Every download of an evidence package: who, when, from where, and what they got."""

    dispute = models.ForeignKey(
        Dispute,
        on_delete=models.PROTECT,
        related_name="package_downloads",
        verbose_name=_("complaint"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("downloaded by"),
    )
    at = models.DateTimeField(_("downloaded at"), default=timezone.now)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=400, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveBigIntegerField(_("size (bytes)"))

    class Meta:
        verbose_name = _("evidence package download")
        verbose_name_plural = _("evidence package downloads")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.dispute_id} by {self.user_id} at {self.at:%Y-%m-%d %H:%M}"


class NotificationChannel(models.TextChoices):
    """Where a notification goes. Channels are pluggable (disputes/channels.py,
    settings.NOTIFICATION_CHANNELS); SMS and WeChat template messages slot in beside these."""

    INAPP = "inapp", _("in the app")
    EMAIL = "email", _("e-mail")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")


class NotificationKind(models.TextChoices):
    """What a notification reports (its text: disputes/notices.py)."""

    FILED = "filed", _("complaint filed")
    FAST_TRACKED = "fast_tracked", _("fast tracked")
    ACCEPTED = "accepted", _("merchant accepted")
    OFFER_MADE = "offer_made", _("offer made")
    CONTESTED = "contested", _("merchant contested")
    OFFER_ACCEPTED = "offer_accepted", _("offer accepted")
    OFFER_REJECTED = "offer_rejected", _("offer rejected")
    OFFER_LAPSED = "offer_lapsed", _("offer accepted by silence")
    DEFAULT_JUDGMENT = "default_judgment", _("merchant did not answer in time")
    REVIEW_EXPIRED = "review_expired", _("platform paid first after its review time ran out")
    WITHDRAWN = "withdrawn", _("withdrawn")
    MESSAGE = "message", _("message")
    EVIDENCE_ADDED = "evidence_added", _("evidence added")
    APPEALED = "appealed", _("appealed")
    RULED = "ruled", _("ruling")
    INFO_REQUESTED = "info_requested", _("information requested")
    RECOVERY_DECIDED = "recovery_decided", _("recovery decided")
    REMINDER_MERCHANT = "reminder_merchant", _("reminder to the merchant")
    REMINDER_BUYER = "reminder_buyer", _("reminder to the buyer")
    REMINDER_REVIEW = "reminder_review", _("reminder to the arbitrators")
    PAYOUT_SENT = "payout_sent", _("refund sent")
    AUTO_DECIDED = "auto_decided", _("decided by the platform's automatic check")
    # About the shop, not one complaint (disputes/services/shop_notices.py): no `dispute`.
    SHOP_SUSPENDED = "shop_suspended", _("shop suspended")
    SHOP_REINSTATED = "shop_reinstated", _("shop reinstated")
    DEBT_RECORDED = "debt_recorded", _("money owed to the platform")
    VERIFICATION_EXPIRING = "verification_expiring", _("verification expiring")
    WITHDRAWAL_APPROVED = "withdrawal_approved", _("withdrawal approved")
    WITHDRAWAL_REJECTED = "withdrawal_rejected", _("withdrawal rejected")
    # Reach (docs/integrations.md): a message on an order's buyer–shop thread (no complaint),
    # the merchant's daily digest of open complaints, a webhook endpoint disabled after
    # failing for a day.
    ORDER_MESSAGE = "order_message", _("message about an order")
    DAILY_DIGEST = "daily_digest", _("daily digest of open complaints")
    WEBHOOK_DISABLED = "webhook_disabled", _("webhook endpoint disabled")
    # Collective cases (docs/collective-cases.md): the shop is told a case opened on one of
    # its batches or channels; each buyer of it what was found about their order.
    COLLECTIVE_OPENED = "collective_opened", _("collective case opened")
    COLLECTIVE_FINDING = "collective_finding", _("collective case: what was found")


class Notification(models.Model):
    """One message to one user on one channel, written in the transaction of the change it
    reports (an outbox). In-app rows are delivered by being written (the user's
    /notifications/ page reads them); the others are handed to Celery on commit and drained by
    the clock's sweep — at least once, never twice: the dedupe key keeps one row per event,
    recipient and channel, and a row is marked sent under its lock."""

    # Empty for a notice about the shop itself (suspension, debt, withdrawal, verification).
    dispute = models.ForeignKey(
        Dispute,
        on_delete=models.PROTECT,
        related_name="notifications",
        verbose_name=_("complaint"),
        null=True,
        blank=True,
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recipient"),
    )
    channel = models.CharField(
        _("channel"), max_length=16, choices=NotificationChannel.choices, default="email"
    )
    dedupe_key = models.CharField(_("dedupe key"), max_length=160, unique=True)
    # What happened, not a sentence: the kind of event and its figures, rendered in the
    # reader's language when shown (disputes/notices.py). `role` is the recipient's side of
    # the complaint, for the link. Rows written before these columns have only subject/body.
    kind = models.CharField(
        _("kind"), max_length=32, choices=NotificationKind.choices, blank=True, default=""
    )
    params = models.JSONField(_("figures"), default=dict, blank=True)
    role = models.CharField(_("recipient's role"), max_length=16, blank=True, default="")
    # What was sent, filled in when a channel delivers the row (e-mail: in the platform's
    # language); the text of rows written before `kind` existed.
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # Not the order's "delivery attempts" (发货尝试次数): tries to send this notification.
    attempts = models.PositiveIntegerField(_("send attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(sent_at__isnull=True),
                name="notification_unsent_idx",
            ),
            models.Index(
                fields=["recipient", "-created_at"],
                condition=Q(channel="inapp"),
                name="notification_inbox_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.dedupe_key


class ClockRun(models.Model):
    """The clock's last sweep (one row): when it ran and what it did, for the health line on
    /healthz and in the admin."""

    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    counts = models.JSONField(_("what it did"), default=dict)

    class Meta:
        verbose_name = _("clock sweep")
        verbose_name_plural = _("clock sweeps")

    def __str__(self) -> str:
        return f"sweep at {self.finished_at:%Y-%m-%d %H:%M:%S}"


class ReminderSettings(models.Model):
    """A shop's choices for its reminders (disputes/services/reminders.py), set by the owner on
    /merchant/reminders/: quiet hours in Asia/Shanghai wall-clock time — the 12 h and 4 h
    reminders wait until they end, the 1 h one goes regardless — and whether the daily 10:00
    digest of open complaints goes. A shop without a row has the defaults."""

    merchant = models.OneToOneField(
        Merchant,
        on_delete=models.CASCADE,
        related_name="reminder_settings",
        verbose_name=_("shop"),
    )
    quiet_hours = models.BooleanField(_("quiet hours"), default=True)
    quiet_start = models.TimeField(_("quiet hours start"), default=time(23, 0))
    quiet_end = models.TimeField(_("quiet hours end"), default=time(8, 0))
    digest = models.BooleanField(_("daily digest"), default=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        verbose_name = _("reminder settings")
        verbose_name_plural = _("reminder settings")

    def __str__(self) -> str:
        return f"reminders of merchant {self.merchant_id}"


class DigestRun(models.Model):
    """The daily digest of one day (Asia/Shanghai) was sent: the sweep that claims the day
    (INSERT … ON CONFLICT DO NOTHING) writes every shop's digest in the same transaction, so a
    second sweeper, a second beat or a rerun finds the day taken and sends nothing."""

    day = models.DateField(_("day"), unique=True)
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    shops = models.PositiveIntegerField(_("shops told"), default=0)

    class Meta:
        verbose_name = _("daily digest run")
        verbose_name_plural = _("daily digest runs")
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"digest of {self.day}"


# --- Automatic checks ------------------------------------------------------------------------


class CheckKind(models.TextChoices):
    TOPUP = "topup", _("top-up with the upstream supplier")
    CARD_KEY = "card_key", _("card key with its issuer")
    DELIVERED_TWICE = "delivered_twice", _("card key delivered to another order")


class CheckStatus(models.TextChoices):
    PENDING = "pending", _("waiting for the answer")
    ANSWERED = "answered", _("answered")
    GAVE_UP = "gave_up", _("no answer; left to people")


class CheckRule(models.TextChoices):
    """What an answered check showed, in the automatic rules' terms (docs/automatic-checks.md).
    The first four decide the complaint (if the policy allows); the others are evidence."""

    TOPUP_NOT_CREDITED = "topup_not_credited", _("top-up failed or not credited upstream")
    KEY_REDEEMED_BEFORE_DELIVERY = (
        "key_redeemed_before_delivery",
        _("card key redeemed before it was delivered"),
    )
    KEY_UNKNOWN = "key_unknown", _("card key unknown to its issuer")
    KEY_DELIVERED_TWICE = "key_delivered_twice", _("card key delivered to an earlier order too")
    KEY_REDEEMED_AFTER_REVEAL = (
        "key_redeemed_after_reveal",
        _("card key redeemed after the buyer revealed it"),
    )
    KEY_REDEEMED_UNREVEALED = (
        "key_redeemed_unrevealed",
        _("card key redeemed after delivery, never revealed to the buyer"),
    )
    KEY_REDEEMED_TIME_UNKNOWN = (
        "key_redeemed_time_unknown",
        _("card key redeemed; the issuer gave no time"),
    )
    KEY_VALID = "key_valid", _("card key valid and not redeemed")
    TOPUP_CREDITED = "topup_credited", _("top-up credited upstream")
    TOPUP_PENDING = "topup_pending", _("top-up still in progress upstream")
    NOT_DELIVERED_TWICE = "not_delivered_twice", _("card key delivered to this order only")
    NO_ANSWER = "no_answer", _("the upstream did not answer")


class CheckDecision(models.TextChoices):
    APPLIED = "applied", _("decided the complaint automatically")
    EVIDENCE = "evidence", _("evidence only; the normal clock runs")
    POLICY_OFF = "policy_off", _("rule switched off by the policy; the normal clock runs")
    ALREADY_DECIDED = "already_decided", _("the complaint was already decided; no second outcome")


DECIDING_RULES = (
    CheckRule.TOPUP_NOT_CREDITED,
    CheckRule.KEY_REDEEMED_BEFORE_DELIVERY,
    CheckRule.KEY_UNKNOWN,
    CheckRule.KEY_DELIVERED_TWICE,
)


class AutoCheck(models.Model):
    """One automatic check of a complaint (平台自动核验): the top-up with its supplier, a card
    key with its issuer, or a key's deliveries on the platform. Created at filing, asked by a
    task on commit and, until it answers, by the sweep (`next_attempt_at`, with back-off); the
    answer is stored as platform evidence (`evidence`, its SHA-256 here too) and on the
    timeline, and the complaint is then decided by the rules (disputes/services/auto.py)."""

    dispute = models.ForeignKey(
        Dispute, on_delete=models.PROTECT, related_name="auto_checks", verbose_name=_("complaint")
    )
    kind = models.CharField(_("check"), max_length=16, choices=CheckKind.choices)
    card_key = models.ForeignKey(
        CardKey,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("card key"),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=CheckStatus.choices, default=CheckStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    answer = models.CharField(_("answer"), max_length=16, blank=True)
    rule = models.CharField(
        _("what it showed"), max_length=32, choices=CheckRule.choices, blank=True
    )
    result = models.JSONField(
        _("the upstream's record"), encoder=DjangoJSONEncoder, default=dict, blank=True
    )
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    evidence = models.ForeignKey(
        Evidence,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("evidence"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    # Set once the rules have looked at the answer, with what they made of it (`decision`).
    decided_at = models.DateTimeField(_("considered at"), null=True, blank=True)
    decision = models.CharField(
        _("decision"), max_length=16, choices=CheckDecision.choices, blank=True
    )

    class Meta:
        verbose_name = _("automatic check")
        verbose_name_plural = _("automatic checks")
        ordering = ["id"]
        indexes = [
            # The sweep: checks still waiting, by when they are due to be asked again.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="pending"),
                name="autocheck_pending_idx",
            ),
            # Answers the rules have not considered yet (a task lost after answering).
            models.Index(
                fields=["dispute"],
                condition=Q(decided_at__isnull=True) & ~Q(status="pending"),
                name="autocheck_undecided_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=CheckKind.values), name="autocheck_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=CheckStatus.values), name="autocheck_status_valid"
            ),
            models.UniqueConstraint(
                fields=["dispute", "kind"],
                condition=Q(card_key__isnull=True),
                name="autocheck_one_per_kind",
            ),
            models.UniqueConstraint(
                fields=["dispute", "kind", "card_key"],
                condition=Q(card_key__isnull=False),
                name="autocheck_one_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.kind} {self.status}"


# --- Metrics (the admin page) ----------------------------------------------------------------


class Metrics(Dispute):
    """No table of its own: the admin's metrics page (disputes/admin/metrics.py) hangs on this
    proxy so the admin index links to it for staff holding `disputes.view_metrics`."""

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = _("complaint metrics")
        verbose_name_plural = _("complaint metrics")


# --- Collective cases (docs/collective-cases.md) ---------------------------------------------


class CollectiveKind(models.TextChoices):
    KEY_BATCH = "key_batch", _("card-key import")
    TOPUP_CHANNEL = "topup_channel", _("top-up channel")


class CollectiveStatus(models.TextChoices):
    CHECKING = "checking", _("asking the issuer")
    SETTLED = "settled", _("checked and settled")
    CLOSED = "closed", _("closed")


class CollectiveCase(models.Model):
    """Complaints upheld against one card-key import (a batch) or one top-up product and
    upstream (a channel) reached the policy's threshold within its window: the platform stops
    the sale, asks the issuer about every order of it, refunds every buyer of a bad key (a
    `CollectiveOrder` row each) and tells them all. One case open per batch or channel (the
    partial unique constraints), so two sweepers and a task delivered twice open one.

    The figures are kept on the row, written set-based as the checks and the settlement go."""

    kind = models.CharField(_("kind"), max_length=16, choices=CollectiveKind.choices)
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        related_name="collective_cases",
        verbose_name=_("merchant"),
    )
    product = models.ForeignKey(
        "orders.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    batch = models.ForeignKey(
        "orders.KeyBatch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="collective_cases",
        verbose_name=_("card-key import"),
    )
    upstream = models.CharField(_("top-up upstream"), max_length=64, blank=True)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=CollectiveStatus.choices,
        default=CollectiveStatus.CHECKING,
    )
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    # The policy values that opened it (the policy in force for the product's kind).
    policy = models.ForeignKey(
        Policy, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("policy")
    )
    threshold = models.PositiveIntegerField(_("complaints upheld that opened it"))
    window_hours = models.PositiveIntegerField(_("within (hours)"))
    # The figures (kept): keys of the batch (orders of the channel), delivered, found bad,
    # orders refunded by the case, the money paid and recovered.
    keys_count = models.PositiveIntegerField(_("keys"), default=0)
    delivered_count = models.PositiveIntegerField(_("delivered"), default=0)
    bad_count = models.PositiveIntegerField(_("found bad"), default=0)
    refunded_count = models.PositiveIntegerField(_("orders refunded"), default=0)
    refunded_amount = models.DecimalField(
        _("refunded"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    recovered_amount = models.DecimalField(
        _("recovered from the deposit"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    # What finance is told before the platform pays: the refunds due, the deposit available
    # then, and what the deposit will not cover (owed by the shop, which is suspended).
    at_risk_amount = models.DecimalField(
        _("money at risk"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    deposit_available = models.DecimalField(
        _("deposit available before paying"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0.00"),
    )
    shortfall_amount = models.DecimalField(
        _("not covered by the deposit"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    withdrawn_count = models.PositiveIntegerField(_("keys withdrawn from sale"), default=0)
    product_off_sale = models.BooleanField(_("product taken off sale"), default=False)
    checked_at = models.DateTimeField(_("every order checked at"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    # The shop's one answer for the batch.
    supplier = models.CharField(_("supplier"), max_length=120, blank=True)
    lot = models.CharField(_("supplier's lot"), max_length=120, blank=True)
    merchant_note = models.TextField(_("the shop's answer"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("answered by"),
    )
    replaced_count = models.PositiveIntegerField(_("keys replaced by the shop"), default=0)
    # Staff decide what the rule left open, then close it.
    staff_note = models.TextField(_("staff decision"), blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )

    class Meta:
        verbose_name = _("collective case")
        verbose_name_plural = _("collective cases")
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-opened_at"], name="collective_shop_idx"),
            models.Index(fields=["status", "-opened_at"], name="collective_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=CollectiveKind.values), name="collective_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=CollectiveStatus.values), name="collective_status_valid"
            ),
            models.CheckConstraint(
                condition=(Q(kind="key_batch") & Q(batch__isnull=False) & Q(upstream=""))
                | (Q(kind="topup_channel") & Q(batch__isnull=True) & ~Q(upstream="")),
                name="collective_batch_or_channel",
            ),
            models.UniqueConstraint(
                fields=["batch"],
                condition=Q(kind="key_batch") & ~Q(status="closed"),
                name="collective_one_open_per_batch",
            ),
            models.UniqueConstraint(
                fields=["product", "upstream"],
                condition=Q(kind="topup_channel") & ~Q(status="closed"),
                name="collective_one_open_per_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"JT{self.pk:06d}" if self.pk else "JT"

    @property
    def number(self) -> str:
        """How people name the case (集体案件 JT000012)."""
        return str(self)


class CollectiveOrderStatus(models.TextChoices):
    PENDING = "pending", _("waiting for the answer")
    ANSWERED = "answered", _("answered")
    GAVE_UP = "gave_up", _("no answer; left to people")


class Finding(models.TextChoices):
    """What the issuer (or the upstream) said about an order of the case."""

    PENDING = "", _("not asked yet")
    KEY_UNKNOWN = "key_unknown", _("card key unknown to its issuer")
    KEY_REDEEMED_BEFORE_DELIVERY = (
        "key_redeemed_before_delivery",
        _("card key redeemed before it was delivered"),
    )
    KEY_REDEEMED_AFTER_DELIVERY = (
        "key_redeemed_after_delivery",
        _("card key redeemed after it was delivered"),
    )
    KEY_VALID = "key_valid", _("card key valid and not redeemed")
    TOPUP_NOT_CREDITED = "topup_not_credited", _("top-up failed or not credited upstream")
    TOPUP_CREDITED = "topup_credited", _("top-up credited upstream")
    NO_ANSWER = "no_answer", _("the upstream did not answer")


# The findings that make the platform refund the buyer without a complaint.
BAD_FINDINGS = (
    Finding.KEY_UNKNOWN,
    Finding.KEY_REDEEMED_BEFORE_DELIVERY,
    Finding.TOPUP_NOT_CREDITED,
)


class CollectiveOrder(models.Model):
    """One delivered order of a collective case's batch or channel: what the issuer said of
    its keys (or the upstream of its top-up), what the case refunded for it and why, and
    whether its buyer was told. A refund here is the platform's, made without a complaint,
    through the settlement every complaint uses (escrow.batch, key
    `collective:<case>:<order>:payout`); `dispute` is the order's complaint when it had one,
    whose own outcome pays it instead (an order is never paid twice)."""

    case = models.ForeignKey(
        CollectiveCase,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("collective case"),
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="collective_rows", verbose_name=_("order")
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=CollectiveOrderStatus.choices,
        default=CollectiveOrderStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(_("times asked"), default=0)
    next_attempt_at = models.DateTimeField(_("ask next at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    keys = models.PositiveIntegerField(_("keys of the batch"), default=0)
    bad_keys = models.PositiveIntegerField(_("bad keys"), default=0)
    finding = models.CharField(
        _("finding"), max_length=32, choices=Finding.choices, blank=True, default=""
    )
    result = models.JSONField(_("the issuer's records"), encoder=DjangoJSONEncoder, default=list)
    dispute = models.ForeignKey(
        Dispute,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("complaint"),
    )
    refund_amount = models.DecimalField(
        _("refunded by the case"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    refund_reason = models.CharField(
        _("refund reason"), max_length=32, choices=Finding.choices, blank=True, default=""
    )
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    notified_at = models.DateTimeField(_("buyer told at"), null=True, blank=True)

    class Meta:
        verbose_name = _("order of a collective case")
        verbose_name_plural = _("orders of a collective case")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "order"], name="collective_order_once"),
            models.CheckConstraint(
                condition=Q(status__in=CollectiveOrderStatus.values),
                name="collective_order_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["case", "next_attempt_at"],
                condition=Q(status="pending"),
                name="collective_order_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} {self.order_id} {self.finding or self.status}"


# --- The metrics' daily figures (docs/metrics.md) -------------------------------------------


class FigureSums(models.Model):
    """The additive metrics figures (disputes/metrics_rollup.py SUM_FIELDS) of one shop, or of
    the marketplace (`merchant_id` 0), over a day, a month or an hour."""

    filed = models.PositiveIntegerField(default=0)
    repeats = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    withdrawn = models.PositiveIntegerField(default=0)
    buyer_favour = models.PositiveIntegerField(default=0)
    compensated = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    paid_first = models.PositiveIntegerField(default=0)
    paid_first_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    recovered = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    orders = models.PositiveIntegerField(default=0)
    settled = models.PositiveIntegerField(default=0)
    in_time = models.PositiveIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)
    ratings = models.PositiveIntegerField(default=0)
    reviews_ended = models.PositiveIntegerField(default=0)
    reviews_in_time = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class DailyFigures(FigureSums):
    """One Asia/Shanghai day's additive metrics figures for one shop (`merchant_id`), or for
    the whole marketplace (`merchant_id` 0), as disputes/metrics_rollup.py computed them from
    the complaints with the live definitions. A day is rolled up when its marketplace row
    exists; the days since the last rollup run (and today) are computed live."""

    day = models.DateField()
    merchant_id = models.BigIntegerField()  # 0: every shop
    # The earliest merchant deadline still running when the day was rolled up: once it
    # passes, the day's "clock settled" count may have grown — the read adds the day's
    # complaints whose deadline ran out since `rolled_at` (metrics_rollup._settled_since).
    pending_due = models.DateTimeField(null=True, blank=True)
    rolled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant_id", "day"], name="daily_figures_day_uniq")
        ]
        indexes = [models.Index(fields=["day", "merchant_id"], name="daily_figures_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.merchant_id}"


class MonthlyFigures(FigureSums):
    """The sums of one calendar month's DailyFigures rows per shop (and `merchant_id` 0),
    rewritten with each of its days (disputes/metrics_rollup.py `roll_day`): a range reads
    its whole months here and only its first and last part-months day by day."""

    month = models.DateField()  # its first day
    merchant_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant_id", "month"], name="monthly_figures_month_uniq"
            )
        ]
        indexes = [models.Index(fields=["month", "merchant_id"], name="monthly_figures_month_idx")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.merchant_id}"


class HourlyFigures(FigureSums):
    """Today's figures hour by hour (`hour` 0–23 of the Asia/Shanghai day), written with the
    day's own rows whenever today is rolled up: once a change touches today, a read computes
    live only the hours it touched and takes the others from here (docs/metrics.md). Only
    today's are read; a run deletes earlier days'."""

    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    merchant_id = models.BigIntegerField()  # 0: every shop (a row per hour, the marker)
    # As DailyFigures': the hour's earliest merchant deadline still running when rolled up.
    pending_due = models.DateTimeField(null=True, blank=True)
    rolled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "hour", "merchant_id"], name="hourly_figures_hour_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.hour:02d}h {self.merchant_id}"


class DailyDuration(models.Model):
    """How many complaints resolved on `day` took a time from filing to outcome in `bucket`
    (disputes/metrics_rollup.py `bucket_of`, about 2 % wide), per shop and for the marketplace
    (`merchant_id` 0), decided automatically or not: the additive half of an exact median."""

    day = models.DateField()
    merchant_id = models.BigIntegerField()
    automatic = models.BooleanField()
    bucket = models.PositiveSmallIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [
            # A range's buckets of one shop (or 0) from the index alone.
            models.Index(
                fields=["merchant_id", "day"],
                include=["automatic", "bucket", "count"],
                name="daily_duration_cover_idx",
            ),
            # A day's (or month's) rows of every shop: re-rolling a day, adding up a month.
            models.Index(fields=["day"], name="daily_duration_days_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.merchant_id} {self.bucket}: {self.count}"


class MonthlyDuration(models.Model):
    """The sums of one calendar month's DailyDuration rows (rewritten with each of its days,
    as MonthlyFigures): a range adds up its whole months' buckets here."""

    month = models.DateField()  # its first day
    merchant_id = models.BigIntegerField()
    automatic = models.BooleanField()
    bucket = models.PositiveSmallIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["merchant_id", "month"],
                include=["automatic", "bucket", "count"],
                name="monthly_duration_cover_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.merchant_id} {self.bucket}: {self.count}"


class DurationValue(models.Model):
    """The exact time from filing to outcome (µs) of one complaint resolved on `day`, found
    by its bucket: the median and the 90th percentile read only the bucket holding them."""

    dispute_id = models.BigIntegerField()
    day = models.DateField()
    merchant_id = models.BigIntegerField()
    automatic = models.BooleanField()
    bucket = models.PositiveSmallIntegerField()
    took_us = models.BigIntegerField()
    # The hour of `day` it was resolved in (HourlyFigures'); None: rolled up before hours
    # were kept (only today's are read by the hour, and today is re-rolled with them).
    hour = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            # Covering: the rank's bucket is read from the index alone (docs/metrics.md).
            models.Index(
                fields=["bucket", "day"],
                include=["took_us", "automatic", "merchant_id"],
                name="duration_value_cover_idx",
            ),
            models.Index(fields=["merchant_id", "bucket", "day"], name="duration_value_shop_idx"),
            models.Index(fields=["day"], name="duration_value_day_idx"),
            models.Index(fields=["dispute_id"], name="duration_value_dispute_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.dispute_id}: {self.took_us} µs"


class MetricsRollupRun(models.Model):
    """A completed rollup run: every rolled-up day holds its figures as of `started_at` or
    later; what changed since is found from the timeline and read live."""

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField()
    days = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} ({self.days} days)"
