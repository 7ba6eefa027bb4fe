"""Merchant API keys at the API's door (docs/api-keys.md): `Authorization: Api-Key <key>`.

- `ApiKeyAuthentication` finds the key by its prefix, checks the SHA-512 digest of the whole
  key (djangorestframework-api-key), refuses a revoked or expired one (401), and authenticates
  the request as the key's service account — a member of the shop that is no person
  (orders.services.merchant_service_account_add) — with the key as `request.auth`.
- Default-deny: a key reaches a view only if the view declares the scope its method needs,
  `key_scope = {"GET": "complaints:read", "POST": "complaints:answer"}`, and the key holds it;
  anything else is a 403 `api_key_scope`. Checked at authentication, so a view that sets its
  own `permission_classes` (public, staff) is closed to keys all the same; `HasKeyScope`, a
  default permission class, asks the same rule again. Pages are session-only: a key never
  reaches them.
- Each refusal of a known key is written to the audit log (at most once a minute per key and
  reason); the last use is recorded at most once a minute (merchant.services).

Lower apps never import this module: their views only carry the `key_scope` attribute, and the
settings name these classes as dotted strings.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from merchant import services
from merchant.models import MerchantAPIKey, Scope

KEYWORD = "Api-Key"
# A key is "<8-character prefix>.<32-character secret>"; anything much longer is not one.
MAX_KEY_LENGTH = 100

SCOPES: tuple[str, ...] = tuple(Scope.values)


def required_scope(view: Any, method: str) -> str | None:
    """The scope a key needs for `method` on `view`, or None when the view does not open
    that method to keys. HEAD and OPTIONS read like GET."""
    declared = getattr(view, "key_scope", None) or {}
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    scope = declared.get(method)
    return scope if scope in SCOPES else None


def scope_refusal(key: MerchantAPIKey, view: Any, method: str) -> tuple[str, str] | None:
    """Why `key` may not call `method` on `view` (the needed scope and a sentence), or None."""
    needed = required_scope(view, method)
    if needed is None:
        return "", _("An API key cannot be used for this request; sign in as a person instead.")
    if needed not in (key.scopes or []):
        return needed, _(
            "This API key lacks the scope %(scope)s. Create a key with that scope on the API "
            "keys page."
        ) % {"scope": needed}
    return None


def _refuse_scope(key: MerchantAPIKey, request: Request, view: Any) -> None:
    refusal = scope_refusal(key, view, request.method or "GET")
    if refusal is None:
        return
    needed, sentence = refusal
    services.api_key_use_refused(
        key=key, reason="api_key_scope", path=request.path, method=request.method, scope=needed
    )
    raise exceptions.PermissionDenied(sentence, code="api_key_scope")


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <key>` → (the key's service account, the key)."""

    keyword = KEYWORD

    def authenticate(self, request: Request) -> tuple[Any, MerchantAPIKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2 or len(parts[1]) > MAX_KEY_LENGTH:
            raise exceptions.AuthenticationFailed(
                _("Send the key as: Authorization: Api-Key <key>."), code="api_key_invalid"
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raw = ""
        key = services.api_key_find(raw)
        if key is None:
            raise exceptions.AuthenticationFailed(
                _("This API key is not valid."), code="api_key_invalid"
            )
        now = timezone.now()
        if key.revoked:
            services.api_key_use_refused(
                key=key, reason="api_key_revoked", path=request.path, method=request.method
            )
            raise exceptions.AuthenticationFailed(
                _("This API key was revoked."), code="api_key_revoked"
            )
        if key.expiry_date is not None and key.expiry_date <= now:
            services.api_key_use_refused(
                key=key, reason="api_key_expired", path=request.path, method=request.method
            )
            raise exceptions.AuthenticationFailed(
                _("This API key expired on %(at)s.")
                % {"at": timezone.localtime(key.expiry_date).strftime("%Y-%m-%d %H:%M")},
                code="api_key_expired",
            )
        view = (getattr(request, "parser_context", None) or {}).get("view")
        _refuse_scope(key, request, view)
        services.api_key_touch(key=key, now=now)
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class HasKeyScope(BasePermission):
    """A request made with a key: the view declares the scope its method needs, and the key
    holds it (the rule above). Any other request passes to the next permission."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, MerchantAPIKey):
            _refuse_scope(request.auth, request, view)
        return True


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """The OpenAPI security scheme `ApiKeyAuth`, listed only on the operations that declare a
    scope for keys."""

    target_class = "merchant.api_keys.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_requirement(self, auto_schema: Any) -> Any:
        # None: drf-spectacular lists no requirement for this scheme on the operation.
        if required_scope(auto_schema.view, auto_schema.method) is None:
            return None
        return {self.name: []}

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "A merchant API key, sent as `Api-Key <key>`. It acts as the shop and reaches "
                "only the operations that list this scheme, each needing one of the scopes "
                + ", ".join(SCOPES)
                + " (README, Merchant API keys)."
            ),
        }
