"""The shop's team: the owner adds and removes the accounts acting for the shop."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError, Forbidden, NotFound
from orders import conflicts, selectors
from orders.models import MemberRole, Merchant, MerchantMember

logger = logging.getLogger(__name__)

# --- The shop's team ----------------------------------------------------------------------
# Team members answer complaints, manage stock and see orders; only the owner tops up,
# withdraws and manages the team (docs/rules.md "Shops, teams and deposits"). Each change is
# logged and written to the audit log (kamen_complaints.audit) in the same transaction.


# Called with each account the owner creates for the team, in the same transaction:
# `accounts` registers one at start-up so the holder must set their own password at the first
# login (docs/architecture.md, the registration table; orders does not import accounts).
_member_account_created_hooks: list[Callable[[User], None]] = []


def register_member_account_created(hook: Callable[[User], None]) -> None:
    if hook not in _member_account_created_hooks:
        _member_account_created_hooks.append(hook)


def _require_owner(actor: User, merchant: Merchant, message: str) -> None:
    if not selectors.is_merchant_owner(actor, merchant):
        raise Forbidden(message)


# Audit actions of the team (kamen_complaints.audit). Plain strings: AuditAction's choices
# label them in the admin once they are added there (a choices change needs a migration).
AUDIT_TEAM_MEMBER_ADDED = "team_member_added"
AUDIT_TEAM_MEMBER_REMOVED = "team_member_removed"


def _audit_member(*, actor: User, member: MerchantMember, action: str, new_account: bool) -> None:
    values = {
        "merchant": member.merchant_id,
        "user": member.user.username,
        "role": member.role,
        "new_account": new_account,
    }
    added = action == AUDIT_TEAM_MEMBER_ADDED
    audit_record(
        actor=actor,
        action=action,
        obj=member,
        before=None if added else values,
        after=values if added else None,
    )
    logger.info(
        "merchant %s: %s %s team member %s%s",
        member.merchant_id,
        actor.username,
        "added" if added else "removed",
        member.user.username,
        " (new account)" if new_account else "",
    )


@conflicts.refusals_audited
@transaction.atomic
def merchant_member_add(
    *,
    merchant: Merchant,
    actor: User,
    username: str,
    email: str = "",
    password: str = "",
) -> MerchantMember:
    """The owner adds a team account (role `agent`): an existing account by its username, or
    — with an e-mail and a password — a new account created for the purpose.

    Refused for anyone but the owner (Forbidden), for an unknown username, a name already
    taken (new account), a password Django's validators refuse, a staff account (staff
    arbitrate complaints: they never act for a shop), a disabled account, and an account
    that already acts for a shop — this one or another (one shop per account)."""
    from django.contrib.auth import password_validation
    from django.core.validators import validate_email

    _require_owner(actor, merchant, _("Only the shop's owner manages the team."))
    username = username.strip()
    if not username:
        raise DomainError(_("Enter a username."), code="username_required")
    email = email.strip()
    new_account = bool(email or password)
    if new_account:
        if not email:
            raise DomainError(_("A new account needs an e-mail address."), code="email_required")
        try:
            validate_email(email)
        except ValidationError as exc:
            raise DomainError(_("Enter a valid e-mail address."), code="email_invalid") from exc
        if not password:
            raise DomainError(_("A new account needs a password."), code="password_required")
        try:
            User._meta.get_field("username").run_validators(username)
        except ValidationError as exc:
            raise DomainError(" ".join(exc.messages), code="username_invalid") from exc
        if User.objects.filter(username__iexact=username).exists():
            raise DomainError(
                _("That username is taken. To add that account, leave e-mail and password empty."),
                code="username_taken",
                status_code=409,
            )
        candidate = User(username=username, email=email)
        try:
            password_validation.validate_password(password, candidate)
        except ValidationError as exc:
            raise DomainError(" ".join(exc.messages), code="password_invalid") from exc
        # The account itself, as accounts.services.buyer_register makes it (orders sits below
        # accounts, so it does not call it): a name taken a moment ago is a 409.
        try:
            with transaction.atomic():
                user = User.objects.create_user(username=username, email=email, password=password)
        except IntegrityError as exc:
            raise DomainError(
                _("That username is taken."), code="username_taken", status_code=409
            ) from exc
        for hook in _member_account_created_hooks:
            hook(user)
    else:
        found = User.objects.filter(username=username).first()
        if found is None:
            raise DomainError(
                _(
                    "No account is called %(username)s. Check the name, or give an e-mail and "
                    "a password to create it."
                )
                % {"username": username},
                code="user_not_found",
            )
        user = found
    conflicts.refuse_staff_in_shop(user=user, actor=actor, obj=merchant, adding=True)
    if not user.is_active:
        raise DomainError(_("That account is disabled."), code="account_disabled")
    existing = MerchantMember.objects.filter(user=user).select_related("merchant").first()
    if existing is not None:
        if existing.merchant_id == merchant.pk:
            raise DomainError(
                _("%(username)s is already on this shop's team.") % {"username": user.username},
                code="already_member",
                status_code=409,
            )
        raise DomainError(
            _("%(username)s already acts for another shop; an account belongs to one shop only.")
            % {"username": user.username},
            code="member_of_other_shop",
            status_code=409,
        )
    try:
        with transaction.atomic():
            member = MerchantMember.objects.create(
                merchant=merchant, user=user, role=MemberRole.AGENT
            )
    except IntegrityError as exc:  # added to a shop a moment ago
        raise DomainError(
            _("%(username)s already acts for another shop; an account belongs to one shop only.")
            % {"username": user.username},
            code="member_of_other_shop",
            status_code=409,
        ) from exc
    _audit_member(
        actor=actor, member=member, action=AUDIT_TEAM_MEMBER_ADDED, new_account=new_account
    )
    return member


@transaction.atomic
def merchant_member_remove(*, merchant: Merchant, actor: User, member_id: int) -> None:
    """The owner takes a team member off the shop. The account stays (it keeps its own
    orders and complaints as a buyer); it no longer acts for the shop. Everything the member
    did stays on the complaints' timelines under their name. The owner cannot remove
    themselves (a shop always has its owner). Another shop's member is a NotFound."""
    _require_owner(actor, merchant, _("Only the shop's owner manages the team."))
    # A service account (an API key's) is not a team member to remove: the key is revoked.
    member = (
        selectors.people_only(MerchantMember.objects.select_for_update())
        .select_related("user")
        .filter(pk=member_id, merchant=merchant)
        .first()
    )
    if member is None:
        raise NotFound(_("No such team member."))
    if member.role == MemberRole.OWNER or member.user_id == merchant.owner_id:
        raise DomainError(
            _("The owner cannot be removed from the shop's team."),
            code="owner_not_removable",
            status_code=409,
        )
    _audit_member(actor=actor, member=member, action=AUDIT_TEAM_MEMBER_REMOVED, new_account=False)
    member.delete()


# --- Service accounts -----------------------------------------------------------------------


@transaction.atomic
def merchant_service_account_add(*, merchant: Merchant, actor: User, username: str) -> User:
    """A new account that acts for the shop without being a person (each merchant API key
    signs in as its own, docs/api-keys.md), made by the owner only (Forbidden for anyone
    else).

    It has no usable password and no e-mail, so it never logs in, gets a token or resets a
    password; it is a member with the agent's role, so the owner-only services (top-ups,
    withdrawals, the team) refuse it; and it is in the service accounts group
    (orders.selectors.people_only), so it is never listed, told or removed as a person."""
    from django.contrib.auth.models import Group

    _require_owner(actor, merchant, _("Only the shop's owner manages the shop's API keys."))
    user = User(username=username)
    user.set_unusable_password()
    user.save()
    group, _created = Group.objects.get_or_create(name=selectors.SERVICE_ACCOUNTS_GROUP)
    user.groups.add(group)
    MerchantMember.objects.create(merchant=merchant, user=user, role=MemberRole.AGENT)
    return user


def merchant_service_account_disable(*, user: User) -> None:
    """A service account that will never act again (its key was revoked): disabled, in the
    caller's transaction. It stays on the shop, and its name on what it did."""
    User.objects.filter(pk=user.pk).update(is_active=False)
