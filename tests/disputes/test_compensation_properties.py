"""Property-based checks of the compensation rule (docs/money.md).

1. A random life of two orders — a card key and a phone top-up that may fail late — through
   filing (fast-tracked or not), withdrawal and refiling, the merchant's answers (a refund or
   a replacement key), offers, rulings (replacements, and replacements found bad too),
   appeals, recovery decisions, the clock (review expiry included) and payout retries: after
   every step every `check_ledger` invariant holds (each order given back at most what was
   paid, replacement keys included, no recovery above its payout, every queued payout
   sendable) and the buyer never has more back — in money and in replacement keys, read from
   the timeline — than the price. A refusal is a legal step, except escrow's own guard
   refusing a settlement: that means the settlement rule asked for too much, and fails.
2. The clock's set-based batch and the one-complaint path (`resolve` + `money.settle`) write
   the same ledger rows, holds, payouts, timeline events and notifications for the same
   random scenario.

Each example runs in its own rolled-back transaction (hypothesis.extra.django.TestCase); on
PostgreSQL in CI, on SQLite locally."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import time_machine
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from disputes import services
from disputes.models import Dispute, DisputeEvent, EventType, Notification, Status
from disputes.services import clock, sweep
from escrow import services as escrow
from escrow.models import Hold, LedgerTransaction, Payout
from escrow.selectors import ledger_check
from escrow.services import compensation as escrow_compensation
from kamen_complaints.errors import DomainError
from orders import services as order_services
from orders.models import Order, ProductKind, Refund
from tests.disputes.factories import arbitrator, contest, file, fund
from tests.disputes.test_clock import _core_evidence
from tests.factories import CardKeyFactory, ProductFactory, UserFactory
from tests.helpers import paid_order

D = Decimal
START = "2026-11-02 10:00 +08:00"

frac = st.integers(min_value=1, max_value=100)
order_ix = st.integers(min_value=0, max_value=1)
filing = st.tuples(st.just("file"), order_ix, frac, st.booleans())
operations = st.one_of(
    filing,
    st.tuples(st.just("withdraw"), order_ix),
    st.tuples(st.just("accept"), order_ix),
    st.tuples(st.just("replace"), order_ix),
    st.tuples(st.just("offer"), order_ix, frac),
    st.tuples(st.just("accept_offer"), order_ix),
    st.tuples(st.just("reject_offer"), order_ix),
    st.tuples(st.just("contest"), order_ix),
    st.tuples(
        st.just("rule"),
        order_ix,
        st.sampled_from(["refunded", "partially_refunded", "rejected", "replaced"]),
        frac,
        st.booleans(),
        st.booleans(),  # the replacement keys found bad too
    ),
    st.tuples(st.just("appeal"), order_ix, st.booleans()),
    st.tuples(st.just("recovery"), order_ix, st.booleans()),
    st.tuples(
        st.just("topup_fails"),
    ),
    st.tuples(st.just("clock"), st.sampled_from([1, 13, 25, 49, 73])),
    st.tuples(
        st.just("payouts"),
    ),
)


def _share(amount: Decimal, percent: int) -> Decimal:
    return max(D("0.01"), (amount * percent / 100).quantize(D("0.01")))


def _given_back(order: Order) -> Decimal:
    payouts = list(Payout.objects.filter(order=order))
    keys = {p.key for p in payouts}
    own = sum(
        (
            r.amount
            for r in Refund.objects.filter(payment__order=order)
            if r.idempotency_key not in keys
        ),
        D("0.00"),
    )
    return D(sum(p.amount for p in payouts)) / 100 + own


def _replaced(order: Order) -> Decimal:
    """What the replacement keys handed over on the order are worth, read from the timeline:
    per complaint, the keys of its latest replacement at the unit price, unless a ruling
    after it found them bad too (docs/money.md "Replacement keys")."""
    value = D("0.00")
    for dispute in Dispute.objects.filter(order=order):
        latest = D("0.00")
        for event in dispute.events.filter(
            type__in=[EventType.KEY_REPLACED, EventType.RULED]
        ).order_by("id"):
            if event.type == EventType.KEY_REPLACED:
                latest = order.unit_price * len(event.data["card_keys"])
            elif event.data.get("replacement_bad"):
                latest = D("0.00")
        value += latest
    return value


def _escrow_refused(order: Order, headroom: int) -> None:
    raise AssertionError(f"escrow refused a payout on {order.number} (headroom {headroom} fen)")


def _escrow_refused_recovery(dispute_id: int, fen: int, paid: int) -> None:
    raise AssertionError(f"escrow refused recovering {fen} fen of dispute {dispute_id} ({paid})")


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class CompensationPropertyTests(TestCase):
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        first=st.lists(filing, min_size=1, max_size=2),
        steps=st.lists(operations, min_size=4, max_size=18),
    )
    # Issue 17: replaced, appealed, the review clock runs out — or staff rule refunded.
    @example(
        first=[("file", 0, 100, False)],
        steps=[("replace", 0), ("appeal", 0, True), ("clock", 73), ("payouts",)],
    )
    @example(
        first=[("file", 0, 100, False)],
        steps=[("replace", 0), ("appeal", 0, True), ("rule", 0, "refunded", 1, True, False)],
    )
    # The order's own refund first: the complaint's outcome is cut by the headroom, and escrow's
    # guard is never reached.
    @example(
        first=[("file", 1, 100, False)],
        steps=[("topup_fails",), ("accept", 1), ("payouts",), ("payouts",)],
    )
    def test_no_order_is_ever_given_back_more_than_was_paid(
        self, first: list[tuple], steps: list[tuple]
    ) -> None:
        with time_machine.travel(START, tick=False) as traveller:
            buyer = UserFactory(date_joined=timezone.now() - timedelta(days=30))
            card = ProductFactory(price=D("60.00"))
            merchant = card.merchant
            topup = ProductFactory(
                merchant=merchant, kind=ProductKind.PHONE_TOPUP, price=D("49.50")
            )
            orders = [paid_order(buyer=buyer, product=card)]
            pending = order_services.order_create(
                buyer=buyer, product=topup, quantity=1, topup_target="13912340000"
            )
            orders.append(order_services.order_pay(order=pending, buyer=buyer))
            for _ in range(3):  # stock for replacements
                CardKeyFactory(product=card)
            fund(merchant, D("80.00"))
            staff = arbitrator()
            # Escrow's guards are the last line: the settlement rule must never ask past them.
            guards = (
                mock.patch.object(escrow_compensation, "_over_order", _escrow_refused),
                mock.patch.object(escrow_compensation, "_over_payout", _escrow_refused_recovery),
            )
            with guards[0], guards[1]:
                for step in first + steps:
                    # A refusal is a legal outcome; like a request, a step is one transaction.
                    with contextlib.suppress(DomainError), transaction.atomic():
                        self._apply(step, orders, staff, traveller)
                    breaches = [f"{c.name}: {c.breaches}" for c in ledger_check() if not c.ok]
                    assert not breaches, f"after {step}: {breaches}"
                    for order in orders:
                        order.refresh_from_db()
                        given = _given_back(order) + _replaced(order)
                        assert given <= order.amount, f"after {step}: {order.number} {given}"
                        assert order.refunded_amount + order.refund_reserved <= order.amount

    def _apply(self, step: tuple, orders: list[Order], staff: Any, traveller: Any) -> None:
        name, *args = step
        if name == "topup_fails":
            order_services.order_topup_deliver(order_id=orders[1].pk)
            return
        if name == "clock":
            traveller.shift(timedelta(hours=args[0]))
            sweep.deadlines_sweep()
            return
        if name == "payouts":
            escrow.payouts_send_pending()
            return
        live = Dispute.objects.filter(order=orders[args[0]]).order_by("-filed_at", "-pk").first()
        if name == "file":
            index, percent, core = args
            order = orders[index]
            order.refresh_from_db()
            file(
                order,
                reason="not_received" if index else "invalid_card_key",
                claimed_amount=_share(order.amount, percent),
                evidence=_core_evidence() if core else [],
            )
        elif live is None:
            return
        elif name == "withdraw":
            services.dispute_withdraw(dispute=live, buyer=live.buyer)
        elif name in ("accept", "replace"):
            services.dispute_respond(
                dispute=live,
                merchant_user=live.merchant.owner,
                action="accept",
                remedy="refund" if name == "accept" else "replace",
            )
        elif name == "offer":
            services.dispute_respond(
                dispute=live,
                merchant_user=live.merchant.owner,
                action="offer",
                amount=_share(live.claimed_amount, args[1]),
                message="Part of it?",
            )
        elif name == "accept_offer":
            services.dispute_accept_offer(dispute=live, buyer=live.buyer)
        elif name == "reject_offer":
            services.dispute_reject_offer(dispute=live, buyer=live.buyer, message="No")
        elif name == "contest":
            contest(live)
        elif name == "rule":
            _index, outcome, percent, recover, replacement_bad = args
            amount = (
                _share(live.claimed_amount, percent) if outcome == "partially_refunded" else None
            )
            services.dispute_rule(
                dispute=live,
                staff=staff,
                outcome=outcome,
                amount=amount,
                reason="Decided",
                recover_from_merchant=recover,
                **({"replacement_bad": True} if replacement_bad else {}),
            )
        elif name == "appeal":
            user = live.buyer if args[1] else live.merchant.owner
            services.dispute_appeal(dispute=live, user=user, reason="Please look again")
        elif name == "recovery":
            services.dispute_decide_recovery(
                dispute=live, staff=staff, bears="merchant" if args[1] else "platform", reason="x"
            )


# --- The batch and the single path write the same rows ----------------------------------------


def _snapshot(marks: dict[str, int], dispute_pk: int, order_pk: int) -> dict[str, Any]:
    events = list(
        DisputeEvent.objects.filter(pk__gt=marks["event"], dispute_id=dispute_pk).order_by("pk")
    )
    index = {e.pk: i for i, e in enumerate(events)}

    def dedupe(key: str) -> str:
        return re.sub(r":event:(\d+):", lambda m: f":event:#{index.get(int(m[1]), '?')}:", key)

    dispute = Dispute.objects.get(pk=dispute_pk)
    order = Order.objects.get(pk=order_pk)
    return {
        "dispute": (
            dispute.status,
            dispute.outcome,
            dispute.resolved_amount,
            dispute.decided_by,
            dispute.decision_reason,
            dispute.resolved_at,
            dispute.appeal_due,
            dispute.appeal_final,
            dispute.paid_out,
            dispute.recovered,
            dispute.recovery_pending,
        ),
        "order": (order.refunded_amount, order.refund_reserved, order.status),
        "merchant": (dispute.merchant.status, dispute.merchant.suspension_reason),
        "ledger": [
            (
                tx.key,
                tx.kind,
                tx.merchant_id,
                tx.dispute_id,
                # By kind and owner: an account made lazily in one run gets another id in the
                # other (PostgreSQL's sequences do not roll back).
                sorted(
                    (leg.account.kind, leg.account.merchant_id or 0, leg.amount, leg.balance_after)
                    for leg in tx.legs.select_related("account")
                ),
            )
            for tx in LedgerTransaction.objects.filter(pk__gt=marks["tx"]).order_by("key")
        ],
        "holds": sorted(
            (h.reference, h.amount, h.consumed, h.status)
            for h in Hold.objects.filter(reference=f"dispute:{dispute_pk}")
        ),
        "payouts": sorted(
            (p.order_id, p.source_key, p.amount, p.status)
            for p in Payout.objects.filter(pk__gt=marks["payout"])
        ),
        "events": [
            (e.type, e.actor_id, e.role, e.from_status, e.to_status, e.visibility, e.body, e.data)
            for e in events
        ],
        "notifications": sorted(
            (
                n.recipient_id,
                n.channel,
                dedupe(n.dedupe_key),
                n.kind,
                n.role,
                sorted(n.params.items()),
                n.subject,
                n.body,
                n.sent_at,
            )
            for n in Notification.objects.filter(pk__gt=marks["notification"])
        ),
    }


def _marks() -> dict[str, int]:
    def last(model: Any) -> int:
        row = model.objects.order_by("-pk").values_list("pk", flat=True).first()
        return row or 0

    return {
        "event": last(DisputeEvent),
        "tx": last(LedgerTransaction),
        "payout": last(Payout),
        "notification": last(Notification),
    }


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class BatchMatchesSinglePathTests(TestCase):
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        which=st.sampled_from([clock.MERCHANT, clock.BUYER, clock.REVIEW]),
        price=st.integers(min_value=100, max_value=30_000),
        claimed=frac,
        offered=frac,
        refunded=st.integers(min_value=0, max_value=100),
        deposit=st.integers(min_value=0, max_value=40_000),
        fast=st.booleans(),
    )
    def test_the_batch_writes_what_the_single_path_writes(
        self,
        which: str,
        price: int,
        claimed: int,
        offered: int,
        refunded: int,
        deposit: int,
        fast: bool,
    ) -> None:
        with time_machine.travel(START, tick=False) as traveller:
            buyer = UserFactory(date_joined=timezone.now() - timedelta(days=30))
            product = ProductFactory(price=D(price) / 100)
            order = paid_order(buyer=buyer, product=product)
            if deposit:
                fund(product.merchant, D(deposit) / 100)
            dispute = file(
                order,
                claimed_amount=_share(order.amount, claimed),
                evidence=_core_evidence() if fast and which != clock.BUYER else [],
            )
            if which == clock.BUYER:
                assume(dispute.claimed_amount > D("0.01") and offered < 100)
                dispute = services.dispute_respond(
                    dispute=dispute,
                    merchant_user=dispute.merchant.owner,
                    action="offer",
                    amount=min(
                        _share(dispute.claimed_amount, offered),
                        dispute.claimed_amount - D("0.01"),
                    ),
                    message="Part?",
                )
            elif which == clock.REVIEW:
                dispute = contest(dispute)
            order.refresh_from_db()
            if refunded and order.refundable_amount > 0:
                order_services.order_refund(
                    order=order,
                    amount=_share(order.refundable_amount, refunded),
                    reason="manual",
                    key=f"t:{order.number}",
                )
            dispute.refresh_from_db()
            due = {
                clock.MERCHANT: dispute.merchant_response_due,
                clock.BUYER: dispute.buyer_response_due,
                clock.REVIEW: dispute.review_due,
            }[which]
            if due is None:  # e.g. a fast track contested: not this scenario's clock
                return
            traveller.move_to(due + timedelta(seconds=1))
            marks = _marks()
            now = timezone.now()

            results = []
            for path in ("batch", "single"):
                with transaction.atomic():
                    rows = clock.lock_due(which, now=now, limit=10)
                    assert [r.pk for r in rows] == [dispute.pk]
                    if path == "batch":
                        clock._enforce_batch(which, [clock._plan(which, rows[0])], {})
                    else:
                        clock._enforce_unusual(clock._plan(which, rows[0]))
                    results.append(_snapshot(marks, dispute.pk, order.pk))
                    transaction.set_rollback(True)
            batch, single = results
            for part in batch:
                assert batch[part] == single[part], (part, batch[part], single[part])
            assert batch["dispute"][0] == Status.RESOLVED
