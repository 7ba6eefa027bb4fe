"""The deposit page of the merchant dashboard, /merchant/deposit/ (README "Merchant
dashboard"): balance, held, available, receivable, minimum and the shop's status — with a
banner saying why a suspended shop is suspended and what lifts it —, what may be withdrawn
and why (selectors.deposit_withdrawable), which complaint holds how much, the ledger entries with
the balance after each (linked to their complaint), the withdrawals, and the two owner-only
forms: a top-up through a payment channel (the sandbox at once; Alipay or WeChat Pay when the
channel confirms it) and a withdrawal request.

Team members see the page; instead of the forms they read that only the owner tops up and
withdraws. A POST from a team member still reaches the service, which refuses it (Forbidden):
the answer is the 403 page. Each form calls one escrow.services function, the same as the API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from escrow import selectors, services
from escrow.models import AccountKind
from kamen_complaints.errors import DomainError, Forbidden
from kamen_complaints.forms import own_ids
from kamen_complaints.money import from_fen
from merchant.access import (
    MerchantRequest,
    current_merchant,
    merchant_required,
    owner_forbidden,
)
from merchant.forms import TopupForm, WithdrawalForm
from merchant.selectors import complaint_numbers
from orders import payments
from orders.models import Merchant, MerchantStatus, PaymentIntent, SuspensionReason
from orders.services import payments as payment_services

ENTRIES_PAGE_SIZE = 25
WITHDRAWALS_SHOWN = 10


def cure_amount(merchant: Merchant, summary: selectors.DepositSummary) -> Decimal:
    """What a top-up must bring to lift a `deposit` suspension (escrow's rule)."""
    return selectors.deposit_cure_amount(summary)


def _is_phone(request: HttpRequest) -> bool:
    agent = request.META.get("HTTP_USER_AGENT", "")
    return any(word in agent for word in ("Mobile", "Android", "iPhone"))


def _is_owner(request: HttpRequest) -> bool:
    return cast(MerchantRequest, request).merchant_is_owner


def _page(
    request: HttpRequest,
    *,
    topup_form: TopupForm | None = None,
    withdrawal_form: WithdrawalForm | None = None,
    topup_intent: PaymentIntent | None = None,
    status: int = 200,
) -> HttpResponse:
    merchant = current_merchant(request)
    summary = selectors.deposit_summary(merchant)
    suspended_for_deposit = (
        merchant.status == MerchantStatus.SUSPENDED
        and merchant.suspension_reason == SuspensionReason.DEPOSIT
    )
    cure = cure_amount(merchant, summary)
    if topup_form is None:
        initial: dict[str, Any] = {}
        if cure > 0:
            initial["amount"] = f"{cure:.2f}"
        topup_form = TopupForm(initial=initial)
    channels = payments.available_channels()
    page = Paginator(selectors.merchant_entries(merchant), ENTRIES_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    entries = list(page.object_list)
    numbers = complaint_numbers(
        {e.transaction.dispute_id for e in entries if e.transaction.dispute_id}, merchant
    )
    rows = [
        {
            "entry": entry,
            "amount": from_fen(entry.amount),
            "credit": entry.amount > 0,
            "owed_after": from_fen(-entry.balance_after),
            "balance_after": from_fen(entry.balance_after),
            "receivable": entry.account.kind == AccountKind.RECEIVABLE,
            "complaint": numbers.get(entry.transaction.dispute_id or 0),
        }
        for entry in entries
    ]
    context = {
        "summary": summary,
        "withdrawable": selectors.deposit_withdrawable(merchant),
        "merchant": merchant,
        "suspended_for_deposit": suspended_for_deposit,
        "cure": cure,
        "short_by": max(summary.minimum - summary.balance, Decimal("0")),
        "is_owner": _is_owner(request),
        "topup_form": topup_form,
        "withdrawal_form": withdrawal_form or WithdrawalForm(),
        "topup_channels": [(c, payment_services.channel_label(c)) for c in channels],
        "sandbox_only": channels == [payments.SandboxProvider.channel],
        "topup_intent": topup_intent,
        "page": page,
        "rows": rows,
        "withdrawals": [
            {"withdrawal": w, "amount": from_fen(w.amount)}
            for w in selectors.merchant_withdrawals(merchant)[:WITHDRAWALS_SHOWN]
        ],
    }
    return render(request, "merchant/deposit.html", own_ids(context), status=status)


@merchant_required
@require_http_methods(["GET", "POST"])
def deposit(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    merchant = current_merchant(request)
    user = cast(User, request.user)
    action = request.POST.get("action")
    if action == "topup":
        topup_form = TopupForm(request.POST)
        if not topup_form.is_valid():
            if not _is_owner(request):  # the service would refuse whatever the amount
                return owner_forbidden(request)
            return _page(request, topup_form=topup_form, status=400)
        amount = topup_form.cleaned_data["amount"]
        available = payments.available_channels()
        channel = request.POST.get("channel") or (available[0] if available else "")
        try:
            if payments.is_redirect_channel(channel):
                # A real channel: the owner pays there; the deposit is credited when the
                # channel confirms it (its notice, or the sweep asking it).
                intent = services.deposit_topup_start(
                    merchant=merchant,
                    amount=amount,
                    user=user,
                    channel=channel,
                    scene=payment_services.scene_for(channel, mobile=_is_phone(request)),
                    return_url=request.build_absolute_uri(reverse("merchant:deposit")),
                    client_ip=request.META.get("REMOTE_ADDR", ""),
                )
                if intent.pay_url:
                    return redirect(intent.pay_url)
                return _page(request, topup_intent=intent)
            tx = services.deposit_topup(
                merchant=merchant, amount=amount, user=user, channel=channel
            )
        except Forbidden:
            return owner_forbidden(request)
        except DomainError as exc:
            topup_form.add_error("amount", exc.message)
            return _page(request, topup_form=topup_form, status=exc.status_code)
        messages.success(
            request,
            _("%(amount)s paid into the deposit (payment %(reference)s).")
            % {"amount": f"¥{amount:,.2f}", "reference": tx.key.removeprefix("topup:")},
        )
        return redirect("merchant:deposit")
    if action == "withdraw":
        withdrawal_form = WithdrawalForm(request.POST)
        if not withdrawal_form.is_valid():
            if not _is_owner(request):
                return owner_forbidden(request)
            return _page(request, withdrawal_form=withdrawal_form, status=400)
        amount = withdrawal_form.cleaned_data["amount"]
        try:
            services.withdrawal_request(merchant=merchant, amount=amount, user=user)
        except Forbidden:
            return owner_forbidden(request)
        except DomainError as exc:
            # Every refusal of a withdrawal is about its amount: shown next to it.
            withdrawal_form.add_error("amount", exc.message)
            return _page(request, withdrawal_form=withdrawal_form, status=exc.status_code)
        messages.success(
            request,
            _("Withdrawal of %(amount)s requested; finance staff pay it out after checking.")
            % {"amount": f"¥{amount:,.2f}"},
        )
        return redirect("merchant:deposit")
    return _page(request, status=400)
