"""Escrow benchmark: N compensations (payout + recovery, one transaction each) on PostgreSQL.

Prints postings per second for the Django path (escrow.services.compensation_pay and
compensation_recover inside one transaction.atomic) next to the floor measured in the same run:
the same rows written by hand-written SQL INSERT/UPDATE statements through one psycopg2
connection, one transaction per compensation (lock the accounts, check the key, insert the
transaction and its legs, update the balances, insert the payout outbox row; then the same for
the recovery, reading the complaint's hold). Both run against the same scratch database, with
the same triggers (balanced legs, immutability) and constraints, and neither publishes to a
broker (the Django path's on-commit publish is stubbed; the sweep would send the payouts).

    DATABASE_URL=postgres://… make bench        (BENCH_ESCROW_N=2000 for a quick run)

The scratch database `<name>_bench` is created, migrated and dropped.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

N_DEFAULT = 10_000
MERCHANTS = 50
TARGET_RATIO = 0.6
CHUNK = 250
AMOUNT = Decimal("12.34")


def _connect(url: Any, dbname: str) -> Any:
    import psycopg2

    return psycopg2.connect(
        dbname=dbname,
        user=url.username or "postgres",
        password=url.password or None,
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
    )


def _admin(url: Any, sql: str) -> None:
    conn = _connect(url, "postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def run() -> None:
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://")):
        print("skipped: the escrow benchmark needs DATABASE_URL=postgres://…")
        return
    url = urlparse(raw)
    bench_db = f"{url.path.lstrip('/') or 'kamen'}_bench"
    n = int(os.environ.get("BENCH_ESCROW_N", N_DEFAULT))
    _admin(url, f'DROP DATABASE IF EXISTS "{bench_db}"')
    _admin(url, f'CREATE DATABASE "{bench_db}"')
    try:
        _run(url, bench_db, n)
    finally:
        from django.db import connections

        connections.close_all()
        _admin(url, f'DROP DATABASE IF EXISTS "{bench_db}"')


def _setup_django(bench_db: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen_complaints.settings")
    import django
    from django.db import connections

    django.setup()
    connections.close_all()
    connections["default"].settings_dict["NAME"] = bench_db
    connections["default"].settings_dict["CONN_MAX_AGE"] = None


def _run(url: Any, bench_db: str, n: int) -> None:
    _setup_django(bench_db)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    merchants, orders = _fixtures(n)

    from escrow import services

    # No broker: the floor publishes nothing either (the sweep would send the payouts).
    services.compensation._enqueue_payout = lambda payout_id: None
    django_rate, floor_rate = _run_paths(merchants, orders, url, bench_db)
    call_command("check_ledger", verbosity=0, stdout=_Quiet())

    ratio = django_rate / floor_rate
    print(f"compensations: {n} each path (payout + recovery, one transaction each)")
    print(f"django path : {django_rate:8.1f} compensations/s  ({2 * django_rate:8.1f} postings/s)")
    print(f"plain SQL   : {floor_rate:8.1f} compensations/s  ({2 * floor_rate:8.1f} postings/s)")
    verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
    print(f"ratio       : {ratio:.2f} ({verdict} the target of {TARGET_RATIO})")
    print("check_ledger: clean")


class _Quiet:
    def write(self, *args: Any) -> None:
        pass

    def flush(self) -> None:
        pass


def _fixtures(n: int) -> tuple[list[Any], list[Any]]:
    """Merchants with deposits far above what the run recovers, and 2n paid orders."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from escrow import services
    from orders import crypto
    from orders.models import Merchant, MerchantStatus, Order, OrderStatus, Product

    buyer = User.objects.create_user("bench-buyer")
    merchants = []
    for i in range(MERCHANTS):
        owner = User.objects.create_user(f"bench-owner-{i}")
        merchant = Merchant.objects.create(
            owner=owner,
            shop_name=f"bench shop {i}",
            legal_name="bench",
            id_number_encrypted=crypto.encrypt("11010519491231002X"),
            id_number_last4="002X",
            id_number_fingerprint=f"bench-{i}",
            phone="13800138000",
            address="bench",
            status=MerchantStatus.ACTIVE,
            verified_at=timezone.now(),
        )
        services.deposit_topup_confirm(
            merchant=merchant,
            reference=f"BENCH-TOPUP-{i}",
            amount=Decimal("9000000.00"),
            channel="sandbox",
            user=owner,
        )
        merchants.append(merchant)
    products = [
        Product.objects.create(
            merchant=m, name="card", kind="game_card", face_value=50, price=50, source="bench"
        )
        for m in merchants
    ]
    now = timezone.now()
    orders = Order.objects.bulk_create(
        [
            Order(
                number=f"BENCH{i:010d}",
                buyer=buyer,
                merchant=merchants[i % MERCHANTS],
                product=products[i % MERCHANTS],
                quantity=1,
                unit_price=Decimal("50.00"),
                amount=Decimal("50.00"),
                status=OrderStatus.DELIVERED,
                paid_at=now,
                delivered_at=now,
            )
            for i in range(2 * n)
        ],
        batch_size=2000,
    )
    return merchants, orders


def _run_paths(
    merchants: list[Any], orders: list[Any], url: Any, bench_db: str
) -> tuple[float, float]:
    """Alternate chunks of the two paths, so a machine that is busier in one half of the run
    does not favour either; returns (django rate, floor rate) in compensations per second."""
    n = len(orders) // 2
    django_orders, floor_orders = orders[:n], orders[n:]
    floor = _Floor(url, bench_db)
    django_time = floor_time = 0.0
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        django_time += _django_chunk(merchants, django_orders, start, stop)
        floor_time += floor.chunk(merchants, floor_orders, start, stop, dispute_offset=n)
    floor.close()
    return n / django_time, n / floor_time


def _django_chunk(merchants: list[Any], orders: list[Any], start: int, stop: int) -> float:
    from django.db import transaction

    from escrow import services

    began = time.perf_counter()
    for i in range(start, stop):
        with transaction.atomic():
            services.compensation_pay(dispute_id=i + 1, order=orders[i], amount=AMOUNT)
            services.compensation_recover(
                dispute_id=i + 1, merchant=merchants[i % MERCHANTS], amount=AMOUNT
            )
    return time.perf_counter() - began


class _Floor:
    """The same statements the ledger core sends, written by hand on one psycopg2
    connection: lock the accounts in id order, claim the key (INSERT … ON CONFLICT DO NOTHING
    RETURNING id), insert the legs in one statement, update the balances in one statement,
    insert the payout outbox row; for the recovery, also look up the complaint's hold."""

    def __init__(self, url: Any, bench_db: str) -> None:
        from escrow.models import Account

        self.ids = {(a.merchant_id, a.kind): a.pk for a in Account.objects.all()}
        self.fund = self.ids[(None, "compensation_fund")]
        self.refunds = self.ids[(None, "buyer_refunds")]
        self.conn = _connect(url, bench_db)
        self.cur = self.conn.cursor()

    def close(self) -> None:
        self.conn.close()

    def _post(
        self,
        key: str,
        kind: str,
        merchant_id: int,
        dispute: int,
        now: Any,
        legs: list[tuple[int, int, int]],
        held: dict[int, int],
    ) -> int | None:
        cur = self.cur
        cur.execute(
            "INSERT INTO escrow_ledgertransaction "
            "(key, kind, merchant_id, dispute_id, memo, created_by_id, created_at) "
            "VALUES (%s, %s, %s, %s, '', NULL, %s) ON CONFLICT (key) DO NOTHING RETURNING id",
            (key, kind, merchant_id, dispute, now),
        )
        row = cur.fetchone()
        if row is None:
            return None
        tx = row[0]
        cur.execute(
            "INSERT INTO escrow_ledgerentry (transaction_id, account_id, amount, balance_after) "
            "VALUES " + ", ".join(["(%s, %s, %s, %s)"] * len(legs)),
            [v for account, amount, after in legs for v in (tx, account, amount, after)],
        )
        cases = " ".join(["WHEN %s THEN %s"] * len(legs))
        cur.execute(
            f"UPDATE escrow_account SET balance = CASE id {cases} END, "
            f"held = CASE id {cases} END WHERE id IN ({', '.join(['%s'] * len(legs))})",
            [v for account, _amount, after in legs for v in (account, after)]
            + [v for account, _amount, _after in legs for v in (account, held[account])]
            + [account for account, _amount, _after in legs],
        )
        return tx

    def chunk(
        self, merchants: list[Any], orders: list[Any], start: int, stop: int, dispute_offset: int
    ) -> float:
        from django.utils import timezone

        cur, fund, refunds, fen = self.cur, self.fund, self.refunds, int(AMOUNT * 100)
        began = time.perf_counter()
        for i in range(start, stop):
            dispute = dispute_offset + i + 1
            merchant = merchants[i % MERCHANTS]
            deposit = self.ids[(merchant.pk, "deposit")]
            receivable = self.ids[(merchant.pk, "receivable")]
            now = timezone.now()
            # payout: the order locked and its headroom read, compensation_fund ->
            # buyer_refunds, the booking on the order, and the outbox row (docs/money.md)
            cur.execute(
                "SELECT amount - refunded_amount - refund_reserved FROM orders_order "
                "WHERE id = %s FOR UPDATE",
                (orders[i].pk,),
            )
            (headroom,) = cur.fetchone()
            assert headroom * 100 >= fen
            cur.execute(
                "SELECT id, balance, held FROM escrow_account WHERE id IN (%s, %s) "
                "ORDER BY id FOR UPDATE",
                (fund, refunds),
            )
            acc = {pk: (balance, held) for pk, balance, held in cur.fetchall()}
            key = f"dispute:{dispute}:payout"
            legs = [(fund, -fen, acc[fund][0] - fen), (refunds, fen, acc[refunds][0] + fen)]
            if self._post(
                key,
                "compensation_payout",
                merchant.pk,
                dispute,
                now,
                legs,
                {k: v[1] for k, v in acc.items()},
            ):
                cur.execute(
                    "INSERT INTO escrow_payout (order_id, source_key, amount, status, attempts, "
                    "last_error, next_attempt_at, provider_refund_id, created_at) "
                    "VALUES (%s, %s, %s, 'pending', 0, '', %s, '', %s)",
                    (orders[i].pk, key, fen, now, now),
                )
                cur.execute(
                    "UPDATE orders_order SET refund_reserved = refund_reserved + %s WHERE id = %s",
                    (AMOUNT, orders[i].pk),
                )
            # recovery: at most what the complaint paid out; deposit (the complaint's hold
            # first, then unheld) -> compensation_fund
            cur.execute(
                "SELECT COALESCE(SUM(l.amount), 0) FROM escrow_ledgertransaction t "
                "JOIN escrow_ledgerentry l ON l.transaction_id = t.id WHERE t.dispute_id = %s "
                "AND t.kind IN ('compensation_payout', 'appeal_payout') AND l.amount > 0",
                (dispute,),
            )
            (paid,) = cur.fetchone()
            assert paid >= fen
            cur.execute(
                "SELECT id, balance, held FROM escrow_account WHERE id IN (%s, %s, %s) "
                "ORDER BY id FOR UPDATE",
                (fund, deposit, receivable),
            )
            acc = {pk: (balance, held) for pk, balance, held in cur.fetchall()}
            cur.execute(
                "SELECT id, amount FROM escrow_hold WHERE reference = %s AND status = 'active' "
                "AND merchant_id = %s LIMIT 1",
                (f"dispute:{dispute}", merchant.pk),
            )
            assert cur.fetchone() is None  # the run places no holds; the look-up is the work
            balance, held = acc[deposit]
            assert balance - held >= fen
            legs = [(deposit, -fen, balance - fen), (fund, fen, acc[fund][0] + fen)]
            self._post(
                f"dispute:{dispute}:recovery",
                "recovery",
                merchant.pk,
                dispute,
                now,
                legs,
                {k: v[1] for k, v in acc.items()},
            )
            self.conn.commit()
        return time.perf_counter() - began
