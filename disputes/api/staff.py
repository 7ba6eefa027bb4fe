"""The staff complaint API: rulings, requests for information, recovery decisions, internal
notes, and the blacklist. The services check the permissions (disputes.permissions)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from disputes import selectors, services
from disputes.api.common import BodySerializer, DisputeBaseView, DisputeSerializer
from disputes.models import BlacklistEntry, Outcome, Party
from disputes.permissions import require_blacklist_manager
from kamen_complaints.api import (
    PAGE_PARAMETERS,
    JSONBooleanField,
    MoneyField,
    PageNumberPagination,
    TextField,
    paginated,
    request_user,
)
from kamen_complaints.errors import NotFound
from kamen_complaints.parsers import JSONParser


class RuleSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    amount = MoneyField(required=False)
    reason = TextField(max_length=5000)
    recover_from_merchant = JSONBooleanField(required=False, default=True)
    # The replacement keys handed over were bad too: refunded in money (docs/money.md).
    replacement_bad = JSONBooleanField(required=False, default=False)


class RequestInfoSerializer(serializers.Serializer):
    party = serializers.ChoiceField(choices=Party.choices)
    question = TextField(max_length=5000)


class RecoverySerializer(serializers.Serializer):
    bears = serializers.ChoiceField(choices=["merchant", "platform"])
    reason = TextField(max_length=5000)


class BlacklistEntrySerializer(serializers.ModelSerializer):
    username = TextField(source="user.username", read_only=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = BlacklistEntry
        fields = [
            "id",
            "user",
            "username",
            "reason",
            "source",
            "dispute",
            "created_at",
            "expires_at",
            "lifted_at",
            "lift_reason",
            "active",
        ]

    def get_active(self, entry: BlacklistEntry) -> bool:
        return entry.is_active()


class BlacklistAddSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=1)
    reason = TextField(max_length=5000)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class BlacklistLiftSerializer(serializers.Serializer):
    reason = TextField(max_length=5000, required=False, allow_blank=True, default="")


class RuleView(DisputeBaseView):
    @extend_schema(request=RuleSerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.action_dispute(request, number)
        payload = RuleSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        services.dispute_rule(
            dispute=dispute,
            staff=request_user(request),
            outcome=values["outcome"],
            amount=values.get("amount"),
            reason=values["reason"],
            recover_from_merchant=values["recover_from_merchant"],
            replacement_bad=values["replacement_bad"],
        )
        return self.answer(request, number)


class RequestInfoView(DisputeBaseView):
    @extend_schema(request=RequestInfoSerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.action_dispute(request, number)
        payload = RequestInfoSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_request_info(
            dispute=dispute,
            staff=request_user(request),
            party=payload.validated_data["party"],
            question=payload.validated_data["question"],
        )
        return self.answer(request, number)


class RecoveryView(DisputeBaseView):
    @extend_schema(request=RecoverySerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.action_dispute(request, number)
        payload = RecoverySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_decide_recovery(
            dispute=dispute,
            staff=request_user(request),
            bears=payload.validated_data["bears"],
            reason=payload.validated_data["reason"],
        )
        return self.answer(request, number)


class NoteView(DisputeBaseView):
    @extend_schema(request=BodySerializer, responses={201: DisputeSerializer})
    def post(self, request: Request, number: str) -> Response:
        dispute = self.action_dispute(request, number)
        payload = BodySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_note(
            dispute=dispute, staff=request_user(request), body=payload.validated_data["body"]
        )
        return self.answer(request, number, status=201)


class BlacklistView(APIView):
    # JSON only: no file travels here, and a form's empty expires_at would read as "never".
    parser_classes = [JSONParser]

    @extend_schema(
        parameters=[OpenApiParameter("active", bool, required=False), *PAGE_PARAMETERS],
        responses=paginated(BlacklistEntrySerializer, "PaginatedBlacklistEntryList"),
        operation_id="v1_staff_blacklist_list",
    )
    def get(self, request: Request) -> Response:
        require_blacklist_manager(request_user(request))
        active = request.query_params.get("active")
        if active not in (None, "1", "true", "0", "false"):
            raise serializers.ValidationError({"active": [_("Use true or false.")]})
        qs = selectors.blacklist_entries(active_only=active in ("1", "true"))
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(BlacklistEntrySerializer(page, many=True).data)

    @extend_schema(request=BlacklistAddSerializer, responses={201: BlacklistEntrySerializer})
    def post(self, request: Request) -> Response:
        staff = request_user(request)
        require_blacklist_manager(staff)
        payload = BlacklistAddSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = User.objects.filter(pk=payload.validated_data["user"]).first()
        if user is None:
            raise serializers.ValidationError({"user": [_("No such account.")]})
        entry = services.blacklist_add(
            user=user,
            staff=staff,
            reason=payload.validated_data["reason"],
            expires_at=payload.validated_data.get("expires_at"),
        )
        return Response(BlacklistEntrySerializer(entry).data, status=201)


class BlacklistEntryView(APIView):
    @extend_schema(
        request=BlacklistLiftSerializer,
        responses={200: BlacklistEntrySerializer, 404: OpenApiResponse(description="No entry")},
        description="Lift the entry (it is kept, marked lifted: records are never deleted).",
    )
    def delete(self, request: Request, pk: int) -> Response:
        staff = request_user(request)
        require_blacklist_manager(staff)
        entry = BlacklistEntry.objects.filter(pk=pk).first()
        if entry is None:
            raise NotFound(_("No such blacklist entry."))
        payload = BlacklistLiftSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        entry = services.blacklist_lift(
            entry=entry, staff=staff, reason=payload.validated_data["reason"]
        )
        return Response(BlacklistEntrySerializer(entry).data)
