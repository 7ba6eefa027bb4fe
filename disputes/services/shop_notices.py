"""What the shop's owner is told about the shop itself (issue 19): suspended — with the reason
and, for the deposit, the exact amount to pay —, reinstated, owing money after a recovery,
its real-name verification running out, a withdrawal approved or rejected, a webhook or group
robot turned off after failing for a day (integrations.signals). Each is a
notification (in the app and by e-mail, disputes.services.outbox.notify_shop) whose text
(disputes/notices.py) carries the amount and links to the page to act on it.

The events happen below this app (orders, escrow); they reach it by signals connected in
disputes/apps.py (docs/architecture.md "The dependency direction"), and the receivers write in
the transaction of the change. Verification running out is the clock's: the sweep asks
`shops_warn_verification_expiring` once a sweep."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from disputes.models import Notification, NotificationKind
from disputes.services.formatting import jsonable
from disputes.services.outbox import notify_shop
from disputes.services.shop_events import shop_event
from escrow.models import Withdrawal, WithdrawalStatus
from escrow.selectors import deposit_cure_amount, deposit_summary
from integrations.models import Endpoint
from kamen_complaints.money import from_fen
from orders.models import Merchant, MerchantStatus, SuspensionReason

K = NotificationKind

# How long before its real-name verification runs out a shop is told (docs/rules.md).
VERIFICATION_WARNING = timedelta(days=14)


def notify_shop_status(
    sender: object, *, merchant: Merchant, before: str, before_reason: str = "", **kwargs: Any
) -> int:
    """orders.signals.shop_status_changed: suspended (why, and for the deposit what to pay)
    or back to selling."""
    now = timezone.now()
    stamp = int(now.timestamp() * 1000)
    if merchant.status == MerchantStatus.SUSPENDED:
        figures: dict[str, Any] = {"reason": str(merchant.suspension_reason)}
        if merchant.suspension_reason == SuspensionReason.DEPOSIT:
            summary = deposit_summary(merchant)
            figures.update(
                amount=deposit_cure_amount(summary),
                owed=summary.receivable,
                balance=summary.balance,
                minimum=summary.minimum,
            )
        elif merchant.status_note:
            figures["note"] = merchant.status_note[:200]
        return _tell_with_event(
            merchant,
            key=f"shop:{merchant.pk}:suspended:{merchant.suspension_reason}:{stamp}",
            kind=K.SHOP_SUSPENDED,
            **figures,
        )
    if before == MerchantStatus.SUSPENDED and merchant.status == MerchantStatus.ACTIVE:
        return _tell_with_event(
            merchant,
            key=f"shop:{merchant.pk}:reinstated:{stamp}",
            kind=K.SHOP_REINSTATED,
            reason=str(before_reason),
        )
    return 0


def _tell_with_event(merchant: Merchant, *, key: str, kind: str, **figures: Any) -> int:
    """The owner's notice, and the same news as the shop's webhook and robot event
    (shop.suspended / shop.reinstated, disputes.services.shop_events) under the same key."""
    told = notify_shop(merchant, key=key, kind=kind, **figures)
    shop_event(
        merchant.pk, key=key, kind=kind, params=jsonable({"shop": merchant.shop_name, **figures})
    )
    return told


def notify_webhook_disabled(
    sender: object, *, endpoint: Endpoint, failing_since: datetime, last_error: str, **kw: Any
) -> int:
    """integrations.signals.endpoint_disabled: a webhook or robot failed for 24 h and was
    turned off; the owner is told which one, since when and the last error, once per streak."""
    return notify_shop(
        endpoint.merchant,
        key=f"shop:{endpoint.merchant_id}:endpoint:{endpoint.pk}:disabled:"
        f"{int(failing_since.timestamp())}",
        kind=K.WEBHOOK_DISABLED,
        url=endpoint.url_hint,
        endpoint_kind=str(endpoint.kind),
        since=failing_since,
        error=last_error[:200],
    )


def notify_debt(
    sender: object,
    *,
    merchant: Merchant,
    dispute_id: int | None,
    shortfall: int,
    owed: int,
    reference: str = "",
    **kw: Any,
) -> int:
    """escrow.signals.debt_recorded: a recovery the deposit could not cover (a complaint's,
    or a collective case's refunds, `reference` `collective:<case>`, told once per case)."""
    from disputes.models import Dispute

    if dispute_id is None:
        from disputes.models import CollectiveCase

        case_id = reference.rsplit(":", 1)[-1]
        collective = reference.startswith("collective:") and case_id.isdigit()
        case = CollectiveCase.objects.filter(pk=int(case_id)).first() if collective else None
        return notify_shop(
            merchant,
            key=f"shop:{merchant.pk}:debt:{reference}",
            kind=K.DEBT_RECORDED,
            amount=from_fen(shortfall),
            owed=from_fen(owed),
            case=case.number if case is not None else "",
        )
    number = Dispute.objects.filter(pk=dispute_id).values_list("number", flat=True).first()
    return notify_shop(
        merchant,
        key=f"shop:{merchant.pk}:debt:dispute:{dispute_id}",
        kind=K.DEBT_RECORDED,
        amount=from_fen(shortfall),
        owed=from_fen(owed),
        complaint=number or "",
    )


def notify_withdrawal(sender: object, *, withdrawal: Withdrawal, **kwargs: Any) -> int:
    """escrow.signals.withdrawal_decided: finance approved or rejected a withdrawal."""
    approved = withdrawal.status == WithdrawalStatus.APPROVED
    return notify_shop(
        withdrawal.merchant,
        key=f"shop:{withdrawal.merchant_id}:withdrawal:{withdrawal.pk}:{withdrawal.status}",
        kind=K.WITHDRAWAL_APPROVED if approved else K.WITHDRAWAL_REJECTED,
        amount=from_fen(withdrawal.amount),
        reason="" if approved else withdrawal.reason[:200],
    )


def shops_warn_verification_expiring(*, now: datetime | None = None) -> int:
    """The sweep's step: tell each selling shop whose verification runs out within
    VERIFICATION_WARNING, once per verification (the dedupe key names its due time). Two
    queries when nobody is due a warning."""
    moment = now or timezone.now()
    due = list(
        Merchant.objects.filter(
            status=MerchantStatus.ACTIVE,
            reverification_due__gt=moment,
            reverification_due__lte=moment + VERIFICATION_WARNING,
        ).select_related("owner")
    )
    if not due:
        return 0
    inapp = {m.pk: f"{_expiring_key(m)}:user:{m.owner_id}:inapp" for m in due}
    told = set(
        Notification.objects.filter(dedupe_key__in=list(inapp.values())).values_list(
            "dedupe_key", flat=True
        )
    )
    return sum(
        notify_shop(
            merchant,
            key=_expiring_key(merchant),
            kind=K.VERIFICATION_EXPIRING,
            due=merchant.reverification_due,
        )
        for merchant in due
        if inapp[merchant.pk] not in told
    )


def _expiring_key(merchant: Merchant) -> str:
    due = merchant.reverification_due
    stamp = int(due.timestamp()) if due else 0
    return f"shop:{merchant.pk}:verification_expiring:{stamp}"
