"""The collective cases API (docs/collective-cases.md): `GET /api/v1/collective-cases/`
(staff: every case; a shop's team: its shop's; anyone else: none) and
`GET /api/v1/collective-cases/{id}/` — the batch or channel, the figures, the member
complaints and the orders refunded without a complaint. Another shop's case is a 404."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from disputes import selectors
from disputes.models import CollectiveCase, CollectiveOrder, Dispute
from kamen_complaints.api import (
    PAGE_PARAMETERS,
    MoneyField,
    PageNumberPagination,
    paginated,
    request_user,
)
from kamen_complaints.errors import NotFound
from orders.selectors import merchant_for_user


def _scope(user: Any) -> int | None | bool:
    """The shop whose cases `user` sees (None: every shop's, staff), or False: none."""
    if getattr(user, "is_staff", False):
        return None
    merchant = merchant_for_user(user)
    return False if merchant is None else merchant.pk


class BatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    imported_at = serializers.DateTimeField()
    count = serializers.IntegerField()
    supplier = serializers.CharField()
    lot = serializers.CharField()


class CountsSerializer(serializers.Serializer):
    keys = serializers.IntegerField()
    delivered = serializers.IntegerField()
    found_bad = serializers.IntegerField()
    refunded = serializers.IntegerField(help_text="Orders the case refunded without a complaint.")
    refunded_amount = MoneyField()
    recovered = MoneyField(help_text="Recovered from the deposit (the shortfall owed included).")
    at_risk = MoneyField(help_text="The refunds due, told to finance before paying.")
    deposit_available = MoneyField()
    shortfall = MoneyField(help_text="What the deposit did not cover: owed by the shop.")
    withdrawn = serializers.IntegerField(help_text="Keys of the batch taken off sale.")


def _counts(case: CollectiveCase) -> dict[str, Any]:
    return {
        "keys": case.keys_count,
        "delivered": case.delivered_count,
        "found_bad": case.bad_count,
        "refunded": case.refunded_count,
        "refunded_amount": case.refunded_amount,
        "recovered": case.recovered_amount,
        "at_risk": case.at_risk_amount,
        "deposit_available": case.deposit_available,
        "shortfall": case.shortfall_amount,
        "withdrawn": case.withdrawn_count,
    }


class CollectiveCaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    shop = serializers.CharField(source="merchant.shop_name")
    product = serializers.CharField(source="product.name")
    batch = serializers.SerializerMethodField()
    upstream = serializers.CharField(help_text="The top-up channel's upstream ('' for a batch).")
    opened_at = serializers.DateTimeField()
    threshold = serializers.IntegerField()
    window_hours = serializers.IntegerField()
    product_off_sale = serializers.BooleanField()
    settled_at = serializers.DateTimeField(allow_null=True)
    counts = serializers.SerializerMethodField()
    supplier = serializers.CharField()
    lot = serializers.CharField()
    answered_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(BatchSerializer(allow_null=True))
    def get_batch(self, case: CollectiveCase) -> dict[str, Any] | None:
        if case.batch is None:
            return None
        return dict(BatchSerializer(case.batch).data)

    @extend_schema_field(CountsSerializer)
    def get_counts(self, case: CollectiveCase) -> dict[str, Any]:
        return dict(CountsSerializer(_counts(case)).data)


class MemberSerializer(serializers.Serializer):
    number = serializers.CharField()
    order = serializers.CharField(source="order.number")
    status = serializers.CharField()
    outcome = serializers.CharField()
    paid_out = MoneyField()


class RefundedOrderSerializer(serializers.Serializer):
    order = serializers.CharField(source="order.number")
    finding = serializers.CharField()
    bad_keys = serializers.IntegerField()
    amount = MoneyField(source="refund_amount")
    reason = serializers.CharField(source="refund_reason")
    reason_label = serializers.CharField(source="get_refund_reason_display")
    refunded_at = serializers.DateTimeField()


class CollectiveCaseDetailSerializer(CollectiveCaseSerializer):
    members = serializers.SerializerMethodField()
    refunded_without_complaint = serializers.SerializerMethodField()
    merchant_note = serializers.CharField()
    staff_note = serializers.CharField()

    @extend_schema_field(MemberSerializer(many=True))
    def get_members(self, case: CollectiveCase) -> list[dict[str, Any]]:
        rows: list[Dispute] = list(selectors.collective_members(case.pk))
        return [dict(MemberSerializer(d).data) for d in rows]

    @extend_schema_field(RefundedOrderSerializer(many=True))
    def get_refunded_without_complaint(self, case: CollectiveCase) -> list[dict[str, Any]]:
        rows: list[CollectiveOrder] = list(selectors.collective_refunds_without_complaint(case.pk))
        return [dict(RefundedOrderSerializer(r).data) for r in rows]


class CollectiveCaseListView(APIView):
    key_scope = {"GET": "complaints:read"}

    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses=paginated(CollectiveCaseSerializer, "PaginatedCollectiveCaseList"),
        operation_id="v1_collective_cases_list",
    )
    def get(self, request: Request) -> Response:
        scope = _scope(request_user(request))
        cases = (
            selectors.collective_cases().none()
            if scope is False
            else selectors.collective_cases(scope).order_by("-opened_at", "-id")
        )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(cases, request, view=self)
        return paginator.get_paginated_response(CollectiveCaseSerializer(page, many=True).data)


class CollectiveCaseDetailView(APIView):
    key_scope = {"GET": "complaints:read"}

    @extend_schema(responses=CollectiveCaseDetailSerializer, operation_id="v1_collective_case")
    def get(self, request: Request, pk: int) -> Response:
        scope = _scope(request_user(request))
        case = None if scope is False else selectors.collective_case(pk, merchant_id=scope)
        if case is None:
            raise NotFound(_("No such collective case."))
        return Response(CollectiveCaseDetailSerializer(case).data)
