"""The clock's benchmarks on PostgreSQL (`make bench`, or `python -m bench sweep`).

1. Throughput: sweep N (default 10,000) complaints whose merchant stayed silent — each gets its
   state, a timeline event per change, the payout and the recovery transactions with their
   legs, its hold consumed, a payout outbox row and a notification per recipient and channel.
   Printed as complaints per second next to a floor measured in the same run: exactly the
   same rows inserted and updated by hand-written set-based SQL on one psycopg2 connection,
   one transaction per batch of the same size (lock the batch with SKIP LOCKED, lock the
   accounts, claim the keys, insert the legs, one balance update per account, close the holds,
   insert the payouts, update the complaints from a VALUES list, insert the events and the
   notifications). The two paths alternate chunks over two halves of the seeded complaints, so
   a machine busier in one half favours neither; neither publishes to a broker. The row counts
   of both halves are printed side by side, and check_ledger runs over the result. The ledger
   starts with a history (20,000 earlier postings), as a ledger in service does: escrow's
   balanced-legs trigger caches its plan per session, and planned on an empty ledger that plan
   is a sequential scan whose cost grows with every posting (see docs/clock.md).
   Target: the sweep at least 1/3 of the floor.

2. Idle sweep: the full sweep (every clock, the reminders, the outbox) with nothing due, with
   1,000 complaints in the table and then with 1,000,000 (inserted by INSERT … SELECT
   generate_series): the median of 20 runs each, and the ratio. Target ≤ 1.5.

3. Deadline latency: a real Celery beat and worker (subprocesses, a private redis-server if
   one is on PATH, else the filesystem broker), SWEEP_INTERVAL_SECONDS=5 to keep it short;
   complaints whose deadlines pass over a few seconds; from each deadline to the buyer's
   payout being posted. Target: ≤ one sweep interval plus the sweep's own time.

    DATABASE_URL=postgres://… make bench     (BENCH_SWEEP_N=2000, BENCH_SWEEP_IDLE_BIG=100000
                                              for a quick run)

Each part runs in its own scratch database `<name>_sweep_bench`, created, migrated, dropped.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.bench_escrow import _admin, _connect
from bench.processes import start_celery, start_redis, stop

N_DEFAULT = 10_000
BATCH = 100
CHUNK_BATCHES = 10  # batches per alternating chunk
MERCHANTS = 50
BUYERS = 1000
TARGET_RATIO = 1 / 3
LEDGER_HISTORY = 20_000  # earlier fund top-ups: a ledger in service is not empty
IDLE_SMALL = 1_000
IDLE_BIG_DEFAULT = 1_000_000
IDLE_RUNS = 20
IDLE_TARGET = 1.5
LATENCY_N = 40
LATENCY_INTERVAL = 5
PRICE_FEN = 4800

BASE_DIR = Path(__file__).resolve().parent.parent


# --- Scratch databases -----------------------------------------------------------------------


def _fresh_database(url: Any, name: str) -> None:
    """Drop and recreate the scratch database, point Django at it and migrate it."""
    from django.core.management import call_command
    from django.db import connections

    from escrow import services as escrow_services

    connections.close_all()
    _admin(url, f'DROP DATABASE IF EXISTS "{name}"')
    _admin(url, f'CREATE DATABASE "{name}"')
    connections["default"].settings_dict["NAME"] = name
    connections["default"].settings_dict["CONN_MAX_AGE"] = None
    escrow_services.ledger.forget_account_ids()  # the cached ids are the previous database's
    call_command("migrate", verbosity=0)


def run() -> None:
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://")):
        print("skipped: the sweep benchmark needs DATABASE_URL=postgres://…")
        return
    url = urlparse(raw)
    name = f"{url.path.lstrip('/') or 'kamen'}_sweep_bench"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen_complaints.settings")
    import django

    django.setup()
    try:
        _throughput(url, name, int(os.environ.get("BENCH_SWEEP_N", N_DEFAULT)))
        _idle(url, name, int(os.environ.get("BENCH_SWEEP_IDLE_BIG", IDLE_BIG_DEFAULT)))
        _latency(url, name, raw)
    finally:
        from django.db import connections

        connections.close_all()
        _admin(url, f'DROP DATABASE IF EXISTS "{name}"')


class _Quiet:
    def write(self, *args: Any) -> None:
        pass

    def flush(self) -> None:
        pass


# --- Fixtures --------------------------------------------------------------------------------


def _people() -> tuple[list[int], list[int], list[int]]:
    """Shops (verified, funded through escrow, an owner each) with one product, and buyers."""
    from decimal import Decimal

    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.utils import timezone

    from escrow import services
    from orders import crypto

    UNUSABLE = make_password(None)  # noqa: N806
    from orders.models import MemberRole, Merchant, MerchantMember, MerchantStatus, Product

    buyers = User.objects.bulk_create(
        [
            User(username=f"b{i}", email=f"b{i}@example.com", password=UNUSABLE)
            for i in range(BUYERS)
        ]
    )
    merchants, products = [], []
    for i in range(MERCHANTS):
        owner = User.objects.create(
            username=f"owner{i}", email=f"o{i}@example.com", password=UNUSABLE
        )
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
        MerchantMember.objects.create(merchant=merchant, user=owner, role=MemberRole.OWNER)
        services.deposit_topup_confirm(
            merchant=merchant,
            reference=f"BENCH-TOPUP-{i}",
            amount=Decimal("9000000.00"),
            channel="sandbox",
            user=owner,
        )
        merchants.append(merchant.pk)
        products.append(
            Product.objects.create(
                merchant=merchant, name="card", kind="game_card", face_value=50, price=48
            ).pk
        )
    return [b.pk for b in buyers], merchants, products


def _seed(
    cur: Any,
    *,
    prefix: str,
    count: int,
    start: int,
    people: tuple[list[int], list[int], list[int]],
    status: str,
    due: str,
    now: datetime,
    with_holds: bool,
) -> None:
    """`count` orders and their complaints by INSERT … SELECT generate_series. `due` is an SQL
    expression of g (the row number) for merchant_response_due; NULL for closed complaints."""
    buyers, merchants, products = people
    cur.execute(
        "INSERT INTO orders_order (number, quantity, unit_price, amount, refunded_amount, "
        "status, topup_target, payment_channel, payment_reference, created_at, paid_at, "
        "delivered_at, delivery_attempts, delivery_note, buyer_id, merchant_id, product_id) "
        "SELECT %(prefix)s || lpad(g::text, 12, '0'), 1, 48.00, 48.00, 0, 'delivered', '', "
        "'sandbox', NULL, %(now)s, %(now)s, %(now)s, 0, '', "
        "(%(buyers)s::int[])[1 + g %% %(nb)s], (%(merchants)s::bigint[])[1 + g %% %(nm)s], "
        "(%(products)s::bigint[])[1 + g %% %(nm)s] "
        "FROM generate_series(%(start)s, %(stop)s) g",
        {
            "prefix": prefix,
            "now": now,
            "buyers": buyers,
            "merchants": merchants,
            "products": products,
            "nb": len(buyers),
            "nm": len(merchants),
            "start": start,
            "stop": start + count - 1,
        },
    )
    resolved = status == "resolved"
    cur.execute(
        "INSERT INTO disputes_dispute (number, reason, description, claimed_amount, status, "
        "filed_at, window_closes_at, merchant_response_due, info_requested_from, outcome, "
        "resolved_amount, decided_by, decision_reason, resolved_at, fast_track, "
        "recovery_pending, paid_out, recovered, appealed_by, appeal_reason, appeal_final, "
        "platform_records, created_at, updated_at, buyer_id, merchant_id, order_id, policy_id) "
        f"SELECT 'TS' || o.number, 'invalid_card_key', '', o.amount, %(status)s, "
        f"%(now)s, %(now)s, {due}, '', %(outcome)s, %(amount)s, %(decided)s, '', %(resolved_at)s, "
        "false, false, %(amount0)s, %(amount0)s, '', '', false, '{}', %(now)s, %(now)s, "
        "o.buyer_id, o.merchant_id, o.id, NULL "
        "FROM (SELECT *, substr(number, 3)::bigint AS g FROM orders_order "
        "      WHERE number LIKE %(like)s) o",
        {
            "status": status,
            "now": now,
            "outcome": "refunded" if resolved else "",
            "amount": 48 if resolved else None,
            "decided": "merchant" if resolved else "",
            "resolved_at": now if resolved else None,
            "amount0": 48 if resolved else 0,
            "like": prefix + "%",
        },
    )
    cur.execute(
        "INSERT INTO disputes_disputeevent (dispute_id, type, actor_id, role, from_status, "
        "to_status, visibility, body, data, created_at) "
        "SELECT d.id, 'filed', d.buyer_id, 'buyer', '', 'awaiting_merchant', 'all', '', '{}', "
        "%(now)s FROM disputes_dispute d JOIN orders_order o ON o.id = d.order_id "
        "WHERE o.number LIKE %(like)s",
        {"now": now, "like": prefix + "%"},
    )
    if with_holds:
        # Holds as escrow places them at filing (one per complaint, the claim reserved).
        cur.execute(
            "INSERT INTO escrow_hold (merchant_id, reference, amount, consumed, status, "
            "created_at, closed_at) SELECT d.merchant_id, 'dispute:' || d.id, %(fen)s, 0, "
            "'active', %(now)s, NULL FROM disputes_dispute d JOIN orders_order o "
            "ON o.id = d.order_id WHERE o.number LIKE %(like)s",
            {"now": now, "like": prefix + "%", "fen": PRICE_FEN},
        )
        cur.execute(
            "UPDATE escrow_account a SET held = h.total FROM (SELECT merchant_id, "
            "SUM(amount) AS total FROM escrow_hold WHERE status = 'active' "
            "GROUP BY merchant_id) h WHERE a.merchant_id = h.merchant_id AND a.kind = 'deposit'"
        )


# --- 1. Throughput ---------------------------------------------------------------------------


def _ledger_history(url: Any, name: str, count: int) -> None:
    """`count` earlier fund top-ups (bank → compensation fund), balanced, with running
    balances, written with triggers off (a bench fixture, checked by check_ledger after)."""
    conn = _connect(url, name)
    try:
        with conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")
            cur.execute(
                "SELECT id, kind, balance FROM escrow_account WHERE merchant_id IS NULL "
                "AND kind IN ('bank', 'compensation_fund')"
            )
            accounts = {kind: (pk, balance) for pk, kind, balance in cur.fetchall()}
            (bank, bank_start), (fund, fund_start) = accounts["bank"], accounts["compensation_fund"]
            cur.execute(
                "INSERT INTO escrow_ledgertransaction (key, kind, merchant_id, dispute_id, memo, "
                "created_by_id, created_at) SELECT 'history:' || g, 'fund_topup', NULL, NULL, "
                "'bench history', NULL, now() FROM generate_series(1, %s) g",
                (count,),
            )
            cur.execute(
                "INSERT INTO escrow_ledgerentry "
                "(transaction_id, account_id, amount, balance_after) "
                "SELECT t.id, a.account, a.sign * 10000, a.start + a.sign * 10000 * "
                "row_number() OVER (PARTITION BY a.account ORDER BY t.id) "
                "FROM escrow_ledgertransaction t "
                "CROSS JOIN (VALUES (%s, 1, %s::bigint), (%s, -1, %s::bigint)) "
                "AS a(account, sign, start) "
                "WHERE t.key LIKE 'history:%%' ORDER BY t.id, a.sign DESC",
                (fund, fund_start, bank, bank_start),
            )
            cur.execute(
                "UPDATE escrow_account SET balance = balance + CASE id WHEN %s THEN %s "
                "ELSE -%s END WHERE id IN (%s, %s)",
                (fund, 10000 * count, 10000 * count, fund, bank),
            )
        conn.commit()
    finally:
        conn.close()
    _vacuum(url, name)


def _throughput(url: Any, name: str, n: int) -> None:
    from django.core.management import call_command
    from django.db import connection, connections
    from django.utils import timezone

    _fresh_database(url, name)
    people = _people()
    now = timezone.now()
    sweep_now = now - timedelta(hours=36)  # the Django half: due 2 days ago, + g ms
    with connection.cursor() as cur:
        common = {"people": people, "status": "awaiting_merchant", "now": now, "with_holds": True}
        _seed(
            cur,
            prefix="BA",
            count=n,
            start=1,
            due="%(now)s - interval '2 days' + g * interval '1 millisecond'",
            **common,
        )
        _seed(
            cur,
            prefix="BB",
            count=n,
            start=1,
            due="%(now)s - interval '1 day' + g * interval '1 millisecond'",
            **common,
        )
        cur.execute("ANALYZE")

    _ledger_history(url, name, LEDGER_HISTORY)
    # escrow's balanced-legs trigger (a plpgsql function) caches a generic plan per session
    # after 5 calls; planned while the ledger is tiny, it is a sequential scan that costs more
    # with every posting. A platform in service has a ledger: both paths start fresh sessions
    # on one (the history above), as a worker does.
    connections.close_all()

    from disputes.services import clock, outbox

    # No broker on either side: the sweep would hand these over on commit.
    outbox.publish = lambda *args: False  # type: ignore[assignment]
    clock.publish = lambda *args: False  # type: ignore[assignment]

    floor = _Floor(url, name, low=sweep_now, high=now)
    django_time = floor_time = 0.0
    django_done = floor_done = 0
    while django_done < n or floor_done < n:
        if django_done < n:
            began = time.perf_counter()
            django_done += _django_chunk(sweep_now)
            django_time += time.perf_counter() - began
        if floor_done < n:
            began = time.perf_counter()
            floor_done += floor.chunk(CHUNK_BATCHES)
            floor_time += time.perf_counter() - began
    floor.close()
    assert django_done == floor_done == n, (django_done, floor_done)

    call_command("check_ledger", stdout=_Quiet())
    django_rate, floor_rate = n / django_time, n / floor_time
    ratio = django_rate / floor_rate
    print(f"sweep of {n} due complaints per path, batches of {BATCH}, {MERCHANTS} shops")
    _print_rows()
    print(f"django sweep : {django_rate:8.1f} complaints/s")
    print(f"plain SQL    : {floor_rate:8.1f} complaints/s (set-based floor)")
    verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
    print(f"ratio        : {ratio:.2f} ({verdict} the target of {TARGET_RATIO:.2f})")
    print("check_ledger : clean")


def _django_chunk(sweep_now: datetime) -> int:
    from disputes.services import deadlines_sweep

    report = deadlines_sweep(
        now=sweep_now,
        batch_size=BATCH,
        clocks_to_sweep=("merchant",),
        reminders=False,
        drain=False,
        max_batches=CHUNK_BATCHES,
        record=False,
    )
    return report.enforced["merchant"]


def _print_rows() -> None:
    """The rows each path wrote, side by side: the floor writes exactly what the sweep does."""
    from django.db import connection

    queries = {
        "resolved complaints": "SELECT COUNT(*) FROM disputes_dispute d JOIN orders_order o "
        "ON o.id = d.order_id WHERE d.status = 'resolved' AND o.number LIKE %s",
        "timeline events": "SELECT COUNT(*) FROM disputes_disputeevent e JOIN disputes_dispute d "
        "ON d.id = e.dispute_id JOIN orders_order o ON o.id = d.order_id "
        "WHERE e.type <> 'filed' AND o.number LIKE %s",
        "ledger transactions": "SELECT COUNT(*) FROM escrow_ledgertransaction t "
        "JOIN disputes_dispute d ON d.id = t.dispute_id JOIN orders_order o "
        "ON o.id = d.order_id WHERE o.number LIKE %s",
        "ledger legs": "SELECT COUNT(*) FROM escrow_ledgerentry l JOIN escrow_ledgertransaction t "
        "ON t.id = l.transaction_id JOIN disputes_dispute d ON d.id = t.dispute_id "
        "JOIN orders_order o ON o.id = d.order_id WHERE o.number LIKE %s",
        "holds consumed": "SELECT COUNT(*) FROM escrow_hold h JOIN disputes_dispute d "
        "ON h.reference = 'dispute:' || d.id JOIN orders_order o ON o.id = d.order_id "
        "WHERE h.status = 'consumed' AND o.number LIKE %s",
        "payout outbox rows": "SELECT COUNT(*) FROM escrow_payout p JOIN orders_order o "
        "ON o.id = p.order_id WHERE o.number LIKE %s",
        "notifications": "SELECT COUNT(*) FROM disputes_notification n JOIN disputes_dispute d "
        "ON d.id = n.dispute_id JOIN orders_order o ON o.id = d.order_id "
        "WHERE o.number LIKE %s",
    }
    print(f"  {'rows written':22s} {'sweep':>9s} {'floor':>9s}")
    with connection.cursor() as cur:
        for label, sql in queries.items():
            counts = []
            for prefix in ("BA%", "BB%"):
                cur.execute(sql, [prefix])
                counts.append(cur.fetchone()[0])
            print(f"  {label:22s} {counts[0]:9d} {counts[1]:9d}")


class _Floor:
    """The same rows, written by hand-written set-based SQL: one transaction per batch."""

    def __init__(self, url: Any, name: str, *, low: datetime, high: datetime) -> None:
        from escrow.models import Account

        self.ids = {(a.merchant_id, a.kind): a.pk for a in Account.objects.all()}
        self.fund = self.ids[(None, "compensation_fund")]
        self.refunds = self.ids[(None, "buyer_refunds")]
        self.low, self.high = low, high
        self.conn = _connect(url, name)
        self.cur = self.conn.cursor()

    def close(self) -> None:
        self.conn.close()

    def chunk(self, batches: int) -> int:
        done = 0
        for _ in range(batches):
            n = self.batch()
            if not n:
                break
            done += n
        return done

    def batch(self) -> int:
        from psycopg2.extras import execute_values

        cur = self.cur
        cur.execute(
            "SELECT d.id, d.order_id, d.merchant_id, d.buyer_id, d.number, o.number, "
            "d.merchant_response_due FROM disputes_dispute d "
            "JOIN orders_order o ON o.id = d.order_id "
            "WHERE d.status = 'awaiting_merchant' AND d.merchant_response_due > %s "
            "AND d.merchant_response_due <= %s ORDER BY d.merchant_response_due LIMIT %s "
            "FOR UPDATE OF d SKIP LOCKED",
            (self.low, self.high, BATCH),
        )
        rows = cur.fetchall()
        if not rows:
            self.conn.commit()
            return 0
        now = datetime.now(tz=self.low.tzinfo)
        merchants = sorted({r[2] for r in rows})
        # The orders first, locked, with what each may still give back (docs/money.md).
        cur.execute(
            "SELECT id, amount - refunded_amount - refund_reserved FROM orders_order "
            "WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            (sorted({r[1] for r in rows}),),
        )
        assert all(headroom * 100 >= PRICE_FEN for _id, headroom in cur.fetchall())
        cur.execute(
            "SELECT id, balance, held FROM escrow_account WHERE id IN (%s, %s) "
            "ORDER BY id FOR UPDATE",
            (self.fund, self.refunds),
        )
        acc = {pk: [balance, held] for pk, balance, held in cur.fetchall()}
        deposits = {m: self.ids[(m, "deposit")] for m in merchants}
        cur.execute(
            "SELECT id, balance, held FROM escrow_account WHERE id = ANY(%s) ORDER BY id "
            "FOR UPDATE",
            (list(deposits.values()) + [self.ids[(m, "receivable")] for m in merchants],),
        )
        acc.update({pk: [balance, held] for pk, balance, held in cur.fetchall()})
        cur.execute(
            "SELECT id, reference, amount FROM escrow_hold WHERE status = 'active' "
            "AND reference = ANY(%s)",
            ([f"dispute:{r[0]}" for r in rows],),
        )
        holds = {ref: (pk, amount) for pk, ref, amount in cur.fetchall()}
        claims = [
            (f"dispute:{r[0]}:payout", "compensation_payout", r[2], r[0], now) for r in rows
        ] + [(f"dispute:{r[0]}:recovery", "recovery", r[2], r[0], now) for r in rows]
        created = {
            key: pk
            for pk, key in execute_values(
                cur,
                "INSERT INTO escrow_ledgertransaction (key, kind, merchant_id, dispute_id, "
                "created_at, memo, created_by_id) VALUES %s ON CONFLICT (key) DO NOTHING "
                "RETURNING id, key",
                claims,
                template="(%s, %s, %s, %s, %s, '', NULL)",
                page_size=len(claims),
                fetch=True,
            )
        }
        # A recovery is at most what its complaint paid out: what was paid before this batch.
        cur.execute(
            "SELECT t.dispute_id, SUM(l.amount) FROM escrow_ledgertransaction t "
            "JOIN escrow_ledgerentry l ON l.transaction_id = t.id WHERE t.dispute_id = ANY(%s) "
            "AND t.kind IN ('compensation_payout', 'appeal_payout') AND l.amount > 0 "
            "GROUP BY t.dispute_id",
            ([r[0] for r in rows],),
        )
        assert not cur.fetchall()  # none paid before: this batch pays, then recovers
        legs, payouts, consumed = [], [], []
        for r in rows:
            tx = created[f"dispute:{r[0]}:payout"]
            for account, amount in ((self.fund, -PRICE_FEN), (self.refunds, PRICE_FEN)):
                acc[account][0] += amount
                legs.append((tx, account, amount, acc[account][0]))
            payouts.append((r[1], f"dispute:{r[0]}:payout", PRICE_FEN, now, now))
        for r in rows:
            tx = created[f"dispute:{r[0]}:recovery"]
            hold_id, hold_amount = holds[f"dispute:{r[0]}"]
            deposit = deposits[r[2]]
            acc[deposit][1] -= hold_amount
            consumed.append((hold_id, min(PRICE_FEN, hold_amount)))
            for account, amount in ((deposit, -PRICE_FEN), (self.fund, PRICE_FEN)):
                acc[account][0] += amount
                legs.append((tx, account, amount, acc[account][0]))
        execute_values(
            cur,
            "INSERT INTO escrow_ledgerentry (transaction_id, account_id, amount, balance_after) "
            "VALUES %s",
            legs,
            page_size=len(legs),
        )
        touched = {leg[1] for leg in legs}
        execute_values(
            cur,
            "UPDATE escrow_account a SET balance = v.balance, held = v.held "
            "FROM (VALUES %s) AS v(id, balance, held) WHERE a.id = v.id",
            [(pk, acc[pk][0], acc[pk][1]) for pk in sorted(touched)],
            page_size=len(touched),
        )
        self._consume(consumed, now)
        execute_values(
            cur,
            "INSERT INTO escrow_payout (order_id, source_key, amount, status, attempts, "
            "last_error, next_attempt_at, provider_refund_id, created_at) VALUES %s",
            payouts,
            template="(%s, %s, %s, 'pending', 0, '', %s, '', %s)",
            page_size=len(payouts),
        )
        execute_values(
            cur,
            "UPDATE orders_order o SET refund_reserved = o.refund_reserved + v.amount "
            "FROM (VALUES %s) AS v(id, amount) WHERE o.id = v.id",
            [(r[1], Decimal(PRICE_FEN) / 100) for r in rows],
            template="(%s, %s::numeric)",
            page_size=len(rows),
        )
        appeal_due = now + timedelta(days=7)
        execute_values(
            cur,
            "UPDATE disputes_dispute d SET status = 'resolved', outcome = 'refunded', "
            "resolved_amount = 48.00, decided_by = 'system', decided_by_user_id = NULL, "
            "decision_reason = v.reason, resolved_at = v.at, appeal_final = false, "
            "review_paused_at = NULL, info_requested_from = '', info_due = NULL, "
            "appeal_due = v.appeal_due, paid_out = 48.00, recovered = 48.00, updated_at = v.at "
            "FROM (VALUES %s) AS v(id, reason, at, appeal_due) "
            "WHERE d.id = v.id AND d.status = 'awaiting_merchant'",
            [
                (r[0], f"The merchant did not answer by {r[6]:%Y-%m-%d %H:%M}.", now, appeal_due)
                for r in rows
            ],
            template="(%s, %s, %s::timestamptz, %s::timestamptz)",
            page_size=len(rows),
        )
        events = []
        for r in rows:
            events.append(
                (
                    r[0],
                    "default_judgment",
                    "awaiting_merchant",
                    "resolved",
                    f"The merchant did not answer by {r[6]:%Y-%m-%d %H:%M}.",
                    '{"outcome": "refunded", "amount": "48.00", "decided_by": "system", '
                    f'"final": false, "appeal_due": "{appeal_due.isoformat()}"}}',
                    now,
                )
            )
            for movement in ("payout", "recovery"):
                events.append(
                    (
                        r[0],
                        "money",
                        "resolved",
                        "resolved",
                        "",
                        f'{{"movement": "{movement}", "amount": "48.00", '
                        f'"key": "dispute:{r[0]}:{movement}"}}',
                        now,
                    )
                )
        ids = execute_values(
            cur,
            "INSERT INTO disputes_disputeevent (dispute_id, type, actor_id, role, from_status, "
            "to_status, visibility, body, data, created_at) VALUES %s RETURNING id",
            events,
            template="(%s, %s, NULL, 'system', %s, %s, 'all', %s, %s, %s)",
            page_size=len(events),
            fetch=True,
        )
        judgment_ids = sorted(i[0] for i in ids)[0::3]
        cur.execute(
            "SELECT merchant_id, user_id FROM orders_merchantmember WHERE merchant_id = ANY(%s) "
            "ORDER BY id",
            (merchants,),
        )
        team: dict[int, list[int]] = {}
        for merchant, user in cur.fetchall():
            team.setdefault(merchant, []).append(user)
        notes = []
        for r, event in zip(rows, judgment_ids, strict=True):
            # What happened and its figures, as disputes.services.outbox.notice_params writes.
            params = json.dumps(
                {
                    "number": r[4],
                    "order": r[5],
                    "status": "resolved",
                    "due": None,
                    "outcome": "refunded",
                    "amount": "48.00",
                    "paid": "48.00",
                },
                sort_keys=True,
            )
            for user in [r[3], *team.get(r[2], [])]:
                role = "buyer" if user == r[3] else "merchant"
                for channel, sent in (("inapp", now), ("email", None)):
                    key = f"dispute:{r[0]}:event:{event}:user:{user}:{channel}"
                    notes.append((r[0], user, channel, key, params, role, now, sent))
        execute_values(
            cur,
            "INSERT INTO disputes_notification (dispute_id, recipient_id, channel, dedupe_key, "
            "kind, params, role, subject, body, created_at, sent_at, read_at, attempts, "
            "last_error) VALUES %s ON CONFLICT (dedupe_key) DO NOTHING",
            notes,
            template="(%s, %s, %s, %s, 'default_judgment', %s, %s, '', '', %s, "
            "%s::timestamptz, NULL, 0, '')",
            page_size=len(notes),
        )
        self.conn.commit()
        return len(rows)

    def _consume(self, consumed: list[tuple[int, int]], now: datetime) -> None:
        from psycopg2.extras import execute_values

        execute_values(
            self.cur,
            "UPDATE escrow_hold h SET status = 'consumed', consumed = v.consumed, "
            "closed_at = v.at FROM (VALUES %s) AS v(id, consumed, at) WHERE h.id = v.id",
            [(pk, fen, now) for pk, fen in consumed],
            template="(%s, %s, %s::timestamptz)",
            page_size=len(consumed),
        )


# --- 2. Idle sweep ---------------------------------------------------------------------------


def _idle(url: Any, name: str, big: int) -> None:
    from django.db import connection
    from django.utils import timezone

    _fresh_database(url, name)
    people = _people()
    now = timezone.now()

    def fill(prefix: str, count: int, start: int) -> None:
        """99% resolved (history), 1% awaiting the merchant with deadlines days away."""
        with connection.cursor() as cur:
            open_count = max(1, count // 100)
            _seed(
                cur,
                prefix=prefix + "R",
                count=count - open_count,
                start=start,
                people=people,
                status="resolved",
                due="%(now)s - interval '3 days'",
                now=now,
                with_holds=False,
            )
            _seed(
                cur,
                prefix=prefix + "O",
                count=open_count,
                start=start,
                people=people,
                status="awaiting_merchant",
                due="%(now)s + interval '3 days' + g * interval '1 second'",
                now=now,
                with_holds=False,
            )
        _vacuum(url, name)

    fill("S", IDLE_SMALL, 1)
    small = _idle_median()
    began = time.perf_counter()
    fill("L", big - IDLE_SMALL, 1)
    filled = time.perf_counter() - began
    large = _idle_median()
    ratio = large / small
    verdict = "meets" if ratio <= IDLE_TARGET else "ABOVE"
    print(f"idle sweep (nothing due), median of {IDLE_RUNS} runs (inserted in {filled:.0f} s):")
    print(f"  {IDLE_SMALL:>9,d} complaints: {small * 1000:7.2f} ms")
    print(f"  {big:>9,d} complaints: {large * 1000:7.2f} ms")
    print(f"  ratio : {ratio:.2f} ({verdict} the target of {IDLE_TARGET})")


def _vacuum(url: Any, name: str) -> None:
    conn = _connect(url, name)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    finally:
        conn.close()


def _idle_median() -> float:
    from disputes.services import deadlines_sweep

    for _ in range(3):  # warm the caches and the connection
        deadlines_sweep()
    times = []
    for _ in range(IDLE_RUNS):
        began = time.perf_counter()
        report = deadlines_sweep()
        times.append(time.perf_counter() - began)
        assert not any(report.enforced.values()), report.as_dict()
    return statistics.median(times)


# --- 3. Deadline latency ---------------------------------------------------------------------


def _latency(url: Any, name: str, raw_url: str) -> None:
    from django.db import connection
    from django.utils import timezone

    from disputes.models import ClockRun, Dispute, EventType

    _fresh_database(url, name)
    people = _people()
    workdir = Path(tempfile.mkdtemp(prefix="kc-sweep-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": raw_url.rsplit("/", 1)[0] + "/" + name,
            "KAMEN_VAR_DIR": str(workdir),
            "SWEEP_INTERVAL_SECONDS": str(LATENCY_INTERVAL),
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "LOG_LEVEL": "WARNING",
        }
    )
    broker = start_redis(processes, env)
    try:
        processes += start_celery(env, workdir, beat=True)
        now = timezone.now()
        with connection.cursor() as cur:
            # Deadlines passing one by one over the next ~12 s, while the clock runs.
            step = 12_000 // LATENCY_N
            _seed(
                cur,
                prefix="LT",
                count=LATENCY_N,
                start=1,
                people=people,
                status="awaiting_merchant",
                due=f"%(now)s + interval '2 seconds' + g * interval '{step} milliseconds'",
                now=now,
                with_holds=True,
            )
        sweep_seconds = 0.0
        deadline = time.monotonic() + 120
        while Dispute.objects.exclude(status="resolved").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the real beat and worker did not resolve the complaints")
            run = ClockRun.objects.filter(pk=1).first()
            if run is not None:
                sweep_seconds = max(sweep_seconds, float(run.counts.get("seconds", 0)))
            time.sleep(0.1)
        run = ClockRun.objects.filter(pk=1).first()
        if run is not None:
            sweep_seconds = max(sweep_seconds, float(run.counts.get("seconds", 0)))
        from escrow.models import LedgerTransaction

        paid = dict(
            LedgerTransaction.objects.filter(key__endswith=":payout").values_list(
                "dispute_id", "created_at"
            )
        )
        latencies = sorted(
            (paid[d.pk] - d.merchant_response_due).total_seconds()
            for d in Dispute.objects.all()
            if d.merchant_response_due is not None
        )
        judged = sum(
            1 for d in Dispute.objects.all() if d.events.filter(type=EventType.DEFAULT_JUDGMENT)
        )
    finally:
        stop(processes, timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)
    bound = LATENCY_INTERVAL + sweep_seconds
    worst = latencies[-1]
    verdict = "meets" if worst <= bound else "ABOVE"
    print(
        f"deadline latency, real beat + worker ({broker} broker), sweep every "
        f"{LATENCY_INTERVAL} s, {judged} deadlines:"
    )
    print(
        f"  deadline → payout posted: median {statistics.median(latencies):.2f} s, "
        f"max {worst:.2f} s"
    )
    print(
        f"  bound: interval {LATENCY_INTERVAL} s + slowest sweep {sweep_seconds:.2f} s = "
        f"{bound:.2f} s ({verdict})"
    )
