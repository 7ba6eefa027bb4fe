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
the approvals' executors they register (kamen_complaints.approvals) ask it. The refusal itself
and `@refusals_audited` are kamen_complaints.refusals, so the approvals can wear it too.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model, Q
from django.utils.translation import gettext as _

from kamen_complaints.refusals import AUDIT_CONFLICT_REFUSED as AUDIT_CONFLICT_REFUSED
from kamen_complaints.refusals import ConflictOfInterest as ConflictOfInterest
from kamen_complaints.refusals import refusals_audited as refusals_audited
from kamen_complaints.refusals import refuse as _refuse
from orders.models import Merchant


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
