"""What every audience of the complaints API shares: the serializers of a complaint as a
reader may see it (what they may see and do: disputes.access), of evidence, events and
ratings, the input serializers more than one audience uses, and the base view that finds the
complaint a caller may see (a 404 otherwise). Conventions: docs/api.md."""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from disputes import access, selectors
from disputes.access import Viewer
from disputes.models import (
    CORE_EVIDENCE,
    REMEDIES,
    UPLOADABLE_EVIDENCE,
    Dispute,
    DisputeEvent,
    DisputeRating,
    Evidence,
    EvidenceKind,
    Reason,
    Role,
    Visibility,
)
from kamen_complaints.api import MoneyField, TextField
from kamen_complaints.errors import NotFound
from kamen_complaints.parsers import JSONParser
from orders.services import MAX_KEY_LENGTH


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
    origin = serializers.SerializerMethodField()
    origin_complaint_id = serializers.SerializerMethodField()

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
            "origin",
            "origin_complaint_id",
        ]

    def get_merchant(self, dispute: Dispute) -> dict[str, Any]:
        return {"id": dispute.merchant_id, "shop_name": dispute.merchant.shop_name}

    def get_auto_checks(self, dispute: Dispute) -> list[dict[str, Any]]:
        """平台自动核验: each automatic check, what it showed and what the rules made of it,
        in plain words too (docs/automatic-checks.md)."""
        from disputes.templatetags.auto_checks import check_rows

        return check_rows(dispute)

    @extend_schema_field(serializers.ChoiceField(choices=list(selectors.ORIGINS)))
    def get_origin(self, dispute: Dispute) -> str:
        """Where the case was opened: platform, or the payment channel whose complaint opened
        it (docs/channel-complaints.md)."""
        return selectors.case_origin(dispute).origin

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_origin_complaint_id(self, dispute: Dispute) -> str | None:
        """The channel's complaint number when a channel complaint opened the case."""
        return selectors.case_origin(dispute).complaint_id

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


class MessageOptionalSerializer(serializers.Serializer):
    message = TextField(max_length=5000, required=False, allow_blank=True, default="")


class ReasonSerializer(serializers.Serializer):
    reason = TextField(max_length=5000)


class DisputeBaseView(APIView):
    # The actions take JSON (filing and evidence, which carry files, set their own parsers):
    # a malformed multipart body would parse as "no fields" and an action whose fields are all
    # optional (withdraw, reject an offer) would accept it.
    parser_classes = [JSONParser]

    def viewer(self, request: Request) -> Viewer:
        """The caller, worked out once for the request (a view instance serves one request):
        whether staff, which shop it acts for."""
        viewer: Viewer | None = getattr(self, "_viewer", None)
        if viewer is None:
            viewer = self._viewer = Viewer.of(request)
        return viewer

    def dispute(self, request: Request, number: str, *, details: bool = True) -> Dispute:
        """The complaint if the caller may see it (a 404 otherwise). `details=False` for an
        action: its service locks and re-reads the row, and `answer` reads the details."""
        dispute = selectors.visible_dispute(
            request.user, number, seen_as=self.viewer(request), details=details
        )
        if dispute is None:
            raise NotFound(_("No such complaint."))
        return dispute

    def action_dispute(self, request: Request, number: str) -> Dispute:
        return self.dispute(request, number, details=False)

    def answer(self, request: Request, number: str, status: int = 200) -> Response:
        """The complaint as it is now, as the caller may see it."""
        dispute = self.dispute(request, number)
        data = DisputeSerializer(dispute, context={"viewer": self.viewer(request)}).data
        return Response(data, status=status)
