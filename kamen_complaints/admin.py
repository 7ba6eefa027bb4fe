"""Admin for project-wide plumbing: the site's branding, the audit log (read-only) and second
approvals (four eyes, docs/admin.md). Accounts and API tokens: accounts/admin.py.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kamen_complaints import approvals
from kamen_complaints.errors import DomainError
from kamen_complaints.models import Approval, ApprovalStatus, AuditEntry

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


@admin.register(AuditEntry)
class AuditEntryAdmin(NoChangeAdmin):
    """Append-only: nobody edits or deletes an entry, here or in the database."""

    list_display = ["at", "actor", "action", "object_type", "object_repr", "short_reason"]
    list_filter = ["action", "object_type"]
    list_select_related = ["actor"]
    search_fields = ["=object_id", "object_repr", "actor__username"]
    date_hierarchy = "at"
    show_full_result_count = False
    fields = [
        "at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "reason",
        "before_pretty",
        "after_pretty",
    ]
    readonly_fields = fields  # type: ignore[assignment]

    @admin.display(description=gettext_lazy("why"))
    def short_reason(self, entry: AuditEntry) -> str:
        return entry.reason[:80]

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
