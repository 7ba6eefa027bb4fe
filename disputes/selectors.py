"""Reads of the disputes app: the policy in force, what each caller may see, the lists and
details the API and pages show (constant query counts whatever the page size), and the due
querysets the clock sweeps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Min, Prefetch, Q, QuerySet
from django.utils import timezone

from disputes.models import (
    BlacklistEntry,
    ClockRun,
    Dispute,
    DisputeEvent,
    Evidence,
    Notification,
    NotificationChannel,
    Outcome,
    Policy,
    Status,
    Visibility,
)
from orders.models import CardKey
from orders.selectors import merchant_for_user

# --- Policy -------------------------------------------------------------------------------


def policy_for(kind: str, at: datetime | None = None) -> Policy:
    """The rules in force for a product kind at a moment: the kind's own latest version that
    has taken effect, else the platform-wide one, else the built-in defaults (unsaved)."""
    moment = at or timezone.now()
    in_force = Policy.objects.filter(effective_from__lte=moment).order_by("-effective_from", "-id")
    if kind:
        own = in_force.filter(product_kind=kind).first()
        if own is not None:
            return own
    general = in_force.filter(product_kind="").first()
    return general if general is not None else Policy(effective_from=moment)


def policies_pending(kind: str | None = None) -> QuerySet[Policy]:
    """Published versions not yet in force (what buyers and merchants are told is coming)."""
    qs = Policy.objects.filter(effective_from__gt=timezone.now()).order_by("effective_from")
    return qs if kind is None else qs.filter(product_kind=kind)


# --- Who sees what ------------------------------------------------------------------------


def can_see_all(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm("disputes.view_dispute"))


def disputes_visible_to(user: User | AnonymousUser) -> QuerySet[Dispute]:
    """A buyer sees their complaints, a merchant's team its shop's, staff holding
    disputes.view_dispute all of them; anyone else none (answered as 404)."""
    if not user.is_authenticated:
        return Dispute.objects.none()
    if can_see_all(user):
        return Dispute.objects.all()
    condition = Q(buyer_id=user.pk)
    merchant = merchant_for_user(user)
    if merchant is not None:
        condition |= Q(merchant_id=merchant.pk)
    return Dispute.objects.filter(condition)


def with_details(qs: QuerySet[Dispute], *, staff: bool) -> QuerySet[Dispute]:
    """Everything the list and the detail serialise, in a fixed number of queries. Parties
    never receive staff-only events (internal notes): they are filtered here, in SQL."""
    events = DisputeEvent.objects.select_related("actor").order_by("created_at", "id")
    if not staff:
        events = events.filter(visibility=Visibility.ALL)
    return qs.select_related("order", "order__product", "merchant", "buyer").prefetch_related(
        Prefetch("events", queryset=events),
        Prefetch("evidence", queryset=Evidence.objects.order_by("uploaded_at", "id")),
        Prefetch("card_keys", queryset=CardKey.objects.order_by("id")),
    )


def dispute_list(user: User | AnonymousUser, *, status: str | None = None) -> QuerySet[Dispute]:
    """The caller's complaints, newest first, optionally of one status."""
    qs = disputes_visible_to(user)
    if status:
        qs = qs.filter(status=status)
    return with_details(qs, staff=can_see_all(user)).order_by("-filed_at", "-id")


def visible_dispute(user: User | AnonymousUser, number: str) -> Dispute | None:
    return (
        with_details(disputes_visible_to(user), staff=can_see_all(user))
        .filter(number=number)
        .first()
    )


# --- Blacklist ----------------------------------------------------------------------------


def blacklist_entries(
    *, active_only: bool = False, at: datetime | None = None
) -> QuerySet[BlacklistEntry]:
    """Staff's blacklist, newest first; `active_only`: not lifted and not yet expired."""
    qs = BlacklistEntry.objects.select_related("user").order_by("-created_at", "-id")
    if active_only:
        qs = qs.filter(lifted_at__isnull=True, expires_at__gt=at or timezone.now())
    return qs


def active_blacklist_entry(user: User, at: datetime | None = None) -> BlacklistEntry | None:
    return (
        blacklist_entries(active_only=True, at=at).filter(user=user).order_by("-expires_at").first()
    )


def malicious_rulings_count(user: User, *, days: int, at: datetime | None = None) -> int:
    moment = at or timezone.now()
    return Dispute.objects.filter(
        buyer=user,
        outcome=Outcome.REJECTED_MALICIOUS,
        status=Status.RESOLVED,
        resolved_at__gt=moment - timedelta(days=days),
        resolved_at__lte=moment,
    ).count()


# --- What the clock sweeps ----------------------------------------------------------------
# Each is an indexed range query (the partial indexes on Dispute); the clock adds
# select_for_update(skip_locked=True), its ordering and its batch size.


def disputes_merchant_overdue(now: datetime) -> QuerySet[Dispute]:
    return Dispute.objects.filter(
        status=Status.AWAITING_MERCHANT, merchant_response_due__lte=now
    ).order_by("merchant_response_due")


def disputes_buyer_overdue(now: datetime) -> QuerySet[Dispute]:
    return Dispute.objects.filter(
        status=Status.AWAITING_BUYER, buyer_response_due__lte=now
    ).order_by("buyer_response_due")


def disputes_review_overdue(now: datetime) -> QuerySet[Dispute]:
    return Dispute.objects.filter(
        status=Status.UNDER_REVIEW, review_paused_at__isnull=True, review_due__lte=now
    ).order_by("review_due")


def disputes_info_overdue(now: datetime) -> QuerySet[Dispute]:
    return Dispute.objects.filter(
        status=Status.UNDER_REVIEW, review_paused_at__isnull=False, info_due__lte=now
    ).order_by("info_due")


# --- The clock's health -------------------------------------------------------------------


def deadlines_overdue(now: datetime) -> tuple[int, datetime | None]:
    """How many deadlines are past and not yet enforced, and the oldest of them — each clock
    a count and a min over its partial index, so the cost grows with what is overdue (should
    be 0), never with the history."""
    total = 0
    oldest: datetime | None = None
    for qs, due in (
        (disputes_merchant_overdue(now), "merchant_response_due"),
        (disputes_buyer_overdue(now), "buyer_response_due"),
        (disputes_review_overdue(now), "review_due"),
        (disputes_info_overdue(now), "info_due"),
    ):
        found = qs.order_by().aggregate(n=Count("pk"), oldest=Min(due))
        total += found["n"]
        if found["oldest"] is not None and (oldest is None or found["oldest"] < oldest):
            oldest = found["oldest"]
    return total, oldest


def deadline_health(now: datetime | None = None) -> dict[str, Any]:
    """The clock's health line (/healthz, the admin): when the last sweep ran and what it did,
    how many deadlines are overdue right now (should be 0) and the oldest of them. `ok` is
    False when the last sweep is older than 3 intervals or a deadline has been overdue for
    more than 2 — the sweep is not running, or not keeping up."""
    moment = now or timezone.now()
    interval = timedelta(seconds=settings.SWEEP_INTERVAL_SECONDS)
    run = ClockRun.objects.filter(pk=1).first()
    overdue, oldest = deadlines_overdue(moment)
    last = run.finished_at if run else None
    ok = (
        last is not None
        and moment - last <= 3 * interval
        and (oldest is None or moment - oldest <= 2 * interval)
    )
    return {
        "ok": ok,
        "last_sweep_at": timezone.localtime(last).isoformat() if last else None,
        "last_sweep": run.counts if run else None,
        "overdue": overdue,
        "oldest_overdue": timezone.localtime(oldest).isoformat() if oldest else None,
        "interval_seconds": settings.SWEEP_INTERVAL_SECONDS,
    }


# --- Notifications --------------------------------------------------------------------------


def inbox(user: User) -> QuerySet[Notification]:
    """The user's in-app notifications, newest first."""
    return (
        Notification.objects.filter(recipient=user, channel=NotificationChannel.INAPP)
        .select_related("dispute")
        .order_by("-created_at", "-id")
    )


def unread_count(user: User | AnonymousUser) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(
        recipient_id=user.pk, channel=NotificationChannel.INAPP, read_at__isnull=True
    ).count()
