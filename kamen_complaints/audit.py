"""Writing the audit log (kamen_complaints.models.AuditEntry): one call, inside the service's
own transaction, so the record and the change it describes commit or roll back together."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model

from kamen_complaints.models import AuditAction, AuditEntry


def audit_record(
    *,
    actor: User | AnonymousUser | None,
    action: AuditAction | str,
    obj: Model | None = None,
    object_type: str = "",
    object_id: Any = "",
    reason: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry: who (a staff user, or None for the system), what, which record,
    why, and the values before and after."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    return AuditEntry.objects.create(
        actor=actor if isinstance(actor, User) else None,
        action=str(action),
        object_type=object_type,
        object_id=str(object_id),
        object_repr=str(obj)[:200] if obj is not None else "",
        reason=(reason or "").strip(),
        before=before or {},
        after=after or {},
    )
