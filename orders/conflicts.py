"""No one on both sides of a case (docs/rules.md): the one home of the conflict-of-interest rule.

A platform staff account never owns or joins a shop, and a shop's owner or team member is never
made staff. A staff member never rules on, asks information for, decides recovery of, verifies,
approves a withdrawal or a posting of, or approves a second approval about a shop they own or
belong to, or a complaint they filed. Every service that does one of these asks here; a refusal
is a `ConflictOfInterest` (403, translated) and an audit-log row that survives the refusal's
rollback: the outermost service marked `@refusals_audited` (placed *outside* its
`transaction.atomic`) writes it after its transaction rolled back; a check made outside any such
service writes it at once.

This lives in `orders`, the lowest app that knows who acts for a shop; `escrow`, `disputes` and
the approvals (kamen_complaints) ask it.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model, Q
from django.utils.translation import gettext as _

from kamen_complaints.audit import audit_record
from kamen_complaints.errors import Forbidden
from orders.models import Merchant

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


def _refuse(exc: ConflictOfInterest) -> None:
    if _depth.get() == 0:  # no service transaction to outlive: write it now
        exc.record()
    raise exc


def is_staff_account(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and (user.is_staff or user.is_superuser))


def user_shops(user: User | AnonymousUser) -> list[Merchant]:
    """The shops this account owns or acts for (one at most, but a shop owned by an account
    that is not on its team is counted too)."""
    if not user.is_authenticated:
        return []
    return list(
        Merchant.objects.filter(Q(owner_id=user.pk) | Q(members__user_id=user.pk))
        .distinct()
        .order_by("pk")
    )


def refuse_staff_in_shop(*, user: User, actor: User, obj: Model, adding: bool) -> None:
    """A staff account may not open a shop (`adding=False`, the applicant is `user`) nor be
    added to a shop's team (`adding=True`, by `actor`, the owner)."""
    if not is_staff_account(user):
        return
    if adding:
        message = _("A platform staff account cannot join a shop's team.")
        action, code = "merchant_member_add", "staff_account"
    else:
        message = _(
            "A platform staff account cannot open a shop: staff decide complaints and money "
            "between shops and buyers, so they never act for one."
        )
        action, code = "merchant_apply", "staff_account"
    _refuse(ConflictOfInterest(message, actor=actor, action=action, obj=obj, shops=[], code=code))


def refuse_staff_grant(*, user: User, actor: User | None) -> None:
    """An account that owns or acts for a shop may not be made staff while it does."""
    shops = user_shops(user)
    if not shops:
        return
    _refuse(
        ConflictOfInterest(
            _(
                "%(username)s acts for the shop %(shop)s; an account that belongs to a shop "
                "cannot be platform staff. Take it off the shop's team first."
            )
            % {"username": user.username, "shop": shops[0].shop_name},
            actor=actor,
            action="staff_grant",
            obj=user,
            shops=[shop.pk for shop in shops],
        )
    )


def refuse_party(
    *,
    staff: User,
    action: str,
    obj: Model | None,
    merchant_id: int | None = None,
    filed_by_id: int | None = None,
    object_type: str = "",
    object_id: Any = "",
) -> None:
    """Refuse a staff member who owns or acts for the shop concerned (`merchant_id`), or who
    filed the complaint concerned (`filed_by_id`). The record refused is `obj`, or
    `object_type` and `object_id` where the caller has no model instance."""
    shops = [shop for shop in user_shops(staff) if shop.pk == merchant_id]
    filed = filed_by_id is not None and filed_by_id == staff.pk
    if not shops and not filed:
        return
    if shops:
        message = _(
            "You own or act for the shop %(shop)s, a party to this; another staff member must "
            "decide it."
        ) % {"shop": shops[0].shop_name}
    else:
        message = _("You filed this complaint yourself; another staff member must decide it.")
    _refuse(
        ConflictOfInterest(
            message,
            actor=staff,
            action=action,
            obj=obj,
            shops=[shop.pk for shop in shops],
            filed=filed,
            object_type=object_type,
            object_id=object_id,
        )
    )
