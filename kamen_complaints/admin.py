"""Admin for project-wide plumbing: the site's branding, the audit log (read-only) and second
approvals (four eyes, docs/admin.md). Accounts and API tokens: accounts/admin.py.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kamen_complaints import approvals
from kamen_complaints.audit import OTHER_ACTIONS, action_label
from kamen_complaints.errors import DomainError
from kamen_complaints.models import Approval, ApprovalStatus, AuditAction, AuditEntry

admin.site.site_header = gettext_lazy("Kamen Complaints · staff desk")
admin.site.site_title = gettext_lazy("Kamen Complaints staff")
admin.site.index_title = gettext_lazy("Arbitration desk")
# Records are kept at least 3 years (电子商务法 art. 31): no bulk delete anywhere.
admin.site.disable_action("delete_selected")


class NoChangeAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _pretty(value: Any) -> str:
    if not value:
        return "—"
    return format_html(
        '<pre class="audit-json">{}</pre>', json.dumps(value, ensure_ascii=False, indent=1)
    )


def record_type_label(label: str) -> str:
    """`disputes.dispute` as the model's name in the reader's language ("complaint")."""
    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        return label or "—"


class ActionFilter(admin.SimpleListFilter):
    """Every action in words, those outside AuditAction too (kamen_complaints.audit)."""

    title = gettext_lazy("what")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        codes = [*AuditAction.values, *OTHER_ACTIONS]
        return sorted(((c, action_label(c)) for c in codes), key=lambda pair: pair[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEntry]) -> Any:
        return queryset.filter(action=self.value()) if self.value() else queryset


class RecordTypeFilter(admin.SimpleListFilter):
    title = gettext_lazy("record type")
    parameter_name = "object_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        labels = AuditEntry.objects.order_by().values_list("object_type", flat=True).distinct()
        return sorted(((v, record_type_label(v)) for v in labels), key=lambda pair: pair[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEntry]) -> Any:
        return queryset.filter(object_type=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(NoChangeAdmin):
    """Append-only: nobody edits or deletes an entry, here or in the database."""

    list_display = ["at", "actor", "what", "record_type", "record", "short_reason"]
    list_filter = [ActionFilter, RecordTypeFilter]
    list_select_related = ["actor"]
    search_fields = ["=object_id", "object_repr", "actor__username"]
    date_hierarchy = "at"
    show_full_result_count = False
    fields = [
        "at",
        "actor",
        "what",
        "record_type",
        "object_id",
        "object_repr",
        "reason",
        "before_pretty",
        "after_pretty",
    ]
    readonly_fields = fields  # type: ignore[assignment]

    class Media:
        css = {"all": ["css/admin.css"]}  # the columns at 1280 px ("desk lists")

    @admin.display(description=gettext_lazy("what"), ordering="action")
    def what(self, entry: AuditEntry) -> str:
        return action_label(entry.action)

    @admin.display(description=gettext_lazy("record type"), ordering="object_type")
    def record_type(self, entry: AuditEntry) -> str:
        return record_type_label(entry.object_type)

    @admin.display(description=gettext_lazy("record name"), ordering="object_repr")
    def record(self, entry: AuditEntry) -> str:
        text = entry.object_repr or entry.object_id or "—"
        return format_html('<span class="cut" title="{0}">{0}</span>', text)

    @admin.display(description=gettext_lazy("why"))
    def short_reason(self, entry: AuditEntry) -> str:
        if not entry.reason:
            return "—"
        return format_html('<span class="cut cut--wide" title="{0}">{0}</span>', entry.reason)

    @admin.display(description=gettext_lazy("before"))
    def before_pretty(self, entry: AuditEntry) -> str:
        return _pretty(entry.before)

    @admin.display(description=gettext_lazy("after"))
    def after_pretty(self, entry: AuditEntry) -> str:
        return _pretty(entry.after)


class DecisionForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("reason (required to refuse)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        required=False,
    )


@admin.register(Approval)
class ApprovalAdmin(NoChangeAdmin):
    """Four eyes: what waits for a second staff member, and what was decided."""

    list_display = ["requested_at", "kind", "summary", "requested_by", "status", "decide_link"]
    list_filter = ["status", "kind"]
    list_select_related = ["requested_by", "decided_by"]
    search_fields = ["=object_id", "object_repr", "summary"]
    show_full_result_count = False
    fields = [
        "kind",
        "status",
        "summary",
        "reason",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decision_reason",
        "result",
    ]
    readonly_fields = fields  # type: ignore[assignment]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).order_by("-status", "-requested_at", "-id")

    @admin.display(description=gettext_lazy("decide"))
    def decide_link(self, approval: Approval) -> str:
        if approval.status != ApprovalStatus.PENDING:
            return "—"
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:kamen_complaints_approval_approve", args=[approval.pk]),
            _("Review and decide"),
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="kamen_complaints_approval_approve",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        approval = get_object_or_404(Approval, pk=pk)
        form = DecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            assert isinstance(request.user, User)  # noqa: S101 - admin_view: a logged-in user
            try:
                if "_refuse" in request.POST:
                    approvals.approval_refuse(
                        approval=approval, staff=request.user, reason=form.cleaned_data["reason"]
                    )
                    self.message_user(request, _("Refused; nothing was carried out."))
                else:
                    approvals.approval_grant(
                        approval=approval, staff=request.user, reason=form.cleaned_data["reason"]
                    )
                    self.message_user(
                        request, _("Approved and carried out."), level=messages.SUCCESS
                    )
            except DomainError as exc:
                self.message_user(request, exc.message, level=messages.ERROR)
                return HttpResponseRedirect(request.path)
            return HttpResponseRedirect(reverse("admin:kamen_complaints_approval_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Second approval"),
            "approval": approval,
            "params": approval.params,
            "form": form,
            "opts": self.model._meta,
            "own": approval.requested_by_id == request.user.pk,
        }
        return TemplateResponse(request, "admin/kamen_complaints/approval/decide.html", context)
