"""The complaint API every party uses: the list (and filing), one complaint, its evidence and
the evidence package, messages and the appeal. Thin views: validate, call a service,
answer with the complaint as the caller may see it."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from disputes import access, selectors, services
from disputes.api.common import (
    BodySerializer,
    DisputeBaseView,
    DisputeSerializer,
    EvidenceUploadSerializer,
    FileSerializer,
    ReasonSerializer,
)
from disputes.models import Status
from kamen_complaints.api import (
    PAGE_PARAMETERS,
    PageNumberPagination,
    paginated,
    request_user,
    throttle_peek,
    throttle_record,
    throttles,
)
from kamen_complaints.errors import NotFound
from kamen_complaints.files import mark_private, private_file_response
from kamen_complaints.parsers import FormParser, JSONParser, MultiPartParser
from orders.models import Order

# `GET /api/v1/disputes/?ordering=…` (the merchant inbox's order, for integrations).
ORDERINGS = ("deadline", "-filed_at", "filed_at")


class DisputeListCreateView(DisputeBaseView):
    # A merchant API key lists its shop's complaints; filing is the buyer's (docs/api-keys.md).
    key_scope = {"GET": "complaints:read"}
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_throttles(self) -> list[Any]:
        # Every attempt counts against the looser attempt limit; the filing limit counts
        # accepted complaints only (checked and recorded in post()).
        if self.request.method == "POST":
            return [throttle() for throttle in throttles("filing_attempt")]
        return []

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Status.values, required=False),
            OpenApiParameter(
                "ordering",
                str,
                enum=list(ORDERINGS),
                required=False,
                description=(
                    "deadline: the nearest running deadline first (closed complaints last); "
                    "-filed_at (the default): newest first; filed_at: oldest first."
                ),
            ),
            *PAGE_PARAMETERS,
        ],
        responses=paginated(DisputeSerializer, "PaginatedDisputeList"),
        operation_id="v1_disputes_list",
    )
    def get(self, request: Request) -> Response:
        # Given means validated: `?status=` (empty) is a 400 like any unknown value, not "all".
        status = request.query_params.get("status")
        if status is not None and status not in Status.values:
            raise serializers.ValidationError(
                {"status": [_("Choose one of: %(values)s.") % {"values": ", ".join(Status.values)}]}
            )
        ordering = request.query_params.get("ordering", "-filed_at")
        if ordering not in ORDERINGS:
            raise serializers.ValidationError(
                {"ordering": [_("Choose one of: %(values)s.") % {"values": ", ".join(ORDERINGS)}]}
            )
        qs = selectors.dispute_list(request.user, status=status, seen_as=self.viewer(request))
        if ordering == "deadline":
            qs = selectors.by_deadline(qs)
        elif ordering == "filed_at":
            qs = qs.order_by("filed_at", "id")
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        data = DisputeSerializer(page, many=True, context={"viewer": self.viewer(request)}).data
        return paginator.get_paginated_response(data)

    @extend_schema(request=FileSerializer, responses={201: DisputeSerializer})
    def post(self, request: Request) -> Response:
        user = request_user(request)
        wait = throttle_peek(request, "filing")
        if wait is not None:
            raise exceptions.Throttled(wait)
        payload = FileSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        files = request.FILES.getlist("evidence") if hasattr(request.FILES, "getlist") else []
        kinds = values.get("evidence_kind") or []
        if len(files) != len(kinds):
            raise serializers.ValidationError(
                {
                    "evidence_kind": [
                        _(
                            "Give one evidence_kind for each evidence file (%(files)s files, "
                            "%(kinds)s kinds)."
                        )
                        % {"files": len(files), "kinds": len(kinds)}
                    ]
                }
            )
        # Its product's kind picks the policy (disputes.selectors.policy_for).
        order = (
            Order.objects.filter(number=values["order"], buyer_id=user.pk)
            .select_related("product")
            .first()
        )
        if order is None:
            raise NotFound(_("No such order."))
        dispute = services.dispute_file(
            buyer=user,
            order=order,
            reason=values["reason"],
            description=values["description"],
            claimed_amount=values["claimed_amount"],
            card_keys=values["card_keys"],
            remedy_wanted=values["remedy_wanted"],
            evidence=[
                services.EvidenceUpload(kind=kind, file=file)
                for kind, file in zip(kinds, files, strict=True)
            ],
        )
        throttle_record(request, "filing")
        return self.answer(request, dispute.number, status=201)


class DisputeDetailView(DisputeBaseView):
    key_scope = {"GET": "complaints:read"}

    @extend_schema(responses=DisputeSerializer)
    def get(self, request: Request, number: str) -> Response:
        return self.answer(request, number)


class EvidenceUploadView(DisputeBaseView):
    key_scope = {"POST": "complaints:answer"}
    parser_classes = [MultiPartParser, FormParser]
    # Every attempt counts: each one reads and decodes a file (the pages share the counters).
    throttle_classes = throttles("evidence")

    @extend_schema(request=EvidenceUploadSerializer, responses={201: DisputeSerializer})
    def post(self, request: Request, number: str) -> Response:
        dispute = self.action_dispute(request, number)
        payload = EvidenceUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_add_evidence(
            dispute=dispute,
            user=request_user(request),
            kind=payload.validated_data["kind"],
            file=payload.validated_data["file"],
            note=payload.validated_data["note"],
        )
        return self.answer(request, number, status=201)


class EvidenceFileView(DisputeBaseView):
    key_scope = {"GET": "complaints:read"}

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, number: str, pk: int) -> FileResponse:
        dispute = self.dispute(request, number)
        visible = access.visible_evidence(dispute, self.viewer(request).role(dispute))
        evidence = next((e for e in visible if e.pk == pk), None)
        if evidence is None:
            raise NotFound(_("No such evidence file."))
        return private_file_response(
            evidence.stored_name,
            content_type=evidence.content_type,
            filename=evidence.file_name,
            as_attachment=True,
        )


class EvidencePackageView(DisputeBaseView):
    @extend_schema(
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
        description="The signed evidence package (buyer and staff).",
    )
    def get(self, request: Request, number: str) -> HttpResponse:
        dispute = self.dispute(request, number)
        data = services.dispute_evidence_package(
            dispute=dispute,
            user=request_user(request),
            ip=request.META.get("REMOTE_ADDR"),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        response = HttpResponse(data, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{dispute.number}-evidence.zip"'
        return mark_private(response)


class MessageView(DisputeBaseView):
    key_scope = {"POST": "complaints:answer"}

    @extend_schema(request=BodySerializer, responses={201: DisputeSerializer})
    def post(self, request: Request, number: str) -> Response:
        dispute = self.action_dispute(request, number)
        payload = BodySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_message(
            dispute=dispute, user=request_user(request), body=payload.validated_data["body"]
        )
        return self.answer(request, number, status=201)


class AppealView(DisputeBaseView):
    key_scope = {"POST": "complaints:answer"}

    @extend_schema(request=ReasonSerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.action_dispute(request, number)
        payload = ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_appeal(
            dispute=dispute, user=request_user(request), reason=payload.validated_data["reason"]
        )
        return self.answer(request, number)
