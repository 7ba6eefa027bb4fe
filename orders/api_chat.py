"""REST API of the order chat (联系商家, docs/order-chat.md): the buyer or a member of the
shop reads and writes an order's thread. Every rule is orders.services.chat's."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kamen_complaints.api import TextField, request_user
from kamen_complaints.files import private_file_response
from kamen_complaints.parsers import JSONParser, MultiPartParser
from orders.models import MessageSide, Order, OrderMessage
from orders.services import chat


def author_name(message: OrderMessage, viewer_side: str) -> str:
    """Who wrote it, as this side sees it: the shop's members see which of them answered; the
    buyer sees the shop's name."""
    if message.side == MessageSide.SHOP and viewer_side == MessageSide.BUYER:
        return message.order.merchant.shop_name
    return message.author.get_username()


class ChatFileSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="original_name")
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, item: Any) -> str:
        order: Order = self.context["order"]
        path = reverse("api-order-message-file", args=[order.number, item.pk])
        return str(self.context["request"].build_absolute_uri(path))


class ChatMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    side = serializers.ChoiceField(choices=MessageSide.choices)
    author = serializers.SerializerMethodField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    files = serializers.SerializerMethodField()

    def get_author(self, message: OrderMessage) -> str:
        return author_name(message, self.context["side"])

    @extend_schema_field(ChatFileSerializer(many=True))
    def get_files(self, message: OrderMessage) -> list[dict[str, Any]]:
        return list(ChatFileSerializer(message.files.all(), many=True, context=self.context).data)


class ChatPostSerializer(serializers.Serializer):
    body = TextField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=chat.BODY_MAX_CHARS + 1000,  # the service names the exact limit
        help_text=f"The message, at most {chat.BODY_MAX_CHARS} characters; may be empty when "
        "files are sent.",
    )
    files = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        help_text=f"Multipart only: up to {chat.FILES_PER_MESSAGE} JPEG, PNG or WebP images or "
        "PDFs, checked like complaint evidence.",
    )


THREAD = inline_serializer(
    "OrderChatThread",
    {
        "order": serializers.CharField(),
        "side": serializers.ChoiceField(choices=MessageSide.choices),
        "unread": serializers.IntegerField(
            help_text="Messages from the other side since this side last read (before this "
            "request: reading the thread marks it read)."
        ),
        "waiting_since": serializers.DateTimeField(
            allow_null=True,
            help_text="The oldest buyer message the shop has not answered yet, or null.",
        ),
        "results": ChatMessageSerializer(many=True),
    },
)


def _order(request: Request, number: str) -> Order:
    """The order, if the caller is its buyer or a member of its shop (chat_side decides;
    anyone else gets the 404 every order endpoint gives)."""
    order = get_object_or_404(
        Order.objects.select_related("merchant", "product", "buyer"), number=number
    )
    chat.chat_side(request.user, order)
    return order


class OrderMessagesView(APIView):
    """`GET`: the order's chat, oldest first (reading marks it read for the caller's side).
    `POST`: a message as the buyer or the shop — JSON `{"body": …}`, or multipart with
    `body` and `files`."""

    parser_classes = [JSONParser, MultiPartParser]
    # A shop's API key reads its orders' chats and answers them (docs/api-keys.md).
    key_scope = {"GET": "orders:read", "POST": "complaints:answer"}

    @extend_schema(responses=THREAD)
    def get(self, request: Request, number: str) -> Response:
        order = _order(request, number)
        user = request_user(request)
        thread = chat.order_thread(order=order, user=user)
        chat.order_thread_mark_read(order=order, user=user)
        context = {"request": request, "order": order, "side": thread.side}
        return Response(
            {
                "order": order.number,
                "side": thread.side,
                "unread": thread.unread,
                "waiting_since": thread.state.waiting_since if thread.state else None,
                "results": ChatMessageSerializer(thread.messages, many=True, context=context).data,
            }
        )

    @extend_schema(
        request={
            "application/json": ChatPostSerializer,
            "multipart/form-data": ChatPostSerializer,
        },
        responses={201: ChatMessageSerializer, 429: OpenApiResponse(description="Too many.")},
    )
    def post(self, request: Request, number: str) -> Response:
        order = _order(request, number)
        data = ChatPostSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        files = request.FILES.getlist("files") if hasattr(request.FILES, "getlist") else []
        message = chat.order_message_post(
            order=order,
            user=request_user(request),
            body=data.validated_data.get("body", ""),
            files=files,
        )
        context = {"request": request, "order": order, "side": message.side}
        body = ChatMessageSerializer(
            chat.thread_messages(order).get(pk=message.pk), context=context
        ).data
        return Response(body, status=status.HTTP_201_CREATED)


class OrderMessageFileView(APIView):
    """A file sent in the order's chat, to the buyer and the shop: images inline (pixels the
    platform re-encoded), PDFs as a download; sandboxed and private."""

    key_scope = {"GET": "orders:read"}

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, number: str, file_id: int) -> FileResponse:
        order = _order(request, number)
        item = chat.order_message_file(order=order, user=request_user(request), file_id=file_id)
        return private_file_response(
            item.stored_name,
            content_type=item.content_type,
            filename=item.original_name or item.file_name,
            as_attachment=not item.is_image,
        )
