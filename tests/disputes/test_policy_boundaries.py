"""Each policy limit at, just under and just over its boundary (docs/rules.md "The policy",
"Fast track", "Blacklist", "Staff decisions"): the small-claim threshold (¥100.00 inclusive),
the 7-day account age, at most 3 fast tracks in 30 days, the 180-day malicious window for the
fast track and for the blacklist, the blacklist's threshold and duration, the four-eyes
threshold (¥5,000.00: more than it needs a second arbitrator). Time stands still, so a
boundary is exact to the second; the figures are the promise's, written out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from disputes import services
from disputes.models import CORE_EVIDENCE, BlacklistEntry, Dispute
from kamen_complaints.errors import DomainError
from tests.disputes.factories import arbitrator, file, funded_order, png, under_review
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
T0 = datetime(2026, 11, 17, 6, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
SMALL = D("48.00")


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T0, tick=False)

    def move(moment: datetime) -> datetime:
        time_machine.move_to(moment, tick=False)
        return moment

    return move


def _old_buyer(age: timedelta = 8 * DAY):
    return UserFactory(date_joined=T0 - age)


def _core_evidence() -> list[services.EvidenceUpload]:
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    return [
        services.EvidenceUpload(kind=kind, file=png(f"{kind}.png", color=color))
        for kind, color in zip(CORE_EVIDENCE, colors, strict=True)
    ]


def _small_claim(buyer=None, claimed: Decimal = SMALL, price: Decimal | None = None):
    order = funded_order(buyer=buyer or _old_buyer(), price=price or claimed)
    return file(order, claimed_amount=claimed, evidence=_core_evidence())


def _malicious(buyer) -> Dispute:
    dispute = under_review(order=funded_order(buyer=buyer))
    return services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome="rejected_malicious", reason="Fabricated"
    )


# --- The fast track ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claimed", "fast"),
    [(D("99.99"), True), (D("100.00"), True), (D("100.01"), False)],
    ids=["under", "at", "over"],
)
def test_the_small_claim_threshold_is_inclusive(clock, claimed, fast):
    dispute = _small_claim(claimed=claimed, price=D("150.00"))
    assert dispute.fast_track is fast
    assert dispute.paid_out == (claimed if fast else D("0.00"))


@pytest.mark.parametrize(
    ("age", "fast"),
    [(7 * DAY - SECOND, False), (7 * DAY, True), (7 * DAY + SECOND, True)],
    ids=["a-second-short", "exactly-7-days", "a-second-over"],
)
def test_the_account_must_be_at_least_7_days_old(clock, age, fast):
    assert _small_claim(buyer=_old_buyer(age)).fast_track is fast


def test_the_fourth_fast_track_in_30_days_runs_the_normal_course(clock):
    buyer = _old_buyer()
    assert [_small_claim(buyer=buyer).fast_track for _ in range(4)] == [True, True, True, False]


@pytest.mark.parametrize(
    ("later", "fast"),
    [(30 * DAY - SECOND, False), (30 * DAY, True)],
    ids=["a-second-inside-30-days", "30-days-after"],
)
def test_fast_tracks_count_for_30_days_to_the_second(clock, later, fast):
    buyer = _old_buyer()
    assert all(_small_claim(buyer=buyer).fast_track for _ in range(3))
    clock(T0 + later)
    assert _small_claim(buyer=buyer).fast_track is fast


@pytest.mark.parametrize(
    ("later", "fast"),
    [(180 * DAY - SECOND, False), (180 * DAY, True)],
    ids=["a-second-inside-180-days", "180-days-after"],
)
def test_a_malicious_ruling_bars_the_fast_track_for_180_days(clock, later, fast):
    buyer = _old_buyer()
    ruled = _malicious(buyer)
    assert ruled.resolved_at == T0
    clock(T0 + later)
    assert _small_claim(buyer=buyer).fast_track is fast


# --- The blacklist -----------------------------------------------------------------------------


def test_the_third_malicious_ruling_blacklists_not_the_second(clock):
    buyer = UserFactory()
    _malicious(buyer)
    _malicious(buyer)
    assert not BlacklistEntry.objects.filter(user=buyer).exists()
    third = _malicious(buyer)
    entry = BlacklistEntry.objects.get(user=buyer)
    assert entry.dispute == third


@pytest.mark.parametrize(
    ("later", "blacklisted"),
    [(180 * DAY - SECOND, True), (180 * DAY, False)],
    ids=["first-a-second-inside-180-days", "first-180-days-before"],
)
def test_the_blacklist_counts_malicious_rulings_within_180_days(clock, later, blacklisted):
    buyer = UserFactory()
    _malicious(buyer)
    clock(T0 + DAY)
    _malicious(buyer)
    clock(T0 + later)
    _malicious(buyer)
    assert BlacklistEntry.objects.filter(user=buyer).exists() is blacklisted


def test_a_blacklisting_lasts_180_days_to_the_second(clock):
    buyer = UserFactory()
    for _ in range(3):
        _malicious(buyer)
    entry = BlacklistEntry.objects.get(user=buyer)
    assert entry.expires_at == T0 + 180 * DAY
    clock(entry.expires_at - SECOND)
    with pytest.raises(DomainError) as caught:
        file(funded_order(buyer=buyer))
    assert caught.value.code == "blacklisted"
    clock(entry.expires_at)
    assert file(funded_order(buyer=buyer)).pk


# --- Four eyes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "needs"),
    [(D("4999.99"), False), (D("5000.00"), False), (D("5000.01"), True)],
    ids=["under", "at", "over"],
)
def test_a_ruling_needs_a_second_arbitrator_only_above_5000(clock, amount, needs):
    dispute = under_review(
        order=funded_order(price=D("6000.00"), deposit_amount=D("10000.00")),
        claimed_amount=D("6000.00"),
    )
    assert (
        services.ruling_needs_approval(dispute=dispute, outcome="partially_refunded", amount=amount)
        is needs
    )
    if not needs:  # carried out by one arbitrator
        ruled = services.dispute_rule(
            dispute=dispute,
            staff=arbitrator(),
            outcome="partially_refunded",
            amount=amount,
            reason="Part of the keys were bad",
        )
        assert ruled.paid_out == amount
    else:
        with pytest.raises(DomainError) as caught:
            services.dispute_rule(
                dispute=dispute,
                staff=arbitrator(),
                outcome="partially_refunded",
                amount=amount,
                reason="Part of the keys were bad",
            )
        assert caught.value.code == "second_approval_required"
