"""Property-based: random sequences of top-ups, holds, releases, compensations with and without
recovery, appeal payouts and reversals, withdrawals, adjustments and payout sweeps — every
invariant of `check_ledger` holds after every step, and the merchant is never charged twice.

Each example runs in its own rolled-back transaction (hypothesis.extra.django.TestCase)."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from escrow import services
from escrow.models import AccountKind, LedgerTransaction, TransactionKind
from escrow.selectors import ledger_check
from kamen_complaints.errors import DomainError
from tests.escrow.factories import finance_staff
from tests.factories import MerchantFactory, ProductFactory, UserFactory
from tests.helpers import paid_order

MERCHANTS = 2
DISPUTES = 6  # dispute d belongs to merchant d % MERCHANTS and has its own order
ORDER_PRICE = Decimal("60.00")

deposit = st.integers(min_value=0, max_value=50_000).map(lambda fen: Decimal(fen) / 100)
money = st.integers(min_value=1, max_value=200_000).map(lambda fen: Decimal(fen) / 100)
claim = st.integers(min_value=0, max_value=8_000).map(lambda fen: Decimal(fen) / 100)
payable = st.integers(min_value=1, max_value=6_000).map(lambda fen: Decimal(fen) / 100)
dispute = st.integers(min_value=0, max_value=DISPUTES - 1)
merchant = st.integers(min_value=0, max_value=MERCHANTS - 1)

operations = st.one_of(
    st.tuples(st.just("topup"), merchant, money),
    st.tuples(st.just("hold"), dispute, claim),
    st.tuples(st.just("release"), dispute),
    st.tuples(st.just("pay"), dispute, payable),
    st.tuples(st.just("recover"), dispute, payable),
    st.tuples(st.just("pay_and_recover"), dispute, payable),
    st.tuples(st.just("appeal_payout"), dispute, payable),
    st.tuples(st.just("reverse"), dispute, payable),
    st.tuples(st.just("withdraw"), merchant, money, st.booleans()),
    st.tuples(st.just("adjust"), merchant, st.integers(-50_000, 50_000)),
    st.tuples(st.just("sweep")),
)


# Accounts are made per example: a fast hasher keeps the run to seconds.
@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class LedgerPropertyTests(TestCase):
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        deposits=st.tuples(deposit, deposit),
        steps=st.lists(operations, min_size=3, max_size=30),
    )
    def test_every_invariant_holds_after_every_step(
        self, deposits: tuple[Decimal, Decimal], steps: list[tuple]
    ) -> None:
        shops = [MerchantFactory(minimum_deposit=Decimal("100.00")) for _ in range(MERCHANTS)]
        buyer = UserFactory()
        orders = [
            paid_order(
                buyer=buyer,
                product=ProductFactory(merchant=shops[d % MERCHANTS], price=ORDER_PRICE),
            )
            for d in range(DISPUTES)
        ]
        staff = finance_staff()
        for shop, amount in zip(shops, deposits, strict=True):
            if amount:
                services.deposit_topup(merchant=shop, amount=amount, user=shop.owner)
        for step in steps:
            # A refusal (DomainError) is a legal outcome; it must leave the ledger intact.
            with contextlib.suppress(DomainError):
                self._apply(step, shops, orders, staff)
            breaches = [f"{c.name}: {c.breaches}" for c in ledger_check() if not c.ok]
            assert not breaches, f"after {step}: {breaches}"
        for d in range(DISPUTES):
            keys = set(LedgerTransaction.objects.filter(dispute_id=d).values_list("key", flat=True))
            assert keys <= {
                f"dispute:{d}:payout",
                f"dispute:{d}:recovery",
                f"dispute:{d}:appeal-payout",
                f"dispute:{d}:recovery-reversal",
            }
            recovered = _fund_leg(f"dispute:{d}:recovery")
            assert 0 <= _fund_leg(f"dispute:{d}:recovery-reversal") * -1 <= recovered

    def _apply(self, step: tuple, shops: list, orders: list, staff: object) -> None:
        name, *args = step
        if name == "topup":
            shop = shops[args[0]]
            services.deposit_topup(merchant=shop, amount=args[1], user=shop.owner)
        elif name == "hold":
            d, amount = args
            services.deposit_hold(
                merchant=shops[d % MERCHANTS], amount=amount, reference=f"dispute:{d}"
            )
        elif name == "release":
            services.hold_release(reference=f"dispute:{args[0]}")
        elif name == "pay":
            d, amount = args
            services.compensation_pay(dispute_id=d, order=orders[d], amount=amount)
        elif name == "recover":
            d, amount = args
            services.compensation_recover(
                dispute_id=d, merchant=shops[d % MERCHANTS], amount=amount
            )
        elif name == "pay_and_recover":
            d, amount = args
            services.compensation_pay(dispute_id=d, order=orders[d], amount=amount)
            services.compensation_recover(
                dispute_id=d, merchant=shops[d % MERCHANTS], amount=amount
            )
        elif name == "appeal_payout":
            d, amount = args
            services.compensation_appeal_payout(dispute_id=d, order=orders[d], amount=amount)
        elif name == "reverse":
            d, amount = args
            services.compensation_recovery_reversal(
                dispute_id=d, merchant=shops[d % MERCHANTS], amount=amount
            )
        elif name == "withdraw":
            index, amount, approve = args
            shop = shops[index]
            withdrawal = services.withdrawal_request(merchant=shop, amount=amount, user=shop.owner)
            if approve:
                services.withdrawal_approve(withdrawal=withdrawal, staff=staff)
            else:
                services.withdrawal_reject(withdrawal=withdrawal, staff=staff, reason="test")
        elif name == "adjust":
            index, fen = args
            if fen:
                services.adjustment_post(
                    merchant=shops[index], amount=Decimal(fen) / 100, reason="test", staff=staff
                )
        elif name == "sweep":
            services.payouts_send_pending()
        else:  # pragma: no cover
            raise AssertionError(name)


def _fund_leg(key: str) -> int:
    tx = LedgerTransaction.objects.filter(key=key).first()
    if tx is None:
        return 0
    return sum(
        leg.amount
        for leg in tx.legs.select_related("account")
        if leg.account.kind == AccountKind.COMPENSATION_FUND
    )


def test_the_property_covers_every_movement_kind() -> None:
    """The strategy names every kind of ledger transaction the services write."""
    written_by = {
        "topup": TransactionKind.TOPUP,
        "pay": TransactionKind.COMPENSATION_PAYOUT,
        "recover": TransactionKind.RECOVERY,
        "appeal_payout": TransactionKind.APPEAL_PAYOUT,
        "reverse": TransactionKind.RECOVERY_REVERSAL,
        "withdraw": TransactionKind.WITHDRAWAL,
        "adjust": TransactionKind.ADJUSTMENT,
        "sweep": TransactionKind.REFUND_PAYOUT,
    }
    assert set(written_by.values()) | {TransactionKind.FUND_TOPUP} == set(TransactionKind)
