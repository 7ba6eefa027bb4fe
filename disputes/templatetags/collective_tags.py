"""The collective-case notice of the order page:
`{% load collective_tags %}{% collective_notice order %}`.

When the platform acted on a whole card-key import or top-up channel (a collective case,
docs/collective-cases.md), each buyer of it reads on their order what was found about their
key and what happens next — refunded by the platform, reported good, or left to them to join
("我也遇到了": one POST, disputes/views/collective.py). Orders must not import disputes, so the
order page leaves the slot (templates/orders/_order_actions.html) and this tag fills it from
the row the case wrote (disputes.selectors.collective_order_row); it decides nothing.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

from disputes.models import CollectiveStatus, Finding, Status
from disputes.presenting import money, short_time
from disputes.selectors import collective_order_row
from disputes.services.collective import join_refusal
from orders.models import Order

register = template.Library()


def finding_text(finding: str, kind_topup: bool) -> str:
    """What was found about the buyer's key (or top-up), in a sentence."""
    texts: dict[str, str] = {
        Finding.KEY_UNKNOWN: _(
            "The card's issuer does not know your key: it was never a valid key."
        ),
        Finding.KEY_REDEEMED_BEFORE_DELIVERY: _(
            "The card's issuer says your key had been redeemed before it was delivered to you."
        ),
        Finding.KEY_REDEEMED_AFTER_DELIVERY: _(
            "The card's issuer says your key was redeemed after it was delivered to you."
        ),
        Finding.KEY_VALID: _("The card's issuer reports your key valid and not redeemed."),
        Finding.TOPUP_NOT_CREDITED: _(
            "The carrier reports your top-up failed: nothing was credited."
        ),
        Finding.TOPUP_CREDITED: _("The carrier reports your top-up credited to the number."),
        Finding.NO_ANSWER: _(
            "The issuer did not answer about your order; the platform's staff decide."
        ),
    }
    if finding in texts:
        return str(texts[finding])
    if kind_topup:
        return _("The platform is asking the carrier about your top-up.")
    return _("The platform is asking the card's issuer about your key.")


@register.inclusion_tag("disputes/_order_collective_notice.html", takes_context=True)
def collective_notice(context: template.Context, order: Order) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or order.buyer_id != user.pk:
        return {"show": False}
    row = collective_order_row(order)
    if row is None:
        return {"show": False}
    case = row.case
    topup = case.kind == "topup_channel"
    complaint = row.dispute
    if complaint is None:
        # The buyer's own complaint on the order, if they filed (or joined) since.
        complaint = order.disputes.exclude(status=Status.WITHDRAWN).order_by("-id").first()
    bad = row.finding in (
        Finding.KEY_UNKNOWN,
        Finding.KEY_REDEEMED_BEFORE_DELIVERY,
        Finding.TOPUP_NOT_CREDITED,
    )
    if row.refunded_at is not None:
        tone, next_text = (
            "done",
            _(
                "The platform refunded you %(amount)s on %(when)s, without a complaint: you "
                "need do nothing. The shop pays it back to the platform."
            )
            % {"amount": money(row.refund_amount), "when": short_time(row.refunded_at)},
        )
    elif complaint is not None:
        tone, next_text = (
            "waiting",
            _(
                "Your complaint %(number)s carries the case's findings; it is paid through the "
                "complaint, never twice."
            )
            % {"number": complaint.number},
        )
    elif bad:
        tone, next_text = (
            "waiting",
            _(
                "The platform refunds you first, without a complaint; you will be told when the "
                "money is on its way."
            ),
        )
    elif case.status == CollectiveStatus.CLOSED:
        tone, next_text = "closed", _("The case is closed.")
    elif row.finding in (Finding.KEY_VALID, Finding.TOPUP_CREDITED):
        tone, next_text = (
            "action",
            _(
                "Nothing is refunded for a good key. If it still does not work for you, join the "
                "case: your complaint carries the case's evidence."
            ),
        )
    else:
        tone, next_text = (
            "action",
            _(
                "If it did not work for you, join the case now: your complaint carries the case's "
                "evidence, so you are not asked for the proofs again."
            ),
        )
    can_join = join_refusal(row, complaint) is None  # the service's own rule
    return {
        "show": True,
        "order": order,
        "case": case,
        "row": row,
        "topup": topup,
        "tone": tone,
        "found": finding_text(row.finding, topup),
        "next": next_text,
        "complaint": complaint,
        "can_join": can_join,
        "opened": short_time(case.opened_at),
    }
