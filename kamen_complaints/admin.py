"""Admin for project-wide plumbing: the site's branding, the audit log (read-only), second
approvals (four eyes, docs/admin.md), API tokens, shown without their secret, and accounts
(Django's user admin, refusing to make a shop's owner or team member staff: orders.conflicts).

knox's own AuthToken admin lets a superuser create a token and shows it in clear once — a way to
act as any buyer through the API. Here staff only see who holds a token and until when, and
revoke one by deleting it; a token is only ever issued to its user, by POST /api/v1/auth/token/.
(The database holds a SHA-512 digest, which is the primary key; it is no use without the token.)
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from knox.models import AuthToken

from kamen_complaints import approvals
from kamen_complaints.accounts import AdminLoginForm
from kamen_complaints.errors import DomainError
from kamen_complaints.models import Approval, ApprovalStatus, AuditEntry
from orders import conflicts

admin.site.site_header = gettext_lazy("Kamen Complaints · staff desk")
admin.site.site_title = gettext_lazy("Kamen Complaints staff")
admin.site.index_title = gettext_lazy("Arbitration desk")
# Records are kept at least 3 years (电子商务法 art. 31): no bulk delete anywhere.
admin.site.disable_action("delete_selected")

# The admin's login goes through the login throttle and the per-account lockout
# (kamen_complaints/accounts.py; kamen_complaints/urls.py answers 429 when they refuse).
admin.site.login_form = AdminLoginForm

if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class AuthTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    ordering = ["-created"]
    fields = ["user", "created", "expiry"]
    readonly_fields = ["user", "created", "expiry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StaffGrantForm(UserChangeForm):
    """Django's account form, asking the rule before an account is made staff (ticking
    "staff status" or "superuser status"): no shop owner or team member (orders.conflicts)."""

    actor: User | None = None

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        was_staff = self.instance.pk and conflicts.is_staff_account(
            User.objects.get(pk=self.instance.pk)
        )
        granting = cleaned.get("is_staff") or cleaned.get("is_superuser")
        if self.instance.pk and granting and not was_staff:
            try:
                conflicts.refuse_staff_grant(user=self.instance, actor=self.actor)
            except DomainError as exc:
                raise forms.ValidationError(exc.message, code=exc.code) from exc
        return cleaned


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class StaffGrantUserAdmin(UserAdmin):
    form = StaffGrantForm

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if isinstance(request.user, User):
            # A class made for this request by modelform_factory: the actor is this request's.
            form.actor = request.user  # type: ignore[attr-defined]
        return form


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
