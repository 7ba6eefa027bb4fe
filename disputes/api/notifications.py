"""The caller's own in-app notifications (README "API", docs/api.md): what the
/notifications/ page shows, for apps and bots. The text is worded in the request's language
(disputes/notices.py), like the page; marking read goes through the service the page calls
(disputes.services.notifications_mark_read)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from disputes import notices, selectors, services
from disputes.models import Notification, NotificationKind
from kamen_complaints.api import PAGE_PARAMETERS, PageNumberPagination, paginated, request_user
from kamen_complaints.parsers import JSONParser


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=NotificationKind.choices, read_only=True)
    text = serializers.SerializerMethodField(help_text="What happened, in the reader's language.")
    link = serializers.SerializerMethodField(help_text="The page to act on it (a path), or null.")
    complaint = serializers.SerializerMethodField(help_text="The complaint's number, or null.")
    read = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)

    def get_text(self, note: Notification) -> str:
        return notices.sentence(note)

    def get_link(self, note: Notification) -> str | None:
        return notices.link(note)

    def get_complaint(self, note: Notification) -> str | None:
        return notices.number_of(note) or None

    def get_read(self, note: Notification) -> bool:
        return note.read_at is not None


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=1000,
        help_text="The notifications to mark read; leave out to mark all of them read.",
    )


class MarkedReadSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread and are now read.")
    unread = serializers.IntegerField(help_text="How many are still unread.")


class NotificationListView(APIView):
    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses=paginated(NotificationSerializer, "PaginatedNotificationList"),
        operation_id="v1_notifications_list",
    )
    def get(self, request: Request) -> Response:
        user = request_user(request)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.inbox(user), request, view=self)
        return paginator.get_paginated_response(NotificationSerializer(page, many=True).data)


class NotificationReadView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        request=MarkReadSerializer,
        responses=MarkedReadSerializer,
        operation_id="v1_notifications_read",
    )
    def post(self, request: Request) -> Response:
        user = request_user(request)
        payload = MarkReadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        ids: Any = payload.validated_data.get("ids")
        marked = services.notifications_mark_read(user=user, ids=ids)
        return Response({"marked": marked, "unread": selectors.unread_count(user)})
