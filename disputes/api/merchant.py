"""The merchant's complaint API: the answer (accept, offer, contest) and the shop's own
record (`GET /api/v1/merchant/stats/`)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from disputes import selectors, services
from disputes.api.common import DisputeBaseView, DisputeSerializer
from disputes.api.public import ShopMedianSerializer
from disputes.models import REMEDIES
from kamen_complaints.api import MoneyField, TextField, request_user


class RespondSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["accept", "offer", "contest"])
    remedy = serializers.ChoiceField(choices=REMEDIES, required=False)
    amount = MoneyField(required=False)
    message = TextField(max_length=5000, required=False, allow_blank=True, default="")


class RespondView(DisputeBaseView):
    # A merchant API key answers with this scope (docs/api-keys.md).
    key_scope = {"POST": "complaints:answer"}

    @extend_schema(request=RespondSerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.action_dispute(request, number)
        payload = RespondSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        services.dispute_respond(
            dispute=dispute,
            merchant_user=request_user(request),
            action=values["action"],
            remedy=values.get("remedy"),
            amount=values.get("amount"),
            message=values["message"],
        )
        return self.answer(request, number)


class MerchantStatsMedianSerializer(ShopMedianSerializer):
    lost_share = serializers.FloatField(allow_null=True)
    paid_out = MoneyField(allow_null=True)


class MerchantStatsSerializer(MerchantStatsMedianSerializer):
    window_days = serializers.IntegerField()
    orders = serializers.IntegerField()
    complaints = serializers.IntegerField()
    marketplace_median = MerchantStatsMedianSerializer()
    enough_data = serializers.BooleanField()
    computed_at = serializers.DateTimeField()


class MerchantStatsQuerySerializer(serializers.Serializer):
    days = serializers.ChoiceField(choices=list(selectors.SHOP_RECORD_DAYS), default=30)


class MerchantStatsView(APIView):
    """The caller's shop record over 7, 30 or 90 days (`?days=`, default 30) beside the
    marketplace median, for the shop's owner and team: the public record's figures plus the
    share of resolved complaints lost (`lost_share`) and the compensation recovered from the
    deposit (`paid_out`). The shop's own figures are given even under the minimum number of
    orders (`enough_data` false). The same selector as /merchant/performance/."""

    key_scope = {"GET": "complaints:read"}

    @extend_schema(
        parameters=[OpenApiParameter("days", int, enum=list(selectors.SHOP_RECORD_DAYS))],
        responses=MerchantStatsSerializer,
    )
    def get(self, request: Request) -> Response:
        from orders.api import own_merchant

        query = MerchantStatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        merchant = own_merchant(request)
        record = selectors.shop_record(merchant.pk, int(query.validated_data["days"]))
        return Response(MerchantStatsSerializer(record).data)
