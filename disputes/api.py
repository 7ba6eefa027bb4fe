"""REST API of complaints and the blacklist (README "Complaints"; conventions: docs/api.md).

Thin views: validate, call a service, serialise the complaint as the caller may see it. A
complaint the caller may not see is a 404; an action its role may not take is a 403 (raised
by the services through disputes.permissions).
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from disputes import access, selectors, services
from disputes.access import Viewer
from disputes.models import (
    CORE_EVIDENCE,
    REMEDIES,
    UPLOADABLE_EVIDENCE,
    BlacklistEntry,
    Dispute,
    DisputeEvent,
    DisputeRating,
    Evidence,
    EvidenceKind,
    Outcome,
    Party,
    Reason,
    Role,
    Status,
    Visibility,
)
from disputes.permissions import require_blacklist_manager
from disputes.services.rating import MAX_COMMENT, MAX_SCORE, MIN_SCORE
from kamen_complaints.api import (
    PAGE_PARAMETERS,
    JSONBooleanField,
    MoneyField,
    PageNumberPagination,
    TextField,
    paginated,
    request_user,
    throttle_peek,
    throttle_record,
    throttles,
)
from kamen_complaints.errors import NotFound
from kamen_complaints.parsers import FormParser, JSONParser, MultiPartParser
from orders.models import Order
from orders.services import MAX_KEY_LENGTH

# --- Serializers --------------------------------------------------------------------------


class EvidenceSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    file_name = TextField(read_only=True)

    class Meta:
        model = Evidence
        fields = [
            "id",
            "kind",
            "file_name",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "note",
            "role",
            "uploaded_at",
            "url",
        ]

    def get_url(self, evidence: Evidence) -> str:
        return f"/api/v1/disputes/{evidence.dispute.number}/evidence/{evidence.pk}/"


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    type_display = TextField(source="get_type_display", read_only=True)

    class Meta:
        model = DisputeEvent
        fields = [
            "id",
            "type",
            "type_display",
            "role",
            "actor",
            "from_status",
            "to_status",
            "body",
            "data",
            "visibility",
            "created_at",
        ]

    def get_actor(self, event: DisputeEvent) -> str | None:
        # Parties see which party acted; staff names only to staff.
        if event.actor is None:
            return None
        if event.role == Role.STAFF and not self.context["viewer"].staff:
            return None
        return event.actor.username


class RatingSerializer(serializers.ModelSerializer):
    class Meta:
        model = DisputeRating
        fields = ["score", "comment", "created_at"]


class RatingInputSerializer(serializers.Serializer):
    score = serializers.IntegerField(min_value=MIN_SCORE, max_value=MAX_SCORE)
    comment = TextField(max_length=MAX_COMMENT, required=False, allow_blank=True, default="")


class DisputeSerializer(serializers.ModelSerializer):
    order = TextField(source="order.number", read_only=True)
    merchant = serializers.SerializerMethodField()
    buyer = TextField(source="buyer.username", read_only=True)
    claimed_amount = MoneyField(read_only=True)
    offer_amount = MoneyField(read_only=True)
    resolved_amount = MoneyField(read_only=True)
    paid_out = MoneyField(read_only=True)
    recovered = MoneyField(read_only=True)
    card_keys = serializers.SerializerMethodField()
    review_paused = serializers.SerializerMethodField()
    evidence_checklist = serializers.SerializerMethodField()
    evidence = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()
    platform_records = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()
    rating = serializers.SerializerMethodField()
    remedy_wanted = serializers.ChoiceField(choices=REMEDIES, read_only=True)
    auto_checks = serializers.SerializerMethodField()

    class Meta:
        model = Dispute
        fields = [
            "number",
            "order",
            "merchant",
            "buyer",
            "status",
            "reason",
            "description",
            "claimed_amount",
            "card_keys",
            "filed_at",
            "window_closes_at",
            "merchant_response_due",
            "buyer_response_due",
            "review_due",
            "review_paused",
            "info_requested_from",
            "info_due",
            "offer_amount",
            "outcome",
            "resolved_amount",
            "decided_by",
            "decision_reason",
            "resolved_at",
            "appeal_due",
            "appealed_by",
            "appeal_reason",
            "appealed_at",
            "appeal_final",
            "fast_track",
            "recovery_pending",
            "paid_out",
            "recovered",
            "evidence_checklist",
            "evidence",
            "platform_records",
            "events",
            "role",
            "actions",
            "rating",
            "remedy_wanted",
            "auto_checks",
        ]

    def get_merchant(self, dispute: Dispute) -> dict[str, Any]:
        return {"id": dispute.merchant_id, "shop_name": dispute.merchant.shop_name}

    def get_auto_checks(self, dispute: Dispute) -> list[dict[str, Any]]:
        """平台自动核验: each automatic check, what it showed and what the rules made of it,
        in plain words too (docs/automatic-checks.md)."""
        from disputes.templatetags.auto_checks import check_rows

        return check_rows(dispute)

    def get_card_keys(self, dispute: Dispute) -> list[dict[str, Any]]:
        return [{"id": k.pk, "masked": k.masked} for k in dispute.card_keys.all()]

    def get_review_paused(self, dispute: Dispute) -> bool:
        return dispute.review_paused_at is not None

    def get_evidence_checklist(self, dispute: Dispute) -> dict[str, Any]:
        """三证: which of the three core proofs the buyer attached, which are missing."""
        present = {e.kind for e in dispute.evidence.all() if e.role == Role.BUYER}
        items = [
            {"kind": kind, "label": str(EvidenceKind(kind).label), "present": kind in present}
            for kind in CORE_EVIDENCE
        ]
        return {
            "items": items,
            "missing": [i["kind"] for i in items if not i["present"]],
            "complete": all(i["present"] for i in items),
            "platform_records": any(
                e.kind == EvidenceKind.PLATFORM_RECORD for e in dispute.evidence.all()
            ),
        }

    def get_evidence(self, dispute: Dispute) -> Any:
        viewer: Viewer = self.context["viewer"]
        evidence = access.visible_evidence(dispute, viewer.role(dispute))
        return EvidenceSerializer(evidence, many=True, context=self.context).data

    def get_events(self, dispute: Dispute) -> Any:
        viewer: Viewer = self.context["viewer"]
        # The prefetch already leaves staff-only events out for parties; filter again so a
        # queryset built elsewhere can never leak an internal note.
        events = [e for e in dispute.events.all() if viewer.staff or e.visibility == Visibility.ALL]
        return EventSerializer(events, many=True, context=self.context).data

    def get_platform_records(self, dispute: Dispute) -> dict[str, Any]:
        viewer: Viewer = self.context["viewer"]
        return access.platform_records_for(dispute, viewer.role(dispute))

    def get_role(self, dispute: Dispute) -> str:
        return self.context["viewer"].role(dispute)

    def get_actions(self, dispute: Dispute) -> list[str]:
        return access.actions(dispute, self.context["viewer"])

    @extend_schema_field(RatingSerializer(allow_null=True))
    def get_rating(self, dispute: Dispute) -> dict[str, Any] | None:
        """The buyer's satisfaction rating once given (null before)."""
        rating = getattr(dispute, "rating", None)  # joined by the selector
        return None if rating is None else RatingSerializer(rating).data


class EvidenceKindList(serializers.ListField):
    """`evidence_kind`: one kind per evidence file, in the files' order, given as repeated
    fields (`evidence_kind=a&evidence_kind=b`), a JSON list, or one comma-joined value
    (`a,b,c` — what Swagger UI's multi-select sends), or any mix of them."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, str):
            data = [data]
        if isinstance(data, list | tuple):
            # Only text is split and trimmed; anything else (a number, an object) goes on to
            # the choice field, which refuses it with a 400 (the fuzz once sent an object).
            data = [
                part.strip() if isinstance(part, str) else part
                for item in data
                for part in (item.split(",") if isinstance(item, str) else [item])
            ]
        return cast(list[Any], super().to_internal_value(data))


class FileSerializer(serializers.Serializer):
    order = TextField(max_length=24)
    reason = serializers.ChoiceField(choices=Reason.choices)
    description = TextField(max_length=5000, required=False, allow_blank=True, default="")
    claimed_amount = MoneyField()
    card_keys = serializers.ListField(
        child=TextField(max_length=MAX_KEY_LENGTH),
        required=False,
        default=list,
        help_text=(
            "Which keys of the order failed, each as the full key text you were shown, its "
            "masked form (`****7Q2K`) or its id. Repeat the field for several keys."
        ),
    )
    evidence = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        help_text="Evidence files (JPEG, PNG, WebP or PDF); repeat the field for several files.",
    )
    remedy_wanted = serializers.ChoiceField(
        choices=REMEDIES,
        required=False,
        default="refund",
        help_text=(
            "If the platform's automatic check proves a card key bad: a refund, or a "
            "replacement key from the shop's stock (a refund when there is none)."
        ),
    )
    evidence_kind = EvidenceKindList(
        child=serializers.ChoiceField(choices=UPLOADABLE_EVIDENCE),
        required=False,
        help_text=(
            "The kind of each evidence file, in the same order as the files: repeat the field "
            "or send one comma-separated value (`order_screenshot,payment_proof,chat_record`)."
        ),
    )


class EvidenceUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=UPLOADABLE_EVIDENCE)
    file = serializers.FileField()
    note = TextField(max_length=500, required=False, allow_blank=True, default="")


class BodySerializer(serializers.Serializer):
    body = TextField(max_length=5000)


class RespondSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["accept", "offer", "contest"])
    remedy = serializers.ChoiceField(choices=REMEDIES, required=False)
    amount = MoneyField(required=False)
    message = TextField(max_length=5000, required=False, allow_blank=True, default="")


class MessageOptionalSerializer(serializers.Serializer):
    message = TextField(max_length=5000, required=False, allow_blank=True, default="")


class ReasonSerializer(serializers.Serializer):
    reason = TextField(max_length=5000)


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


# --- Views --------------------------------------------------------------------------------


class _DisputeView(APIView):
    # The actions take JSON (filing and evidence, which carry files, set their own parsers):
    # a malformed multipart body would parse as "no fields" and an action whose fields are all
    # optional (withdraw, reject an offer) would accept it.
    parser_classes = [JSONParser]

    def dispute(self, request: Request, number: str) -> Dispute:
        dispute = selectors.visible_dispute(request.user, number)
        if dispute is None:
            raise NotFound(_("No such complaint."))
        return dispute

    def answer(self, request: Request, number: str, status: int = 200) -> Response:
        """The complaint as it is now, as the caller may see it."""
        dispute = self.dispute(request, number)
        data = DisputeSerializer(dispute, context={"viewer": Viewer.of(request)}).data
        return Response(data, status=status)


# `GET /api/v1/disputes/?ordering=…` (the merchant inbox's order, for integrations).
ORDERINGS = ("deadline", "-filed_at", "filed_at")


class DisputeListCreateView(_DisputeView):
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
        qs = selectors.dispute_list(request.user, status=status)
        if ordering == "deadline":
            qs = selectors.by_deadline(qs)
        elif ordering == "filed_at":
            qs = qs.order_by("filed_at", "id")
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        data = DisputeSerializer(page, many=True, context={"viewer": Viewer.of(request)}).data
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
        order = Order.objects.filter(number=values["order"], buyer_id=user.pk).first()
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


class DisputeDetailView(_DisputeView):
    @extend_schema(responses=DisputeSerializer)
    def get(self, request: Request, number: str) -> Response:
        return self.answer(request, number)


class EvidenceUploadView(_DisputeView):
    parser_classes = [MultiPartParser, FormParser]
    # Every attempt counts: each one reads and decodes a file (the pages share the counters).
    throttle_classes = throttles("evidence")

    @extend_schema(request=EvidenceUploadSerializer, responses={201: DisputeSerializer})
    def post(self, request: Request, number: str) -> Response:
        dispute = self.dispute(request, number)
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


class EvidenceFileView(_DisputeView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, number: str, pk: int) -> FileResponse:
        dispute = self.dispute(request, number)
        visible = access.visible_evidence(dispute, Viewer.of(request).role(dispute))
        evidence = next((e for e in visible if e.pk == pk), None)
        if evidence is None:
            raise NotFound(_("No such evidence file."))
        response = FileResponse(
            default_storage.open(evidence.stored_name, "rb"),
            as_attachment=True,
            filename=evidence.file_name,
            content_type=evidence.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


class EvidencePackageView(_DisputeView):
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
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


class MessageView(_DisputeView):
    @extend_schema(request=BodySerializer, responses={201: DisputeSerializer})
    def post(self, request: Request, number: str) -> Response:
        dispute = self.dispute(request, number)
        payload = BodySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_message(
            dispute=dispute, user=request_user(request), body=payload.validated_data["body"]
        )
        return self.answer(request, number, status=201)


class RespondView(_DisputeView):
    @extend_schema(request=RespondSerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.dispute(request, number)
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


class AcceptOfferView(_DisputeView):
    @extend_schema(request=None, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.dispute(request, number)
        services.dispute_accept_offer(dispute=dispute, buyer=request_user(request))
        return self.answer(request, number)


class RejectOfferView(_DisputeView):
    @extend_schema(request=MessageOptionalSerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.dispute(request, number)
        payload = MessageOptionalSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_reject_offer(
            dispute=dispute, buyer=request_user(request), message=payload.validated_data["message"]
        )
        return self.answer(request, number)


class WithdrawView(_DisputeView):
    @extend_schema(request=MessageOptionalSerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.dispute(request, number)
        payload = MessageOptionalSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_withdraw(
            dispute=dispute, buyer=request_user(request), message=payload.validated_data["message"]
        )
        return self.answer(request, number)


class AppealView(_DisputeView):
    @extend_schema(request=ReasonSerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.dispute(request, number)
        payload = ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_appeal(
            dispute=dispute, user=request_user(request), reason=payload.validated_data["reason"]
        )
        return self.answer(request, number)


class RuleView(_DisputeView):
    @extend_schema(request=RuleSerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.dispute(request, number)
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


class RequestInfoView(_DisputeView):
    @extend_schema(request=RequestInfoSerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.dispute(request, number)
        payload = RequestInfoSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_request_info(
            dispute=dispute,
            staff=request_user(request),
            party=payload.validated_data["party"],
            question=payload.validated_data["question"],
        )
        return self.answer(request, number)


class RecoveryView(_DisputeView):
    @extend_schema(request=RecoverySerializer, responses=DisputeSerializer)
    def post(self, request: Request, number: str) -> Response:
        dispute = self.dispute(request, number)
        payload = RecoverySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_decide_recovery(
            dispute=dispute,
            staff=request_user(request),
            bears=payload.validated_data["bears"],
            reason=payload.validated_data["reason"],
        )
        return self.answer(request, number)


class NoteView(_DisputeView):
    @extend_schema(request=BodySerializer, responses={201: DisputeSerializer})
    def post(self, request: Request, number: str) -> Response:
        dispute = self.dispute(request, number)
        payload = BodySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_note(
            dispute=dispute, staff=request_user(request), body=payload.validated_data["body"]
        )
        return self.answer(request, number, status=201)


# --- Staff: blacklist ---------------------------------------------------------------------


class RatingView(_DisputeView):
    @extend_schema(request=RatingInputSerializer, responses={201: DisputeSerializer})
    def post(self, request: Request, number: str) -> Response:
        """The buyer's one-time satisfaction rating after resolution (409 the second time)."""
        dispute = self.dispute(request, number)
        payload = RatingInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dispute_rate(
            dispute=dispute,
            buyer=request_user(request),
            score=payload.validated_data["score"],
            comment=payload.validated_data["comment"],
        )
        return self.answer(request, number, status=201)


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


class ShopRecordView(APIView):
    """A shop's public complaint record (disputes.selectors.shop_record): anyone may read
    it, for an active, verified shop; the shop's own figures are null under the minimum
    number of orders (`enough_data` false)."""

    permission_classes = [AllowAny]

    @extend_schema(responses=ShopRecordSerializer)
    def get(self, request: Request, pk: int) -> Response:
        from disputes.buyer_views import public_shop

        merchant = public_shop(pk)
        if merchant is None:
            raise NotFound(_("No such shop."))
        record = dict(selectors.shop_record(merchant.pk))
        if not record["enough_data"]:
            figures = ("complaints_per_1000", "answered_in_time", "resolved_share")
            for name in (*figures, "satisfaction"):
                record[name] = None
        return Response(ShopRecordSerializer(record).data)


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
