"""Every clock of the promise pinned from both sides (docs/rules.md "Deadlines"): the exact
deadline each action sets (the promise's own figures, never read back from the policy, so a
rule computed from the wrong policy value fails here), the party's action accepted at the
deadline and refused a second after it, and the sweep idle a second before the deadline and
acting at it. Time stands still (time-machine, tick=False), so every value is exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from disputes import services, tasks
from disputes.models import DecidedBy, Dispute, EventType, Outcome, Status
from kamen_complaints.errors import DomainError
from tests.disputes.factories import (
    arbitrator,
    check_ledger,
    contest,
    file,
    funded_order,
    offered,
    resolved_by_refund,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 17, 6, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)

# The promise's figures (docs/rules.md "The policy"), written out rather than read from the
# policy: a deadline computed from the wrong policy field must fail these tests.
WINDOW = timedelta(hours=72)
MERCHANT = timedelta(hours=24)
BUYER = timedelta(hours=24)
REVIEW = timedelta(hours=48)
INFO = timedelta(hours=24)
APPEAL = timedelta(days=7)


@pytest.fixture
def clock(time_machine):
    """Stand still at T0; `clock(moment)` moves there and stands still again."""
    time_machine.move_to(T0, tick=False)

    def move(moment: datetime) -> datetime:
        time_machine.move_to(moment, tick=False)
        return moment

    return move


def _sweep() -> dict[str, int]:
    """The beat task, as a worker runs it (eager here): what each clock enforced."""
    return tasks.deadlines_sweep.delay().get()["enforced"]


def _refused(action, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        action(*args, **kwargs)
    return caught.value


def _fresh(dispute: Dispute) -> Dispute:
    dispute.refresh_from_db()
    return dispute


# --- The complaint window ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "start"),
    [("invalid_card_key", "delivered_at"), ("not_received", "paid_at")],
)
def test_the_window_is_open_at_its_last_second_and_closed_one_after(clock, reason, start):
    orders = [funded_order(), funded_order()]
    closes = getattr(orders[0], start) + WINDOW
    clock(closes)
    assert file(orders[0], reason=reason).window_closes_at == closes
    clock(getattr(orders[1], start) + WINDOW + SECOND)
    assert _refused(file, orders[1], reason=reason).code == "window_closed"


# --- The merchant's 24 h ---------------------------------------------------------------------


def test_the_merchants_deadline_is_24_hours_after_filing(clock):
    assert file().merchant_response_due == T0 + MERCHANT


def test_the_merchant_answers_at_its_deadline_but_not_a_second_after(clock):
    on_time, late = file(), file()
    clock(T0 + MERCHANT)
    assert contest(on_time).status == Status.UNDER_REVIEW
    clock(T0 + MERCHANT + SECOND)
    assert _refused(contest, late).code == "deadline_passed"


def test_the_default_judgment_waits_for_the_merchants_deadline(clock):
    dispute = file()
    clock(T0 + MERCHANT - SECOND)
    assert _sweep()["merchant"] == 0
    assert _fresh(dispute).status == Status.AWAITING_MERCHANT
    clock(T0 + MERCHANT)
    assert _sweep()["merchant"] == 1
    dispute = _fresh(dispute)
    assert (dispute.status, dispute.outcome, dispute.decided_by) == (
        Status.RESOLVED,
        Outcome.REFUNDED,
        DecidedBy.SYSTEM,
    )
    check_ledger()


# --- The buyer's 24 h on an offer -------------------------------------------------------------


def test_the_buyers_deadline_is_24_hours_after_the_offer(clock):
    dispute = file()
    clock(T0 + 3 * HOUR)
    dispute = services.dispute_respond(
        dispute=dispute,
        merchant_user=dispute.merchant.owner,
        action="offer",
        amount=Decimal("20.00"),
        message="Half back?",
    )
    assert dispute.buyer_response_due == T0 + 3 * HOUR + BUYER


@pytest.mark.parametrize("answer", ["dispute_accept_offer", "dispute_reject_offer"])
def test_the_buyer_answers_at_the_offers_deadline_but_not_a_second_after(clock, answer):
    on_time, late = offered(), offered()
    clock(T0 + BUYER)
    assert getattr(services, answer)(dispute=on_time, buyer=on_time.buyer).status in {
        Status.RESOLVED,
        Status.UNDER_REVIEW,
    }
    clock(T0 + BUYER + SECOND)
    error = _refused(getattr(services, answer), dispute=late, buyer=late.buyer)
    assert error.code == "deadline_passed"


def test_a_silent_buyer_is_held_to_the_offer_at_its_deadline_not_before(clock):
    dispute = offered(Decimal("20.00"))
    clock(T0 + BUYER - SECOND)
    assert _sweep()["buyer"] == 0
    assert _fresh(dispute).status == Status.AWAITING_BUYER
    clock(T0 + BUYER)
    assert _sweep()["buyer"] == 1
    dispute = _fresh(dispute)
    assert (dispute.status, dispute.outcome, dispute.resolved_amount) == (
        Status.RESOLVED,
        Outcome.PARTIALLY_REFUNDED,
        Decimal("20.00"),
    )
    check_ledger()


# --- The platform's 48 h: after a contest, a rejected offer, an appeal ----------------------------


def _review_after_contest(clock) -> tuple[Dispute, datetime]:
    dispute = file()
    started = clock(T0 + 2 * HOUR)
    return contest(dispute), started


def _review_after_rejected_offer(clock) -> tuple[Dispute, datetime]:
    dispute = offered()
    started = clock(T0 + 5 * HOUR)
    return services.dispute_reject_offer(dispute=dispute, buyer=dispute.buyer), started


def _review_after_appeal(clock) -> tuple[Dispute, datetime]:
    dispute = resolved_by_refund()
    started = clock(T0 + 3 * 24 * HOUR)
    appealed = services.dispute_appeal(
        dispute=dispute, user=dispute.merchant.owner, reason="The buyer redeemed it"
    )
    return appealed, started


REVIEWS = {
    "contest": _review_after_contest,
    "rejected_offer": _review_after_rejected_offer,
    "appeal": _review_after_appeal,
}


@pytest.mark.parametrize("start", list(REVIEWS))
def test_the_review_deadline_is_48_hours_after_what_started_it(clock, start):
    dispute, started = REVIEWS[start](clock)
    assert dispute.status == Status.UNDER_REVIEW
    assert dispute.review_due == started + REVIEW
    event = dispute.events.order_by("-id").exclude(type=EventType.MONEY).first()
    # The timeline shows both parties the same deadline.
    assert datetime.fromisoformat(event.data["review_due"]) == started + REVIEW


@pytest.mark.parametrize("start", list(REVIEWS))
def test_the_platform_pays_first_at_the_review_deadline_not_before(clock, start):
    dispute, started = REVIEWS[start](clock)
    clock(started + REVIEW - SECOND)
    assert _sweep()["review"] == 0
    assert _fresh(dispute).status == Status.UNDER_REVIEW
    clock(started + REVIEW)
    assert _sweep()["review"] == 1
    dispute = _fresh(dispute)
    assert (dispute.status, dispute.decided_by) == (Status.RESOLVED, DecidedBy.SYSTEM)
    assert dispute.paid_out == dispute.claimed_amount
    check_ledger()


def test_staff_rule_at_the_review_deadline(clock):
    dispute, started = _review_after_contest(clock)
    clock(started + REVIEW)
    ruled = services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome="rejected", reason="Valid at delivery"
    )
    assert ruled.decided_by == DecidedBy.STAFF
    assert _sweep()["review"] == 0


# --- A request for information: 24 h, the review clock paused --------------------------------


def test_a_request_for_information_gives_24_hours_and_pauses_the_review(clock):
    dispute, started = _review_after_contest(clock)
    asked_at = clock(started + 40 * HOUR)
    dispute = services.dispute_request_info(
        dispute=dispute, staff=arbitrator(), party="merchant", question="Logs?"
    )
    assert dispute.info_due == asked_at + INFO
    assert dispute.review_paused_at == asked_at
    # Paused: the review deadline passes (the info deadline has not) and nothing happens.
    clock(started + REVIEW)
    assert _sweep() == {"merchant": 0, "buyer": 0, "review": 0, "info": 0}
    assert _fresh(dispute).status == Status.UNDER_REVIEW


def test_silence_resumes_the_review_at_the_info_deadline_not_before(clock):
    dispute, started = _review_after_contest(clock)
    asked_at = clock(started + 10 * HOUR)
    services.dispute_request_info(
        dispute=dispute, staff=arbitrator(), party="buyer", question="When did you redeem?"
    )
    clock(asked_at + INFO - SECOND)
    assert _sweep()["info"] == 0
    assert _fresh(dispute).review_paused_at == asked_at
    clock(asked_at + INFO)
    assert _sweep()["info"] == 1
    dispute = _fresh(dispute)
    assert dispute.review_paused_at is None and dispute.info_due is None
    # The whole pause is added to the review deadline, to the second.
    assert dispute.review_due == started + REVIEW + INFO
    clock(started + REVIEW + INFO - SECOND)
    assert _sweep()["review"] == 0
    clock(started + REVIEW + INFO)
    assert _sweep()["review"] == 1


def test_an_answer_resumes_the_review_with_the_pause_added(clock):
    dispute, started = _review_after_contest(clock)
    asked_at = clock(started + 10 * HOUR)
    services.dispute_request_info(
        dispute=dispute, staff=arbitrator(), party="buyer", question="When did you redeem?"
    )
    clock(asked_at + 3 * HOUR)
    services.dispute_message(dispute=dispute, user=dispute.buyer, body="Yesterday at noon.")
    dispute = _fresh(dispute)
    assert dispute.review_paused_at is None
    assert dispute.review_due == started + REVIEW + 3 * HOUR


# --- The appeal window: 7 days after the resolution -----------------------------------------


def test_the_appeal_window_is_7_days_after_the_resolution(clock):
    dispute = file()
    resolved_at = clock(T0 + 4 * HOUR)
    dispute = services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="accept", remedy="refund"
    )
    assert dispute.resolved_at == resolved_at
    assert dispute.appeal_due == resolved_at + APPEAL


@pytest.mark.parametrize("party", ["buyer", "merchant"])
def test_an_appeal_at_the_windows_last_second_is_taken_one_after_is_refused(clock, party):
    on_time, late = resolved_by_refund(), resolved_by_refund()
    assert on_time.appeal_due == late.appeal_due == T0 + APPEAL

    def user(dispute: Dispute):
        return dispute.buyer if party == "buyer" else dispute.merchant.owner

    clock(T0 + APPEAL)
    appealed = services.dispute_appeal(dispute=on_time, user=user(on_time), reason="Unfair")
    assert appealed.status == Status.UNDER_REVIEW
    clock(T0 + APPEAL + SECOND)
    error = _refused(services.dispute_appeal, dispute=late, user=user(late), reason="Unfair")
    assert error.code == "deadline_passed"
    assert _fresh(late).status == Status.RESOLVED
