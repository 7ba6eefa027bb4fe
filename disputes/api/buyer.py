"""The buyer's complaint API: answering an offer, withdrawing, rating the outcome."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from disputes import services
from disputes.api.common import DisputeBaseView, DisputeSerializer, MessageOptionalSerializer
from disputes.services.rating import MAX_COMMENT, MAX_SCORE, MIN_SCORE
from kamen_complaints.api import TextField, request_user


class RatingInputSerializer(serializers.Serializer):
    score = serializers.IntegerField(min_value=MIN_SCORE, max_value=MAX_SCORE)
    comment = TextField(max_length=MAX_COMMENT, required=False, allow_blank=True, default="")


class AcceptOfferView(DisputeBaseView):
    @extend_schema(request=None, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.action_dispute(request, number)
        services.dispute_accept_offer(dispute=dispute, buyer=request_user(request))
        return self.answer(request, number)


class RejectOfferView(DisputeBaseView):
    @extend_schema(request=MessageOptionalSerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.action_dispute(request, number)
        payload = MessageOptionalSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_reject_offer(
            dispute=dispute, buyer=request_user(request), message=payload.validated_data["message"]
        )
        return self.answer(request, number)


class WithdrawView(DisputeBaseView):
    @extend_schema(request=MessageOptionalSerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.action_dispute(request, number)
        payload = MessageOptionalSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_withdraw(
            dispute=dispute, buyer=request_user(request), message=payload.validated_data["message"]
        )
        return self.answer(request, number)


class RatingView(DisputeBaseView):
    @extend_schema(request=RatingInputSerializer, responses={201: DisputeSerializer})
    def post(self, request: Request, number: str) -> Response:
        """The buyer's one-time satisfaction rating after resolution (409 the second time)."""
        dispute = self.action_dispute(request, number)
        payload = RatingInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_rate(
            dispute=dispute,
            buyer=request_user(request),
            score=payload.validated_data["score"],
            comment=payload.validated_data["comment"],
        )
        return self.answer(request, number, status=201)
