"""Who may see and do what on a complaint — one home, asked by the API, the buyer's pages,
the merchant's dashboard and the staff desk (docs/rules.md "Complaint states and
transitions").

These are the screens' answers: what to offer and what to show. The services decide
(disputes.permissions and each service's own guards refuse whatever a screen offers wrongly),
but a screen never works the rule out again for itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from disputes import selectors
from disputes.models import OPEN_STATUSES, Dispute, Evidence, EvidenceKind, Outcome, Role, Status
from disputes.permissions import is_arbitrator
from kamen_complaints.api import request_user
from orders.selectors import merchant_for_user


@dataclass(frozen=True)
class Viewer:
    """The caller, worked out once per request (not once per complaint in a list)."""

    user: User
    staff: bool
    arbitrator: bool
    merchant_id: int | None

    @classmethod
    def of(cls, request: Any) -> Viewer:
        """The caller of an API request or a page."""
        return cls.of_user(request_user(request))

    @classmethod
    def of_user(cls, user: User) -> Viewer:
        merchant = merchant_for_user(user)
        return cls(
            user=user,
            staff=selectors.can_see_all(user),
            arbitrator=is_arbitrator(user),
            merchant_id=merchant.pk if merchant else None,
        )

    @classmethod
    def buyer(cls, user: User) -> Viewer:
        """The buyer on their own pages (nothing else to look up)."""
        return cls(user=user, staff=False, arbitrator=False, merchant_id=None)

    def role(self, dispute: Dispute) -> str:
        if dispute.buyer_id == self.user.pk:
            return Role.BUYER
        if self.merchant_id is not None and dispute.merchant_id == self.merchant_id:
            return Role.MERCHANT
        return Role.STAFF


# --- What each reader sees -------------------------------------------------------------------


def may_see_evidence(evidence: Evidence, role: str) -> bool:
    """The platform's own record holds the buyer's IP address and browser at each key reveal,
    which stay between the buyer and the platform: the merchant never gets it as a file (it
    reads the reveal times in `platform_records` instead, see `platform_records_for`)."""
    return not (role == Role.MERCHANT and evidence.kind == EvidenceKind.PLATFORM_RECORD)


def visible_evidence(dispute: Dispute, role: str) -> list[Evidence]:
    """The evidence files a reader in `role` may list, view and download."""
    return [e for e in dispute.evidence.all() if may_see_evidence(e, role)]


def platform_records_for(dispute: Dispute, role: str) -> dict[str, Any]:
    """The platform's records of the order as a reader in `role` may read them: the merchant
    gets each reveal's time and card keys, without the buyer's address and browser."""
    records = dict(dispute.platform_records or {})
    if role == Role.MERCHANT and "reveals" in records:
        records["reveals"] = [
            {"at": r.get("at"), "card_keys": r.get("card_keys", [])} for r in records["reveals"]
        ]
    return records


# --- What each party may do now --------------------------------------------------------------
# Between a deadline and the sweep that enforces it, the services refuse the answer: so do
# these.


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def is_open(dispute: Dispute) -> bool:
    return dispute.status in OPEN_STATUSES


def merchant_may_answer(dispute: Dispute, now: datetime | None = None) -> bool:
    """Accept, offer or contest: awaiting the merchant, before its deadline."""
    return dispute.status == Status.AWAITING_MERCHANT and (
        dispute.merchant_response_due is None or _now(now) <= dispute.merchant_response_due
    )


def merchant_may_offer(dispute: Dispute, now: datetime | None = None) -> bool:
    """An offer, besides: never on a fast-tracked complaint (the buyer was paid already)."""
    return merchant_may_answer(dispute, now) and not dispute.fast_track


def buyer_may_answer(dispute: Dispute, now: datetime | None = None) -> bool:
    """Accept or reject the merchant's offer: awaiting the buyer, before its deadline."""
    return dispute.status == Status.AWAITING_BUYER and (
        dispute.buyer_response_due is None or _now(now) <= dispute.buyer_response_due
    )


def appeal_can_change(dispute: Dispute, role: str) -> bool:
    """Whether an appeal by this party could bring it a better outcome: not for a buyer
    refunded the whole claim, nor for a shop the complaint was rejected against."""
    if role == Role.BUYER:
        return not (
            dispute.outcome == Outcome.REFUNDED
            and (
                dispute.resolved_amount is None or dispute.resolved_amount >= dispute.claimed_amount
            )
        )
    if role == Role.MERCHANT:
        return dispute.outcome not in (Outcome.REJECTED, Outcome.REJECTED_MALICIOUS)
    return False


def may_appeal(dispute: Dispute, role: str, now: datetime | None = None) -> bool:
    """A party, once, inside the appeal window, when the appeal can change its outcome."""
    return (
        dispute.status == Status.RESOLVED
        and dispute.appealed_at is None
        and dispute.appeal_due is not None
        and _now(now) <= dispute.appeal_due
        and appeal_can_change(dispute, role)
    )


def may_withdraw(dispute: Dispute) -> bool:
    """The buyer: any open complaint except one under appeal."""
    return is_open(dispute) and dispute.appealed_at is None


def staff_may_rule(dispute: Dispute) -> bool:
    return dispute.status == Status.UNDER_REVIEW


def staff_may_ask(dispute: Dispute) -> bool:
    """Ask a party for information: under review, the review clock not already paused."""
    return staff_may_rule(dispute) and dispute.review_paused_at is None


def staff_may_decide_recovery(dispute: Dispute) -> bool:
    return dispute.recovery_pending and dispute.status in (Status.RESOLVED, Status.WITHDRAWN)


def actions(dispute: Dispute, viewer: Viewer) -> list[str]:
    """What the caller may do now, by the API's action names: a hint for clients and the
    pages' buttons (the services decide)."""
    role = viewer.role(dispute)
    now = timezone.now()
    found: list[str] = []
    if role == Role.BUYER:
        if buyer_may_answer(dispute, now):
            found += ["accept-offer", "reject-offer"]
        if may_withdraw(dispute):
            found.append("withdraw")
        if is_open(dispute):
            found.append("evidence")
        if may_appeal(dispute, role, now):
            found.append("appeal")
        if dispute.status != Status.WITHDRAWN:
            found.append("messages")
        found.append("evidence-package")
    elif role == Role.MERCHANT:
        if merchant_may_answer(dispute, now):
            found.append("respond")
        if is_open(dispute):
            found.append("evidence")
        if may_appeal(dispute, role, now):
            found.append("appeal")
        if dispute.status != Status.WITHDRAWN:
            found.append("messages")
    else:
        found.append("evidence-package")
        if viewer.arbitrator:
            if staff_may_rule(dispute):
                found.append("rule")
                if staff_may_ask(dispute):
                    found.append("request-info")
            if staff_may_decide_recovery(dispute):
                found.append("recovery")
            if dispute.status != Status.WITHDRAWN:
                found.append("messages")
            found.append("notes")
    return found
