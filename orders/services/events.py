"""The status history of shops and orders (orders.models.StatusEvent), written by the services
of this package in the caller's transaction."""

from __future__ import annotations

from django.contrib.auth.models import User

from orders.models import Merchant, MerchantStatus, Order, StatusEvent
from orders.signals import shop_status_changed


def status_changed(
    subject: Merchant | Order,
    before: str,
    *,
    reason: str = "",
    actor: User | None = None,
    before_reason: str = "",
) -> None:
    """Write the status event of a shop or an order (orders.models.StatusEvent) in the
    caller's transaction, if its status (or a shop's suspension reason) really changed. The
    reason is the staff member's words, else the suspension reason's code."""
    if isinstance(subject, Merchant):
        if (subject.status, subject.suspension_reason) == (before, before_reason):
            return
        suspended = subject.status == MerchantStatus.SUSPENDED
        why = reason or (subject.suspension_reason if suspended else "")
        StatusEvent.objects.create(
            merchant=subject,
            from_status=before,
            to_status=subject.status,
            reason=why[:500],
            actor=actor,
        )
        shop_status_changed.send(
            sender=Merchant, merchant=subject, before=before, before_reason=before_reason
        )
    elif subject.status != before:
        StatusEvent.objects.create(
            order=subject,
            from_status=before,
            to_status=subject.status,
            reason=reason[:500],
            actor=actor,
        )
