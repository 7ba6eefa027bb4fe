"""Collective cases (issue 22, docs/collective-cases.md) through the real tasks on commit and
the sweep: a batch of 20 keys with 6 the issuer does not know, 3 complaints upheld → the case
opens, the sale stops, the other 3 bad keys' buyers are refunded once without filing, the good
keys' buyers are told and not refunded, the complainants are not paid twice, the ledger is
clean; the same for a top-up channel the upstream reports not credited; the buyer joins in one
tap; the shop answers once; the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from disputes.models import (
    CollectiveCase,
    CollectiveKind,
    CollectiveOrder,
    CollectiveStatus,
    Dispute,
    EventType,
    EvidenceKind,
    Finding,
    Notification,
    NotificationKind,
    Status,
)
from disputes.services import collective
from disputes.services.sweep import deadlines_sweep
from escrow.models import LedgerTransaction, Payout, TransactionKind
from orders import services as order_services
from orders.models import CardKey, CardKeyStatus, KeyBatch, Order, Product, ProductKind
from tests.disputes.factories import check_ledger, file, fund
from tests.factories import ProductFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
PRICE = D("48.00")


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what a service hands over on commit (the tasks, Celery eager) at once."""

    def run(function: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


def _batch(product: Product, lines: list[str]) -> KeyBatch:
    report = order_services.card_keys_import(
        product=product, data="\n".join(lines), imported_by=product.merchant.owner
    )
    assert report.imported == len(lines)
    return KeyBatch.objects.get(pk=report.batch_id)


def _buy(product: Product) -> Order:
    buyer = UserFactory()
    order = order_services.order_create(buyer=buyer, product=product, quantity=1)
    return order_services.order_pay(order=order, buyer=buyer)


def _bad_batch(*, sold: int = 17) -> tuple[Product, KeyBatch, list[Order]]:
    """20 keys in one import, the first 6 unknown to the issuer; `sold` of them sold, one per
    order, in import order (the first 6 orders got the bad keys)."""
    product = ProductFactory(price=PRICE, face_value=PRICE, kind=ProductKind.GAME_CARD)
    fund(product.merchant, D("1000.00"))
    lines = [f"UNKNOWN-{i:04d}-BATCHX" for i in range(6)]
    lines += [f"GOOD-{i:04d}-BATCHX" for i in range(14)]
    batch = _batch(product, lines)
    orders = [_buy(product) for _ in range(sold)]
    return product, batch, orders


def _payouts_of(order: Order) -> list[str]:
    return list(Payout.objects.filter(order=order).values_list("source_key", flat=True))


def test_a_bad_batch_opens_one_case_stops_the_sale_and_refunds_every_bad_key_once(
    on_commit: Any,
) -> None:
    product, batch, orders = _bad_batch()
    assert batch.count == 20 and batch.imported_by == product.merchant.owner
    complainants = orders[:3]
    disputes = [on_commit(file, order) for order in complainants]
    for dispute in disputes:
        dispute.refresh_from_db()
        assert dispute.status == Status.RESOLVED  # the automatic check upheld it
    # The third upheld complaint opened the case, and its task asked and settled it.
    case = CollectiveCase.objects.get()
    assert case.kind == CollectiveKind.KEY_BATCH and case.batch_id == batch.pk
    assert (case.threshold, case.window_hours) == (3, 24)
    assert case.status == CollectiveStatus.SETTLED
    # The sale stopped: the 3 keys still in stock are withdrawn, nothing else is in stock.
    assert case.withdrawn_count == 3
    assert CardKey.objects.filter(batch=batch, status=CardKeyStatus.AVAILABLE).count() == 0
    assert CardKey.objects.filter(batch=batch, status=CardKeyStatus.WITHDRAWN).count() == 3
    product.refresh_from_db()
    assert product.active is False and case.product_off_sale
    # The figures.
    assert (case.keys_count, case.delivered_count, case.bad_count) == (20, 17, 6)
    assert case.refunded_count == 3 and case.refunded_amount == 3 * PRICE
    assert case.recovered_amount == 3 * PRICE
    assert case.at_risk_amount == 3 * PRICE
    # The three complainants are members, paid once by their complaints, not by the case.
    assert set(case.members.values_list("pk", flat=True)) == {d.pk for d in disputes}
    for order, dispute in zip(complainants, disputes, strict=True):
        assert _payouts_of(order) == [f"dispute:{dispute.pk}:payout"]
        row = CollectiveOrder.objects.get(case=case, order=order)
        assert row.dispute_id == dispute.pk and row.refund_amount == 0
        assert row.finding == Finding.KEY_UNKNOWN
    # The other 3 bad keys' buyers: refunded by the case, without filing, once.
    for order in orders[3:6]:
        assert _payouts_of(order) == [f"collective:{case.pk}:{order.pk}:payout"]
        row = CollectiveOrder.objects.get(case=case, order=order)
        assert (row.refund_amount, row.refund_reason) == (PRICE, Finding.KEY_UNKNOWN)
        assert not Dispute.objects.filter(order=order).exists()
        order.refresh_from_db()
        assert order.refund_reserved + order.refunded_amount == PRICE
    # The good keys' buyers: told, not refunded.
    for order in orders[6:]:
        assert _payouts_of(order) == []
        row = CollectiveOrder.objects.get(case=case, order=order)
        assert row.finding == Finding.KEY_VALID and row.refund_amount == 0
    told = Notification.objects.filter(kind=NotificationKind.COLLECTIVE_FINDING, channel="inapp")
    assert sorted(told.values_list("recipient_id", flat=True)) == sorted(o.buyer_id for o in orders)
    # The shop was told the case opened.
    assert Notification.objects.filter(
        kind=NotificationKind.COLLECTIVE_OPENED, recipient=product.merchant.owner
    ).exists()
    # Money: the recovery of each refund is one posting; nothing twice.
    keys = list(
        LedgerTransaction.objects.filter(key__startswith=f"collective:{case.pk}:").values_list(
            "key", "kind"
        )
    )
    assert len(keys) == 6
    assert sum(1 for _k, kind in keys if kind == TransactionKind.RECOVERY) == 3
    check_ledger()

    # Settling again, the task delivered twice, the sweep: nothing moves again.
    assert collective.collective_case_settle(case_id=case.pk) is False
    on_commit(collective.collective_case_check, case_id=case.pk)
    on_commit(collective.collective_cases_open_due, dispute_id=disputes[0].pk)
    on_commit(deadlines_sweep, now=timezone.now())
    assert CollectiveCase.objects.count() == 1
    assert LedgerTransaction.objects.filter(key__startswith="collective:").count() == 6
    check_ledger()


def test_the_sweep_opens_the_case_when_the_task_was_lost(on_commit: Any) -> None:
    """Outcomes whose task never ran (published nowhere): the sweep counts, opens, asks and
    settles."""
    _product, batch, orders = _bad_batch(sold=8)
    disputes = [file(order) for order in orders[:3]]  # no on_commit: the checks' task is lost
    assert not CollectiveCase.objects.exists()
    on_commit(deadlines_sweep, now=timezone.now())  # asks the checks, decides: 3 upheld
    on_commit(deadlines_sweep, now=timezone.now())  # counts, opens, asks, settles
    case = CollectiveCase.objects.get(batch=batch)
    assert case.status == CollectiveStatus.SETTLED
    assert {d.pk for d in disputes} == set(case.members.values_list("pk", flat=True))
    assert case.refunded_count == 3  # orders 4–6 had the other unknown keys
    check_ledger()


def test_two_upheld_complaints_open_nothing(on_commit: Any) -> None:
    _product, _batch_, orders = _bad_batch(sold=8)
    for order in orders[:2]:
        on_commit(file, order)
    on_commit(deadlines_sweep, now=timezone.now())
    assert not CollectiveCase.objects.exists()


def test_a_top_up_channel_that_credits_nothing_is_one_case(on_commit: Any) -> None:
    product = ProductFactory(kind=ProductKind.PHONE_TOPUP, price=D("50.00"), face_value=D("50.00"))
    fund(product.merchant, D("1000.00"))
    targets = ["13800001111"] * 5 + ["13800005678"] * 3  # 1111: accepted, never credited
    orders = []
    for target in targets:
        buyer = UserFactory()
        order = order_services.order_create(
            buyer=buyer, product=product, quantity=1, topup_target=target
        )
        order = order_services.order_pay(order=order, buyer=buyer)
        order_services.order_topup_deliver(order_id=order.pk)
        order.refresh_from_db()
        assert order.topup_upstream == "SandboxTopupUpstream"
        orders.append(order)
    disputes = [on_commit(file, o, reason="not_received") for o in orders[:3]]
    case = CollectiveCase.objects.get()
    assert case.kind == CollectiveKind.TOPUP_CHANNEL
    assert (case.product_id, case.upstream) == (product.pk, "SandboxTopupUpstream")
    assert case.status == CollectiveStatus.SETTLED
    product.refresh_from_db()
    assert product.active is False
    assert case.delivered_count == 8 and case.bad_count == 5
    assert case.refunded_count == 2 and case.refunded_amount == D("100.00")
    for order, dispute in zip(orders[:3], disputes, strict=True):
        assert _payouts_of(order) == [f"dispute:{dispute.pk}:payout"]
    for order in orders[3:5]:
        assert _payouts_of(order) == [f"collective:{case.pk}:{order.pk}:payout"]
    for order in orders[5:]:
        assert _payouts_of(order) == []
        assert CollectiveOrder.objects.get(order=order).finding == Finding.TOPUP_CREDITED
    check_ledger()


def test_a_buyer_of_the_batch_joins_in_one_tap_with_the_case_evidence(on_commit: Any) -> None:
    _product, _b, orders = _bad_batch(sold=10)
    for order in orders[:3]:
        on_commit(file, order)
    case = CollectiveCase.objects.get()
    good = orders[8]  # the issuer says its key is fine; its buyer says it does not work
    assert collective.case_for_order(good) == case
    dispute = on_commit(collective.collective_join, user=good.buyer, order=good)
    assert dispute.collective_case_id == case.pk
    assert dispute.evidence.filter(
        kind=EvidenceKind.PLATFORM_RECORD, original_name=f"collective-case-{case.number}.json"
    ).exists()
    assert dispute.events.filter(type=EventType.COLLECTIVE, data__how="joined").exists()
    # Someone else's order is not theirs to join; a second join is the filing rule's refusal.
    with pytest.raises(Exception):  # noqa: B017,PT011 - NotFound
        collective.collective_join(user=UserFactory(), order=orders[9])
    with pytest.raises(Exception):  # noqa: B017,PT011 - one live complaint per order
        collective.collective_join(user=good.buyer, order=good)


def test_the_shop_answers_once_for_the_batch(on_commit: Any) -> None:
    product, batch, orders = _bad_batch(sold=8)
    for order in orders[:3]:
        on_commit(file, order)
    case = CollectiveCase.objects.get()
    case = collective.collective_case_answer(
        case=case, user=product.merchant.owner, supplier="Acme Cards", lot="L-2026-12"
    )
    batch.refresh_from_db()
    assert (batch.supplier, batch.lot) == ("Acme Cards", "L-2026-12")
    assert case.answered_at is not None
    with pytest.raises(Exception):  # noqa: B017,PT011 - only the shop's team
        collective.collective_case_answer(case=case, user=UserFactory(), supplier="x", lot="")


def test_the_api_lists_cases_to_staff_and_to_their_shop(on_commit: Any) -> None:
    product, _b, orders = _bad_batch(sold=8)
    for order in orders[:3]:
        on_commit(file, order)
    case = CollectiveCase.objects.get()
    client = APIClient()
    client.force_authenticate(product.merchant.owner)
    body = client.get("/api/v1/collective-cases/").json()
    assert [c["id"] for c in body["results"]] == [case.pk]
    detail = client.get(f"/api/v1/collective-cases/{case.pk}/").json()
    assert detail["counts"]["found_bad"] == 6
    assert detail["counts"]["refunded"] == 3
    assert len(detail["members"]) == 3
    assert sorted(o["order"] for o in detail["refunded_without_complaint"]) == sorted(
        o.number for o in orders[3:6]
    )
    other = APIClient()
    other.force_authenticate(ProductFactory().merchant.owner)
    assert other.get("/api/v1/collective-cases/").json()["results"] == []
    assert other.get(f"/api/v1/collective-cases/{case.pk}/").status_code == 404
    staff = APIClient()
    staff.force_authenticate(StaffFactory())
    assert [c["id"] for c in staff.get("/api/v1/collective-cases/").json()["results"]] == [case.pk]
