"""REST API of the deposit (README "Deposits"): summary, entries, top-ups, withdrawals.

Any member of the shop sees the deposit; only the owner tops up and withdraws (a team agent
gets 403); someone without a shop gets 404.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escrow import selectors, services
from escrow.models import LedgerEntry, Withdrawal
from kamen_complaints.api import MoneyField, TextField, request_user
from kamen_complaints.errors import Forbidden
from kamen_complaints.money import from_fen
from orders import payments
from orders.api import own_merchant
from orders.models import Merchant
from orders.selectors import is_merchant_owner

# --- Serializers --------------------------------------------------------------------------


@extend_schema_field({"type": "string", "format": "decimal", "example": "12.50"})
class FenField(serializers.Field):
    """Integer fen in the ledger → yuan with 2 decimals as a string, like every amount."""

    def to_representation(self, value: int) -> str:
        return str(from_fen(value))


# A balance is the sum of many movements, each at most MAX_YUAN: more digits than one amount.
_BALANCE_DIGITS = 20


class DepositSummarySerializer(serializers.Serializer):
    balance = MoneyField(read_only=True, max_digits=_BALANCE_DIGITS)
    held = MoneyField(read_only=True, max_digits=_BALANCE_DIGITS)
    available = MoneyField(read_only=True, max_digits=_BALANCE_DIGITS)
    receivable = MoneyField(
        read_only=True, max_digits=_BALANCE_DIGITS, help_text="What the merchant owes (≥ 0)."
    )
    minimum = MoneyField(read_only=True)
    status = TextField(read_only=True, help_text="The merchant's status.")
    suspension_reason = TextField(read_only=True)


class HoldSerializer(serializers.Serializer):
    complaint = TextField(source="number", read_only=True, help_text="The complaint's number.")
    amount = MoneyField(read_only=True)
    since = serializers.DateTimeField(read_only=True)


class WithdrawableSerializer(serializers.Serializer):
    """What the owner may withdraw now: balance − held − pending − minimum − owed (≥ 0)."""

    amount = MoneyField(read_only=True, max_digits=_BALANCE_DIGITS)
    balance = MoneyField(read_only=True, max_digits=_BALANCE_DIGITS)
    held = MoneyField(read_only=True, max_digits=_BALANCE_DIGITS)
    pending = MoneyField(
        read_only=True, max_digits=_BALANCE_DIGITS, help_text="Pending withdrawals."
    )
    minimum = MoneyField(read_only=True)
    owed = MoneyField(read_only=True, max_digits=_BALANCE_DIGITS)
    holds = HoldSerializer(many=True, read_only=True, help_text="Which complaint holds how much.")


class DepositSerializer(DepositSummarySerializer):
    withdrawable = WithdrawableSerializer(read_only=True)


class EntrySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(source="transaction.created_at", read_only=True)
    kind = TextField(source="transaction.kind", read_only=True)
    account = TextField(
        source="account.kind",
        read_only=True,
        help_text="`deposit`, or `receivable` (its balance is minus what the merchant owes).",
    )
    amount = FenField(read_only=True, help_text="Signed: + raises the deposit.")
    balance_after = FenField(read_only=True)
    reference = TextField(source="transaction.key", read_only=True)
    dispute = serializers.IntegerField(source="transaction.dispute_id", read_only=True)


class TopupSerializer(serializers.Serializer):
    amount = MoneyField()
    channel = serializers.ChoiceField(
        choices=["sandbox", "alipay", "wechatpay"],
        default="sandbox",
        help_text="`sandbox` credits at once (development and demos); `alipay` and `wechatpay` "
        "(when configured) answer 202 with where to pay, and credit the deposit when the "
        "channel confirms the payment.",
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
    pay_url = TextField(help_text="Send the payer here (Alipay, WeChat Pay H5); may be empty.")
    code_url = TextField(help_text="WeChat Pay Native: the code to show; may be empty.")


class TopupResultSerializer(serializers.Serializer):
    reference = TextField()
    amount = MoneyField()
    deposit = DepositSummarySerializer()


class WithdrawalRequestSerializer(serializers.Serializer):
    amount = MoneyField()


class WithdrawalSerializer(serializers.ModelSerializer):
    amount = FenField(read_only=True)

    class Meta:
        model = Withdrawal
        fields = ["id", "amount", "status", "requested_at", "decided_at", "reason"]


# --- Views --------------------------------------------------------------------------------


def _owned_merchant(request: Request, message: str) -> Merchant:
    merchant = own_merchant(request)
    if not is_merchant_owner(request_user(request), merchant):
        raise Forbidden(message)
    return merchant


class DepositView(APIView):
    @extend_schema(responses=DepositSerializer)
    def get(self, request: Request) -> Response:
        merchant = own_merchant(request)
        summary = selectors.deposit_summary(merchant)
        body = {**vars(summary), "withdrawable": selectors.deposit_withdrawable(merchant)}
        return Response(DepositSerializer(body).data)


class DepositEntryListView(generics.ListAPIView):
    serializer_class = EntrySerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return LedgerEntry.objects.none()
        return selectors.merchant_entries(own_merchant(self.request))


class DepositTopupView(APIView):
    @extend_schema(
        request=TopupSerializer,
        responses={201: TopupResultSerializer, 202: ChannelPaymentSerializer},
    )
    def post(self, request: Request) -> Response:
        merchant = _owned_merchant(request, _("Only the shop's owner tops up the deposit."))
        data = TopupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channel = data.validated_data["channel"]
        if payments.is_redirect_channel(channel):
            intent = services.deposit_topup_start(
                merchant=merchant,
                amount=data.validated_data["amount"],
                user=request_user(request),
                channel=channel,
                scene=data.validated_data.get("scene", ""),
                client_ip=request.META.get("REMOTE_ADDR", ""),
            )
            return Response(ChannelPaymentSerializer(intent).data, status=202)
        tx = services.deposit_topup(
            merchant=merchant,
            amount=data.validated_data["amount"],
            user=request_user(request),
            channel=data.validated_data["channel"],
        )
        merchant.refresh_from_db()
        body = {
            "reference": tx.key,
            "amount": data.validated_data["amount"],
            "deposit": selectors.deposit_summary(merchant),
        }
        return Response(TopupResultSerializer(body).data, status=201)


class DepositWithdrawalListView(generics.ListAPIView):
    serializer_class = WithdrawalSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Withdrawal.objects.none()
        return selectors.merchant_withdrawals(own_merchant(self.request))

    @extend_schema(request=WithdrawalRequestSerializer, responses={201: WithdrawalSerializer})
    def post(self, request: Request) -> Response:
        merchant = _owned_merchant(request, _("Only the shop's owner withdraws from the deposit."))
        data = WithdrawalRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal = services.withdrawal_request(
            merchant=merchant, amount=data.validated_data["amount"], user=request_user(request)
        )
        return Response(WithdrawalSerializer(withdrawal).data, status=201)
