"""Merchants, products, card-key stock, orders and payments.

Retention (电子商务法 art. 31): these records are kept at least 3 years, so nothing here is
deleted through the application: foreign keys are PROTECT and the admin offers no delete.
Workflows live in orders/services/, never in save().
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Round
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from kamen_complaints.text import name_key, validate_visible_text
from orders import crypto


class MerchantStatus(models.TextChoices):
    PENDING_VERIFICATION = "pending_verification", _("pending verification")
    ACTIVE = "active", _("active")
    REJECTED = "rejected", _("rejected")
    SUSPENDED = "suspended", _("suspended")


class SuspensionReason(models.TextChoices):
    DEPOSIT = "deposit", _("deposit short or receivable owed")
    VERIFICATION_EXPIRED = "verification_expired", _("real-name verification expired")
    MANUAL = "manual", _("suspended by staff")


class Merchant(models.Model):
    """A shop. Real-name verified (实名认证) before it sells, and again every 6 months."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_merchant",
        verbose_name=_("owner"),
    )
    shop_name = models.CharField(
        _("shop name"), max_length=80, unique=True, validators=[validate_visible_text]
    )
    # The name as two names are compared (kamen_complaints.text.name_key), set by save():
    # unique, so "Ａｃｍｅ", "acme" and "ACME  " are one shop name for the database too.
    shop_name_key = models.CharField(
        _("shop name, as compared"), max_length=255, unique=True, null=True, editable=False
    )
    legal_name = models.CharField(_("legal name"), max_length=120)
    # Encrypted at rest; only staff with orders.view_identity see it in clear (each view logged).
    id_number_encrypted = models.TextField(_("identity number (encrypted)"), editable=False)
    id_number_last4 = models.CharField(
        _("identity number, last 4 characters"), max_length=4, editable=False
    )
    id_number_fingerprint = models.CharField(
        _("identity number fingerprint"), max_length=64, editable=False, db_index=True
    )
    phone = models.CharField(_("phone"), max_length=32)
    address = models.CharField(_("address"), max_length=255)
    business_license = models.CharField(_("business licence number"), max_length=64, blank=True)
    status = models.CharField(
        _("status"),
        max_length=24,
        choices=MerchantStatus.choices,
        default=MerchantStatus.PENDING_VERIFICATION,
        db_index=True,
    )
    suspension_reason = models.CharField(
        _("suspension reason"), max_length=24, choices=SuspensionReason.choices, blank=True
    )
    status_note = models.TextField(_("status note"), blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified by"),
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    reverification_due = models.DateTimeField(_("re-verification due"), null=True, blank=True)
    minimum_deposit = models.DecimalField(
        _("minimum deposit"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("1000.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        permissions = [
            ("verify_merchant", _("Can verify, reject, suspend and unsuspend merchants")),
            ("view_identity", _("Can see merchants' identity numbers in clear")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=MerchantStatus.values), name="merchant_status_valid"
            ),
            models.CheckConstraint(
                condition=(Q(status="suspended") & ~Q(suspension_reason=""))
                | (~Q(status="suspended") & Q(suspension_reason="")),
                name="merchant_suspension_reason_iff_suspended",
            ),
        ]

    def __str__(self) -> str:
        return self.shop_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        key = name_key(self.shop_name)
        # A shop opened before names were compared this way may share its key with an older
        # one (orders 0006 left it NULL): it keeps working until staff rename it.
        legacy = self.pk is not None and self.shop_name_key is None
        if not (legacy and Merchant.objects.filter(shop_name_key=key).exclude(pk=self.pk).exists()):
            self.shop_name_key = key
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "shop_name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "shop_name_key"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        key = name_key(self.shop_name)
        if Merchant.objects.filter(shop_name_key=key).exclude(pk=self.pk).exists():
            raise ValidationError({"shop_name": _("That shop name is taken.")})

    @property
    def id_number_masked(self) -> str:
        return crypto.mask(self.id_number_last4)

    @property
    def is_active(self) -> bool:
        return self.status == MerchantStatus.ACTIVE


class MemberRole(models.TextChoices):
    OWNER = "owner", _("owner")
    AGENT = "agent", _("agent")


class MerchantMember(models.Model):
    """A person who acts for a shop. Agents answer complaints; only the owner tops up,
    withdraws and manages the team (docs/rules.md "Shops, teams and deposits")."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="members", verbose_name=_("merchant")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="merchant_memberships",
        verbose_name=_("user"),
    )
    role = models.CharField(
        _("role"), max_length=12, choices=MemberRole.choices, default=MemberRole.AGENT
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("shop team member")
        verbose_name_plural = _("shop team members")
        constraints = [
            models.UniqueConstraint(fields=["user"], name="one_shop_per_member"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"


class IdentityAccess(models.Model):
    """Every time staff see an identity number in clear."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="+", verbose_name=_("merchant")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("staff member"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    purpose = models.CharField(_("purpose"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("identity number access")
        verbose_name_plural = _("identity number accesses")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.user} saw {self.merchant} at {self.at:%Y-%m-%d %H:%M}"


class ProductKind(models.TextChoices):
    GAME_CARD = "game_card", _("game point card")
    PHONE_TOPUP = "phone_topup", _("phone top-up")
    GIFT_CARD = "gift_card", _("gift card")
    OTHER = "other", _("other")


class Product(models.Model):
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="products", verbose_name=_("merchant")
    )
    name = models.CharField(_("name"), max_length=120, validators=[validate_visible_text])
    kind = models.CharField(_("kind"), max_length=16, choices=ProductKind.choices)
    face_value = models.DecimalField(_("face value"), max_digits=12, decimal_places=2)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    # Where the goods come from (upstream supplier, proof of origin): a court will ask.
    source = models.TextField(_("source"))
    # What the buyer reads before buying, and what the shop promises about delivery: 0 is at
    # once (automatic); a complaint "delivered late" is measured against it.
    description = models.TextField(_("description"), blank=True, default="")
    delivery_minutes = models.PositiveIntegerField(_("promised delivery time (minutes)"), default=0)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="product_price_positive"),
            models.CheckConstraint(condition=Q(face_value__gt=0), name="product_face_positive"),
            models.CheckConstraint(
                condition=Q(kind__in=ProductKind.values), name="product_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def delivers_card_keys(self) -> bool:
        return self.kind != ProductKind.PHONE_TOPUP

    @property
    def delivery_promise(self) -> str:
        """The promised delivery time in words ("at once", "within 30 minutes", "within 2 h")."""
        minutes = self.delivery_minutes
        if not minutes:
            return str(_("at once, automatically"))
        if minutes % 60 == 0:
            return ngettext("within %(n)s hour", "within %(n)s hours", minutes // 60) % {
                "n": minutes // 60
            }
        return ngettext("within %(n)s minute", "within %(n)s minutes", minutes) % {"n": minutes}


class KeyBatch(models.Model):
    """One card-key import (a batch): the keys a shop added for a product in one go. Keys of
    one import usually come from one supplier's lot, so when several of them prove bad the
    platform acts on the whole batch (a collective case, docs/collective-cases.md). The shop
    may name the supplier and the lot later."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="key_batches", verbose_name=_("merchant")
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="key_batches", verbose_name=_("product")
    )
    imported_at = models.DateTimeField(_("imported at"), default=timezone.now)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("imported by"),
    )
    count = models.PositiveIntegerField(_("keys imported"), default=0)
    supplier = models.CharField(_("supplier"), max_length=120, blank=True)
    lot = models.CharField(_("supplier's lot"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("card-key import")
        verbose_name_plural = _("card-key imports")
        ordering = ["-imported_at", "-id"]
        indexes = [
            models.Index(fields=["product", "-imported_at"], name="keybatch_product_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} #{self.pk} ({self.count})"


class CardKeyStatus(models.TextChoices):
    AVAILABLE = "available", _("in stock")
    DELIVERED = "delivered", _("delivered")
    WITHDRAWN = "withdrawn", _("withdrawn from sale")


class CardKey(models.Model):
    """A card key (卡密). The secret is encrypted; its HMAC fingerprint is unique platform-wide."""

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="card_keys", verbose_name=_("product")
    )
    secret_encrypted = models.TextField(_("card key (encrypted)"), editable=False)
    fingerprint = models.CharField(_("fingerprint"), max_length=64, unique=True, editable=False)
    tail = models.CharField(_("last 4 characters"), max_length=4, editable=False)
    status = models.CharField(
        _("status"), max_length=12, choices=CardKeyStatus.choices, default=CardKeyStatus.AVAILABLE
    )
    order = models.ForeignKey(
        "Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="card_keys",
        verbose_name=_("order"),
    )
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # The import it came in (None only for keys a migration could not place).
    batch = models.ForeignKey(
        KeyBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="card_keys",
        verbose_name=_("import"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("card key")
        verbose_name_plural = _("card keys")
        indexes = [
            # Stock look-up for delivery: the available keys of one product, oldest first.
            models.Index(
                fields=["product", "id"],
                condition=Q(status="available"),
                name="cardkey_available_idx",
            ),
            # A batch's keys by status (a collective case withdraws and checks them).
            models.Index(fields=["batch", "status"], name="cardkey_batch_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status="delivered") & Q(order__isnull=False))
                | (~Q(status="delivered") & Q(order__isnull=True)),
                name="cardkey_delivered_iff_order",
            ),
        ]

    def __str__(self) -> str:
        return self.masked

    @property
    def masked(self) -> str:
        return crypto.mask(self.tail)

    def reveal(self) -> str:
        """Decrypt. Call only from orders.services, for a recorded reveal (CardKeyReveal)."""
        return crypto.decrypt(self.secret_encrypted)


class DuplicateKeyFlag(models.Model):
    """A shop tried to import a key whose fingerprint already exists: a fraud signal."""

    fingerprint = models.CharField(_("fingerprint"), max_length=64, db_index=True)
    existing_key = models.ForeignKey(
        CardKey, on_delete=models.PROTECT, related_name="+", verbose_name=_("existing card key")
    )
    attempted_by = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="+", verbose_name=_("offered by")
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    cross_shop = models.BooleanField(_("sold by another shop"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("duplicate card key")
        verbose_name_plural = _("duplicate card keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"duplicate key offered by {self.attempted_by}"


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("awaiting payment")
    PAID = "paid", _("paid")
    DELIVERED = "delivered", _("delivered")
    DELIVERY_PENDING = "delivery_pending", _("delivery in progress")
    DELIVERY_FAILED = "delivery_failed", _("delivery failed")
    REFUNDED = "refunded", _("refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("partially refunded")
    CANCELLED = "cancelled", _("cancelled")


# An order not paid within this time of being placed is cancelled (docs/rules.md "Unpaid orders"):
# by the buyer any time before, by the clock (orders.services.orders_cancel_unpaid) after.
PAYMENT_WINDOW = timedelta(minutes=30)


class Order(models.Model):
    number = models.CharField(_("order number"), max_length=24, unique=True, editable=False)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("buyer"),
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="orders", verbose_name=_("merchant")
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="orders", verbose_name=_("product")
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    refunded_amount = models.DecimalField(
        _("refunded"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    # Refunds booked but not yet sent through the payment channel (a compensation payout in
    # its outbox). With `refunded_amount` it is what the buyer has been given back, or will
    # be: the two together never exceed what was paid (docs/money.md).
    refund_reserved = models.DecimalField(
        _("refund booked, not yet sent"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        db_default=Decimal("0.00"),
    )
    status = models.CharField(
        _("status"),
        max_length=24,
        choices=OrderStatus.choices,
        default=OrderStatus.PENDING_PAYMENT,
        db_index=True,
    )
    topup_target = models.CharField(_("top-up phone number"), max_length=32, blank=True)
    # Which upstream the top-up went through (its name, orders.payments.topup_upstream_name):
    # with the product, the channel a collective case looks at.
    topup_upstream = models.CharField(_("top-up upstream"), max_length=64, blank=True)
    payment_channel = models.CharField(_("payment channel"), max_length=24, blank=True)
    payment_reference = models.CharField(
        _("payment reference"), max_length=64, unique=True, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    delivery_attempts = models.PositiveIntegerField(_("delivery attempts"), default=0)
    delivery_note = models.CharField(_("delivery note"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["buyer", "-created_at"], name="order_buyer_recent_idx"),
            models.Index(fields=["merchant", "-created_at"], name="order_merchant_recent_idx"),
            # The admin's list at scale: its default ordering and its status filter.
            models.Index(fields=["-created_at", "-id"], name="order_recent_idx"),
            models.Index(fields=["status", "-created_at"], name="order_status_recent_idx"),
            models.Index(
                fields=["paid_at"],
                condition=Q(status="delivery_pending"),
                name="order_delivery_pending_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_quantity_positive"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="order_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refund_reserved__gte=0),
                name="order_refunds_not_negative",
            ),
            # In fen: SQLite keeps decimals as floats, where 2.18 + 1.33 > 3.51.
            models.CheckConstraint(
                condition=GreaterThanOrEqual(
                    Round(models.F("amount") * 100),
                    Round((models.F("refunded_amount") + models.F("refund_reserved")) * 100),
                ),
                name="order_refunds_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="order_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def pay_by(self) -> datetime:
        """Until when the order may be paid (PAYMENT_WINDOW after it was placed)."""
        return self.created_at + PAYMENT_WINDOW

    @property
    def refundable_amount(self) -> Decimal:
        """What may still be given back: the amount paid less every refund sent or booked."""
        return self.amount - self.refunded_amount - self.refund_reserved


class PaymentStatus(models.TextChoices):
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


class Payment(models.Model):
    """A charge through a payment provider, for an order or a merchant's deposit top-up."""

    order = models.ForeignKey(
        Order,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("order"),
    )
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("payer"),
    )
    purpose = models.CharField(_("purpose"), max_length=16, default="order")
    channel = models.CharField(_("payment channel"), max_length=24)
    reference = models.CharField(_("payment reference"), max_length=64, unique=True)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    status = models.CharField(_("status"), max_length=12, choices=PaymentStatus.choices)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.reference


class Refund(models.Model):
    """Money sent back through the payment channel (not the deposit ledger).

    `idempotency_key` is unique: the same refund asked twice is one refund."""

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment")
    )
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=255)
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    provider_refund_id = models.CharField(_("refund id"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_refund_id} {self.amount}"


class CardKeyReveal(models.Model):
    """Every time a buyer saw their keys in clear: evidence if they later say 'already used'."""

    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="reveals", verbose_name=_("order")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("user")
    )
    card_keys = models.ManyToManyField(CardKey, related_name="reveals", verbose_name=_("card keys"))
    at = models.DateTimeField(_("at"), default=timezone.now)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=400, blank=True)

    class Meta:
        verbose_name = _("card key reveal")
        verbose_name_plural = _("card key reveals")
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.order} revealed at {self.at:%Y-%m-%d %H:%M}"


class StatusEventQuerySet(models.QuerySet):
    """Status events are written once: no bulk update or delete through the application."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("status events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("status events are append-only")


class StatusEvent(models.Model):
    """One change of a shop's or an order's status, written by orders/services/ in the
    transaction that makes the change: who (None for the system), when, from, to and why.
    Append-only like the complaint timeline: a database trigger refuses UPDATE and DELETE
    (orders/migrations/0005_status_events.py, docs/admin.md)."""

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        related_name="status_events",
        null=True,
        blank=True,
        verbose_name=_("merchant"),
    )
    order = models.ForeignKey(
        Order,
        on_delete=models.PROTECT,
        related_name="status_events",
        null=True,
        blank=True,
        verbose_name=_("order"),
    )
    from_status = models.CharField(_("from status"), max_length=32, blank=True)
    to_status = models.CharField(_("to status"), max_length=32)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    objects = StatusEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(merchant__isnull=False, order__isnull=True)
                | Q(merchant__isnull=True, order__isnull=False),
                name="status_event_one_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_label or '—'} → {self.to_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("status events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("status events are append-only")

    def _label(self, value: str) -> str:
        choices = MerchantStatus if self.merchant_id else OrderStatus
        return str(dict(choices.choices).get(value, value)) if value else ""

    @property
    def from_label(self) -> str:
        return self._label(self.from_status)

    @property
    def to_label(self) -> str:
        return self._label(self.to_status)


# --- The buyer–shop chat on an order (联系商家, docs/order-chat.md) ---------------------------


class MessageSide(models.TextChoices):
    BUYER = "buyer", _("buyer")
    SHOP = "shop", _("shop")


class OrderThread(models.Model):
    """The state of an order's buyer–shop chat: what the messages themselves (append-only)
    cannot hold. Written by orders.services.chat only, in the transaction of each message or
    read mark.

    - `waiting_since`: the oldest buyer message the shop has not answered yet (None when the
      shop spoke last) — the merchant's inbox, oldest first;
    - `first_asked_at` / `first_answered_at`: the buyer's first message and the shop's first
      answer after it — the shop's first-answer time on its public record;
    - `buyer_read_at` / `shop_read_at`: until when each side has read the thread."""

    order = models.OneToOneField(
        Order, on_delete=models.PROTECT, related_name="thread", verbose_name=_("order")
    )
    # The order's shop, kept here so the inbox is one index range.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="+", verbose_name=_("merchant")
    )
    last_message_at = models.DateTimeField(_("last message at"))
    waiting_since = models.DateTimeField(_("buyer waiting since"), null=True, blank=True)
    first_asked_at = models.DateTimeField(_("buyer first wrote at"), null=True, blank=True)
    first_answered_at = models.DateTimeField(_("shop first answered at"), null=True, blank=True)
    buyer_read_at = models.DateTimeField(_("read by the buyer until"), null=True, blank=True)
    shop_read_at = models.DateTimeField(_("read by the shop until"), null=True, blank=True)

    class Meta:
        verbose_name = _("order chat")
        verbose_name_plural = _("order chats")
        indexes = [
            models.Index(
                fields=["merchant", "waiting_since"],
                condition=Q(waiting_since__isnull=False),
                name="thread_shop_waiting_idx",
            ),
            models.Index(
                fields=["merchant", "first_asked_at"],
                condition=Q(first_asked_at__isnull=False),
                name="thread_shop_asked_idx",
            ),
        ]

    def __str__(self) -> str:
        return str(self.order_id)


class OrderMessageQuerySet(models.QuerySet):
    """Chat messages are written once: no bulk update or delete through the application."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("order messages are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("order messages are append-only")


class AppendOnly(models.Model):
    """Saved once, never changed or deleted (and a database trigger says so too:
    orders/migrations/0010_order_messages.py)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("order messages are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("order messages are append-only")


class OrderMessage(AppendOnly):
    """One message on an order's buyer–shop chat, by the buyer or a member of the shop. Kept
    like the complaint timeline (append-only): when a complaint follows, the thread is its
    chat-record proof."""

    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="messages", verbose_name=_("order")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    side = models.CharField(_("side"), max_length=8, choices=MessageSide.choices)
    body = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)

    objects = OrderMessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("order message")
        verbose_name_plural = _("order messages")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["order", "created_at", "id"], name="order_message_thread_idx"),
            models.Index(fields=["author", "-created_at"], name="order_message_author_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(side__in=MessageSide.values), name="order_message_side_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.side} {self.created_at:%Y-%m-%d %H:%M}"


class OrderMessageFile(AppendOnly):
    """An image or PDF sent with a chat message, checked by content like complaint evidence
    (the same rules and limits), stored under a generated name, its SHA-256 recorded."""

    message = models.ForeignKey(
        OrderMessage, on_delete=models.PROTECT, related_name="files", verbose_name=_("message")
    )
    stored_name = models.CharField(_("stored name"), max_length=255, unique=True, editable=False)
    original_name = models.CharField(_("original file name"), max_length=255, blank=True)
    content_type = models.CharField(_("content type"), max_length=64)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)

    objects = OrderMessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("order message file")
        verbose_name_plural = _("order message files")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.original_name} {self.sha256[:12]}"

    @property
    def file_name(self) -> str:
        """The name the file is served under: generated, never the uploader's."""
        return self.stored_name.rsplit("/", 1)[-1]

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class PaymentIntentStatus(models.TextChoices):
    PENDING = "pending", _("awaiting payment")
    PAID = "paid", _("paid")


class PaymentIntent(models.Model):
    """One payment asked of a real channel (Alipay, WeChat Pay): what is paid for, how much,
    and where the payer was sent. It becomes paid only by the channel's verified notice or by
    the sweep's verified query (orders/services/payments.py, docs/payments.md); until then the
    order (or the deposit top-up) waits."""

    channel = models.CharField(_("payment channel"), max_length=24)
    out_trade_no = models.CharField(_("our trade number"), max_length=32)
    purpose = models.CharField(_("purpose"), max_length=16)  # "order" or "topup"
    order = models.ForeignKey(
        Order,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_intents",
        verbose_name=_("order"),
    )
    # A deposit top-up's shop (escrow credits it once the channel confirms).
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("merchant"),
    )
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("payer"),
    )
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    scene = models.CharField(_("scene"), max_length=16)
    pay_url = models.TextField(_("payment page"), blank=True)
    code_url = models.CharField(_("payment code"), max_length=255, blank=True)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=PaymentIntentStatus.choices,
        default=PaymentIntentStatus.PENDING,
    )
    reference = models.CharField(_("channel's trade number"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    queried_at = models.DateTimeField(_("last asked the channel"), null=True, blank=True)
    query_attempts = models.PositiveIntegerField(_("times asked"), default=0)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("channel payment")
        verbose_name_plural = _("channel payments")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "out_trade_no"], name="payment_intent_trade_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_intent_amount_pos"),
        ]
        indexes = [
            # The sweep asks the channels about the pending ones.
            models.Index(
                fields=["created_at"],
                condition=Q(status="pending"),
                name="payment_intent_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.out_trade_no}"


class PaymentNoticeOutcome(models.TextChoices):
    APPLIED = "applied", _("applied: the payment is confirmed")
    DUPLICATE = "duplicate", _("already known: nothing changed")
    SECOND_PAYMENT = "second_payment", _("a second payment: refunded at once")
    UNKNOWN = "unknown", _("no such payment here: for finance")
    NOT_PAID = "not_paid", _("not a payment (closed or waiting)")
    REFUSED = "refused", _("refused: amount, app or merchant do not match")


class PaymentNotice(models.Model):
    """A payment notice a channel signed (a forged one is never stored), once per notice id,
    with what it changed. Finance reads here the notices the platform did not act on: for an
    unknown payment, a wrong amount or app, an order already refunded."""

    channel = models.CharField(_("payment channel"), max_length=24)
    notice_id = models.CharField(_("notice id"), max_length=128)
    out_trade_no = models.CharField(_("our trade number"), max_length=64, blank=True)
    reference = models.CharField(_("channel's trade number"), max_length=64, blank=True)
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    state = models.CharField(_("channel's state"), max_length=32, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=PaymentNoticeOutcome.choices)
    detail = models.CharField(_("detail"), max_length=255, blank=True)
    payload = models.JSONField(_("verified content"), default=dict)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    times_received = models.PositiveIntegerField(_("times received"), default=1)
    last_received_at = models.DateTimeField(_("last received at"), default=timezone.now)

    class Meta:
        verbose_name = _("payment notice")
        verbose_name_plural = _("payment notices")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "notice_id"], name="payment_notice_unique")
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.notice_id}"


class ChannelComplaint(models.Model):
    """A complaint the buyer filed on the payment channel (WeChat Pay 消费者投诉 2.0), verified,
    with what the channel says of it: the buyer's text, its images (kept as evidence on the
    platform's case, each with its SHA-256), the channel's deadlines. The complaints app joins
    it to the order's case (`case_id`: orders never imports the complaints app) and pushes the
    platform's answer back (docs/channel-complaints.md)."""

    channel = models.CharField(_("payment channel"), max_length=24)
    complaint_id = models.CharField(_("channel's complaint number"), max_length=64)
    order = models.ForeignKey(
        Order,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="channel_complaints",
        verbose_name=_("order"),
    )
    out_trade_no = models.CharField(_("our trade number"), max_length=64, blank=True)
    reference = models.CharField(_("channel's trade number"), max_length=64, blank=True)
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    text = models.TextField(_("complaint text"), blank=True)
    state = models.CharField(_("channel's state"), max_length=32, blank=True)
    # The images as the channel gave them: [{"url": …, "sha256": …, "size": …}].
    images = models.JSONField(_("images"), default=list, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    # WeChat Pay: first reply within 24 h, finished within 72 h of the complaint.
    reply_due = models.DateTimeField(_("reply due"), null=True, blank=True)
    complete_due = models.DateTimeField(_("complete due"), null=True, blank=True)
    case_id = models.BigIntegerField(_("platform case"), null=True, blank=True, db_index=True)
    case_note = models.CharField(_("case note"), max_length=255, blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    payload = models.JSONField(_("verified content"), default=dict)

    class Meta:
        verbose_name = _("channel complaint")
        verbose_name_plural = _("channel complaints")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "complaint_id"], name="orders_channel_complaint_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.complaint_id}"


class ChannelComplaintPushAction(models.TextChoices):
    REPLY = "reply", _("reply")
    REFUND = "refund", _("refund decision")
    COMPLETE = "complete", _("complete")


class ChannelComplaintPush(models.Model):
    """The outbox of what the platform tells the channel about a complaint filed there: a
    reply when the merchant answers and when the case is decided, the refund decision when
    the case pays the buyer, then complete. One row per action and complaint (`key`), sent
    by a task after commit and by the sweep until the channel takes it, with back-off
    (docs/channel-complaints.md)."""

    complaint = models.ForeignKey(
        ChannelComplaint,
        on_delete=models.CASCADE,
        related_name="pushes",
        verbose_name=_("channel complaint"),
    )
    action = models.CharField(
        _("action"), max_length=12, choices=ChannelComplaintPushAction.choices
    )
    key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    text = models.CharField(_("text"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    next_try_at = models.DateTimeField(_("next try at"), default=timezone.now)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("push to the channel")
        verbose_name_plural = _("pushes to the channel")
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(
                fields=["next_try_at"],
                condition=Q(sent_at__isnull=True),
                name="orders_ccpush_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.key
