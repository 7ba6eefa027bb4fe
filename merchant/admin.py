"""The shops' API keys for staff: read-only (a shop's owner creates and revokes its keys,
merchant.services). The library's own APIKey table is unused, so its admin is removed: a key
made there would belong to no shop."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from rest_framework_api_key.models import APIKey

from merchant.models import MerchantAPIKey

if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(MerchantAPIKey)
class MerchantAPIKeyAdmin(admin.ModelAdmin):
    list_display = (
        "prefix",
        "name",
        "merchant",
        "scopes",
        "created",
        "expiry_date",
        "last_used_at",
        "revoked",
    )
    list_filter = ("revoked",)
    search_fields = ("prefix", "name", "merchant__shop_name")
    list_select_related = ("merchant",)
    fields = readonly_fields = (
        "prefix",
        "name",
        "merchant",
        "user",
        "scopes",
        "created",
        "created_by",
        "expiry_date",
        "last_used_at",
        "revoked",
        "revoked_at",
        "revoked_by",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
