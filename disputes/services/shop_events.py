"""What the shop's own systems hear about its complaints and the shop itself: the webhook and
group-robot events (integrations.events, docs/integrations.md).

One place decides it: every notice about a complaint passes `disputes.services.outbox.outbox_rows`
(the single services, the clock's batches), which calls `complaint_event` with the notice's
kind, key and figures; the shop notices (suspended, reinstated) call `shop_event`. An event is
recorded in the transaction of the change, under the notice's key, so it happens exactly when
the notice does, once."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from disputes import notices
from disputes.models import Dispute, Notification, NotificationKind, Role
from integrations import events

K = NotificationKind

# The notice kinds that are news of a complaint to the shop's systems. Reminders are their own
# event (complaint.deadline_reminder, sent by the reminders); the buyer's refund reaching them
# (payout_sent) is the buyer's news.
_UPDATES = (
    K.FAST_TRACKED,
    K.ACCEPTED,
    K.OFFER_MADE,
    K.CONTESTED,
    K.OFFER_ACCEPTED,
    K.OFFER_REJECTED,
    K.OFFER_LAPSED,
    K.DEFAULT_JUDGMENT,
    K.REVIEW_EXPIRED,
    K.WITHDRAWN,
    K.MESSAGE,
    K.EVIDENCE_ADDED,
    K.APPEALED,
    K.RULED,
    K.INFO_REQUESTED,
    K.RECOVERY_DECIDED,
    K.AUTO_DECIDED,
)
_COMPLAINT_TYPE: dict[str, str] = {
    K.FILED: events.COMPLAINT_FILED,
    **dict.fromkeys(_UPDATES, events.COMPLAINT_UPDATED),
}

_SHOP_TYPE: dict[str, str] = {
    K.SHOP_SUSPENDED: events.SHOP_SUSPENDED,
    K.SHOP_REINSTATED: events.SHOP_REINSTATED,
}

# The figures every complaint event carries at the top of `data`; the notice's own figures
# (an offer's amount, a message's first line, …) go under "details".
_COMMON = ("number", "order", "status", "due")


def complaint_url(number: str) -> str:
    """The merchant's page of the complaint, absolute when SITE_URL is set."""
    try:
        return settings.SITE_URL + reverse("merchant:complaint", kwargs={"number": number})
    except NoReverseMatch:
        return ""


def _summary(kind: str, params: dict[str, Any]) -> str:
    """The notice's sentence as the shop reads it in the app, in Chinese (for the robots)."""
    with translation.override("zh-hans"):
        return notices.sentence(Notification(kind=kind, params=params, role=Role.MERCHANT))


def complaint_data(dispute: Dispute, *, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """`data` of a complaint event: the complaint, its order, status, claimed amount (yuan),
    the running deadline (ISO, or null), the merchant's link, what changed and its figures."""
    with translation.override("zh-hans"):
        status_label = str(dispute.get_status_display())
    return {
        "complaint": dispute.number,
        "order": params.get("order") or dispute.order.number,
        "status": str(dispute.status),
        "status_label": status_label,
        "amount": f"{dispute.claimed_amount:.2f}",
        "due": params.get("due"),
        "url": complaint_url(dispute.number),
        "change": str(kind),
        "details": {k: v for k, v in params.items() if k not in _COMMON},
        "summary": _summary(kind, params),
    }


def complaint_event(dispute: Dispute, *, key: str, kind: str, params: dict[str, Any]) -> int:
    """The shop's event for a notice about one of its complaints (none for a reminder or the
    buyer's refund). `key` is the notice's: the same notice is the same event. Rows written."""
    event_type = _COMPLAINT_TYPE.get(str(kind))
    if event_type is None:
        return 0
    return events.emit(
        merchant_id=dispute.merchant_id,
        type=event_type,
        data=complaint_data(dispute, kind=kind, params=params),
        key=key,
    )


def shop_event(merchant_id: int, *, key: str, kind: str, params: dict[str, Any]) -> int:
    """The shop's event for a notice about the shop itself (suspended, reinstated)."""
    event_type = _SHOP_TYPE.get(str(kind))
    if event_type is None:
        return 0
    return events.emit(
        merchant_id=merchant_id,
        type=event_type,
        data={**params, "summary": _summary(kind, params)},
        key=key,
    )
