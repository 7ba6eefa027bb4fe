"""Money for a complaint, through escrow only (disputes never writes ledger rows).

A complaint moves money in at most these movements, each at most once, each under its own
idempotency key (docs/rules.md "Money per outcome"): the payout (platform fund → buyer), the
recovery (merchant deposit → platform fund, the shortfall a receivable), and after an appeal
the appeal payout and the recovery reversal. A buyer's payout is never clawed back.

`settle()` brings a complaint to a target — what the buyer must have received, what the
merchant must bear, as disputes/outcomes.py's table gives the complaint's ending — with the
fewest of those movements, and writes a timeline event for each. `Dispute.paid_out` /
`recovered` mirror what was moved (the ledger stays the truth).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.utils.translation import gettext as _

from disputes.models import Dispute, EventType, Role, Visibility
from disputes.outcomes import Ending, targets
from disputes.services.formatting import yuan
from disputes.services.state_machine import record, touch
from escrow import services as escrow
from kamen_complaints.money import from_fen, to_fen

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


@dataclass(frozen=True, slots=True)
class Settlement:
    """The movements that bring a complaint to its target (see `plan`)."""

    pay: Decimal = ZERO  # to pay the buyer now
    appeal: bool = False  # …under the appeal-payout movement
    recover: Decimal = ZERO  # the recovery from the merchant (made once per complaint)
    reverse: Decimal = ZERO  # given back to the merchant by a recovery reversal
    shortfall: Decimal = ZERO  # what the merchant should bear but the platform keeps
    release_hold: bool = False
    capped: Decimal = ZERO  # what the order's headroom cut from the buyer's target
    remedied: Decimal = ZERO  # what the replacement keys already gave back of the target


def owed(dispute: Dispute, buyer_amount: Decimal) -> Decimal:
    """What the buyer must have received in money for the complaint to reach `buyer_amount`:
    the replacement keys handed over for it (`Dispute.replaced_value`) are that much given
    back already (docs/money.md "Replacement keys")."""
    return max(buyer_amount - dispute.replaced_value, ZERO)


def plan(
    dispute: Dispute,
    *,
    buyer_amount: Decimal,
    merchant_bears: Decimal | None,
    headroom: Decimal,
) -> Settlement:
    """The settlement rule, for one complaint and for the clock's batches alike.

    - `buyer_amount` is what the buyer must have received, in money and in kind: the
      replacement keys handed over for this complaint count as their value given back
      (`owed`), so a later outcome pays money only for what is still bad.
    - The buyer is brought up to that, but never past what the order may still give back
      (`headroom`: the amount paid less every refund sent or booked, this complaint's
      earlier payouts included, and less every replacement key handed over on the order): an
      order is never compensated twice (docs/money.md).
    - The merchant bears `merchant_bears`, but never more than this complaint paid the buyer;
      the recovery is made once, an appeal that lowers it reverses the difference, one that
      raises it leaves the difference with the platform (`shortfall`).
    - None: not decided yet — the hold stays for the recovery decision.
    """
    target = owed(dispute, buyer_amount)
    remedied = max(buyer_amount - dispute.paid_out, ZERO) - max(target - dispute.paid_out, ZERO)
    pay = max(min(target - dispute.paid_out, headroom), ZERO)
    capped = max(target - dispute.paid_out, ZERO) - pay
    appeal = pay > ZERO and dispute.appealed_at is not None and dispute.paid_out > ZERO
    if merchant_bears is None:
        return Settlement(pay=pay, appeal=appeal, capped=capped, remedied=remedied)
    bears = min(merchant_bears, dispute.paid_out + pay)
    recover = reverse = shortfall = ZERO
    if bears > dispute.recovered:
        if dispute.recovered == ZERO:
            recover = bears
        else:
            shortfall = bears - dispute.recovered
    elif bears < dispute.recovered:
        reverse = dispute.recovered - bears
    return Settlement(
        pay=pay,
        appeal=appeal,
        recover=recover,
        reverse=reverse,
        shortfall=shortfall,
        release_hold=True,
        capped=capped,
        remedied=remedied,
    )


def headroom_fen(order_ids: Iterable[int]) -> dict[int, int]:
    """What each order may still give back, in fen, the order rows locked for the transaction:
    escrow's headroom in money (`compensation_headroom`) less the replacement keys handed
    over on the order. The one measure for `settle` and the clock's batch."""
    ids = list(order_ids)
    money = escrow.compensation_headroom(order_ids=ids)
    given = replacements_fen(ids)
    return {pk: money.get(pk, 0) - given.get(pk, 0) for pk in ids}


def replacements_fen(order_ids: Iterable[int]) -> dict[int, int]:
    """What the replacement keys handed over on each order are worth, in fen (every complaint
    of the order: a withdrawn one's replacement was handed over too)."""
    given: dict[int, int] = {}
    rows = Dispute.objects.filter(order_id__in=list(order_ids), replaced_value__gt=0)
    for order_id, value in rows.values_list("order_id", "replaced_value"):
        given[order_id] = given.get(order_id, 0) + to_fen(value)
    return given


def headroom(dispute: Dispute) -> Decimal:
    """What the complaint's order may still give back, its row locked for the transaction."""
    return from_fen(headroom_fen([dispute.order_id]).get(dispute.order_id, 0))


def record_remedied(
    dispute: Dispute, remedied: Decimal, actor: User | None, role: str, *, body: str = ""
) -> None:
    """The timeline says when replacement keys already gave back part of an outcome."""
    record(
        dispute,
        type=EventType.MONEY,
        actor=actor,
        role=role,
        body=body,
        data={"movement": "remedied", "amount": str(remedied)},
        visibility=Visibility.ALL,
    )


def remedied_note(dispute: Dispute) -> str:
    return _(
        "The replacement keys handed over for complaint %(number)s are worth %(value)s: that "
        "much of the outcome was already given back, and is not paid again in money."
    ) % {"number": dispute.number, "value": yuan(dispute.replaced_value)}


def record_cap(
    dispute: Dispute, capped: Decimal, actor: User | None, role: str, *, body: str = ""
) -> None:
    """The timeline says when the order's headroom cut a payment, and by how much."""
    record(
        dispute,
        type=EventType.MONEY,
        actor=actor,
        role=role,
        body=body,
        data={"movement": "capped", "amount": str(capped)},
        visibility=Visibility.ALL,
    )


def cap_note(dispute: Dispute) -> str:
    return _(
        "Order %(number)s was already refunded or compensated up to what was paid for it; "
        "the buyer is not paid twice for it."
    ) % {"number": dispute.order.number}


def settle(
    dispute: Dispute,
    *,
    ending: Ending,
    amount: Decimal | None = None,
    actor: User | None = None,
    role: str = Role.SYSTEM,
) -> Settlement:
    """Move money as the outcome table gives `ending` (disputes/outcomes.py; `amount` is the
    amount decided, for the endings that have one): the buyer brought up to what they must
    have received (as far as the order allows), the merchant bearing its share (or not
    decided yet), by the rule of `plan`, through escrow's single-complaint services, writing
    a timeline event per movement."""
    buyer_amount, merchant_bears = targets(ending, dispute, amount=amount)
    todo = plan(
        dispute,
        buyer_amount=buyer_amount,
        merchant_bears=merchant_bears,
        headroom=headroom(dispute) if owed(dispute, buyer_amount) > dispute.paid_out else ZERO,
    )
    if todo.remedied > ZERO:
        record_remedied(dispute, todo.remedied, actor, role, body=remedied_note(dispute))
    if todo.capped > ZERO:
        record_cap(dispute, todo.capped, actor, role, body=cap_note(dispute))
    if todo.pay > ZERO:
        if todo.appeal:
            escrow.compensation_appeal_payout(
                dispute_id=dispute.pk, order=dispute.order, amount=todo.pay
            )
            movement = "appeal-payout"
        else:
            escrow.compensation_pay(dispute_id=dispute.pk, order=dispute.order, amount=todo.pay)
            movement = "payout"
        dispute.paid_out += todo.pay
        touch(dispute, "paid_out")
        _money_event(dispute, movement, todo.pay, actor, role)
    if todo.recover > ZERO:
        escrow.compensation_recover(
            dispute_id=dispute.pk, merchant=dispute.merchant, amount=todo.recover
        )
        dispute.recovered = todo.recover
        touch(dispute, "recovered")
        _money_event(dispute, "recovery", todo.recover, actor, role)
    if todo.shortfall > ZERO:
        # The recovery movement happens once per complaint: an appeal that makes the
        # merchant bear more than was recovered leaves the difference with the platform.
        record(
            dispute,
            type=EventType.MONEY,
            actor=actor,
            role=role,
            data={"movement": "recovery-shortfall", "amount": str(todo.shortfall)},
            visibility=Visibility.STAFF,
        )
    if todo.reverse > ZERO:
        escrow.compensation_recovery_reversal(
            dispute_id=dispute.pk, merchant=dispute.merchant, amount=todo.reverse
        )
        dispute.recovered -= todo.reverse
        touch(dispute, "recovered")
        _money_event(dispute, "recovery-reversal", todo.reverse, actor, role)
    if todo.release_hold:
        hold_release(dispute)
    return todo
