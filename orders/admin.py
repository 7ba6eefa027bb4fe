"""Staff screens for the orders app.

Admin actions call the same services as the API (one path per action). Nothing here is
deleted (电子商务法 art. 31: records kept ≥ 3 years), so `has_delete_permission` is False on
every model. Card keys are shown masked and never in clear; identity numbers only masked,
except through the logged "show identity number" action/button for staff holding
`orders.view_identity`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, cast

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404
from django.template import engines
from django.template.backends.django import Template
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kamen_complaints.admin_paginator import EstimatedCountPaginator, indexed_search
from kamen_complaints.errors import DomainError
from orders import selectors, services
from orders.models import (
    CardKey,
    CardKeyReveal,
    CardKeyStatus,
    ChannelComplaint,
    DuplicateKeyFlag,
    IdentityAccess,
    Merchant,
    MerchantMember,
    Order,
    Payment,
    PaymentIntent,
    PaymentNotice,
    Product,
    Refund,
    StatusEvent,
    SuspensionReason,
)

# Small pages of our own, extending the admin's base template (no template files needed).
_REASON_PAGE = """{% extends "admin/base_site.html" %}
{% block content %}
<form method="post">{% csrf_token %}
  <p>{{ question }}</p>
  <ul>{% for m in merchants %}<li>{{ m.shop_name }}</li>{% endfor %}</ul>
  {% for m in merchants %}
    <input type="hidden" name="_selected_action" value="{{ m.pk }}">
  {% endfor %}
  <input type="hidden" name="action" value="{{ action }}">
  <input type="hidden" name="apply" value="1">
  <p><label for="id_reason">{{ reason_label }}</label><br>
     <textarea id="id_reason" name="reason" rows="3" cols="60" required></textarea></p>
  <input type="submit" value="{{ submit_label }}">
</form>
{% endblock %}"""

_IDENTITY_PAGE = """{% extends "admin/base_site.html" %}
{% block content %}
<p>{{ notice }}</p>
<table>
  <thead><tr><th>{{ shop_label }}</th><th>{{ name_label }}</th><th>{{ id_label }}</th></tr></thead>
  <tbody>{% for row in rows %}
    <tr><td>{{ row.shop_name }}</td><td>{{ row.legal_name }}</td>
        <td><code>{{ row.id_number }}</code></td></tr>
  {% endfor %}</tbody>
</table>
<p><a href="{{ back_url }}">{{ back_label }}</a></p>
{% endblock %}"""


@cache
def _page(source: str) -> Template:
    return cast(Template, engines["django"].from_string(source))


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class NoDeleteMixin:
    """Retention: nothing is deleted through the application."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyMixin(NoDeleteMixin):
    """A record staff look at, never edit: evidence, money movements, audit rows."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Merchants ----------------------------------------------------------------------------


class MerchantMemberInline(ReadOnlyMixin, admin.TabularInline):
    model = MerchantMember
    fields = readonly_fields = ("user", "role", "created_at")
    extra = 0


class StatusEventInline(ReadOnlyMixin, admin.TabularInline):
    """The shop's or the order's status changes, oldest first, read-only (orders.StatusEvent;
    the database refuses changes too)."""

    model = StatusEvent
    fields = readonly_fields = ("created_at", "from_label", "to_label", "reason_label", "actor")
    extra = 0
    verbose_name = gettext_lazy("status change")
    verbose_name_plural = gettext_lazy("status changes")

    class Media:
        css = {"all": ["orders/status_events.css"]}

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Whoever may see the shop or the order sees its history (no permission of its own).
        opts = self.parent_model._meta
        return any(
            request.user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
            for action in ("view", "change")
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[StatusEvent]:
        return super().get_queryset(request).select_related("actor")

    @admin.display(description=gettext_lazy("from status"))
    def from_label(self, event: StatusEvent) -> str:
        return event.from_label or "—"

    @admin.display(description=gettext_lazy("to status"))
    def to_label(self, event: StatusEvent) -> str:
        return event.to_label

    @admin.display(description=gettext_lazy("reason"))
    def reason_label(self, event: StatusEvent) -> str:
        # An automatic suspension stores its reason's code; a person's reason is their words.
        labels = dict(SuspensionReason.choices) if event.merchant_id else {}
        return str(labels.get(event.reason, event.reason)) or "—"


class IdentitySharedFilter(admin.SimpleListFilter):
    """Shops whose identity number another (not rejected) shop also uses: the verifier's
    queue of look-alike applications (docs/security/merchants-and-evidence.md)."""

    title = gettext_lazy("identity number shared")
    parameter_name = "identity_shared"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("yes", gettext_lazy("with another shop")),
            ("no", gettext_lazy("not shared")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "yes":
            return queryset.filter(identity_shared=True)
        if self.value() == "no":
            return queryset.filter(identity_shared=False)
        return None


@admin.register(Merchant)
class MerchantAdmin(NoDeleteMixin, admin.ModelAdmin):
    list_display = [
        "shop_name",
        "legal_name",
        "status",
        "suspension_reason",
        "identity_number",
        "identity_shared",
        "verified_at",
        "reverification_due",
        "created_at",
    ]
    list_filter = ["status", "suspension_reason", IdentitySharedFilter]
    search_fields = ["shop_name", "legal_name", "owner__username", "phone", "business_license"]
    list_select_related = ["owner"]
    show_full_result_count = False  # no unfiltered COUNT(*) per page (bench/bench_admin.py)
    paginator = EstimatedCountPaginator
    # Status fields change only through the actions below (services); contact details and
    # the minimum deposit are plain data staff may correct.
    fields = [
        "shop_name",
        "owner",
        "legal_name",
        "identity_number",
        "identity_duplicates",
        "phone",
        "address",
        "business_license",
        "status",
        "suspension_reason",
        "status_note",
        "verified_by",
        "verified_at",
        "reverification_due",
        "minimum_deposit",
        "created_at",
    ]
    readonly_fields = [
        "owner",
        "legal_name",
        "identity_number",
        "identity_duplicates",
        "status",
        "suspension_reason",
        "status_note",
        "verified_by",
        "verified_at",
        "reverification_due",
        # Changed through escrow's "minimum deposit" form, so the shop's standing follows.
        "minimum_deposit",
        "created_at",
    ]
    inlines = [MerchantMemberInline, StatusEventInline]
    actions = ["verify", "reject", "suspend", "unsuspend", "show_identity"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A shop is opened by its owner's application (merchant_apply), with its identity.
        return False

    def has_verify_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.verify_merchant")

    def has_view_identity_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_staff and request.user.has_perm("orders.view_identity"))

    @admin.display(description=gettext_lazy("identity number"))
    def identity_number(self, merchant: Merchant) -> str:
        return merchant.id_number_masked

    def get_queryset(self, request: HttpRequest) -> QuerySet[Merchant]:
        return selectors.with_identity_shared(super().get_queryset(request))

    @admin.display(
        description=gettext_lazy("identity shared"), boolean=True, ordering="identity_shared"
    )
    def identity_shared(self, merchant: Merchant) -> bool:
        return bool(getattr(merchant, "identity_shared", False))

    @admin.display(description=gettext_lazy("other shops with this identity number"))
    def identity_duplicates(self, merchant: Merchant) -> str:
        others = list(selectors.merchants_sharing_identity(merchant))
        if not others:
            return "-"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a> ({})',
            (
                (
                    reverse("admin:orders_merchant_change", args=[other.pk]),
                    other.shop_name,
                    other.get_status_display(),
                )
                for other in others
            ),
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Warn the verifier at the top of the page: verifying a look-alike is refused."""
        merchant = self.get_object(request, object_id)
        if (
            request.method == "GET"
            and merchant is not None
            and selectors.merchants_sharing_identity(merchant).exists()
        ):
            self.message_user(
                request,
                _(
                    "Another shop was opened with the same identity number (listed below). One "
                    "identity holds one shop: reject one of the applications; verifying this "
                    "shop is refused while the other stands."
                ),
                level=messages.WARNING,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=gettext_lazy("identity number"))
    def identity_number_with_button(self, merchant: Merchant) -> str:
        """Masked, and a button that posts the page's form (with its CSRF token) to the logged
        identity view. Only offered to staff with the permission (get_fields)."""
        url = reverse("admin:orders_merchant_identity", args=[merchant.pk])
        return format_html(
            '{} <button type="submit" formaction="{}" formmethod="post" '
            'formnovalidate name="_show_identity">{}</button>',
            merchant.id_number_masked,
            url,
            _("Show in clear (logged)"),
        )

    def get_fields(self, request: HttpRequest, obj: Merchant | None = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if obj is None or not self.has_view_identity_permission(request):
            return fields
        return ["identity_number_with_button" if f == "identity_number" else f for f in fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Merchant | None = None) -> Any:
        return [*super().get_readonly_fields(request, obj), "identity_number_with_button"]

    def get_urls(self) -> list[Any]:
        urls = super().get_urls()
        own = [
            path(
                "<int:pk>/identity/",
                self.admin_site.admin_view(self.identity_view),
                name="orders_merchant_identity",
            )
        ]
        return own + urls

    # The identity number in clear: POST only (a prefetch or a crawler never logs a view),
    # each merchant shown is one IdentityAccess row, the page is never cached.
    def identity_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_identity_permission(request):
            raise PermissionDenied
        merchant = get_object_or_404(Merchant, pk=pk)
        return self._identity_page(request, [merchant])

    def _identity_page(self, request: HttpRequest, merchants: Iterable[Merchant]) -> HttpResponse:
        staff = self._staff(request)
        rows = [
            {
                "shop_name": m.shop_name,
                "legal_name": m.legal_name,
                "id_number": services.merchant_reveal_identity(
                    merchant=m, staff=staff, ip=_client_ip(request), purpose="admin"
                ),
            }
            for m in merchants
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Identity numbers"),
            "notice": _("This view is recorded (who, when, from which address)."),
            "shop_label": _("shop name"),
            "name_label": _("legal name"),
            "id_label": _("identity number"),
            "rows": rows,
            "back_url": reverse("admin:orders_merchant_changelist"),
            "back_label": _("Back to merchants"),
        }
        response = TemplateResponse(request, _page(_IDENTITY_PAGE), context)
        response["Cache-Control"] = "no-store"
        return response

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Merchant],
        action: Any,
        done: str,
    ) -> None:
        ok = 0
        for merchant in queryset:
            try:
                action(merchant)
            except DomainError as exc:
                self.message_user(
                    request, f"{merchant.shop_name}: {exc.message}", level=messages.ERROR
                )
            else:
                ok += 1
        if ok:
            self.message_user(request, done % {"count": ok}, level=messages.SUCCESS)

    def _reason_step(
        self, request: HttpRequest, queryset: QuerySet[Merchant], action: str, question: str
    ) -> str | TemplateResponse:
        """The reason typed on an intermediate page, or that page."""
        reason = (request.POST.get("reason") or "").strip()
        if request.POST.get("apply") and reason:
            return reason
        context = {
            **self.admin_site.each_context(request),
            "title": question,
            "question": question,
            "merchants": list(queryset),
            "action": action,
            "reason_label": _("Reason (shown to the shop)"),
            "submit_label": _("Confirm"),
        }
        return TemplateResponse(request, _page(_REASON_PAGE), context)

    def _staff(self, request: HttpRequest) -> User:
        return cast(User, request.user)  # admin views require a logged-in staff user

    @admin.action(permissions=["verify"], description=gettext_lazy("Verify (real name checked)"))
    def verify(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> None:
        staff = self._staff(request)
        self._each(
            request,
            queryset,
            lambda m: services.merchant_verify(merchant=m, staff=staff),
            _("%(count)s shop(s) verified."),
        )

    @admin.action(permissions=["verify"], description=gettext_lazy("Reject the application"))
    def reject(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> Any:
        step = self._reason_step(request, queryset, "reject", _("Reject these applications?"))
        if not isinstance(step, str):
            return step
        staff = self._staff(request)
        self._each(
            request,
            queryset,
            lambda m: services.merchant_reject(merchant=m, staff=staff, reason=step),
            _("%(count)s application(s) rejected."),
        )
        return None

    @admin.action(permissions=["verify"], description=gettext_lazy("Suspend (manual)"))
    def suspend(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> Any:
        step = self._reason_step(request, queryset, "suspend", _("Suspend these shops?"))
        if not isinstance(step, str):
            return step
        self._each(
            request,
            queryset,
            lambda m: services.merchant_suspend(
                merchant=m, reason=SuspensionReason.MANUAL, note=step, staff=self._staff(request)
            ),
            _("%(count)s shop(s) suspended."),
        )
        return None

    @admin.action(permissions=["verify"], description=gettext_lazy("Lift a manual suspension"))
    def unsuspend(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> None:
        staff = self._staff(request)
        self._each(
            request,
            queryset,
            lambda m: services.merchant_unsuspend(merchant=m, staff=staff),
            _("%(count)s shop(s) reactivated."),
        )

    @admin.action(
        permissions=["view_identity"],
        description=gettext_lazy("Show identity numbers in clear (logged)"),
    )
    def show_identity(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> HttpResponse:
        return self._identity_page(request, queryset)


@admin.register(IdentityAccess)
class IdentityAccessAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "user", "merchant", "ip", "purpose"]
    list_select_related = ["user", "merchant"]
    search_fields = ["merchant__shop_name", "user__username"]
    date_hierarchy = "at"


# --- Products and card keys ---------------------------------------------------------------


@admin.register(Product)
class ProductAdmin(NoDeleteMixin, admin.ModelAdmin):
    list_display = ["name", "merchant", "kind", "face_value", "price", "in_stock", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "merchant__shop_name"]
    list_select_related = ["merchant"]
    fields = readonly_fields = (
        "name",
        "merchant",
        "kind",
        "face_value",
        "price",
        "source",
        "active",
        "created_at",
    )
    actions = ["take_off_sale", "put_on_sale"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # merchants list their own products (with the goods' source)

    def has_change_permission(self, request: HttpRequest, obj: Product | None = None) -> bool:
        # The detail page is read-only; the change permission allows the on/off-sale actions.
        return obj is None and super().has_change_permission(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        return (
            super()
            .get_queryset(request)
            .annotate(stock=Count("card_keys", filter=Q(card_keys__status=CardKeyStatus.AVAILABLE)))
        )

    @admin.display(description=gettext_lazy("in stock"), ordering="stock")
    def in_stock(self, product: Product) -> int:
        return int(getattr(product, "stock", 0))

    def _set_active(self, request: HttpRequest, queryset: QuerySet[Product], active: bool) -> None:
        for product in queryset:
            services.product_update(product=product, active=active)
        self.message_user(request, _("%(count)s product(s) updated.") % {"count": len(queryset)})

    @admin.action(permissions=["change"], description=gettext_lazy("Take off sale"))
    def take_off_sale(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        self._set_active(request, queryset, False)

    @admin.action(permissions=["change"], description=gettext_lazy("Put on sale"))
    def put_on_sale(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        self._set_active(request, queryset, True)


@admin.register(CardKey)
class CardKeyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Masked only: the secret is never rendered here, in a list or on a detail page."""

    list_display = ["masked_key", "product", "status", "order", "delivered_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["=order__number", "product__name", "product__merchant__shop_name"]
    list_select_related = ["product", "order"]
    fields = readonly_fields = (
        "masked_key",
        "product",
        "status",
        "order",
        "delivered_at",
        "created_at",
    )

    @admin.display(description=gettext_lazy("card key"))
    def masked_key(self, key: CardKey) -> str:
        return key.masked


@admin.register(DuplicateKeyFlag)
class DuplicateKeyFlagAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The same key offered twice; across two shops it is a fraud signal."""

    list_display = ["created_at", "attempted_by", "product", "existing_shop", "cross_shop"]
    list_filter = ["cross_shop"]
    search_fields = ["attempted_by__shop_name", "existing_key__product__merchant__shop_name"]
    list_select_related = ["attempted_by", "product", "existing_key__product__merchant"]
    fields = readonly_fields = (
        "created_at",
        "attempted_by",
        "product",
        "existing_shop",
        "existing",
        "cross_shop",
    )

    @admin.display(description=gettext_lazy("shop already holding the key"))
    def existing_shop(self, flag: DuplicateKeyFlag) -> str:
        return flag.existing_key.product.merchant.shop_name

    @admin.display(description=gettext_lazy("existing key"))
    def existing(self, flag: DuplicateKeyFlag) -> str:
        return flag.existing_key.masked


# --- Orders and payments ------------------------------------------------------------------


class CardKeyInline(ReadOnlyMixin, admin.TabularInline):
    model = CardKey
    fields = readonly_fields = ("masked_key", "status", "delivered_at")
    extra = 0

    @admin.display(description=gettext_lazy("card key"))
    def masked_key(self, key: CardKey) -> str:
        return key.masked


class PaymentInline(ReadOnlyMixin, admin.TabularInline):
    model = Payment
    fields = readonly_fields = ("reference", "channel", "amount", "status", "created_at")
    extra = 0


class RevealInline(ReadOnlyMixin, admin.TabularInline):
    model = CardKeyReveal
    fields = readonly_fields = ("at", "user", "ip", "user_agent")
    extra = 0


class PaymentChannelFilter(admin.SimpleListFilter):
    """The configured payment channel(s), without a query: Django's default filter for a
    field without choices is a SELECT DISTINCT over every order (bench/bench_admin.py)."""

    title = gettext_lazy("payment channel")
    parameter_name = "payment_channel"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        channel = import_string(settings.PAYMENT_PROVIDER).channel
        return [(channel, channel)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value():
            return queryset.filter(payment_channel=self.value())
        return queryset


@admin.register(Order)
class OrderAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "status",
        "buyer",
        "merchant",
        "product",
        "quantity",
        "amount",
        "refunded_amount",
        "payment_reference",
        "paid_at",
        "delivered_at",
    ]
    list_filter = ["status", PaymentChannelFilter, ("created_at", admin.DateFieldListFilter)]
    # Exact: the order number, the payment reference or the buyer's username (indexed look-ups,
    # see get_search_results); the shop is found through its own list or the complaint list.
    search_fields = ["=number", "=payment_reference", "=buyer__username"]
    search_help_text = gettext_lazy("Exact order number, payment reference or buyer username.")
    list_select_related = ["buyer", "merchant", "product"]
    # No COUNT(*) of the whole table per page (docs/benchmarks.md, bench/bench_admin.py): no
    # second unfiltered count, and the page count is the planner's estimate when unfiltered.
    # No date_hierarchy: its year links are a SELECT DISTINCT over every order; the date filter
    # (today, 7 days, this month, this year) needs no query.
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    fields = readonly_fields = (
        "number",
        "status",
        "buyer",
        "merchant",
        "product",
        "quantity",
        "unit_price",
        "amount",
        "refunded_amount",
        "topup_target",
        "payment_channel",
        "payment_reference",
        "created_at",
        "paid_at",
        "delivered_at",
        "delivery_attempts",
        "delivery_note",
    )
    inlines = [CardKeyInline, PaymentInline, RevealInline, StatusEventInline]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        found = indexed_search(
            queryset,
            search_term,
            exact=["number", "payment_reference"],
            related={"buyer": User.objects.filter(username=search_term.strip())},
        )
        return found, False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["reference", "order", "payer", "purpose", "channel", "amount", "status"]
    list_filter = ["purpose", "channel", "status"]
    search_fields = ["=reference", "=order__number"]
    list_select_related = ["order", "payer"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "provider_refund_id", "order_number", "amount", "reason"]
    search_fields = ["=payment__reference", "=payment__order__number", "=provider_refund_id"]
    list_select_related = ["payment__order"]

    @admin.display(description=gettext_lazy("order"))
    def order_number(self, refund: Refund) -> str:
        return refund.payment.order.number if refund.payment.order else "-"


@admin.register(PaymentIntent)
class PaymentIntentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Payments asked of Alipay and WeChat Pay: pending until the channel confirms (its notice
    or the sweep's query, docs/payments.md); the sweep's last error when it could not ask."""

    list_display = [
        "created_at",
        "channel",
        "out_trade_no",
        "purpose",
        "amount",
        "status",
        "reference",
        "query_attempts",
        "last_error",
    ]
    list_filter = ["channel", "status", "purpose"]
    search_fields = ["=out_trade_no", "=reference", "=order__number"]
    list_select_related = ["order"]
    date_hierarchy = "created_at"


@admin.register(PaymentNotice)
class PaymentNoticeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Every notice a channel signed, once, with what it changed. Finance works through the
    ones not applied: a payment unknown here, a wrong amount or app, a second payment refunded."""

    list_display = [
        "received_at",
        "channel",
        "out_trade_no",
        "reference",
        "amount",
        "state",
        "outcome",
        "detail",
        "times_received",
    ]
    list_filter = ["channel", "outcome"]
    search_fields = ["=out_trade_no", "=reference", "=notice_id"]
    date_hierarchy = "received_at"


@admin.register(ChannelComplaint)
class ChannelComplaintAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Complaints buyers filed on the payment channel, each with the platform case it joined
    (or why none: an order unknown here, a filing rule), its deadlines and images' hashes."""

    list_display = [
        "received_at",
        "channel",
        "complaint_id",
        "order",
        "amount",
        "state",
        "case_id",
        "case_note",
        "reply_due",
        "complete_due",
    ]
    list_filter = ["channel", "state"]
    search_fields = ["=complaint_id", "=out_trade_no", "=reference", "=order__number"]
    list_select_related = ["order"]
    date_hierarchy = "received_at"


@admin.register(CardKeyReveal)
class CardKeyRevealAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Every time a buyer saw their keys in clear: the platform's evidence."""

    list_display = ["at", "order", "user", "ip", "user_agent", "keys"]
    search_fields = ["=order__number", "user__username", "ip"]
    list_select_related = ["order", "user"]
    date_hierarchy = "at"
    fields = readonly_fields = ("at", "order", "user", "ip", "user_agent", "keys")

    def get_queryset(self, request: HttpRequest) -> QuerySet[CardKeyReveal]:
        return super().get_queryset(request).annotate(key_count=Count("card_keys"))

    @admin.display(description=gettext_lazy("keys shown"))
    def keys(self, reveal: CardKeyReveal) -> int:
        return int(getattr(reveal, "key_count", 0))
