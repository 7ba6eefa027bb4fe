"""A collective case over a big batch on PostgreSQL (`python -m bench collective`).

A card-key import of 5,000 keys (BENCH_COLLECTIVE_N), every one delivered to its own order and
buyer, a quarter of them unknown to the issuer (the sandbox verifier answers from the key's
text). The case is opened through `collective_case_open` (the batch's stock withdrawn, a row
per order); then timed: `collective_case_check` — the orders claimed 500 at a time, the issuer
asked about each chunk in one batch call, the answers written set-based — and the settlement
through the clock's set-based `escrow.batch.compensations_post` (a payout and a recovery per
bad order), and every buyer told. Printed: the time against the bound, the figures, and
check_ledger's verdict.

    DATABASE_URL=postgres://… python -m bench collective    (BENCH_COLLECTIVE_N=5000)

Seeded with bulk inserts (users, orders, keys). Runs in its own scratch database
`<name>_collective_bench`, created, migrated and dropped.
"""

from __future__ import annotations

import io
import os
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from bench.bench_escrow import _admin, _setup_django

N_DEFAULT = 5000
BOUND_SECONDS = 60.0
PRICE = Decimal("48.00")


def run() -> None:
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://")):
        print("skipped: the collective case benchmark needs DATABASE_URL=postgres://…")
        return
    url = urlparse(raw)
    bench_db = f"{url.path.lstrip('/') or 'kamen'}_collective_bench"
    n = int(os.environ.get("BENCH_COLLECTIVE_N", N_DEFAULT))
    _admin(url, f'DROP DATABASE IF EXISTS "{bench_db}"')
    _admin(url, f'CREATE DATABASE "{bench_db}"')
    try:
        _run(bench_db, n)
    finally:
        from django.db import connections

        connections.close_all()
        _admin(url, f'DROP DATABASE IF EXISTS "{bench_db}"')


def _seed(n: int) -> tuple[Any, Any]:
    """A shop with a deposit that covers the refunds, one import of n + 20 keys (n delivered,
    one per order; 20 still in stock), every fourth delivered key unknown to the issuer."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.utils import timezone

    from escrow import services as escrow
    from orders import crypto
    from orders.models import (
        CardKey,
        CardKeyStatus,
        KeyBatch,
        MemberRole,
        Merchant,
        MerchantMember,
        MerchantStatus,
        Order,
        OrderStatus,
        Product,
    )

    now = timezone.now()
    unusable = make_password(None)
    owner = User.objects.create(username="owner", email="o@example.com", password=unusable)
    merchant = Merchant.objects.create(
        owner=owner,
        shop_name="bench shop",
        legal_name="bench",
        id_number_encrypted=crypto.encrypt("11010519491231002X"),
        id_number_last4="002X",
        id_number_fingerprint="bench-collective",
        phone="13800138000",
        address="bench",
        status=MerchantStatus.ACTIVE,
        verified_at=now,
    )
    MerchantMember.objects.create(merchant=merchant, user=owner, role=MemberRole.OWNER)
    escrow.deposit_topup_confirm(
        merchant=merchant,
        reference="BENCH-COLLECTIVE-TOPUP",
        amount=Decimal("9000000.00"),
        channel="sandbox",
        user=owner,
    )
    product = Product.objects.create(
        merchant=merchant, name="点卡 48", kind="game_card", face_value=50, price=PRICE, source="b"
    )
    batch = KeyBatch.objects.create(
        merchant=merchant, product=product, imported_by=owner, count=n + 20
    )
    buyers = User.objects.bulk_create(
        [User(username=f"b{i}", email=f"b{i}@example.com", password=unusable) for i in range(n)],
        batch_size=2000,
    )
    orders = Order.objects.bulk_create(
        [
            Order(
                number=f"KB{i:010d}",
                buyer=buyer,
                merchant=merchant,
                product=product,
                quantity=1,
                unit_price=PRICE,
                amount=PRICE,
                status=OrderStatus.DELIVERED,
                payment_channel="sandbox",
                payment_reference=f"BENCH-PAY-{i}",
                paid_at=now,
                delivered_at=now,
            )
            for i, buyer in enumerate(buyers)
        ],
        batch_size=2000,
    )
    keys = []
    for i in range(n + 20):
        text = f"BENCH-{'UNKNOWN' if i % 4 == 0 else 'GOOD'}-{i:07d}"
        delivered = i < n
        keys.append(
            CardKey(
                product=product,
                batch=batch,
                secret_encrypted=crypto.encrypt(text),
                fingerprint=crypto.fingerprint(text),
                tail=text[-4:],
                status=CardKeyStatus.DELIVERED if delivered else CardKeyStatus.AVAILABLE,
                order=orders[i] if delivered else None,
                delivered_at=now if delivered else None,
            )
        )
    CardKey.objects.bulk_create(keys, batch_size=2000)
    return merchant, batch


def _run(bench_db: str, n: int) -> None:
    _setup_django(bench_db)
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from disputes.models import CollectiveKind, Finding
    from disputes.selectors import policy_for
    from disputes.services import collective

    # No broker: what the services hand to Celery on commit goes nowhere (the sweep would
    # send the payouts and notices).
    collective._publish_check = lambda case_id: None  # type: ignore[assignment]
    collective.publish = lambda *args, **kwargs: None  # type: ignore[assignment]
    collective.publish_notifications = lambda ids: None  # type: ignore[assignment]

    seeded = time.perf_counter()
    merchant, batch = _seed(n)
    print(f"seeded {n} delivered keys in {time.perf_counter() - seeded:.1f} s")
    candidate = collective.Candidate(
        kind=CollectiveKind.KEY_BATCH,
        product_id=batch.product_id,
        merchant_id=merchant.pk,
        batch_id=batch.pk,
        upstream="",
        dispute_ids=(),
        policy=policy_for("game_card"),
    )
    started = time.perf_counter()
    case = collective.collective_case_open(candidate=candidate, now=timezone.now())
    opened = time.perf_counter() - started
    assert case is not None
    started = time.perf_counter()
    counts = collective.collective_case_check(case_id=case.pk)
    took = time.perf_counter() - started
    case.refresh_from_db()
    bad = (n + 3) // 4
    assert counts["settled"] == 1, counts
    assert case.bad_count == bad and case.refunded_count == bad, (case.bad_count, bad)
    assert case.refunded_amount == bad * PRICE
    assert case.orders.filter(finding=Finding.KEY_VALID).count() == n - bad
    out = io.StringIO()
    call_command("check_ledger", stdout=out)
    verdict = (out.getvalue().strip().splitlines() or ["clean"])[-1]
    print(f"case opened ({n} order rows, 20 keys withdrawn) in {opened:.2f} s")
    print(
        f"{n:,} keys checked and settled in {took:.1f} s (bound {BOUND_SECONDS:.0f} s): "
        f"{case.bad_count} bad, {case.refunded_count} refunded ¥{case.refunded_amount}, "
        f"recovered ¥{case.recovered_amount}; check_ledger: {verdict}"
    )
    if took > BOUND_SECONDS:
        print(f"OVER THE BOUND: {took:.1f} s > {BOUND_SECONDS:.0f} s")
