"""The shop's API keys over the API (docs/api-keys.md), for the owner signed in as a person:

- `GET /api/v1/merchant/api-keys/` — the keys, newest first, never their secret;
- `POST /api/v1/merchant/api-keys/` `{"name", "scopes", "expires_at"?}` → 201 with `key`,
  shown this once;
- `DELETE /api/v1/merchant/api-keys/{id}/` (`id` is the key's prefix) → 204.

No `key_scope` here: a key never manages keys (merchant/api_keys.py). The page
/merchant/api-keys/ calls the same services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kamen_complaints.api import TextField, request_user
from merchant import selectors, services
from merchant.models import MerchantAPIKey, Scope
from orders.api import own_merchant


class ApiKeySerializer(serializers.ModelSerializer):
    id = serializers.CharField(
        source="prefix", read_only=True, help_text="The key's first 8 characters; its id."
    )
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))
    created_at = serializers.DateTimeField(source="created", read_only=True)
    expires_at = serializers.DateTimeField(source="expiry_date", allow_null=True)

    class Meta:
        model = MerchantAPIKey
        fields = [
            "id",
            "prefix",
            "name",
            "scopes",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(
        read_only=True, help_text="The whole key, shown this once: the platform keeps a digest."
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = TextField(max_length=services.MAX_NAME_LENGTH)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=Scope.choices), allow_empty=True
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ApiKeyListCreateView(generics.ListAPIView):
    """The shop's API keys (owner only: 403 for the team)."""

    serializer_class = ApiKeySerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return MerchantAPIKey.objects.none()
        merchant = own_merchant(self.request)
        services.require_key_manager(actor=request_user(self.request), merchant=merchant)
        return selectors.shop_api_keys(merchant)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def post(self, request: Request) -> Response:
        merchant = own_merchant(request)
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key, secret = services.api_key_create(
            merchant=merchant, actor=request_user(request), **data.validated_data
        )
        key.key = secret  # type: ignore[attr-defined]
        return Response(ApiKeyCreatedSerializer(key).data, status=201)


class ApiKeyView(APIView):
    @extend_schema(
        request=None,
        responses={204: None, 404: OpenApiResponse(description="No such API key")},
        description="Revoke a key (owner only): every later request with it is a 401. "
        "It cannot be undone; the key stays in the list as revoked.",
    )
    def delete(self, request: Request, prefix: str) -> Response:
        services.api_key_revoke(
            merchant=own_merchant(request), actor=request_user(request), prefix=prefix
        )
        return Response(status=204)
