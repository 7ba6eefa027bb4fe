"""Staff screens for finance: accounts and transactions read-only (legs inline), holds and
payouts read-only, withdrawals approved or rejected and manual adjustments posted — all through
escrow/services/, each with a mandatory reason where money moves by hand. The `finance`
group (migration 0002) holds the permissions these screens ask for."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from escrow import approvals, services
from escrow.models import (
    Account,
    AccountKind,
    Hold,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutStatus,
    ReconciliationItem,
    ReconciliationResult,
    ReconciliationRun,
    Withdrawal,
    WithdrawalStatus,
)
from kamen_complaints.errors import DomainError
from kamen_complaints.money import format_yuan, from_fen
from orders.forms import ShopField


def _yuan(fen: int) -> str:
    return format_yuan(from_fen(fen))


def _staff(request: HttpRequest) -> User:
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ledger rows are written by services only and never deleted (电子商务法 art. 31)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Accounts and manual adjustments ------------------------------------------------------

TARGET_FUND = "compensation_fund"


class AdjustmentForm(forms.Form):
    target = forms.ChoiceField(
        label=gettext_lazy("account"),
        choices=[
            (AccountKind.DEPOSIT, gettext_lazy("merchant's deposit")),
            (AccountKind.RECEIVABLE, gettext_lazy("merchant's receivable (+ lowers the debt)")),
            (TARGET_FUND, gettext_lazy("platform compensation fund (from the bank)")),
        ],
    )
    merchant = ShopField(label=gettext_lazy("merchant"), required=False)
    amount = forms.DecimalField(
        label=gettext_lazy("amount (yuan, signed: + raises the account)"),
        max_digits=12,
        decimal_places=2,
    )
    counterpart = forms.ChoiceField(
        label=gettext_lazy("counterpart"),
        choices=[
            (AccountKind.COMPENSATION_FUND, gettext_lazy("platform compensation fund")),
            (AccountKind.BANK, gettext_lazy("bank (money outside the platform)")),
        ],
    )
    reason = forms.CharField(label=gettext_lazy("reason"), widget=forms.Textarea, max_length=2000)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("target") in (AccountKind.DEPOSIT, AccountKind.RECEIVABLE) and not data.get(
            "merchant"
        ):
            self.add_error("merchant", _("Choose the merchant."))
        if data.get("amount") == Decimal("0"):
            self.add_error("amount", _("The amount must not be zero."))
        return data


class MinimumDepositForm(forms.Form):
    merchant = ShopField(label=gettext_lazy("merchant"))
    amount = forms.DecimalField(
        label=gettext_lazy("new minimum deposit (yuan)"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0"),
    )
    reason = forms.CharField(label=gettext_lazy("reason"), widget=forms.Textarea, max_length=2000)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "merchant", "balance_yuan", "held_yuan", "available_yuan"]
    list_filter = ["kind"]
    search_fields = ["merchant__shop_name"]
    list_select_related = ["merchant"]
    readonly_fields = ("kind", "merchant", "balance_yuan", "held_yuan", "available_yuan")
    fields = readonly_fields
    change_list_template = "admin/escrow/account/change_list.html"

    @admin.display(description=gettext_lazy("balance"))
    def balance_yuan(self, account: Account) -> str:
        return _yuan(account.balance)

    @admin.display(description=gettext_lazy("held"))
    def held_yuan(self, account: Account) -> str:
        return _yuan(account.held)

    @admin.display(description=gettext_lazy("available"))
    def available_yuan(self, account: Account) -> str:
        return _yuan(account.available)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="escrow_account_adjust",
            ),
            path(
                "minimum/",
                self.admin_site.admin_view(self.minimum_view),
                name="escrow_account_minimum",
            ),
            *super().get_urls(),
        ]

    def adjust_view(self, request: HttpRequest) -> HttpResponse:
        """A manual posting by finance: through the services, with a mandatory reason."""
        if not request.user.has_perm("escrow.post_adjustment"):
            raise PermissionDenied
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            merchant = data.get("merchant")
            try:
                # Four eyes (docs/admin.md): recorded now, posted when a second member of
                # finance approves it, through adjustment_post / compensation_fund_topup.
                approval = approvals.posting_request(
                    staff=_staff(request),
                    target=data["target"],
                    amount=data["amount"],
                    reason=data["reason"],
                    merchant_id=merchant.pk if merchant else None,
                    merchant_name=merchant.shop_name if merchant else "",
                    counterpart=data["counterpart"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    _(
                        "Recorded: %(summary)s. It is posted when a second member of finance "
                        "approves it."
                    )
                    % {"summary": approval.summary},
                    level=messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:kamen_complaints_approval_changelist"))
        return self._form_page(request, form, _("Manual adjustment"))

    def minimum_view(self, request: HttpRequest) -> HttpResponse:
        """A shop's minimum deposit, changed by finance through the service, so the shop is
        suspended or reinstated by the new minimum at once; recorded in the admin log."""
        if not request.user.has_perm("escrow.post_adjustment"):
            raise PermissionDenied
        form = MinimumDepositForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            old = data["merchant"].minimum_deposit
            try:
                merchant = services.deposit_set_minimum(
                    merchant=data["merchant"],
                    amount=data["amount"],
                    reason=data["reason"],
                    staff=_staff(request),
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.log_change(
                    request,
                    merchant,
                    f"minimum deposit {old} -> {merchant.minimum_deposit}: "
                    f"{data['reason'].strip()}",
                )
                self.message_user(
                    request,
                    _("%(shop)s: minimum deposit %(amount)s; status %(status)s.")
                    % {
                        "shop": merchant.shop_name,
                        "amount": merchant.minimum_deposit,
                        "status": merchant.get_status_display(),
                    },
                    level=messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:escrow_account_changelist"))
        intro = _(
            "A shop whose deposit is under its new minimum is suspended at once (reason: "
            "deposit); one whose deposit now reaches it is reinstated, unless staff suspended it."
        )
        return self._form_page(request, form, _("Minimum deposit"), intro=intro)

    def _form_page(
        self, request: HttpRequest, form: forms.Form, title: str, intro: str = ""
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/escrow/account/adjust.html", context)


# --- Transactions -------------------------------------------------------------------------


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ("account", "amount_signed", "balance_after_yuan")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[LedgerEntry]:
        return super().get_queryset(request).select_related("account__merchant")

    @admin.display(description=gettext_lazy("amount"))
    def amount_signed(self, entry: LedgerEntry) -> str:
        return f"{'+' if entry.amount > 0 else ''}{_yuan(entry.amount)}"

    @admin.display(description=gettext_lazy("balance after"))
    def balance_after_yuan(self, entry: LedgerEntry) -> str:
        return _yuan(entry.balance_after)


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "key", "kind", "merchant", "dispute_id", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["key", "merchant__shop_name", "memo"]
    list_select_related = ["merchant", "created_by"]
    readonly_fields = ("key", "kind", "merchant", "dispute_id", "memo", "created_by", "created_at")
    fields = readonly_fields
    inlines = [LedgerEntryInline]
    date_hierarchy = "created_at"


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["id", "reference", "merchant", "amount_yuan", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["reference", "merchant__shop_name"]
    list_select_related = ["merchant"]

    @admin.display(description=gettext_lazy("amount"))
    def amount_yuan(self, hold: Hold) -> str:
        return _yuan(hold.amount)


# --- Payouts ------------------------------------------------------------------------------


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "source_key",
        "order",
        "amount_yuan",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    list_filter = ["status"]
    search_fields = ["source_key", "order__number", "provider_refund_id"]
    list_select_related = ["order"]
    actions = ["retry_now"]

    @admin.display(description=gettext_lazy("amount"))
    def amount_yuan(self, payout: Payout) -> str:
        return _yuan(payout.amount)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("escrow.retry_payout")

    @admin.action(description=gettext_lazy("Send the selected payouts now"), permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        sent = failed = 0
        for payout_id in queryset.exclude(status=PayoutStatus.SENT).values_list("pk", flat=True):
            payout = services.payout_send(payout_id=payout_id)
            if payout is not None and payout.status == PayoutStatus.SENT:
                sent += 1
            else:
                failed += 1
        self.message_user(
            request,
            _("%(sent)s sent, %(failed)s still failing.") % {"sent": sent, "failed": failed},
            level=messages.WARNING if failed else messages.SUCCESS,
        )


# --- Withdrawals --------------------------------------------------------------------------


_WITHDRAWAL_ID = re.compile(r"[0-9]{1,18}")


class ReasonActionForm(ActionForm):
    reason = forms.CharField(
        label=gettext_lazy("reason (required to reject)"), required=False, max_length=2000
    )


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ["id", "merchant", "amount_yuan", "status", "requested_at", "decided_by"]
    list_filter = ["status"]
    search_fields = ["merchant__shop_name"]
    list_select_related = ["merchant", "decided_by"]
    action_form = ReasonActionForm
    actions = ["approve", "reject"]

    @admin.display(description=gettext_lazy("amount"))
    def amount_yuan(self, withdrawal: Withdrawal) -> str:
        return _yuan(withdrawal.amount)

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("escrow.approve_withdrawal")

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Withdrawal]
    ) -> HttpResponse | None:
        # A selected id that is not a number made the action's query raise (a 500 before):
        # the list comes back with a translated error instead, nothing decided.
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if not all(_WITHDRAWAL_ID.fullmatch(value) for value in selected):
            self.message_user(
                request,
                _("Select withdrawals from the list: an id given was not a withdrawal number."),
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)

    def _decide(self, request: HttpRequest, queryset: QuerySet[Withdrawal], approve: bool) -> None:
        staff = _staff(request)
        reason = request.POST.get("reason", "")
        done = 0
        for withdrawal in queryset.filter(status=WithdrawalStatus.PENDING):
            try:
                if approve:
                    services.withdrawal_approve(withdrawal=withdrawal, staff=staff)
                else:
                    services.withdrawal_reject(withdrawal=withdrawal, staff=staff, reason=reason)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"#{withdrawal.pk}: {exc.message}", level=messages.ERROR)
        if done:
            self.message_user(
                request, _("%(count)s withdrawal(s) decided.") % {"count": done}, messages.SUCCESS
            )

    @admin.action(
        description=gettext_lazy("Approve the selected withdrawals"), permissions=["approve"]
    )
    def approve(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> None:
        self._decide(request, queryset, approve=True)

    @admin.action(
        description=gettext_lazy("Reject the selected withdrawals (give a reason)"),
        permissions=["approve"],
    )
    def reject(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> None:
        self._decide(request, queryset, approve=False)


# --- Reconciliation with the channels' bills (docs/reconciliation.md) ---------------------


class ReconciliationItemInline(admin.TabularInline):
    model = ReconciliationItem
    extra = 0
    can_delete = False
    fields = ("kind", "result", "out_trade_no", "ledger_row", "ledger_amount", "bill_amount")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReconciliationItem]:
        # The differences, not the matched rows (they are counted on the run).
        return super().get_queryset(request).exclude(result=ReconciliationResult.MATCHED)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ["day", "channel", "status", "matched", "differences", "error", "ran_at"]
    list_filter = ["status", "channel"]
    date_hierarchy = "day"
    inlines = [ReconciliationItemInline]
    actions = ["reconcile_again"]

    @admin.action(description=gettext_lazy("Reconcile the chosen days again"))
    def reconcile_again(self, request: HttpRequest, queryset: QuerySet[ReconciliationRun]) -> None:
        from escrow.services.reconciliation import reconcile

        for run in queryset:
            outcome = reconcile(day=run.day, channel=run.channel)
            messages.info(
                request,
                _("%(channel)s %(day)s: %(matched)s matched, %(differences)s differences.")
                % {
                    "channel": outcome.channel,
                    "day": outcome.day.isoformat(),
                    "matched": outcome.matched,
                    "differences": outcome.differences,
                },
            )


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(ReadOnlyAdmin):
    """The rows of every day's runs, the ledger's beside the bill's; finance filters the
    differences by result."""

    list_display = [
        "day",
        "channel",
        "kind",
        "result",
        "out_trade_no",
        "refund_number",
        "ledger_row",
        "ledger_amount",
        "bill_amount",
        "bill_text",
    ]
    list_filter = ["result", "kind", "run__channel"]
    search_fields = ["out_trade_no", "reference", "refund_number"]
    list_select_related = ["run"]
    ordering = ["-run__day", "run__channel", "kind", "out_trade_no"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReconciliationItem]:
        queryset = super().get_queryset(request)
        if "result__exact" not in request.GET:  # the differences first: the matched are noise
            queryset = queryset.exclude(result=ReconciliationResult.MATCHED)
        return queryset

    @admin.display(description=gettext_lazy("bill date"), ordering="run__day")
    def day(self, item: ReconciliationItem) -> str:
        return item.run.day.isoformat()

    @admin.display(description=gettext_lazy("payment channel"), ordering="run__channel")
    def channel(self, item: ReconciliationItem) -> str:
        return item.run.channel

    @admin.display(description=gettext_lazy("bill row"))
    def bill_text(self, item: ReconciliationItem) -> str:
        return ", ".join(f"{k}: {v}" for k, v in item.bill_row.items() if v)[:300]
