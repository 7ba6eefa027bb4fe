"""The shop record's windows agree with each other (docs/rules.md, "The shop record"): every
figure on the merchant's performance page comes from one computation at one moment, so over
random histories, page views, public views that warm the cache and time passing, the page's
7-day paid orders, complaints and money paid out are never more than its 30-day ones, nor
those more than its 90-day ones (disputes.selectors.shop_records).

Each example runs in its own rolled-back transaction (hypothesis.extra.django.TestCase)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import time_machine
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from disputes import selectors, services
from orders.models import Merchant, OrderStatus, Product
from tests.disputes.factories import file, fund, funded_order
from tests.factories import OrderFactory, ProductFactory

PRICE = Decimal("48.00")

# Something sold (and maybe complained about, the merchant letting the deadline pass so the
# claim is recovered from the deposit) `age` days before the moment it is added.
sale = st.tuples(
    # age in days: often inside the shortest window, where a stale longer one misses it
    st.one_of(st.integers(min_value=0, max_value=6), st.integers(min_value=0, max_value=100)),
    st.integers(min_value=0, max_value=4800),  # claim in fen; 0: no complaint
)
# What happens after the history: the merchant opens the page over a window, a buyer opens
# the shop's public page (which caches the 90-day record), a new sale, time passes (minutes).
step = st.one_of(
    st.tuples(st.just("page"), st.sampled_from(selectors.SHOP_RECORD_DAYS)),
    st.tuples(st.just("public"), st.just(0)),
    st.tuples(st.just("sale"), sale),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=15)),
)


def _sell(product: Product, age: int, claim_fen: int) -> None:
    with time_machine.travel(timezone.now() - dt.timedelta(days=age, minutes=1)):
        if not claim_fen:
            OrderFactory(product=product, status=OrderStatus.DELIVERED, paid_at=timezone.now())
            return
        dispute = file(
            order=funded_order(product=product, deposit_amount=Decimal(0)),
            claimed_amount=Decimal(claim_fen) / 100,
        )
        due = dispute.merchant_response_due
        assert due is not None
        with time_machine.travel(due + dt.timedelta(minutes=5)):
            services.dispute_default_judgment(dispute=dispute)


FIGURES = ("orders", "complaints", "paid_out")


class WindowsNest(TestCase):
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    # The reported case: the public page cached the 90 days, then a sale, then the page.
    @example(history=[], steps=[("public", 0), ("sale", (0, 0)), ("page", 7)])
    @example(history=[(2, 4800)], steps=[("public", 0), ("sale", (1, 4800)), ("page", 30)])
    @given(
        history=st.lists(sale, max_size=8),
        steps=st.lists(step, min_size=1, max_size=8),
    )
    def test_seven_within_thirty_within_ninety(
        self, history: list[tuple[int, int]], steps: list[tuple[str, Any]]
    ) -> None:
        cache.clear()
        start = timezone.now()
        with time_machine.travel(start, tick=False) as clock:
            product = ProductFactory(price=PRICE)
            merchant: Merchant = product.merchant
            fund(merchant, Decimal("5000.00"))
            for age, claim in history:
                _sell(product, age, claim)
            owner = Client()
            owner.force_login(merchant.owner)
            for kind, value in steps:
                if kind == "wait":
                    clock.shift(dt.timedelta(minutes=value))
                elif kind == "sale":
                    _sell(product, *value)
                elif kind == "public":
                    assert Client().get(f"/shops/{merchant.pk}/").status_code == 200
                else:
                    response = owner.get(f"/merchant/performance/?days={value}")
                    assert response.status_code == 200
                    windows = {w["days"]: w["record"] for w in response.context["windows"]}
                    assert response.context["record"] == windows[value]
                    for figure in FIGURES:
                        seven, thirty, ninety = (windows[d][figure] for d in (7, 30, 90))
                        assert seven <= thirty <= ninety, (figure, seven, thirty, ninety)
                    moments = {w["computed_at"] for w in windows.values()}
                    assert len(moments) == 1, moments  # one computation, one moment
        cache.clear()
