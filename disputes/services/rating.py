"""The buyer's satisfaction rating of a resolved complaint: 1–5 and a comment, once.

It feeds the shop record (disputes.selectors.shop_record: average satisfaction beside the
marketplace median) and the platform's metrics, so it is written once and never changed."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from disputes.models import Dispute, DisputeRating, Status
from disputes.permissions import require_buyer
from disputes.selectors import UNRATED_OUTCOMES
from disputes.services.state_machine import locked
from kamen_complaints.errors import DomainError

MIN_SCORE = 1
MAX_SCORE = 5
MAX_COMMENT = 1000


def _already_rated(dispute: Dispute) -> DomainError:
    return DomainError(
        _("Complaint %(number)s was already rated; a rating cannot be changed.")
        % {"number": dispute.number},
        code="already_rated",
        status_code=409,
    )


def can_rate(dispute: Dispute) -> bool:
    """Whether the complaint may be rated at all (ratings aside): resolved, and not ruled
    malicious — a malicious filer's rating would enter the shop's public record."""
    return dispute.status == Status.RESOLVED and dispute.outcome not in UNRATED_OUTCOMES


@transaction.atomic
def dispute_rate(*, dispute: Dispute, buyer: User, score: int, comment: str = "") -> DisputeRating:
    """The buyer rates how the complaint was handled, once, after it was resolved (an appeal
    under way is not a resolution; a rating given before the appeal stays). Never a complaint
    ruled malicious (409 `ruled_malicious`). Score 1–5, comment at most 1,000 characters. Only
    the complaint's buyer (403 otherwise)."""
    require_buyer(buyer, dispute)
    if isinstance(score, bool) or not isinstance(score, int) or not MIN_SCORE <= score <= MAX_SCORE:
        raise DomainError(
            _("The score is a whole number from %(min)s to %(max)s.")
            % {"min": MIN_SCORE, "max": MAX_SCORE},
            code="invalid",
            field="score",
        )
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise DomainError(
            _("The comment is at most %(max)s characters.") % {"max": MAX_COMMENT},
            code="invalid",
            field="comment",
        )
    dispute = locked(dispute)
    if dispute.status != Status.RESOLVED:
        raise DomainError(
            _("Complaint %(number)s is %(status)s; it can be rated once it is resolved.")
            % {"number": dispute.number, "status": dispute.get_status_display()},
            code="not_allowed_in_state",
            status_code=409,
        )
    if not can_rate(dispute):
        raise DomainError(
            _(
                "Complaint %(number)s was ruled malicious; it cannot be rated, and ratings of "
                "such complaints do not count in the shop's record."
            )
            % {"number": dispute.number},
            code="ruled_malicious",
            status_code=409,
        )
    if DisputeRating.objects.filter(dispute=dispute).exists():
        raise _already_rated(dispute)
    try:
        with transaction.atomic():
            return DisputeRating.objects.create(
                dispute=dispute, buyer=buyer, score=score, comment=comment
            )
    except IntegrityError as exc:  # a second tab's rating won the race
        raise _already_rated(dispute) from exc
