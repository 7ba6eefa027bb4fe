"""Admin of accounts: the admin's login (behind the login throttle and the per-account lockout),
API tokens, shown without their secret, and Django's user admin, refusing to make a shop's
owner or team member staff (orders.conflicts).

knox's own AuthToken admin lets a superuser create a token and shows it in clear once — a way to
act as any buyer through the API. Here staff only see who holds a token and until when, and
revoke one by deleting it; a token is only ever issued to its user, by POST /api/v1/auth/token/.
(The database holds a SHA-512 digest, which is the primary key; it is no use without the token.)
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils.translation import gettext_lazy
from knox.models import AuthToken

from accounts.forms import AdminLoginForm
from kamen_complaints.errors import DomainError
from orders import conflicts

# The admin's login goes through the login throttle and the per-account lockout
# (accounts/throttle.py; kamen_complaints/urls.py answers 429 when they refuse).
admin.site.login_form = AdminLoginForm

if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)

# knox names neither its app nor its model for people: the admin index would read
# "KNOX / Auth tokens" on a Chinese page. The names below are the admin's own labels
# (no migration: verbose names set here are not part of the model's migration state).
apps.get_app_config("knox").verbose_name = gettext_lazy("API tokens")
AuthToken._meta.verbose_name = gettext_lazy("API token")
AuthToken._meta.verbose_name_plural = gettext_lazy("API tokens")


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
