"""Writing the audit log (kamen_complaints.models.AuditEntry): one call, inside the service's
own transaction, so the record and the change it describes commit or roll back together."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model
from django.utils.translation import gettext_lazy

from kamen_complaints.models import AuditAction, AuditEntry

# Actions written as plain strings rather than AuditAction members (adding a choice needs a
# migration): their words for the audit log's list and filter. A code in neither is shown
# as itself, never as "-".
OTHER_ACTIONS = {
    "conflict_refused": gettext_lazy("refused: staff on both sides of the case"),
    "team_member_added": gettext_lazy("team member added"),
    "team_member_removed": gettext_lazy("team member removed"),
    "twostep_turned_off": gettext_lazy("two-step login turned off by the account's holder"),
    "api_key_created": gettext_lazy("API key created"),
    "api_key_revoked": gettext_lazy("API key revoked"),
    "api_key_refused": gettext_lazy("API key refused"),
}


def action_label(code: str) -> str:
    """An audit action in words, in the reader's language."""
    if code in AuditAction.values:
        return str(AuditAction(code).label)
    if code in OTHER_ACTIONS:
        return str(OTHER_ACTIONS[code])
    return code.replace("_", " ") or "—"


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
