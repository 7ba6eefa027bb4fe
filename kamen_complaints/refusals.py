"""A refusal that is written to the audit log even though it rolls its transaction back: a
`ConflictOfInterest` (403, translated), raised by the conflict-of-interest rule (orders.conflicts,
docs/rules.md). The outermost service marked `@refusals_audited` (placed *outside* its
`transaction.atomic`) writes the row after its transaction rolled back; `refuse()` outside any
such service writes it at once.

Here in the shared core, not in orders, because the four-eyes approvals (kamen_complaints.
approvals) are such a service too and the project package imports no app.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model

from kamen_complaints.audit import audit_record
from kamen_complaints.errors import Forbidden

# Audit action of a refusal. A plain string, like the team's actions (orders.services): the
# AuditAction choices label it once it is added there (a choices change needs a migration).
AUDIT_CONFLICT_REFUSED = "conflict_refused"

P = ParamSpec("P")
R = TypeVar("R")

# How many `@refusals_audited` services are running in this context; only the outermost
# writes the audit row, after every transaction it opened has rolled back.
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("conflict_depth", default=0)


class ConflictOfInterest(Forbidden):
    """Refused: the account would act on both sides of a case."""

    code = "conflict_of_interest"

    def __init__(
        self,
        message: Any,
        *,
        actor: User | AnonymousUser | None,
        action: str,
        obj: Model | None,
        shops: list[int],
        filed: bool = False,
        code: str | None = None,
        object_type: str = "",
        object_id: Any = "",
    ) -> None:
        super().__init__(message, code=code)
        self.audit = {
            "actor": actor,
            "action": action,
            "obj": obj,
            "shops": shops,
            "filed": filed,
            "object_type": object_type,
            "object_id": object_id,
        }
        self.recorded = False

    def record(self) -> None:
        """Write the refusal to the audit log (once)."""
        if self.recorded:
            return
        self.recorded = True
        audit = self.audit
        audit_record(
            actor=audit["actor"],
            action=AUDIT_CONFLICT_REFUSED,
            obj=audit["obj"],
            object_type=audit["object_type"],
            object_id=audit["object_id"],
            reason=self.message,
            after={
                "refused": audit["action"],
                "code": self.code,
                "shops": audit["shops"],
                "filed_by_them": audit["filed"],
            },
        )


def refusals_audited(func: Callable[P, R]) -> Callable[P, R]:
    """Put above `@transaction.atomic`: a `ConflictOfInterest` raised inside is written to the
    audit log after the transaction rolled back (by the outermost such service only)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _depth.set(_depth.get() + 1)
        try:
            return func(*args, **kwargs)
        except ConflictOfInterest as exc:
            if _depth.get() == 1:
                exc.record()
            raise
        finally:
            _depth.reset(token)

    return wrapper


def refuse(exc: ConflictOfInterest) -> None:
    """Raise `exc`, written to the audit log now when no `@refusals_audited` service runs."""
    if _depth.get() == 0:  # no service transaction to outlive: write it now
        exc.record()
    raise exc
