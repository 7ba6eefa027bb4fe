"""Manual ledger postings in the four-eyes approvals (kamen_complaints.approvals, docs/admin.md):
the request (an adjustment of a merchant's account, or a top-up of the compensation fund), what
a second member of finance's approval carries out, and who may not give it. Registered for the
`adjustment` and `fund_topup` kinds by EscrowConfig.ready()."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.utils.translation import gettext as _

from escrow import services
from kamen_complaints.approvals import approval_kind_register, approval_request
from kamen_complaints.errors import DomainError
from kamen_complaints.models import Approval, ApprovalKind
from orders import conflicts
from orders.models import Merchant

# Who may request and approve a posting.
PERMISSION = "escrow.post_adjustment"


def posting_request(
    *,
    staff: User,
    target: str,
    amount: Decimal,
    reason: str,
    merchant_id: int | None = None,
    merchant_name: str = "",
    counterpart: str = "",
) -> Approval:
    """A manual ledger posting (an adjustment of a merchant's account, or a top-up of the
    compensation fund), waiting for a second member of finance. Refused for finance staff who
    own or act for the merchant (orders.conflicts)."""
    if target != "compensation_fund":
        conflicts.refuse_party(
            staff=staff,
            action="posting_request",
            obj=None,
            merchant_id=merchant_id,
            object_type="orders.merchant",
            object_id=merchant_id,
        )
    if amount == 0:
        raise DomainError(_("The amount must not be zero."), code="amount_invalid")
    if target == "compensation_fund":
        kind = ApprovalKind.FUND_TOPUP
        summary = _("Compensation fund %(amount)s (from the bank)") % {"amount": f"{amount:+}"}
        return approval_request(
            kind=kind,
            staff=staff,
            reason=reason,
            summary=summary,
            params={"amount": str(amount)},
            object_type="escrow.account",
            object_id="compensation_fund",
        )
    summary = _("%(shop)s: %(account)s %(amount)s against %(counterpart)s") % {
        "shop": merchant_name,
        "account": target,
        "amount": f"{amount:+}",
        "counterpart": counterpart,
    }
    return approval_request(
        kind=ApprovalKind.ADJUSTMENT,
        staff=staff,
        reason=reason,
        summary=summary,
        params={
            "merchant": merchant_id,
            "account": target,
            "counterpart": counterpart,
            "amount": str(amount),
        },
        object_type="orders.merchant",
        object_id=merchant_id,
        object_repr=merchant_name,
    )


def adjustment_refuse_party(approval: Approval, staff: User) -> None:
    """No one on both sides (orders.conflicts): the approver of a posting must not own or act
    for the shop concerned."""
    conflicts.refuse_party(
        staff=staff,
        action="approval_decide",
        obj=approval,
        merchant_id=approval.params.get("merchant"),
    )


def adjustment_carry_out(approval: Approval, staff: User) -> str:
    params = approval.params
    merchant = Merchant.objects.get(pk=params["merchant"])
    tx = services.adjustment_post(
        merchant=merchant,
        amount=Decimal(params["amount"]),
        reason=approval.reason,
        staff=staff,
        account=params["account"],
        counterpart=params["counterpart"],
    )
    return tx.key


def fund_topup_carry_out(approval: Approval, staff: User) -> str:
    tx = services.compensation_fund_topup(
        amount=Decimal(approval.params["amount"]), reason=approval.reason, staff=staff
    )
    return tx.key


def register() -> None:
    approval_kind_register(
        ApprovalKind.ADJUSTMENT,
        permission=PERMISSION,
        carry_out=adjustment_carry_out,
        refuse_party=adjustment_refuse_party,
    )
    approval_kind_register(
        ApprovalKind.FUND_TOPUP, permission=PERMISSION, carry_out=fund_topup_carry_out
    )
