"""Money for a complaint, through escrow only (disputes never writes ledger rows).

A complaint moves money in at most these movements, each at most once, each under its own
idempotency key (shared/DESIGN.md "Money"): the payout (platform fund → buyer), the recovery
(merchant deposit → platform fund, the shortfall a receivable), and after an appeal the
appeal payout and the recovery reversal. A buyer's payout is never clawed back.

`settle()` brings a complaint to a target — what the buyer must have received, what the
merchant must bear — with the fewest of those movements, and writes a timeline event for
each. `Dispute.paid_out` / `recovered` mirror what was moved (the ledger stays the truth).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User

from disputes.models import Dispute, EventType, Role, Visibility
from disputes.services._core import record, touch
from escrow import services as escrow

ZERO = Decimal("0.00")


def hold_place(dispute: Dispute) -> None:
    """Reserve the claimed amount on the merchant's deposit, as much as is available (a
    buyer's right to complain never depends on the merchant's deposit)."""
    escrow.deposit_hold(
        merchant=dispute.merchant, amount=dispute.claimed_amount, reference=dispute.hold_reference
    )


def hold_release(dispute: Dispute) -> None:
    escrow.hold_release(reference=dispute.hold_reference)


def _money_event(
    dispute: Dispute, movement: str, amount: Decimal, actor: User | None, role: str
) -> None:
    record(
        dispute,
        type=EventType.MONEY,
        actor=actor,
        role=role,
        data={
            "movement": movement,
            "amount": str(amount),
            "key": f"dispute:{dispute.pk}:{movement}",
        },
        visibility=Visibility.ALL,
    )


def settle(
    dispute: Dispute,
    *,
    buyer_amount: Decimal,
    merchant_bears: Decimal | None,
    actor: User | None = None,
    role: str = Role.SYSTEM,
) -> None:
    """Move money so that the buyer has received at least `buyer_amount` and the merchant
    bears `merchant_bears` (None: not decided yet — the hold stays for the recovery decision).

    The payout after an appeal uses the appeal-payout movement; a recovery that is too high
    after an appeal is reversed; what the buyer already received stays theirs.
    """
    pay = buyer_amount - dispute.paid_out
    if pay > ZERO:
        if dispute.appealed_at is not None and dispute.paid_out > ZERO:
            escrow.compensation_appeal_payout(
                dispute_id=dispute.pk, order=dispute.order, amount=pay
            )
            movement = "appeal-payout"
        else:
            escrow.compensation_pay(dispute_id=dispute.pk, order=dispute.order, amount=pay)
            movement = "payout"
        dispute.paid_out += pay
        touch(dispute, "paid_out")
        _money_event(dispute, movement, pay, actor, role)
    if merchant_bears is None:
        return
    if merchant_bears > dispute.recovered:
        if dispute.recovered == ZERO:
            escrow.compensation_recover(
                dispute_id=dispute.pk, merchant=dispute.merchant, amount=merchant_bears
            )
            dispute.recovered = merchant_bears
            touch(dispute, "recovered")
            _money_event(dispute, "recovery", merchant_bears, actor, role)
        else:
            # The recovery movement happens once per complaint: an appeal that makes the
            # merchant bear more than was recovered leaves the difference with the platform.
            record(
                dispute,
                type=EventType.MONEY,
                actor=actor,
                role=role,
                data={
                    "movement": "recovery-shortfall",
                    "amount": str(merchant_bears - dispute.recovered),
                },
                visibility=Visibility.STAFF,
            )
    elif merchant_bears < dispute.recovered:
        back = dispute.recovered - merchant_bears
        escrow.compensation_recovery_reversal(
            dispute_id=dispute.pk, merchant=dispute.merchant, amount=back
        )
        dispute.recovered = merchant_bears
        touch(dispute, "recovered")
        _money_event(dispute, "recovery-reversal", back, actor, role)
    hold_release(dispute)
