"""A shop's endpoints (its own webhook receivers and its group robots) and the outbox of
deliveries to them (docs/integrations.md).

An event is recorded as one `Delivery` row per target, in the transaction of the change it
reports, and sent after commit; the clock's sweep retries what failed. Each row keeps the
event exactly as it will be sent on every try (same `event_id`, same `created`, same `data`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EndpointKind(models.TextChoices):
    WEBHOOK = "webhook", _("webhook")
    WECOM = "wecom", _("WeChat Work group robot")
    DINGTALK = "dingtalk", _("DingTalk group robot")
    FEISHU = "feishu", _("Feishu group bot")


ROBOT_KINDS = (EndpointKind.WECOM, EndpointKind.DINGTALK, EndpointKind.FEISHU)


class DisabledReason(models.TextChoices):
    OWNER = "owner", _("turned off by the owner")
    FAILING = "failing", _("failed for 24 hours")


class Endpoint(models.Model):
    """Where a shop's events go: its webhook receiver, or a group robot's webhook URL.

    The URL is stored encrypted (a robot's URL carries its access token) with a masked form to
    show; the secret too (the platform signs with it, so it cannot be a one-way hash)."""

    merchant = models.ForeignKey(
        "orders.Merchant",
        on_delete=models.CASCADE,
        related_name="integration_endpoints",
        verbose_name=_("shop"),
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=EndpointKind.choices, default=EndpointKind.WEBHOOK
    )
    url_encrypted = models.TextField(_("URL (encrypted)"), editable=False)
    url_hint = models.CharField(_("URL"), max_length=200, editable=False)
    # Event types it wants; empty: all of them.
    events = models.JSONField(_("events"), default=list, blank=True)
    secret_encrypted = models.TextField(_("secret (encrypted)"), blank=True, editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    disabled_reason = models.CharField(
        _("why disabled"), max_length=16, choices=DisabledReason.choices, blank=True
    )
    # The first failed try since the last success; 24 h of it disables the endpoint.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("integration endpoint")
        verbose_name_plural = _("integration endpoints")
        ordering = ["merchant_id", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.url_hint}"

    @property
    def is_robot(self) -> bool:
        return self.kind in ROBOT_KINDS

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")


STAFF_TARGET = "staff"


class Delivery(models.Model):
    """One event to one target: a shop's endpoint, or (no endpoint) the arbitration team's robot
    of the settings. `(event_id, target)` is unique: the same event recorded twice is one
    delivery. `log` keeps every try: its time, the HTTP status (or none) and the error."""

    event_id = models.CharField(_("event id"), max_length=40)
    type = models.CharField(_("event type"), max_length=64)
    data = models.JSONField(_("data"), default=dict)
    created_at = models.DateTimeField(_("created at"))
    merchant = models.ForeignKey(
        "orders.Merchant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("shop"),
    )
    endpoint = models.ForeignKey(
        Endpoint,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    target = models.CharField(_("target"), max_length=32)
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_try_at = models.DateTimeField(_("next try at"), null=True, blank=True)
    last_try_at = models.DateTimeField(_("last try at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    log = models.JSONField(_("tries"), default=list, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "target"], name="integrations_delivery_once_per_target"
            )
        ]
        indexes = [
            # The sweep's question: what is due now.
            models.Index(
                fields=["next_try_at"],
                name="integrations_delivery_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["endpoint", "-created_at"], name="integrations_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id} → {self.target}"

    def body(self) -> dict[str, Any]:
        """The event as every try sends it (docs/integrations.md)."""
        return {
            "id": self.event_id,
            "type": self.type,
            "created": timezone.localtime(self.created_at).isoformat(),
            "data": self.data,
        }
