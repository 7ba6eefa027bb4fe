"""Admin for project-wide plumbing: API tokens, shown without their secret.

knox's own AuthToken admin lets a superuser create a token and shows it in clear once — a way to
act as any buyer through the API. Here staff only see who holds a token and until when, and
revoke one by deleting it; a token is only ever issued to its user, by POST /api/v1/auth/token/.
(The database holds a SHA-512 digest, which is the primary key; it is no use without the token.)
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from knox.models import AuthToken

from kamen_complaints.accounts import AdminLoginForm

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
