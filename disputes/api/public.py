"""The public complaint API: a shop's complaint record, readable by anyone."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from disputes import selectors
from kamen_complaints.errors import NotFound


class ShopMedianSerializer(serializers.Serializer):
    complaints_per_1000 = serializers.FloatField(allow_null=True)
    answered_in_time = serializers.FloatField(allow_null=True)
    resolved_share = serializers.FloatField(allow_null=True)
    satisfaction = serializers.FloatField(allow_null=True)


class ShopRecordSerializer(ShopMedianSerializer):
    window_days = serializers.IntegerField()
    orders = serializers.IntegerField()
    complaints = serializers.IntegerField()
    marketplace_median = ShopMedianSerializer()
    enough_data = serializers.BooleanField()
    computed_at = serializers.DateTimeField()
    chat_questions = serializers.IntegerField(
        help_text="Buyers who first wrote to the shop on the order chat in the window."
    )
    collective_cases = serializers.IntegerField(
        help_text="Collective cases opened on the shop in the window: complaints upheld "
        "against one batch of its keys or one top-up channel reached the threshold."
    )
    collective_refunded_orders = serializers.IntegerField(
        help_text="Orders of those cases the platform refunded without a complaint."
    )
    channel_complaints = serializers.IntegerField(
        help_text="Complaints buyers filed about the shop's orders on the payment channel "
        "(WeChat Pay, Alipay) that arrived in the window."
    )
    channel_first_reply_seconds = serializers.IntegerField(
        allow_null=True,
        help_text="The median seconds from such a complaint's arrival to the platform's first "
        "reply sent to the channel (of those replied to); null when none was.",
    )
    chat_first_answer_seconds = serializers.IntegerField(
        allow_null=True,
        help_text="The median seconds to the shop's first answer on the order chat (a question "
        "not answered yet counts with the time it has waited so far); null when nobody wrote.",
    )


class ShopRecordView(APIView):
    """A shop's public complaint record (disputes.selectors.shop_record): anyone may read
    it, for an active, verified shop; the shop's own figures are null under the minimum
    number of orders (`enough_data` false)."""

    permission_classes = [AllowAny]

    @extend_schema(responses=ShopRecordSerializer)
    def get(self, request: Request, pk: int) -> Response:
        merchant = selectors.public_shop(pk)
        if merchant is None:
            raise NotFound(_("No such shop."))
        record = dict(selectors.shop_record(merchant.pk))
        if not record["enough_data"]:
            figures = ("complaints_per_1000", "answered_in_time", "resolved_share")
            for name in (*figures, "satisfaction"):
                record[name] = None
        return Response(ShopRecordSerializer(record).data)
