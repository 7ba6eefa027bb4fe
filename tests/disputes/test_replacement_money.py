"""A replaced key is that key's value given back (docs/money.md "Replacement keys").

Issue 17, finding 2: the merchant answered with a replacement key, the buyer appealed, the review
clock ran out and the sweep paid the whole claim — the buyer held two keys and the price. A staff
"refunded" ruling on an appeal against "replaced" did the same. The rule now: replacement keys
count against the complaint's outcome and the order's headroom at the order's unit price each;
a later outcome pays money only for what is still bad — the replacement keys too once staff
find them bad."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from disputes import services
from disputes.models import Dispute, EventType, Outcome, Status
from escrow.selectors import ledger_check
from kamen_complaints import approvals
from kamen_complaints.errors import DomainError
from orders.models import Order
from tests.disputes.factories import arbitrator, check_ledger, contest, file, funded_order
from tests.disputes.test_api import client_for, url
from tests.factories import CardKeyFactory

pytestmark = pytest.mark.django_db

D = Decimal
PRICE = D("30.00")


def _replaced(
    *,
    price: D = PRICE,
    quantity: int = 1,
    named: int = 0,
    deposit_amount: D | None = None,
    **filing,
) -> Dispute:
    """A complaint the merchant answered with replacement keys from stock."""
    funds = {} if deposit_amount is None else {"deposit_amount": deposit_amount}
    order = funded_order(price=price, quantity=quantity, **funds)
    for _ in range(quantity):
        CardKeyFactory(product=order.product)
    keys = list(order.card_keys.order_by("id"))[:named]
    dispute = file(order, card_keys=keys, **filing) if keys else file(order, **filing)
    return services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="accept", remedy="replace"
    )


def _appealed(dispute: Dispute) -> Dispute:
    return services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="Still bad.")


def _expire(dispute: Dispute, time_machine, *, batch: bool) -> Dispute:
    dispute.refresh_from_db()
    time_machine.move_to(dispute.review_due + timezone.timedelta(seconds=1), tick=False)
    if batch:
        assert services.deadlines_sweep().enforced["review"] == 1
    else:
        assert services.dispute_review_expire(dispute=dispute)
    dispute.refresh_from_db()
    return dispute


def _given_back(order: Order) -> D:
    order.refresh_from_db()
    return order.refunded_amount + order.refund_reserved


def _rule(dispute: Dispute, outcome: str, **kwargs) -> Dispute:
    return services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome=outcome, reason="Looked again.", **kwargs
    )


def test_a_replacement_is_worth_the_order_unit_price_per_key():
    dispute = _replaced(price=D("30.00"), quantity=3, named=2, claimed_amount=D("60.00"))
    assert dispute.replaced_value == D("60.00")
    assert dispute.order.card_keys.count() == 5
    event = dispute.events.get(type=EventType.KEY_REPLACED)
    assert event.data["value"] == "60.00"
    check_ledger()


@pytest.mark.parametrize("batch", [True, False], ids=["sweep", "single"])
def test_review_expiry_after_an_appeal_against_replaced_pays_nothing_for_the_replaced_key(
    time_machine, batch
):
    dispute = _appealed(_replaced())
    dispute = _expire(dispute, time_machine, batch=batch)
    assert dispute.status == Status.RESOLVED and dispute.outcome == Outcome.REFUNDED
    assert dispute.paid_out == D("0.00")
    assert _given_back(dispute.order) == D("0.00")
    remedied = dispute.events.get(type=EventType.MONEY, data__movement="remedied")
    assert remedied.data["amount"] == "30.00"
    assert not dispute.events.filter(type=EventType.MONEY, data__movement="payout").exists()
    check_ledger()


@pytest.mark.parametrize("batch", [True, False], ids=["sweep", "single"])
def test_review_expiry_pays_the_part_of_the_claim_no_replacement_covered(time_machine, batch):
    # Three keys at ¥30.00, two named and replaced, ¥90.00 claimed: ¥30.00 is still owed.
    dispute = _replaced(price=D("30.00"), quantity=3, named=2, claimed_amount=D("90.00"))
    dispute = _expire(_appealed(dispute), time_machine, batch=batch)
    assert dispute.paid_out == D("30.00")
    assert _given_back(dispute.order) == D("30.00")
    check_ledger()


def test_staff_refunded_on_an_appeal_against_replaced_pays_nothing_for_the_replaced_key():
    dispute = _rule(_appealed(_replaced()), Outcome.REFUNDED)
    assert dispute.outcome == Outcome.REFUNDED and dispute.appeal_final
    assert dispute.paid_out == D("0.00") and dispute.recovered == D("0.00")
    assert _given_back(dispute.order) == D("0.00")
    check_ledger()


def test_a_replacement_staff_find_bad_too_is_refunded_in_money():
    dispute = _rule(_appealed(_replaced()), Outcome.REFUNDED, replacement_bad=True)
    assert dispute.replaced_value == D("0.00")
    assert dispute.paid_out == D("30.00") and dispute.recovered == D("30.00")
    assert _given_back(dispute.order) == D("30.00")
    assert dispute.events.get(type=EventType.RULED).data["replacement_bad"] is True
    check_ledger()


def test_finding_a_replacement_bad_needs_one_and_a_refund():
    with pytest.raises(DomainError) as caught:
        _rule(contest(file()), Outcome.REFUNDED, replacement_bad=True)
    assert caught.value.code == "invalid"
    with pytest.raises(DomainError) as caught:
        _rule(_appealed(_replaced()), Outcome.REJECTED, replacement_bad=True)
    assert caught.value.code == "outcome_invalid"


def test_a_second_replacement_supersedes_the_first_and_moves_no_money():
    dispute = _replaced()
    CardKeyFactory(product=dispute.order.product)
    dispute = _rule(_appealed(dispute), Outcome.REPLACED)
    assert dispute.replaced_value == D("30.00")
    assert dispute.order.card_keys.count() == 3
    assert _given_back(dispute.order) == D("0.00")
    check_ledger()


def test_a_replacement_after_a_refund_is_refused():
    order = funded_order(price=D("30.00"))
    CardKeyFactory(product=order.product)
    dispute = services.dispute_respond(
        dispute=file(order),
        merchant_user=order.merchant.owner,
        action="accept",
        remedy="refund",
    )
    dispute = _appealed(dispute)
    with pytest.raises(DomainError) as caught:
        _rule(dispute, Outcome.REPLACED)
    assert caught.value.code == "amount_invalid"
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW and dispute.replaced_value == D("0.00")
    assert order.card_keys.count() == 1
    check_ledger()


def test_check_ledger_counts_replacement_keys_as_given_back():
    dispute = _rule(_appealed(_replaced()), Outcome.REFUNDED, replacement_bad=True)
    assert all(c.ok for c in ledger_check())
    # The double remedy of the finding: the money and the replacement both standing.
    Dispute.objects.filter(pk=dispute.pk).update(replaced_value=D("30.00"))
    breached = [c for c in ledger_check() if not c.ok]
    assert [c.name for c in breached] == [
        "no order is given back more than was paid (payouts + refunds + replacement keys ≤ amount)"
    ]
    assert dispute.order.number in breached[0].breaches[0]
    with pytest.raises(CommandError):
        call_command("check_ledger", stdout=io.StringIO())


def test_staff_find_the_replacement_bad_through_the_api():
    dispute = _appealed(_replaced())
    response = client_for(arbitrator()).post(
        url(dispute, "rule"),
        {"outcome": "refunded", "reason": "The new key is used too.", "replacement_bad": True},
        format="json",
    )
    assert response.status_code == 200, response.json()
    dispute.refresh_from_db()
    assert dispute.paid_out == D("30.00") and dispute.replaced_value == D("0.00")
    check_ledger()


def test_a_four_eyes_ruling_carries_the_finding_that_the_replacement_is_bad_too():
    # ¥6,000.00 is above the default second-approval threshold (¥5,000.00).
    dispute = _appealed(_replaced(price=D("6000.00"), deposit_amount=D("10000.00")))
    approval = services.dispute_rule_propose(
        dispute=dispute,
        staff=arbitrator(),
        outcome=Outcome.REFUNDED,
        reason="The new key is used too.",
        replacement_bad=True,
    )
    assert approval.params["replacement_bad"] is True
    approvals.approval_grant(approval=approval, staff=arbitrator())
    dispute.refresh_from_db()
    assert dispute.outcome == Outcome.REFUNDED and dispute.paid_out == D("6000.00")
    assert dispute.replaced_value == D("0.00")
    check_ledger()
