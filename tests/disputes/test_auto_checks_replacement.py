"""The automatic checks compare against the time a buyer actually got a key: a replacement key,
sent after the order, at its own delivery time, not the order's; a key moved to an order by
hand, never before that order's delivery (disputes/services/auto.py `_received_at`, used by
`_key_rule` and `_deliveries`; docs/automatic-checks.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from disputes import services
from disputes.models import CheckKind, CheckRule, DecidedBy, Status
from disputes.services import auto
from orders.models import CardKey, CardKeyReveal, Order
from orders.verifiers import KeyAnswer, KeyStatus, SandboxCardKeyVerifier
from tests.disputes.auto_helpers import checks, key_order
from tests.disputes.factories import check_ledger, file

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 17, 6, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T0, tick=False)

    def move(moment: datetime) -> datetime:
        time_machine.move_to(moment, tick=False)
        return moment

    return move


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    def filing(function: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return filing


def _replace(order: Order, clock, at: datetime) -> CardKey:
    """A first complaint the merchant settles with a replacement key from stock at `at`."""
    first = file(order, description="The key does not work.")
    clock(at)
    first = services.dispute_respond(
        dispute=first, merchant_user=first.merchant.owner, action="accept", remedy="replace"
    )
    assert first.status == Status.RESOLVED
    key = order.card_keys.get(tail="0002")
    assert key.delivered_at == at and order.delivered_at == T0
    return key


@pytest.mark.parametrize(
    ("replaced_after", "rule"),
    [
        (10 * HOUR, CheckRule.KEY_REDEEMED_BEFORE_DELIVERY),
        (4 * HOUR, CheckRule.KEY_REDEEMED_UNREVEALED),
    ],
    ids=["redeemed-before-the-replacement", "redeemed-after-the-replacement"],
)
def test_a_replacement_key_is_judged_against_its_own_delivery(clock, replaced_after, rule):
    """The issuer says the replacement was redeemed 5 h after the order's delivery: before the
    replacement reached the buyer (sent at 10 h) the buyer cannot have done it; after (4 h)
    it is evidence only."""
    order = key_order("GAME-FIRST-0001", stock=("GAME-SPARE-0002",))
    replacement = _replace(order, clock, T0 + replaced_after)
    [dispute] = order.disputes.all()
    verdict = KeyAnswer(KeyStatus.REDEEMED, T0 + 5 * HOUR, {"state": "redeemed"})
    assert auto._key_rule(dispute, replacement, verdict) == rule


def test_a_key_moved_by_hand_counts_from_the_orders_own_delivery(clock, run_on_commit, monkeypatch):
    """A key moved to a later order keeps its first delivery time; redeemed between the two
    deliveries, it was redeemed before this order's buyer could have it: refunded."""
    first = key_order("GAME-FIRST-0001")
    key = first.card_keys.get()
    clock(T0 + 3 * HOUR)
    later = key_order("GAME-OTHER-0003")
    type(key).objects.filter(pk=key.pk).update(order=later)  # the fault
    original = SandboxCardKeyVerifier.verify

    def issuer(self: Any, *, secret: str, **kwargs: Any) -> KeyAnswer:
        if secret.endswith("0001"):
            return KeyAnswer(KeyStatus.REDEEMED, T0 + HOUR, {"state": "redeemed"})
        return original(self, secret=secret, **kwargs)

    monkeypatch.setattr(SandboxCardKeyVerifier, "verify", issuer)
    dispute = run_on_commit(file, later, card_keys=[key.pk])
    [check] = checks(dispute, CheckKind.CARD_KEY)
    assert check.rule == CheckRule.KEY_REDEEMED_BEFORE_DELIVERY
    dispute.refresh_from_db()
    assert (dispute.status, dispute.decided_by) == (Status.RESOLVED, DecidedBy.SYSTEM)
    assert dispute.paid_out == dispute.claimed_amount
    check_ledger()


@pytest.mark.parametrize(
    ("replaced_after", "refunded"),
    [(10 * HOUR, False), (2 * HOUR, True)],
    ids=["replacement-after-this-order", "replacement-before-this-order"],
)
def test_a_replacement_key_shown_to_another_buyer_counts_from_its_own_delivery(
    clock, run_on_commit, replaced_after, refunded
):
    """Order A was delivered at T0, order B at 3 h; a fault showed B's buyer the key that
    became A's replacement. If the replacement reached A at 10 h, B's buyer had it first and
    is not refunded at A's shop's expense; at 2 h, A had it first and B is refunded."""
    a = key_order("GAME-FIRST-0001", stock=("GAME-SPARE-0002",))
    spare = CardKey.objects.get(product=a.product, tail="0002")
    if replaced_after < 3 * HOUR:
        _replace(a, clock, T0 + replaced_after)
    clock(T0 + 3 * HOUR)
    b = key_order("GAME-OTHER-0003")
    clock(T0 + 4 * HOUR)
    reveal = CardKeyReveal.objects.create(order=b, user=b.buyer)
    reveal.card_keys.set([spare, *b.card_keys.all()])
    if replaced_after > 4 * HOUR:
        _replace(a, clock, T0 + replaced_after)
    clock(T0 + 11 * HOUR)
    dispute = run_on_commit(file, b)
    [twice] = [c for c in checks(dispute, CheckKind.DELIVERED_TWICE) if c.card_key_id == spare.pk]
    expected = CheckRule.KEY_DELIVERED_TWICE if refunded else CheckRule.NOT_DELIVERED_TWICE
    assert twice.rule == expected
    dispute.refresh_from_db()
    assert (dispute.status == Status.RESOLVED) is refunded
    assert dispute.paid_out == (dispute.claimed_amount if refunded else 0)
    check_ledger()
