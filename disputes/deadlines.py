"""Which deadline runs now — the one rule, in Python for a complaint in hand and in SQL for a
list that sorts and pages by it (docs/rules.md "Deadlines").

The merchant's answer while `awaiting_merchant`, the buyer's answer to an offer while
`awaiting_buyer`, under review the information asked for while the review is paused, else the
review's; none once a complaint is resolved or withdrawn. The SQL form is also the expression
of the inbox's index (`dispute_inbox_deadline_idx`, migration 0009): keep the two the same, or
PostgreSQL will not use the index for the inbox's ORDER BY
(tests/disputes/test_deadlines_module.py compares them)."""

from __future__ import annotations

from datetime import datetime

from django.db import models

from disputes.models import Dispute, Status

# (status, whether the review is paused — None: either —, the column holding the deadline),
# first match wins.
RUNNING: tuple[tuple[str, bool | None, str], ...] = (
    (Status.AWAITING_MERCHANT.value, None, "merchant_response_due"),
    (Status.AWAITING_BUYER.value, None, "buyer_response_due"),
    (Status.UNDER_REVIEW.value, True, "info_due"),
    (Status.UNDER_REVIEW.value, None, "review_due"),
)


def running_field(dispute: Dispute) -> str | None:
    """The name of the column holding the deadline that runs now, None when none does."""
    paused = dispute.review_paused_at is not None
    for status, when_paused, field in RUNNING:
        if dispute.status == status and when_paused in (None, paused):
            return field
    return None


def running_deadline(dispute: Dispute) -> datetime | None:
    """The deadline that runs now, None for a closed complaint."""
    field = running_field(dispute)
    return getattr(dispute, field) if field else None


def running_deadline_sql() -> models.Case:
    """The same rule as one CASE expression (annotated as `deadline` by
    disputes.selectors.with_deadline)."""
    whens = [
        models.When(status=status, review_paused_at__isnull=False, then=models.F(field))
        if paused
        else models.When(status=status, then=models.F(field))
        for status, paused, field in RUNNING
    ]
    return models.Case(*whens, default=models.Value(None), output_field=models.DateTimeField())


def merchant_response_due_with(dispute: Dispute, *channel_dues: datetime | None) -> datetime | None:
    """The merchant's answer deadline once a complaint filed on a payment channel joined the
    case: the earliest of the platform's own (`merchant_response_due`, 24 h by the policy) and
    each channel's first-reply deadline (WeChat Pay: 24 h from the buyer's complaint there)
    runs, so neither clock is missed. The case stores the result in `merchant_response_due`,
    so the sweep's set-based overdue query and the inbox's index stay as they are."""
    dues = [d for d in (dispute.merchant_response_due, *channel_dues) if d is not None]
    return min(dues) if dues else None
