"""Who may do what on a complaint.

Seeing is decided by disputes.selectors.disputes_visible_to (anything else is a 404). Acting
is decided here: a caller who sees a complaint but whose role may not take an action gets a
403 (kamen_complaints.errors.Forbidden), never a silent no-op.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.utils.translation import gettext as _

from disputes.models import Dispute, Role
from kamen_complaints.errors import Forbidden
from orders.models import MerchantMember

ARBITRATE = "disputes.arbitrate"
VIEW = "disputes.view_dispute"
MANAGE_BLACKLIST = "disputes.manage_blacklist"


def is_buyer(user: User | AnonymousUser, dispute: Dispute) -> bool:
    return bool(user.is_authenticated and dispute.buyer_id == user.pk)


def is_merchant(user: User | AnonymousUser, dispute: Dispute) -> bool:
    """The shop's owner or a member of its team (agents answer complaints too)."""
    if not user.is_authenticated:
        return False
    return MerchantMember.objects.filter(merchant_id=dispute.merchant_id, user_id=user.pk).exists()


def is_arbitrator(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm(ARBITRATE))


def require_buyer(user: User, dispute: Dispute) -> None:
    if not is_buyer(user, dispute):
        raise Forbidden(_("Only the buyer who filed this complaint may do this."))


def require_merchant(user: User, dispute: Dispute) -> None:
    if not is_merchant(user, dispute):
        raise Forbidden(_("Only the shop this complaint is about may do this."))


def require_arbitrator(user: User) -> None:
    if not is_arbitrator(user):
        raise Forbidden(_("Only platform staff allowed to arbitrate complaints may do this."))


def require_blacklist_manager(user: User) -> None:
    if not (user.is_authenticated and user.is_staff and user.has_perm(MANAGE_BLACKLIST)):
        raise Forbidden(_("Only platform staff allowed to manage the blacklist may do this."))


def party_role(user: User, dispute: Dispute) -> Role:
    """The role a party acts in (buyer or merchant); 403 for anyone else."""
    if is_buyer(user, dispute):
        return Role.BUYER
    if is_merchant(user, dispute):
        return Role.MERCHANT
    raise Forbidden(_("Only the buyer and the shop may do this on a complaint."))


def speaking_role(user: User, dispute: Dispute) -> Role:
    """Who may write messages: the parties and arbitrating staff."""
    if is_buyer(user, dispute):
        return Role.BUYER
    if is_merchant(user, dispute):
        return Role.MERCHANT
    if is_arbitrator(user):
        return Role.STAFF
    raise Forbidden(_("Only the parties and the arbitrating staff write in a complaint."))
