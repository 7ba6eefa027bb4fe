"""REST API of the orders app (docs/api.md: catalogue, orders, merchant, staff; the auth
endpoints are accounts/api.py)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kamen_complaints.api import MoneyField, TextField, request_user, throttles
from kamen_complaints.errors import Forbidden, NotFound
from kamen_complaints.parsers import FormParser, JSONParser, MultiPartParser
from kamen_complaints.text import validate_visible_text
from orders import payments, selectors, services
from orders.models import Merchant, MerchantMember, Order, OrderStatus, Product, ProductKind
from orders.services import payments as payment_services

# Primary keys are 64-bit: a bigger number is a field error, not a database overflow.
MAX_PK = 2**63 - 1

# --- Serializers --------------------------------------------------------------------------


class MerchantBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Merchant
        fields = ["id", "shop_name"]


class ProductSerializer(serializers.ModelSerializer):
    merchant = MerchantBriefSerializer(read_only=True)
    face_value = MoneyField()
    price = MoneyField()
    in_stock = serializers.IntegerField(read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "name",
            "kind",
            "face_value",
            "price",
            "merchant",
            "in_stock",
            "description",
            "delivery_minutes",
        ]


class MerchantProductSerializer(ProductSerializer):
    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields, "source", "active"]


class OrderSerializer(serializers.ModelSerializer):
    product = serializers.SerializerMethodField()
    merchant = MerchantBriefSerializer(read_only=True)
    unit_price = MoneyField(read_only=True)
    amount = MoneyField(read_only=True)
    refunded_amount = MoneyField(read_only=True)
    card_keys = serializers.SerializerMethodField()
    complaints_barred_until = serializers.SerializerMethodField(
        help_text="Shown to the order's buyer only (null for anyone else): until when their "
        "account may not file complaints (the blacklist), so they know before paying; null "
        "when nothing bars them."
    )

    pay_by = serializers.SerializerMethodField(
        help_text="Until when the order may be paid (null once paid or cancelled); an order "
        "still unpaid then is cancelled."
    )
    refund_reason = serializers.SerializerMethodField(
        help_text="How the order was refunded, null when it was not: `by` is `complaint` (a "
        "complaint's outcome, `reference` its number, `detail` the outcome) or "
        "`collective_case` (refunded by the platform without a complaint, `reference` the "
        "case's number, `detail` what the issuer found), with the amount, when, and `text` in "
        "words. The latest refund when there were several; `refunds` lists them all."
    )
    refunds = serializers.SerializerMethodField(
        help_text="Every refund of the order and how it was made, oldest first (each shaped "
        "like `refund_reason`)."
    )

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "pay_by",
            "product",
            "merchant",
            "quantity",
            "unit_price",
            "amount",
            "refunded_amount",
            "topup_target",
            "created_at",
            "paid_at",
            "delivered_at",
            "payment_channel",
            "payment_reference",
            "card_keys",
            "complaints_barred_until",
            "refund_reason",
            "refunds",
        ]

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_pay_by(self, order: Order) -> str | None:
        if order.status != OrderStatus.PENDING_PAYMENT:
            return None
        return serializers.DateTimeField().to_representation(order.pay_by)

    def get_product(self, order: Order) -> dict[str, Any]:
        return {"id": order.product_id, "name": order.product.name, "kind": order.product.kind}

    def get_card_keys(self, order: Order) -> list[str]:
        # Masked for everyone, the buyer included: the clear text only through /reveal/.
        return [k.masked for k in order.card_keys.all()]

    def _refunds(self, order: Order) -> list[dict[str, Any]]:
        # Asked once for every order the response shows (a page of orders: one ask).
        known: dict[int, list[dict[str, Any]]] = self.context.setdefault("_refund_reasons", {})
        if order.pk not in known:
            root = self.root.instance
            orders = [order] if isinstance(root, Order) or root is None else list(root)
            if order not in orders:
                orders = [order]
            found = selectors.refund_reasons(orders)
            for each in orders:
                known[each.pk] = [
                    {
                        "by": r.by,
                        "reference": r.reference,
                        "amount": MoneyField().to_representation(r.amount),
                        "at": None
                        if r.at is None
                        else serializers.DateTimeField().to_representation(r.at),
                        "detail": r.detail,
                        "text": r.text,
                    }
                    for r in found.get(each.pk, [])
                ]
        return known[order.pk]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_refund_reason(self, order: Order) -> dict[str, Any] | None:
        refunds = self._refunds(order)
        return refunds[-1] if refunds else None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_refunds(self, order: Order) -> list[dict[str, Any]]:
        return self._refunds(order)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_complaints_barred_until(self, order: Order) -> str | None:
        user = getattr(self.context.get("request"), "user", None)
        if user is None or order.buyer_id != user.pk:
            return None
        # Once per request, however many orders the page lists.
        asked = self.context.setdefault("_complaints_barred_until", {})
        if user.pk not in asked:
            asked[user.pk] = selectors.complaints_barred_until(user)
        end = asked[user.pk]
        return None if end is None else serializers.DateTimeField().to_representation(end)


class OrderCreateSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1, max_value=MAX_PK)
    quantity = serializers.IntegerField(min_value=1, max_value=services.MAX_QUANTITY, default=1)
    topup_target = TextField(required=False, allow_blank=True, max_length=32)


class PaySerializer(serializers.Serializer):
    channel = serializers.ChoiceField(
        choices=["sandbox", "alipay", "wechatpay"],
        default="sandbox",
        help_text="`sandbox` pays at once (development and demos). `alipay` and `wechatpay` "
        "(when configured) answer 202 with `payment`: where the buyer pays; the order stays "
        "`pending_payment` until the channel confirms (docs/payments.md).",
    )
    scene = serializers.ChoiceField(
        choices=["page", "wap", "native", "h5"],
        required=False,
        help_text="The channel's scene: Alipay `page` (computer) or `wap` (phone); WeChat Pay "
        "`native` (a code to scan) or `h5` (phone). Default: the computer one.",
    )


class ChannelPaymentSerializer(serializers.Serializer):
    channel = TextField()
    out_trade_no = TextField()
    amount = MoneyField()
    status = TextField()
    pay_url = TextField(help_text="Send the buyer here (Alipay, WeChat Pay H5); may be empty.")
    code_url = TextField(help_text="WeChat Pay Native: the code to show; may be empty.")


class SandboxCallbackSerializer(serializers.Serializer):
    order = TextField(max_length=24)
    reference = serializers.RegexField(r"^[A-Za-z0-9_-]{1,64}\Z", max_length=64)
    amount = MoneyField()
    signature = serializers.RegexField(r"^[0-9a-fA-F]{64}\Z", max_length=64)


class MerchantApplySerializer(serializers.Serializer):
    shop_name = TextField(max_length=80, validators=[validate_visible_text])
    legal_name = TextField(max_length=120)
    id_number = TextField(max_length=32, write_only=True)
    phone = TextField(max_length=32)
    address = TextField(max_length=255)
    business_license = TextField(max_length=64, required=False, allow_blank=True, default="")


class MerchantSerializer(serializers.ModelSerializer):
    id_number = TextField(source="id_number_masked", read_only=True)
    minimum_deposit = MoneyField(read_only=True)

    class Meta:
        model = Merchant
        fields = [
            "id",
            "shop_name",
            "status",
            "suspension_reason",
            "status_note",
            "legal_name",
            "id_number",
            "phone",
            "address",
            "business_license",
            "verified_at",
            "reverification_due",
            "minimum_deposit",
            "created_at",
        ]


class CardKeyImportSerializer(serializers.Serializer):
    keys = TextField(required=False, allow_blank=True, trim_whitespace=False)
    file = serializers.FileField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("keys") and not attrs.get("file"):
            raise serializers.ValidationError(
                {"keys": [_("Paste keys (one per line) or upload a file.")]}
            )
        return attrs


class MerchantReasonSerializer(serializers.Serializer):
    reason = TextField(max_length=1000)


# --- Catalogue and orders -----------------------------------------------------------------


class ProductListView(generics.ListAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = ProductSerializer
    filterset_fields = ["kind"]

    def get_queryset(self) -> Any:
        return selectors.catalogue_products()


class ProductDetailView(generics.RetrieveAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = ProductSerializer

    def get_queryset(self) -> Any:
        return selectors.catalogue_products()


class OrderListCreateView(generics.ListAPIView):
    # A merchant API key reads its shop's orders; placing one is a buyer's (docs/api-keys.md).
    key_scope = {"GET": "orders:read"}
    serializer_class = OrderSerializer
    filterset_fields = ["status"]

    def get_queryset(self) -> Any:
        return selectors.orders_visible_to(self.request.user)

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderSerializer})
    def post(self, request: Request) -> Response:
        data = OrderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = Product.objects.filter(pk=data.validated_data["product"]).first()
        if product is None:
            raise NotFound(_("No such product."))
        order = services.order_create(
            buyer=request_user(request),
            product=product,
            quantity=data.validated_data["quantity"],
            topup_target=data.validated_data.get("topup_target", ""),
        )
        order = selectors.orders_visible_to(request.user).get(pk=order.pk)
        created = OrderSerializer(order, context={"request": request}).data
        return Response(created, status=status.HTTP_201_CREATED)


def _visible_order(request: Request, number: str) -> Order:
    order = selectors.orders_visible_to(request.user).filter(number=number).first()
    if order is None:
        raise NotFound(_("No such order."))
    return order


class OrderDetailView(APIView):
    key_scope = {"GET": "orders:read"}

    @extend_schema(responses=OrderSerializer)
    def get(self, request: Request, number: str) -> Response:
        order = _visible_order(request, number)
        return Response(OrderSerializer(order, context={"request": request}).data)


class OrderPayView(APIView):
    # JSON only (no file travels here). A malformed multipart body parses as "no fields",
    # which the defaults would then accept: the CI fuzz found exactly that.
    parser_classes = [JSONParser]

    @extend_schema(request=PaySerializer, responses={200: OrderSerializer, 202: OrderSerializer})
    def post(self, request: Request, number: str) -> Response:
        order = _visible_order(request, number)
        if order.buyer_id != request.user.pk:
            raise Forbidden(_("Only the buyer pays an order."))
        data = PaySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channel = data.validated_data["channel"]
        if payments.is_redirect_channel(channel):
            intent = payment_services.order_pay_start(
                order=order,
                buyer=request_user(request),
                channel=channel,
                scene=data.validated_data.get("scene", ""),
                client_ip=request.META.get("REMOTE_ADDR", ""),
            )
            order = _visible_order(request, number)
            body = dict(OrderSerializer(order, context={"request": request}).data)
            body["payment"] = ChannelPaymentSerializer(intent).data
            return Response(body, status=status.HTTP_202_ACCEPTED)
        services.order_pay(order=order, buyer=request_user(request), channel=channel)
        order = _visible_order(request, number)
        return Response(OrderSerializer(order, context={"request": request}).data)


class OrderCancelView(APIView):
    """The buyer cancels an order they have not paid (orders.services.order_cancel)."""

    parser_classes = [JSONParser]

    @extend_schema(request=None, responses=OrderSerializer)
    def post(self, request: Request, number: str) -> Response:
        order = _visible_order(request, number)
        if order.buyer_id != request.user.pk:
            raise Forbidden(_("Only the buyer cancels an order."))
        services.order_cancel(order=order, buyer=request_user(request))
        order = _visible_order(request, number)
        return Response(OrderSerializer(order, context={"request": request}).data)


class OrderRevealView(APIView):
    throttle_classes = throttles("reveal")

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "RevealedKeys", {"card_keys": serializers.ListField(child=TextField())}
        ),
    )
    def post(self, request: Request, number: str) -> Response:
        order = _visible_order(request, number)
        if order.buyer_id != request.user.pk:
            raise Forbidden(_("Only the buyer sees the card keys."))
        keys = services.order_reveal_keys(
            order=order,
            user=request_user(request),
            ip=request.META.get("REMOTE_ADDR"),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        response = Response({"card_keys": keys})
        response["Cache-Control"] = "no-store"
        return response


class SandboxCallbackView(APIView):
    """The sandbox provider's asynchronous payment notification (as Alipay's notify_url).

    Signed with HMAC-SHA256 (orders.payments.sandbox_callback_signature); no session or token:
    the signature is the authentication. A callback delivered twice changes nothing the second
    time; a second, different payment of a paid order is refunded (order_payment_confirm)."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        request=SandboxCallbackSerializer,
        responses=inline_serializer(
            "SandboxCallbackResult",
            {"order": TextField(), "status": TextField()},
        ),
    )
    def post(self, request: Request) -> Response:
        data = SandboxCallbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if not payments.sandbox_callback_signature_valid(
            order=values["order"],
            reference=values["reference"],
            amount=values["amount"],
            signature=values["signature"],
        ):
            raise Forbidden(_("The callback signature is wrong."), code="signature_invalid")
        order = Order.objects.filter(number=values["order"]).first()
        if order is None:
            raise NotFound(_("No such order."))
        order = services.order_payment_confirm(
            order=order,
            reference=values["reference"],
            amount=values["amount"],
            channel=payments.SandboxProvider.channel,
        )
        return Response({"order": order.number, "status": order.status})


# --- Merchant -----------------------------------------------------------------------------


def own_merchant(request: Request) -> Merchant:
    """The shop the caller acts for, or a 404 (the deposit API uses it too)."""
    merchant = selectors.merchant_for_user(request.user)
    if merchant is None:
        raise NotFound(_("You have no shop. Apply to open one first."))
    return merchant


class MerchantApplyView(APIView):
    @extend_schema(request=MerchantApplySerializer, responses={201: MerchantSerializer})
    def post(self, request: Request) -> Response:
        data = MerchantApplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        merchant = services.merchant_apply(user=request_user(request), **data.validated_data)
        return Response(MerchantSerializer(merchant).data, status=201)


class MerchantView(APIView):
    @extend_schema(responses=MerchantSerializer)
    def get(self, request: Request) -> Response:
        return Response(MerchantSerializer(own_merchant(request)).data)


class TeamMemberSerializer(serializers.ModelSerializer):
    username = TextField(source="user.username", read_only=True)

    class Meta:
        model = MerchantMember
        fields = ["id", "username", "role", "created_at"]


class TeamAddSerializer(serializers.Serializer):
    username = TextField(max_length=150)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    password = TextField(
        max_length=128,
        required=False,
        allow_blank=True,
        default="",
        write_only=True,
        trim_whitespace=False,
        help_text="Give e-mail and password to create a new account; leave both out to add an "
        "existing account by its username.",
    )


class MerchantTeamView(generics.ListAPIView):
    """The shop's team (owner first). Everyone on the team may read it; only the owner adds
    (orders.services.merchant_member_add: 403 for anyone else)."""

    serializer_class = TeamMemberSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return MerchantMember.objects.none()
        return selectors.merchant_team(own_merchant(self.request))

    @extend_schema(request=TeamAddSerializer, responses={201: TeamMemberSerializer})
    def post(self, request: Request) -> Response:
        merchant = own_merchant(request)
        data = TeamAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.merchant_member_add(
            merchant=merchant, actor=request_user(request), **data.validated_data
        )
        return Response(TeamMemberSerializer(member).data, status=201)


class MerchantTeamMemberView(APIView):
    @extend_schema(
        request=None,
        responses={204: None, 404: OpenApiResponse(description="No such team member")},
        description="Take a member off the team (owner only; the owner cannot be removed). "
        "The account itself stays.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.merchant_member_remove(
            merchant=own_merchant(request), actor=request_user(request), member_id=pk
        )
        return Response(status=204)


class MerchantProductListCreateView(generics.ListAPIView):
    key_scope = {"GET": "products:write", "POST": "products:write"}
    serializer_class = MerchantProductSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Product.objects.none()
        return selectors.merchant_products(own_merchant(self.request))

    @extend_schema(request=MerchantProductSerializer, responses={201: MerchantProductSerializer})
    def post(self, request: Request) -> Response:
        merchant = own_merchant(request)
        data = MerchantProductSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values.get("kind") not in ProductKind.values:
            raise serializers.ValidationError({"kind": [_("Choose a product kind.")]})
        product = services.product_create(
            merchant=merchant,
            name=values["name"],
            kind=values["kind"],
            face_value=values["face_value"],
            price=values["price"],
            source=values.get("source", ""),
            active=values.get("active", True),
            description=values.get("description", ""),
            delivery_minutes=values.get("delivery_minutes", 0),
        )
        product = selectors.merchant_products(merchant).get(pk=product.pk)
        return Response(MerchantProductSerializer(product).data, status=201)


class CardKeyImportView(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    # The report says which keys are already on the platform: rate-limited, so an import
    # is not a fast way to ask about other shops' keys.
    throttle_classes = throttles("import")
    key_scope = {"POST": "products:write"}

    @extend_schema(
        request=CardKeyImportSerializer,
        responses=inline_serializer(
            "ImportReport",
            {
                "imported": serializers.IntegerField(),
                "duplicates": serializers.IntegerField(),
                "rejected": serializers.IntegerField(),
                "problems": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        merchant = own_merchant(request)
        product = Product.objects.filter(pk=pk, merchant=merchant).first()
        if product is None:
            raise NotFound(_("No such product."))
        data = CardKeyImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data.get("file")
        if upload is not None:
            # One byte past the limit is enough for the service to refuse it by its size.
            payload: bytes | str = upload.read(services.MAX_IMPORT_BYTES + 1)
        else:
            payload = data.validated_data["keys"]
        report = services.card_keys_import(
            product=product, data=payload, imported_by=request_user(request)
        )
        return Response(report.as_dict())


class MerchantOrderSerializer(OrderSerializer):
    """A sale as the shop sees it: the buyer's username and the order's complaint; the keys
    masked, as everywhere."""

    buyer = TextField(source="buyer.username", read_only=True)
    complaint = serializers.SerializerMethodField(
        help_text="The order's complaint number (the live one, else the latest), or null."
    )

    class Meta(OrderSerializer.Meta):
        # Whether the buyer is blacklisted is the buyer's own business, not the shop's.
        fields = [
            *(f for f in OrderSerializer.Meta.fields if f != "complaints_barred_until"),
            "buyer",
            "complaint",
        ]

    def get_complaint(self, order: Order) -> str | None:
        complaint = selectors.order_complaint(order)
        return getattr(complaint, "number", None)


class MerchantOrderFilter(django_filters.FilterSet):
    """The sales orders page's filters. Dates are calendar days in Asia/Shanghai, inclusive."""

    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    number = django_filters.CharFilter(method="filter_number", max_length=24)
    payment_reference = django_filters.CharFilter(method="filter_payment_reference", max_length=64)
    created_from = django_filters.DateFilter(
        method="filter_created_from", help_text="Orders placed on or after this day (YYYY-MM-DD)."
    )
    created_to = django_filters.DateFilter(
        method="filter_created_to", help_text="Orders placed on or before this day (YYYY-MM-DD)."
    )

    class Meta:
        model = Order
        fields = ["status", "number", "payment_reference", "created_from", "created_to"]

    def filter_number(self, qs: Any, name: str, value: str) -> Any:
        return qs.filter(number=value.strip().upper())

    def filter_payment_reference(self, qs: Any, name: str, value: str) -> Any:
        return qs.filter(payment_reference=value.strip())

    @extend_schema_field(OpenApiTypes.DATE)
    def filter_created_from(self, qs: Any, name: str, value: Any) -> Any:
        start, _end = selectors.day_bounds(value, None)
        return qs if start is None else qs.filter(created_at__gte=start)

    @extend_schema_field(OpenApiTypes.DATE)
    def filter_created_to(self, qs: Any, name: str, value: Any) -> Any:
        _start, end = selectors.day_bounds(None, value)
        return qs if end is None else qs.filter(created_at__lt=end)


class MerchantOrderListView(generics.ListAPIView):
    """The shop's sales orders, newest first, for its owner and team members (a caller
    without a shop: 404). Keys are masked."""

    key_scope = {"GET": "orders:read"}

    serializer_class = MerchantOrderSerializer
    filterset_class = MerchantOrderFilter

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Order.objects.none()
        return selectors.merchant_orders(own_merchant(self.request))


# --- Staff --------------------------------------------------------------------------------


class CanVerifyMerchants(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(
            request.user
            and request.user.is_authenticated
            and request.user.is_staff
            and request.user.has_perm("orders.verify_merchant")
        )


class _StaffMerchantAction(APIView):
    permission_classes = [permissions.IsAuthenticated, CanVerifyMerchants]

    def merchant(self, pk: int) -> Merchant:
        return get_object_or_404(Merchant, pk=pk)


class StaffMerchantVerifyView(_StaffMerchantAction):
    @extend_schema(request=None, responses=MerchantSerializer)
    def post(self, request: Request, pk: int) -> Response:
        merchant = services.merchant_verify(merchant=self.merchant(pk), staff=request_user(request))
        return Response(MerchantSerializer(merchant).data)


class StaffMerchantRejectView(_StaffMerchantAction):
    @extend_schema(request=MerchantReasonSerializer, responses=MerchantSerializer)
    def post(self, request: Request, pk: int) -> Response:
        data = MerchantReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        merchant = services.merchant_reject(
            merchant=self.merchant(pk),
            staff=request_user(request),
            reason=data.validated_data["reason"],
        )
        return Response(MerchantSerializer(merchant).data)


class StaffMerchantSuspendView(_StaffMerchantAction):
    @extend_schema(request=MerchantReasonSerializer, responses=MerchantSerializer)
    def post(self, request: Request, pk: int) -> Response:
        data = MerchantReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        merchant = services.merchant_suspend(
            merchant=self.merchant(pk), reason="manual", note=data.validated_data["reason"]
        )
        return Response(MerchantSerializer(merchant).data)


class StaffMerchantUnsuspendView(_StaffMerchantAction):
    @extend_schema(request=None, responses=MerchantSerializer)
    def post(self, request: Request, pk: int) -> Response:
        merchant = services.merchant_unsuspend(
            merchant=self.merchant(pk), staff=request_user(request)
        )
        return Response(MerchantSerializer(merchant).data)
