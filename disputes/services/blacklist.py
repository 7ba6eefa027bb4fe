"""恶意投诉黑名单: the blacklist of abusive complainants."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.models import (
    BlacklistEntry,
    BlacklistSource,
    Dispute,
    EventType,
    Role,
    Visibility,
)
from disputes.permissions import require_blacklist_manager
from disputes.selectors import active_blacklist_entry, malicious_rulings_count, policy_for
from disputes.services.formatting import local
from disputes.services.state_machine import record
from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError
from kamen_complaints.models import AuditAction


def complaint_ban(
    user: User | AnonymousUser | None, at: datetime | None = None
) -> BlacklistEntry | None:
    """The blacklist entry that bars this account from filing complaints at `at` (default now),
    or None: the rule filing enforces (disputes.services.filing) and the product and payment
    pages warn by, so a blacklisted buyer learns it before paying."""
    if user is None or not user.is_authenticated:
        return None
    return active_blacklist_entry(cast(User, user), at=at)


def complaint_ban_until(user: User) -> datetime | None:
    """When `complaint_ban` ends, or None: registered with the orders app at start-up, so the
    order API tells the buyer before paying."""
    entry = complaint_ban(user)
    return None if entry is None else entry.expires_at


def _lock_user(user: User) -> User:
    # Serialises blacklist writes for one account (no two active entries from a race).
    return User.objects.select_for_update().get(pk=user.pk)


@transaction.atomic
def blacklist_add(
    *, user: User, staff: User, reason: str, expires_at: datetime | None = None
) -> BlacklistEntry:
    """Staff blacklist an account by hand, with a reason, until `expires_at` (default: the
    policy's blacklist duration from now)."""
    require_blacklist_manager(staff)
    user = _lock_user(user)
    now = timezone.now()
    if not reason.strip():
        raise DomainError(_("A reason is required."), code="reason_required")
    if expires_at is None:
        expires_at = now + timedelta(days=policy_for("").blacklist_duration_days)
    if expires_at <= now:
        raise DomainError(_("The end of a blacklist entry must be in the future."), code="invalid")
    current = active_blacklist_entry(user, at=now)
    if current is not None:
        raise DomainError(
            _("This account is already blacklisted until %(until)s.")
            % {"until": local(current.expires_at)},
            code="already_blacklisted",
            status_code=409,
        )
    entry = BlacklistEntry.objects.create(
        user=user,
        reason=reason.strip(),
        source=BlacklistSource.MANUAL,
        created_by=staff,
        created_at=now,
        expires_at=expires_at,
    )
    audit_record(
        actor=staff,
        action=AuditAction.BLACKLIST_ADDED,
        obj=entry,
        reason=entry.reason,
        after={"user": user.pk, "source": entry.source, "expires_at": expires_at},
    )
    return entry


@transaction.atomic
def blacklist_lift(*, entry: BlacklistEntry, staff: User, reason: str = "") -> BlacklistEntry:
    """Staff lift an entry early. The row stays (records are kept); it just stops applying."""
    require_blacklist_manager(staff)
    entry = BlacklistEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.lifted_at is not None:
        raise DomainError(
            _("This entry was already lifted on %(at)s.") % {"at": local(entry.lifted_at)},
            code="not_allowed_in_state",
            status_code=409,
        )
    entry.lifted_at = timezone.now()
    entry.lifted_by = staff
    entry.lift_reason = reason.strip()
    entry.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    audit_record(
        actor=staff,
        action=AuditAction.BLACKLIST_LIFTED,
        obj=entry,
        reason=entry.lift_reason,
        before={"lifted_at": None},
        after={"lifted_at": entry.lifted_at},
    )
    return entry


def blacklist_if_threshold_reached(
    *, dispute: Dispute, actor: User | None
) -> BlacklistEntry | None:
    """A complaint was ruled malicious: the ruling that reaches the threshold (default the 3rd
    within 180 days) blacklists the filer for the policy's duration. Called inside the
    ruling's transaction."""
    buyer = _lock_user(dispute.buyer)
    now = timezone.now()
    policy = policy_for(dispute.order.product.kind, at=now)
    count = malicious_rulings_count(buyer, days=policy.blacklist_window_days, at=now)
    if count < policy.blacklist_threshold:
        return None
    if active_blacklist_entry(buyer, at=now) is not None:
        return None
    entry = BlacklistEntry.objects.create(
        user=buyer,
        reason=_(
            "%(count)s complaints ruled malicious within %(days)s days (the limit is %(limit)s)."
        )
        % {
            "count": count,
            "days": policy.blacklist_window_days,
            "limit": policy.blacklist_threshold,
        },
        source=BlacklistSource.AUTOMATIC,
        dispute=dispute,
        created_at=now,
        expires_at=now + timedelta(days=policy.blacklist_duration_days),
    )
    record(
        dispute,
        type=EventType.BLACKLISTED,
        actor=actor,
        role=Role.SYSTEM,
        data={"entry": entry.pk, "until": entry.expires_at.isoformat(), "count": count},
        visibility=Visibility.STAFF,
    )
    return entry
