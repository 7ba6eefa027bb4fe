"""The merchant dashboard's own table: the shop's API keys (docs/api-keys.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey


class Scope(models.TextChoices):
    """What a key may do; each API view declares the one its method needs (`key_scope`)."""

    COMPLAINTS_READ = "complaints:read", _("read the shop's complaints")
    COMPLAINTS_ANSWER = "complaints:answer", _("answer complaints")
    PRODUCTS_WRITE = "products:write", _("manage products and card-key stock")
    ORDERS_READ = "orders:read", _("read the shop's orders")


class MerchantAPIKey(AbstractAPIKey):
    """A key a shop's systems send as `Authorization: Api-Key <key>`. The database keeps the
    key's first 8 characters (`prefix`, also its public id) and a SHA-512 digest of the whole
    key (`hashed_key`, djangorestframework-api-key); the key itself is shown once.

    It acts as the shop through its own service account (`user`, orders.services
    merchant_service_account_add), never as the person who made it."""

    merchant = models.ForeignKey(
        "orders.Merchant",
        on_delete=models.PROTECT,
        related_name="api_keys",
        verbose_name=_("merchant"),
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="merchant_api_key",
        verbose_name=_("service account"),
    )
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("revoked by"),
    )

    class Meta:
        verbose_name = _("merchant API key")
        verbose_name_plural = _("merchant API keys")
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"
