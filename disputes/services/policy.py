"""Publishing complaint policies (电子商务法 art. 34: rules change only after notice)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.models import Policy, PolicyChange
from disputes.selectors import policy_for
from disputes.services.conversation import clean_text
from disputes.services.formatting import local
from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError
from kamen_complaints.models import AuditAction

# 电子商务法 art. 34: a change of the platform's rules is published at least 7 days before it
# takes effect.
MIN_NOTICE = timedelta(days=7)


def check_notice(effective_from: datetime, *, published_at: datetime | None = None) -> None:
    moment = published_at or timezone.now()
    earliest = moment + MIN_NOTICE
    if effective_from < earliest:
        raise DomainError(
            _(
                "A policy takes effect at least %(days)s days after it is published "
                "(电子商务法 art. 34): the earliest is %(earliest)s."
            )
            % {"days": MIN_NOTICE.days, "earliest": local(earliest)},
            code="notice_too_short",
        )


def _apply_values(policy: Policy, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name not in Policy.VALUE_FIELDS:
            raise DomainError(_("Unknown policy value %(name)s.") % {"name": name}, code="invalid")
        setattr(policy, name, value)
    try:
        policy.full_clean(exclude=["published_by"])
    except ValidationError as exc:
        raise DomainError(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()),
            code="invalid",
        ) from exc


def _snapshot(policy: Policy) -> dict[str, Any]:
    return {
        "product_kind": policy.product_kind,
        "effective_from": policy.effective_from.isoformat() if policy.effective_from else None,
        **policy.values(),
    }


@transaction.atomic
def policy_publish(
    *,
    staff: User | None,
    effective_from: datetime,
    values: dict[str, Any],
    note: str,
    product_kind: str = "",
) -> Policy:
    """Publish a new version of the rules (for every kind, or one kind's override), taking
    effect at `effective_from` — at least 7 days from now — with the reason for the change
    (`note`, required). The history keeps the values it replaces (those in force for that
    kind at that moment) and the new ones."""
    note = clean_text(note, label=_("A reason for the change"))
    check_notice(effective_from)
    previous = policy_for(product_kind, at=effective_from)
    policy = Policy(
        product_kind=product_kind,
        effective_from=effective_from,
        published_at=timezone.now(),
        published_by=staff,
        note=note,
    )
    # Start from the values that would otherwise apply: a version names only what it changes.
    for name in Policy.VALUE_FIELDS:
        setattr(policy, name, getattr(previous, name))
    _apply_values(policy, values)
    policy.save()
    PolicyChange.objects.create(
        policy=policy,
        action="published",
        changed_by=staff,
        changed_at=timezone.now(),
        old=_snapshot(previous) if previous.pk else {},
        new=_snapshot(policy),
    )
    audit_record(
        actor=staff,
        action=AuditAction.POLICY_CHANGED,
        obj=policy,
        reason=policy.note,
        before=_snapshot(previous) if previous.pk else {},
        after={"action": "published", **_snapshot(policy)},
    )
    return policy


@transaction.atomic
def policy_revise(
    *,
    policy: Policy,
    staff: User | None,
    effective_from: datetime,
    values: dict[str, Any],
    note: str,
) -> Policy:
    """Change a version that has not taken effect yet, saying why (`note`, required). A
    revision is a new publication: its `effective_from` is again at least 7 days away. A
    version in force is never edited — publish a new one."""
    note = clean_text(note, label=_("A reason for the change"))
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if policy.effective_from <= timezone.now():
        raise DomainError(
            _(
                "This policy has been in force since %(since)s and cannot be changed; "
                "publish a new version instead."
            )
            % {"since": local(policy.effective_from)},
            code="not_allowed_in_state",
            status_code=409,
        )
    check_notice(effective_from)
    old = _snapshot(policy)
    policy.effective_from = effective_from
    policy.note = note
    _apply_values(policy, values)
    policy.published_at = timezone.now()
    policy.published_by = staff
    policy.save()
    PolicyChange.objects.create(
        policy=policy,
        action="revised",
        changed_by=staff,
        changed_at=timezone.now(),
        old=old,
        new=_snapshot(policy),
    )
    audit_record(
        actor=staff,
        action=AuditAction.POLICY_CHANGED,
        obj=policy,
        reason=policy.note,
        before=old,
        after={"action": "revised", **_snapshot(policy)},
    )
    return policy
