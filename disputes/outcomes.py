"""What each way a complaint ends gives the buyer and charges the merchant — the table of
docs/rules.md "Money per outcome", in code. Every service that settles a complaint names its
ending here; `targets()` turns the row into the two figures `disputes.services.money.plan`
works from (what the buyer must have received, what the merchant bears), so no call site
chooses amounts of its own. tests/disputes/test_outcomes_doc.py reads the docs table back and
compares it with `MONEY`.

Also the one home of which outcomes pay money and which favour the buyer."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from disputes.models import Dispute, Outcome

ZERO = Decimal("0.00")


class Share(StrEnum):
    """A column of the table: an amount, named by what it is."""

    CLAIM = "claim"  # the complaint's claimed amount
    AMOUNT = "amount"  # the amount decided: the offer, the ruling's, the automatic check's
    PAID = "paid"  # what the buyer has been paid for the complaint so far
    NOTHING = "nothing"  # nothing (more: a buyer's payout is never clawed back)
    LATER = "later"  # the merchant's share is not decided yet: an arbitrator decides it


class Ending(StrEnum):
    """How a complaint ends, as far as money goes (a row of the table)."""

    ACCEPTED_REFUND = "accepted_refund"
    ACCEPTED_REPLACEMENT = "accepted_replacement"
    OFFER_ACCEPTED = "offer_accepted"  # accepted by the buyer, or lapsed
    DEFAULT_JUDGMENT = "default_judgment"
    DECIDED_PAID = "decided_paid"  # a paying ruling or automatic check
    DECIDED_PAID_PLATFORM_BEARS = "decided_paid_platform_bears"
    DECIDED_UNPAID = "decided_unpaid"  # replaced, rejected, rejected as malicious
    REVIEW_EXPIRED = "review_expired"  # 先行赔付
    FAST_TRACK = "fast_track"
    RECOVERY_MERCHANT = "recovery_merchant"
    RECOVERY_PLATFORM = "recovery_platform"
    WITHDRAWN = "withdrawn"
    WITHDRAWN_AFTER_PAYOUT = "withdrawn_after_payout"


# ending → (the buyer is paid up to, the merchant bears)
MONEY: dict[Ending, tuple[Share, Share]] = {
    Ending.ACCEPTED_REFUND: (Share.CLAIM, Share.CLAIM),
    Ending.ACCEPTED_REPLACEMENT: (Share.NOTHING, Share.NOTHING),
    Ending.OFFER_ACCEPTED: (Share.AMOUNT, Share.AMOUNT),
    Ending.DEFAULT_JUDGMENT: (Share.CLAIM, Share.CLAIM),
    Ending.DECIDED_PAID: (Share.AMOUNT, Share.AMOUNT),
    Ending.DECIDED_PAID_PLATFORM_BEARS: (Share.AMOUNT, Share.NOTHING),
    Ending.DECIDED_UNPAID: (Share.NOTHING, Share.NOTHING),
    Ending.REVIEW_EXPIRED: (Share.CLAIM, Share.LATER),
    Ending.FAST_TRACK: (Share.CLAIM, Share.LATER),
    Ending.RECOVERY_MERCHANT: (Share.NOTHING, Share.PAID),
    Ending.RECOVERY_PLATFORM: (Share.NOTHING, Share.NOTHING),
    Ending.WITHDRAWN: (Share.NOTHING, Share.NOTHING),
    Ending.WITHDRAWN_AFTER_PAYOUT: (Share.NOTHING, Share.LATER),
}

# The outcomes that pay the buyer money (a ruling of these needs an amount; finding the
# replacement keys bad is a reason for one of these).
PAYING = (Outcome.REFUNDED, Outcome.PARTIALLY_REFUNDED)
# The outcomes in the buyer's favour — money or a new key: the metrics' "resolved in the
# buyer's favour", the shop record's complaints lost, the desk's shop history.
IN_BUYERS_FAVOUR = (Outcome.REFUNDED, Outcome.PARTIALLY_REFUNDED, Outcome.REPLACED)


def decided(outcome: str, *, merchant_bears: bool = True) -> Ending:
    """The ending of a decision (a ruling, an automatic check) with `outcome`; a paying one
    the platform bears when `merchant_bears` is false."""
    if outcome not in PAYING:
        return Ending.DECIDED_UNPAID
    return Ending.DECIDED_PAID if merchant_bears else Ending.DECIDED_PAID_PLATFORM_BEARS


def _amount(share: Share, dispute: Dispute, amount: Decimal | None) -> Decimal:
    if share == Share.CLAIM:
        return dispute.claimed_amount
    if share == Share.AMOUNT:
        if amount is None:
            raise ValueError("this ending needs the amount decided")
        return amount
    if share == Share.PAID:
        return dispute.paid_out
    return ZERO


def targets(
    ending: Ending, dispute: Dispute, *, amount: Decimal | None = None
) -> tuple[Decimal, Decimal | None]:
    """(buyer_amount, merchant_bears) for `money.plan`: what the buyer must have received and
    what the merchant bears (None: decided later, the hold stays). The buyer's `nothing` is
    what they already have: `plan` never takes a payout back."""
    buyer, merchant = MONEY[ending]
    buyer_amount = dispute.paid_out if buyer == Share.NOTHING else _amount(buyer, dispute, amount)
    merchant_bears = None if merchant == Share.LATER else _amount(merchant, dispute, amount)
    return buyer_amount, merchant_bears
