"""The shop's webhooks over the REST API (docs/api.md "Webhooks", docs/integrations.md):

    POST   /api/v1/merchant/webhooks/               {"url", "events"} → 201, id and secret (once)
    GET    /api/v1/merchant/webhooks/               the shop's webhooks
    GET    /api/v1/merchant/webhooks/{id}/          one
    PATCH  /api/v1/merchant/webhooks/{id}/          {"enabled": false|true}
    DELETE /api/v1/merchant/webhooks/{id}/          → 204
    POST   /api/v1/merchant/webhooks/{id}/rotate/   → a new secret (once)
    POST   /api/v1/merchant/webhooks/{id}/test/     → 202, a `ping` event on its way
    GET    /api/v1/merchant/webhooks/{id}/deliveries/  its delivery log, newest first

The shop's owner only (a team member: 403; no shop: 404); an API key reaches none of it (no
key scope is declared). Each view calls one service of integrations.services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations import events, selectors, services
from integrations.models import Delivery, Endpoint, EndpointKind
from kamen_complaints.errors import Forbidden, NotFound
from orders.api import own_merchant
from orders.models import Merchant
from orders.selectors import is_merchant_owner


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


def _owner_shop(request: Request) -> Merchant:
    """The caller's shop when the caller is its owner (404 without a shop, 403 for the team)."""
    merchant = own_merchant(request)
    if not is_merchant_owner(_user(request), merchant):
        raise Forbidden(_("Only the shop's owner may manage its webhooks and robots."))
    return merchant


def _webhook(request: Request, pk: int) -> tuple[Merchant, Endpoint]:
    merchant = _owner_shop(request)
    endpoint = selectors.shop_endpoints(merchant, kind=EndpointKind.WEBHOOK).filter(pk=pk).first()
    if endpoint is None:
        raise NotFound(_("No such webhook or robot."))
    return merchant, endpoint


class WebhookSerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="url_hint", read_only=True)
    events = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "events",
            "enabled",
            "disabled_reason",
            "failing_since",
            "created_at",
        ]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(read_only=True)

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(events.EVENT_TYPES)),
        required=False,
        allow_empty=True,
        max_length=len(events.EVENT_TYPES),
        help_text="Event types to receive; omitted or empty: all of them.",
    )


class WebhookPatchSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


class DeliverySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="event_id", read_only=True)
    tries = serializers.JSONField(source="log", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "type",
            "created_at",
            "status",
            "attempts",
            "last_status",
            "last_error",
            "next_try_at",
            "delivered_at",
            "tries",
        ]
        read_only_fields = fields


class WebhookListView(generics.ListAPIView):
    serializer_class = WebhookSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Endpoint.objects.none()
        return selectors.shop_endpoints(_owner_shop(self.request), kind=EndpointKind.WEBHOOK)

    @extend_schema(
        request=WebhookCreateSerializer,
        responses={201: WebhookCreatedSerializer},
        description="Register a webhook. The answer carries its signing `secret`, shown this "
        "once (rotate it to get a new one).",
    )
    def post(self, request: Request) -> Response:
        merchant = _owner_shop(request)
        data = WebhookCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.endpoint_create(
            actor=_user(request),
            merchant=merchant,
            url=data.validated_data["url"],
            events=data.validated_data.get("events") or [],
        )
        body = WebhookSerializer(created.endpoint).data
        return Response({**body, "secret": created.secret}, status=201)


class WebhookDetailView(APIView):
    @extend_schema(responses={200: WebhookSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(WebhookSerializer(_webhook(request, pk)[1]).data)

    @extend_schema(
        request=WebhookPatchSerializer,
        responses={200: WebhookSerializer},
        description="Turn the webhook off, or on again (its URL is checked again).",
    )
    def patch(self, request: Request, pk: int) -> Response:
        merchant, endpoint = _webhook(request, pk)
        data = WebhookPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_set_enabled(
            actor=_user(request),
            merchant=merchant,
            endpoint_id=endpoint.pk,
            enabled=data.validated_data["enabled"],
        )
        return Response(WebhookSerializer(endpoint).data)

    @extend_schema(
        request=None,
        responses={204: None, 404: OpenApiResponse(description="No such webhook")},
        description="Remove the webhook and its delivery log.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        merchant, endpoint = _webhook(request, pk)
        services.endpoint_delete(actor=_user(request), merchant=merchant, endpoint_id=endpoint.pk)
        return Response(status=204)


class WebhookRotateView(APIView):
    @extend_schema(
        request=None,
        responses=inline_serializer("WebhookSecret", {"secret": serializers.CharField()}),
        description="A new signing secret, shown this once; the old one stops at once.",
    )
    def post(self, request: Request, pk: int) -> Response:
        merchant, endpoint = _webhook(request, pk)
        secret = services.endpoint_rotate_secret(
            actor=_user(request), merchant=merchant, endpoint_id=endpoint.pk
        )
        return Response({"secret": secret})


class WebhookTestView(APIView):
    @extend_schema(
        request=None,
        responses={202: inline_serializer("WebhookTest", {"event_id": serializers.CharField()})},
        description="Send a `ping` event to this webhook now (whatever it subscribed to).",
    )
    def post(self, request: Request, pk: int) -> Response:
        merchant, endpoint = _webhook(request, pk)
        event_id = services.endpoint_test(
            actor=_user(request), merchant=merchant, endpoint_id=endpoint.pk
        )
        return Response({"event_id": event_id}, status=202)


class WebhookDeliveriesView(generics.ListAPIView):
    """The webhook's delivery log, newest first: each event's tries with their HTTP status."""

    serializer_class = DeliverySerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Delivery.objects.none()
        return selectors.endpoint_deliveries(_webhook(self.request, int(self.kwargs["pk"]))[1])
