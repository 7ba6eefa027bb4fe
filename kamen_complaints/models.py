"""The platform's own record of what staff did, and the second approvals some of it needs.

Both are written by services only (kamen_complaints/audit.py, kamen_complaints/approvals.py).
`AuditEntry` is append-only: the application has no code path that changes or deletes one, the
admin shows it read-only, and on PostgreSQL a trigger refuses UPDATE and DELETE (migration
0002) — unlike Django's `LogEntry`, which any superuser can delete. Design: docs/admin.md.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    RULING = "ruling", _("ruling")
    RULING_PROPOSED = "ruling_proposed", _("ruling proposed for approval")
    RECOVERY_DECIDED = "recovery_decided", _("recovery decided")
    INFO_REQUESTED = "info_requested", _("information requested")
    MERCHANT_VERIFIED = "merchant_verified", _("merchant verified")
    MERCHANT_REJECTED = "merchant_rejected", _("merchant application rejected")
    MERCHANT_SUSPENDED = "merchant_suspended", _("merchant suspended")
    MERCHANT_UNSUSPENDED = "merchant_unsuspended", _("merchant suspension lifted")
    IDENTITY_VIEWED = "identity_viewed", _("identity number viewed")
    WITHDRAWAL_APPROVED = "withdrawal_approved", _("withdrawal approved")
    WITHDRAWAL_REJECTED = "withdrawal_rejected", _("withdrawal rejected")
    ADJUSTMENT_REQUESTED = "adjustment_requested", _("manual posting requested")
    ADJUSTMENT_POSTED = "adjustment_posted", _("manual posting carried out")
    APPROVAL_REFUSED = "approval_refused", _("second approval refused")
    MINIMUM_DEPOSIT = "minimum_deposit", _("minimum deposit changed")
    POLICY_CHANGED = "policy_changed", _("policy changed")
    BLACKLIST_ADDED = "blacklist_added", _("blacklist entry added")
    BLACKLIST_LIFTED = "blacklist_lifted", _("blacklist entry lifted")


class AuditEntry(models.Model):
    """Who did what, when, to which record, why, and the values before and after."""

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("who"),
    )
    action = models.CharField(_("what"), max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(_("record type"), max_length=64)
    object_id = models.CharField(_("record"), max_length=64)
    object_repr = models.CharField(_("record name"), max_length=200, blank=True)
    reason = models.TextField(_("why"), blank=True)
    before = models.JSONField(_("before"), encoder=DjangoJSONEncoder, default=dict, blank=True)
    after = models.JSONField(_("after"), encoder=DjangoJSONEncoder, default=dict, blank=True)

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "-at"], name="audit_object_idx"),
            models.Index(fields=["actor", "-at"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} · {self.object_repr or self.object_id}"


class ApprovalKind(models.TextChoices):
    RULING = "ruling", _("ruling above the approval threshold")
    ADJUSTMENT = "adjustment", _("manual ledger adjustment")
    FUND_TOPUP = "fund_topup", _("compensation fund top-up")


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("waiting for a second approval")
    APPROVED = "approved", _("approved and carried out")
    REFUSED = "refused", _("refused")


class Approval(models.Model):
    """Four eyes: a staff action recorded by one person and carried out, through the same
    service, only when a different person approves it. Nothing moves before that."""

    kind = models.CharField(_("kind"), max_length=16, choices=ApprovalKind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    object_type = models.CharField(_("record type"), max_length=64)
    object_id = models.CharField(_("record"), max_length=64, blank=True)
    object_repr = models.CharField(_("record name"), max_length=200, blank=True)
    summary = models.CharField(_("summary"), max_length=300)
    params = models.JSONField(_("parameters"), encoder=DjangoJSONEncoder, default=dict)
    reason = models.TextField(_("reason given"))
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
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    result = models.CharField(_("result"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("second approval")
        verbose_name_plural = _("second approvals")
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(
                fields=["requested_at"],
                condition=Q(status="pending"),
                name="approval_pending_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending") | ~Q(decided_by=models.F("requested_by")),
                name="approval_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return self.summary
