"""The admin registrations for complaints: the policy (published with notice, its history
kept), the blacklist (add and lift through the services), and complaints — the review queue,
each opening on its case screen (disputes/admin/desk.py), where arbitrators rule, ask for
information, write notes and decide recoveries through the same services as the API.

Nothing here is deleted (电子商务法 art. 31: records kept ≥ 3 years).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from disputes import services
from disputes.admin import desk
from disputes.models import (
    BlacklistEntry,
    Dispute,
    DisputeEvent,
    Evidence,
    Notification,
    PackageDownload,
    Policy,
    PolicyChange,
)
from disputes.selectors import (
    active_blacklist_entry,
    deadline_health,
    malicious_rulings,
    policy_for,
)
from disputes.services.policy import check_notice
from disputes.services.staff import case_holder_id
from kamen_complaints.admin_paginator import EstimatedCountPaginator, indexed_search
from kamen_complaints.errors import DomainError
from kamen_complaints.money import format_yuan
from kamen_complaints.timefmt import SHORT_FORMAT, shanghai
from orders.models import Merchant, Order


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _adopt(obj: Any, saved: Any) -> None:
    """The admin keeps working with its own instance: give it what the service saved."""
    for field in saved._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False


# --- Policy -------------------------------------------------------------------------------


class PolicyForm(forms.ModelForm):
    class Meta:
        model = Policy
        fields = ["product_kind", "effective_from", *Policy.VALUE_FIELDS, "note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every change of the rules says why (the service refuses a blank one too). A policy
        # in force is read-only: its form has no fields to change, the note included.
        note = self.fields.get("note")
        if note is not None:
            note.required = True
            note.label = _("reason for this change (shown in the history and the audit log)")
            note.initial = ""

    def clean_effective_from(self) -> Any:
        value = self.cleaned_data["effective_from"]
        try:
            check_notice(value)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return value


class PolicyChangeInline(admin.TabularInline):
    model = PolicyChange
    extra = 0
    can_delete = False
    readonly_fields = (
        "action",
        "changed_at",
        "changed_by",
        "old",
        "new",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    """A new version is published with an `effective_from` at least 7 days away (电子商务法
    art. 34); a version already in force is read-only — publish a new one."""

    form = PolicyForm
    list_display = [
        "__str__",
        "product_kind",
        "effective",
        "in_force",
        "published",
        "published_by",
        "complaint_window_hours",
        "merchant_response_hours",
        "review_hours",
    ]
    list_filter = ["product_kind"]
    inlines = [PolicyChangeInline]

    @admin.display(description=gettext_lazy("effective from"), ordering="effective_from")
    def effective(self, obj: Policy) -> str:
        return obj.effective_text()

    @admin.display(description=gettext_lazy("published at"), ordering="published_at")
    def published(self, obj: Policy) -> str:
        return shanghai(obj.published_at, SHORT_FORMAT)

    class Media:
        css = {"all": ["css/admin.css"]}

    @admin.display(boolean=True, description=gettext_lazy("in force"))
    def in_force(self, obj: Policy) -> bool:
        return obj.effective_from <= timezone.now()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return ["product_kind", "published_at", "published_by"]
        return []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A version in force is shown, never edited: publish a new one.
        if obj is not None and obj.effective_from <= timezone.now():
            return False
        return super().has_change_permission(request, obj)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        current = policy_for("")
        initial: dict[str, Any] = {name: getattr(current, name) for name in Policy.VALUE_FIELDS}
        initial["effective_from"] = timezone.localtime() + timedelta(days=7, hours=1)
        return initial

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Policy, form: Any, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in Policy.VALUE_FIELDS}
        if change:
            saved = services.policy_revise(
                policy=obj,
                staff=request.user,  # type: ignore[arg-type]
                effective_from=form.cleaned_data["effective_from"],
                values=values,
                note=form.cleaned_data["note"],
            )
        else:
            saved = services.policy_publish(
                staff=request.user,  # type: ignore[arg-type]
                product_kind=form.cleaned_data.get("product_kind", ""),
                effective_from=form.cleaned_data["effective_from"],
                values=values,
                note=form.cleaned_data["note"],
            )
        _adopt(obj, saved)


# --- Blacklist ----------------------------------------------------------------------------


class BlacklistForm(forms.ModelForm):
    class Meta:
        model = BlacklistEntry
        fields = ["user", "reason", "expires_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "expires_at" in self.fields:
            self.fields["expires_at"].required = False
            self.fields["expires_at"].help_text = _(
                "Empty: the policy's blacklist duration from now."
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        user = data.get("user")
        if user is not None:
            current = active_blacklist_entry(user)
            if current is not None:
                raise forms.ValidationError(
                    _("This account is already blacklisted until %(until)s.")
                    % {"until": shanghai(current.expires_at)}
                )
        expires = data.get("expires_at")
        if expires is not None and expires <= timezone.now():
            self.add_error("expires_at", _("The end of a blacklist entry must be in the future."))
        return data

    def _post_clean(self) -> None:
        # The service fills created_at / expires_at / source; skip model validation of them.
        pass


@admin.register(BlacklistEntry)
class BlacklistEntryAdmin(admin.ModelAdmin):
    form = BlacklistForm
    list_display = ["user", "source", "created_at", "expires_at", "lifted_at", "active"]
    list_filter = ["source"]
    search_fields = ["user__username", "user__email", "reason"]
    raw_id_fields = ["user"]
    actions = ["lift_entries"]

    @admin.display(boolean=True, description=gettext_lazy("active"))
    def active(self, obj: BlacklistEntry) -> bool:
        return obj.is_active()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return [
            "user",
            "reason",
            "source",
            "dispute",
            "created_by",
            "created_at",
            "expires_at",
            "lifted_at",
            "lifted_by",
            "lift_reason",
            "complaints_behind",
        ]

    @admin.display(description=gettext_lazy("complaints behind this entry"))
    def complaints_behind(self, entry: BlacklistEntry) -> str:
        """The buyer's complaints ruled malicious within the policy's window before the entry
        was made (what the automatic blacklisting counted), each linked to its case screen."""
        kind = entry.dispute.order.product.kind if entry.dispute is not None else ""
        days = policy_for(kind, at=entry.created_at).blacklist_window_days
        rulings = list(
            malicious_rulings(entry.user, days=days, at=entry.created_at)
            .select_related("merchant")
            .order_by("resolved_at", "id")
        )
        heading = _("Complaints ruled malicious in the %(days)s days before this entry: %(count)s")
        heading %= {"days": days, "count": len(rulings)}
        if not rulings:
            return heading
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:disputes_dispute_case", args=[d.pk]),
                    d.number,
                    d.merchant.shop_name,
                    format_yuan(d.claimed_amount),
                    shanghai(d.resolved_at),
                )
                for d in rulings
            ),
        )
        return format_html(
            '<p>{}</p><table class="blacklist-behind"><thead><tr><th>{}</th><th>{}</th>'
            "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            heading,
            _("complaint number"),
            _("merchant"),
            _("claimed amount"),
            _("ruled at (Beijing time)"),
            rows,
        )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["user", "reason", "expires_at"]
        return self.get_readonly_fields(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("disputes.manage_blacklist")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and request.user.has_perm("disputes.manage_blacklist")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: BlacklistEntry, form: Any, change: bool
    ) -> None:
        entry = services.blacklist_add(
            user=form.cleaned_data["user"],
            staff=request.user,  # type: ignore[arg-type]
            reason=form.cleaned_data["reason"],
            expires_at=form.cleaned_data.get("expires_at"),
        )
        _adopt(obj, entry)

    @admin.action(description=gettext_lazy("Lift the selected entries"))
    def lift_entries(self, request: HttpRequest, queryset: QuerySet[BlacklistEntry]) -> None:
        lifted = 0
        for entry in queryset.filter(lifted_at__isnull=True):
            try:
                services.blacklist_lift(entry=entry, staff=request.user)  # type: ignore[arg-type]
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return
            lifted += 1
        self.message_user(request, _("%(count)s entries lifted.") % {"count": lifted})


# --- Complaints (read-only for now) -------------------------------------------------------


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DisputeEventInline(_ReadOnlyInline):
    model = DisputeEvent
    readonly_fields = (
        "created_at",
        "type",
        "role",
        "actor",
        "from_status",
        "to_status",
        "visibility",
        "body",
        "data",
    )
    fields = readonly_fields
    ordering = ["created_at", "id"]


class EvidenceInline(_ReadOnlyInline):
    model = Evidence
    readonly_fields = (
        "uploaded_at",
        "kind",
        "role",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "download",
    )
    fields = readonly_fields

    @admin.display(description=gettext_lazy("file"))
    def download(self, obj: Evidence) -> str:
        if obj.content_type == "application/pdf":
            # A party's PDF may carry active content: the link leads to a warning page with a
            # review copy (pages as images) beside the original (disputes/pdf_review.py).
            return format_html(
                '<a href="{}">{}</a> ({})',
                reverse("disputes:evidence_review", args=[obj.dispute.number, obj.pk]),
                obj.file_name,
                _("PDF: review it before opening"),
            )
        return format_html(
            '<a href="/api/v1/disputes/{}/evidence/{}/">{}</a>',
            obj.dispute.number,
            obj.pk,
            obj.file_name,
        )


class PackageDownloadInline(_ReadOnlyInline):
    model = PackageDownload
    readonly_fields = (
        "at",
        "user",
        "ip",
        "sha256",
        "size",
    )
    fields = readonly_fields


class MerchantFilter(admin.SimpleListFilter):
    """One shop's complaints (`?merchant=<id>`; the shop names in the list link to it). No
    list of every shop is loaded: only the chosen shop is shown, found by its key; to find a
    shop by name, search for part of it."""

    title = gettext_lazy("merchant")
    parameter_name = "merchant"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        value = self.value()
        if value and value.isdigit():
            merchant = Merchant.objects.filter(pk=value).only("shop_name").first()
            # An unknown shop still filters (to nothing) rather than showing every complaint.
            return [(value, merchant.shop_name if merchant is not None else f"#{value}")]
        return []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(merchant_id=int(value))
        return queryset


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    """The arbitration desk (disputes/admin/desk.py): the list opens on the review queue, sorted by
    the review deadline (overdue first), and a complaint opens on its case screen."""

    list_display = [
        "case_link",
        "due_countdown",
        "review_due_local",
        "status",
        "reason",
        "claimed_amount",
        "merchant_link",
        "buyer",
        "taken",
        "flags",
    ]
    list_display_links = None
    list_filter = [
        desk.QueueFilter,
        desk.TakenFilter,
        desk.DueFilter,
        "reason",
        MerchantFilter,
        desk.AmountFilter,
        "recovery_pending",
        desk.AppealedFilter,
        "fast_track",
        "status",
        "outcome",
    ]
    # Exact complaint or order number, exact buyer username, or part of the shop's name
    # (get_search_results: indexed look-ups, no ILIKE over the joined complaints table).
    search_fields = ["=number", "=order__number", "=buyer__username", "merchant__shop_name"]
    search_help_text = gettext_lazy(
        "Exact complaint or order number, exact buyer username, or part of the shop name."
    )
    list_select_related = ["merchant", "buyer", "taken_by"]
    ordering = [F("review_due").asc(nulls_last=True), "id"]  # type: ignore[list-item]
    list_per_page = 50
    # At scale (bench/bench_admin.py): no unfiltered COUNT(*) per page; "all complaints"
    # unfiltered is counted by the planner's estimate on PostgreSQL.
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_ordering(self, request: HttpRequest) -> Any:
        # "All complaints" (most of them closed, with no review deadline) newest first, on
        # the dispute_recent_idx index; the queue by its deadline on its partial index.
        if request.GET.get(desk.QueueFilter.parameter_name) == "all":
            return ["-filed_at", "-id"]
        return super().get_ordering(request)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Dispute], search_term: str
    ) -> tuple[QuerySet[Dispute], bool]:
        term = search_term.strip()
        found = indexed_search(
            queryset,
            term,
            exact=["number"],
            related={
                "order": Order.objects.filter(number=term),
                "buyer": get_user_model().objects.filter(username=term),
                "merchant": Merchant.objects.filter(shop_name__icontains=term),
            },
        )
        return found, False

    @admin.display(description=gettext_lazy("merchant"), ordering="merchant__shop_name")
    def merchant_link(self, obj: Dispute) -> str:
        """The shop's name filters the list to its complaints (MerchantFilter)."""
        # Cut to the column with the whole name on hover (static/css/admin.css "desk lists").
        return format_html(
            '<a class="cut" title="{}" href="?{}={}">{}</a>',
            obj.merchant,
            MerchantFilter.parameter_name,
            obj.merchant_id,
            obj.merchant,
        )

    @admin.display(description=gettext_lazy("taken by"), ordering="taken_by__username")
    def taken(self, obj: Dispute) -> str:
        if case_holder_id(obj) is None:
            return "—"
        return format_html('<span class="cut" title="{0}">{0}</span>', obj.taken_by)

    @admin.display(description=gettext_lazy("complaint"), ordering="number")
    def case_link(self, obj: Dispute) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:disputes_dispute_case", args=[obj.pk]), obj.number
        )

    @admin.display(description=gettext_lazy("time left"), ordering="review_due")
    def due_countdown(self, obj: Dispute) -> str:
        return desk.countdown_html(obj)

    @admin.display(description=gettext_lazy("platform decides by"), ordering="review_due")
    def review_due_local(self, obj: Dispute) -> str:
        if obj.review_due is None:
            return "—"
        return shanghai(obj.review_due, SHORT_FORMAT)

    @admin.display(description=gettext_lazy("flags"))
    def flags(self, obj: Dispute) -> str:
        marks = []
        if obj.fast_track:
            marks.append(_("fast track"))
        if obj.appealed_at is not None:
            marks.append(_("appealed"))
        if obj.recovery_pending:
            marks.append(_("recovery to decide"))
        return " · ".join(str(m) for m in marks) or "—"

    def get_urls(self) -> list[URLPattern]:
        views = desk.CaseViews(self)
        site = self.admin_site
        return [
            path("<int:pk>/case/", site.admin_view(views.case), name="disputes_dispute_case"),
            path(
                "<int:pk>/case/evidence/<int:evidence_pk>/",
                site.admin_view(views.evidence_image),
                name="disputes_dispute_case_evidence",
            ),
            path(
                "<int:pk>/case/<str:action>/",
                site.admin_view(views.action),
                name="disputes_dispute_case_action",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: Any = None,
    ) -> HttpResponse:
        """A complaint opens on its case screen (the whole case, and the actions)."""
        if not object_id.isdigit():
            raise Http404
        return HttpResponseRedirect(reverse("admin:disputes_dispute_case", args=[object_id]))

    inlines = [EvidenceInline, DisputeEventInline, PackageDownloadInline]
    readonly_fields = [f.name for f in Dispute._meta.concrete_fields] + ["card_keys"]
    change_list_template = "admin/disputes/dispute/change_list.html"

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        """The clock's health line above the list: the last sweep, what is overdue now."""
        health = deadline_health()
        health["last_sweep_at_dt"] = _parse(health["last_sweep_at"])
        health["oldest_overdue_dt"] = _parse(health["oldest_overdue"])
        return super().changelist_view(
            request, extra_context={**(extra_context or {}), "clock_health": health}
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The outbox, read-only: what was sent to whom, and what is still waiting (with its last
    error) — the sweep retries it."""

    list_display = ["created_at", "channel", "recipient", "subject", "sent_at", "attempts"]
    list_filter = ["channel", ("sent_at", admin.EmptyFieldListFilter)]
    search_fields = ["dedupe_key", "recipient__username", "dispute__number"]
    list_select_related = ["recipient"]
    readonly_fields = [f.name for f in Notification._meta.concrete_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
