"""The metrics from daily figures at scale on PostgreSQL (`python -m bench metrics`).

`disputes.metrics_rollup.report` (what the metrics page, its CSV and the API answer with)
over the default range (the last 30 days) and over a year (366 days), with 1,000 complaints
and with BENCH_METRICS_ROWS complaints (default 1,000,000), each in its own database, the
median of 21 reads taken in 7 rounds that alternate the two sizes (so a slower minute of a
shared machine falls on both), side by side with the ratio (target ≤ 300 ms at full size
and ≤ 2× the time at 1,000); beside it the live computation (`disputes.metrics.live_report`)
on the same data, once, and whether the figures are equal (they must be: "equal: yes").
Twice: right after the rollup run (every day read from its rows, today's part so far
included), and with today touched since the run (an order paid now), so today is computed
live — only the hours of it the change touched, as on a busy day between two runs.

The complaints are spread over three years, 200 shops and a buyer per 50 orders (so "repeat
complaints" are as rare as a marketplace's, not every one), bulk-inserted by SQL (INSERT …
SELECT generate_series, in time order as a marketplace appends them): one in ten under
review, one in ten withdrawn, one in ten awaiting the merchant, the rest resolved between a
minute and nine days after filing (one in seven decided automatically), one in twenty paid
first, their timelines (answers, rulings, withdrawals) and a rating on one in five; then
VACUUM ANALYZE and the first rollup run (the backfill, timed). Runs in two scratch
databases, `<name>_metrics_bench_small` and `…_big`, created, migrated and dropped.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import time_machine

from bench.bench_escrow import _admin

SMALL = 1_000
SHOPS = 200
BUYER_ORDERS = 50  # orders per buyer over the three years
DAYS = 3 * 365
TARGET_MS = 300
TARGET_RATIO = 2.0


def run() -> None:
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://")):
        print("skipped: the metrics benchmark needs DATABASE_URL=postgres://…")
        return
    url = urlparse(raw)
    base = f"{url.path.lstrip('/') or 'kamen'}_metrics_bench"
    dbs = (f"{base}_small", f"{base}_big")
    for db in dbs:
        _admin(url, f'DROP DATABASE IF EXISTS "{db}"')
        _admin(url, f'CREATE DATABASE "{db}"')
    try:
        _run(dbs)
    finally:
        from django.db import connections

        connections.close_all()
        for wrapper in _WRAPPERS.values():
            wrapper.close()
        for db in dbs:
            _admin(url, f'DROP DATABASE IF EXISTS "{db}"')


def _times_ms(fn: Callable[[], Any], n: int) -> list[float]:
    fn()  # warm
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


_WRAPPERS: dict[str, Any] = {}


def _use(db: str) -> None:
    """Point Django's default connection at one of the two bench databases: each its own
    connection, kept open, so switching costs nothing and each stays warm."""
    from django.db import connections

    if db not in _WRAPPERS:
        wrapper = connections.create_connection("default")
        # Its own copy: create_connection hands every wrapper the one settings dict, so
        # naming this one's database renamed the other's too (it showed once a wrapper
        # connected again: both read the last database named).
        wrapper.settings_dict = {**wrapper.settings_dict, "NAME": db, "CONN_MAX_AGE": None}
        _WRAPPERS[db] = wrapper
    connections["default"] = _WRAPPERS[db]


@dataclass
class _Size:
    label: str
    db: str
    seed: Any = None
    shops: list[int] = field(default_factory=list)


def _run(dbs: tuple[str, str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen_complaints.settings")
    import django

    django.setup()
    from escrow import services as escrow_services

    escrow_services.compensation._enqueue_payout = lambda payout_id: None  # no broker here

    rows = int(os.environ.get("BENCH_METRICS_ROWS", "1000000"))
    # Each size in its own database, both kept: the reads alternate between them, so a
    # change in the machine's pace (a shared VM's neighbours) falls on both alike, instead
    # of on whichever size was measured in that minute.
    sizes = (_Size("1,000", dbs[0]), _Size(f"{rows:,}", dbs[1]))
    for size, total in zip(sizes, (SMALL, rows), strict=True):
        _use(size.db)
        size.seed, size.shops = _seed()
        started = time.perf_counter()
        _fill(size.seed, size.shops, total - 1)
        _vacuum()
        filled = time.perf_counter() - started
        rolled = _backfill()
        print(f"{size.label} complaints: filled in {filled:.1f} s, rolled up in {rolled:.1f} s")
    # Read as a web worker's connection does: not the server process that just bulk-inserted
    # a million rows and rolled up three years (its own memory and caches from that), nor
    # this process's garbage from it. Each is opened again at its first read (the warm one).
    for wrapper in _WRAPPERS.values():
        wrapper.close()
    gc.collect()

    results = _measure(sizes)
    for size in sizes:
        _use(size.db)
        _touch_today(size.seed)
    touched = _measure(sizes)

    for title, measured in (
        ("after the run (today rolled up so far)", results),
        ("today touched since the run (the hours touched computed live)", touched),
    ):
        print(f"{title}:")
        small, big = (measured[size.db] for size in sizes)
        for what in ("30 days", "366 days"):
            a, b = small[what]["rolled"], big[what]["rolled"]
            ratio = b / a
            verdict = "meets" if b <= TARGET_MS and ratio <= TARGET_RATIO else "ABOVE"
            print(
                f"metrics {what:8}: {sizes[0].label} complaints {a:7.1f} ms | {sizes[1].label} "
                f"complaints {b:7.1f} ms | ratio {ratio:.2f} ({verdict} ≤ {TARGET_MS} ms, "
                f"≤ {TARGET_RATIO:g}×) | live {small[what]['live']:.1f} ms / "
                f"{big[what]['live']:.1f} ms | computed live {small[what]['days']} / "
                f"{big[what]['days']}"
            )
    equal = all(r[what]["equal"] for m in (results, touched) for r in m.values() for what in r)
    print(f"equal: {'yes' if equal else 'NO'}")
    assert equal, "the daily figures differ from the live computation"


def _seed() -> tuple[Any, list[int]]:
    """The seed complaint (the rows the fill copies) and the shops, in the current database."""
    from django.core.management import call_command

    from disputes.models import DisputeRating
    from tests.disputes import factories as f
    from tests.factories import MerchantFactory

    call_command("migrate", verbosity=0)
    # Filed an hour ago through the factory: older than the rollup's overlap, or its day
    # would be "changed since the run", read live.
    with time_machine.travel(timedelta(hours=-1)):
        seed = f.file()
        DisputeRating.objects.create(dispute=seed, buyer=seed.buyer, score=4)
    return seed, [MerchantFactory().pk for _ in range(SHOPS)]


def _touch_today(seed: Any) -> None:
    """An order paid now, placed today: today is touched since the run, so every read
    computes it live (as on a busy day, between two runs)."""
    from django.db import connection

    from orders.models import Order

    tag = uuid.uuid4().hex[:6]
    with connection.cursor() as cur:
        _insert(
            cur,
            Order._meta.db_table,
            seed.order_id,
            {
                "number": f"'T{tag}'",
                "payment_reference": f"'PT{tag}'",
                "created_at": "now()",
                "paid_at": "now()",
            },
            f"FROM {Order._meta.db_table} t WHERE t.id = %s",
        )


ROUNDS = 7  # alternations of the two databases per range
CALLS = 3  # timed reads per database and round (after a warm one)


def _measure(sizes: tuple[_Size, ...]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per database and range: the median read over ROUNDS × CALLS, the sizes alternating
    round by round; then, per database, the live computation and whether both are equal."""
    from django.utils import timezone

    from disputes import metrics, metrics_rollup

    today = timezone.localdate()
    ranges = {
        what: metrics.Range(first=today - timedelta(days=days - 1), last=today)
        for what, days in (("30 days", 30), ("366 days", 366))
    }
    times: dict[str, dict[str, list[float]]] = {s.db: {w: [] for w in ranges} for s in sizes}
    for _ in range(ROUNDS):
        for what, rng in ranges.items():
            for size in sizes:
                _use(size.db)
                times[size.db][what] += _times_ms(lambda rng=rng: metrics_rollup.report(rng), CALLS)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for size in sizes:
        _use(size.db)
        out[size.db] = {}
        for what, rng in ranges.items():
            # Both as of one moment: the live computation takes seconds at full size, and a
            # merchant deadline running out in between (one every ~100 s here) moves
            # "settled".
            with time_machine.travel(timezone.now(), tick=False):
                start = time.perf_counter()  # not moved by time_machine
                live = metrics.live_report(rng)
                live_ms = (time.perf_counter() - start) * 1000
                equal = _same(metrics_rollup.report(rng), live)
                equal = equal and _same(
                    metrics_rollup.report(rng, merchant_id=size.shops[0]),
                    metrics.live_report(rng, merchant_id=size.shops[0]),
                )
                live_parts = metrics_rollup._view(rng, timezone.now()).live
                days = sum(part.hour is None for part in live_parts)
                computed = f"{days} d + {len(live_parts) - days} h"
            out[size.db][what] = {
                "rolled": statistics.median(times[size.db][what]),
                "live": live_ms,
                "equal": equal,
                "days": computed,
            }
    return out


def _same(rolled: dict[str, Any], live: dict[str, Any]) -> bool:
    keys = ("figures", "top_merchants", "by_merchant", "daily")
    differ = [k for k in keys if rolled[k] != live[k]]
    for k in differ:
        print(f"  differs: {k}\n    rolled {rolled[k]}\n    live   {live[k]}")
    return not differ


def _backfill() -> float:
    """The first rollup run over every day (the figures are dropped first: the bench writes
    its rows by SQL, in the past, without the timeline's trace a change leaves)."""
    from disputes import metrics_rollup
    from disputes.models import DailyDuration, DailyFigures, DurationValue, MetricsRollupRun

    for model in (DailyFigures, DailyDuration, DurationValue, MetricsRollupRun):
        model.objects.all().delete()
    started = time.perf_counter()
    metrics_rollup.rollup()
    _vacuum()
    return time.perf_counter() - started


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")


def _insert(cur: Any, table: str, source_id: int, replace: dict[str, str], tail: str) -> None:
    from django.db import connection

    cols = [c.name for c in connection.introspection.get_table_description(cur, table)]
    cols = [c for c in cols if c != "id"]
    values = [replace.get(c, f't."{c}"') for c in cols]
    cur.execute(
        f"INSERT INTO {table} ({', '.join(chr(34) + c + chr(34) for c in cols)}) "  # noqa: S608
        f"SELECT {', '.join(values)} {tail}",
        [source_id],
    )


def _buyers(tag: str, count: int) -> tuple[int, int]:
    """`count` new buyers (one per BUYER_ORDERS orders, as a marketplace has): the first id
    and how many, numbered one after the other."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    user_t = get_user_model()._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {user_t} (password, is_superuser, username, first_name, last_name, "  # noqa: S608
            "email, is_staff, is_active, date_joined) "
            f"SELECT '!', false, 'mb{tag}' || g, '', '', '', false, true, now() "
            f"FROM generate_series(1, {count}) g RETURNING id"
        )
        ids = sorted(row[0] for row in cur.fetchall())
    assert ids[-1] - ids[0] + 1 == count, "the buyers' ids are not consecutive"
    return ids[0], count


def _fill(seed: Any, shops: list[int], n: int) -> None:
    """n more paid orders and a complaint on each, spread over three years and the shops."""
    from django.db import connection

    from disputes.models import Dispute, DisputeEvent, DisputeRating
    from orders.models import Order

    tag = uuid.uuid4().hex[:6]
    buyers = _buyers(tag, max(1, n // BUYER_ORDERS))
    order_t, dispute_t = Order._meta.db_table, Dispute._meta.db_table
    event_t, rating_t = DisputeEvent._meta.db_table, DisputeRating._meta.db_table
    shop = f"(ARRAY[{','.join(map(str, shops))}])[1 + mod(g, {len(shops)})]"
    # Every moment (filing, outcome, answer, rating) at least ten minutes ago: older than the
    # rollup's overlap (300 s), so what the backfill rolls up is not "changed since the run"
    # when the reads begin. Minutes back from that, over three years (and a few seconds, so
    # midnight is crossed).
    past = "now() - interval '10 minutes'"
    back = (
        f"((mod(g::bigint * 7919, {DAYS * 1440}) || ' minutes')::interval"
        " + (mod(g, 61) || ' s')::interval)"
    )
    with connection.cursor() as cur:
        _insert(
            cur,
            order_t,
            seed.order_id,
            {
                "number": f"'M{tag}' || g",
                "payment_reference": f"'PM{tag}' || g",
                "merchant_id": shop,
                "buyer_id": f"{buyers[0]} + mod(g::bigint * 104729, {buyers[1]})",
                "created_at": f"{past} - {back} - interval '1 hour'",
                "paid_at": f"{past} - {back} - interval '1 hour'",
            },
            # In time order, as a marketplace's rows are appended: a day's rows share pages.
            f"FROM {order_t} t, generate_series(1, {n}) g WHERE t.id = %s ORDER BY {back} DESC",
        )
        kind = "mod(o.id, 10)"
        status = (
            f"CASE WHEN {kind} = 0 THEN 'under_review' WHEN {kind} = 1 THEN 'withdrawn' "
            f"WHEN {kind} = 2 THEN 'awaiting_merchant' ELSE 'resolved' END"
        )
        took = (
            "((1 + mod(o.id * 31, 12960)) || ' minutes')::interval"
            " + (mod(o.id, 997) || ' ms')::interval"
        )
        resolved = f"{kind} > 2 AND o.created_at + interval '1 hour' + {took} < {past}"
        _insert(
            cur,
            dispute_t,
            seed.pk,
            {
                "number": f"'C{tag}' || o.id",
                "order_id": "o.id",
                "merchant_id": "o.merchant_id",
                "status": (
                    f"CASE WHEN {kind} > 2 AND NOT ({resolved}) THEN 'under_review' "
                    f"ELSE {status} END"
                ),
                "filed_at": "o.created_at + interval '1 hour'",
                "merchant_response_due": "o.created_at + interval '25 hours'",
                "review_due": "o.created_at + interval '3 days'",
                "outcome": (
                    f"CASE WHEN {resolved} THEN (ARRAY['refunded','partially_refunded',"
                    "'replaced','rejected','rejected_malicious'])[1 + mod(o.id, 5)] ELSE '' END"
                ),
                "decided_by": (
                    f"CASE WHEN {resolved} THEN (CASE WHEN mod(o.id, 7) = 0 THEN 'system' "
                    "ELSE 'staff' END) ELSE '' END"
                ),
                "resolved_at": (
                    f"CASE WHEN {resolved} THEN o.created_at + interval '1 hour' + {took} END"
                ),
                "paid_out": (
                    f"CASE WHEN {resolved} OR mod(o.id, 20) = 5 "
                    "THEN mod(o.id, 9000) / 100.0 ELSE 0 END"
                ),
                "recovered": "CASE WHEN mod(o.id, 20) = 5 THEN mod(o.id, 3000) / 100.0 ELSE 0 END",
                "fast_track": "mod(o.id, 20) = 5",
                "appealed_at": "NULL",
                "buyer_id": "o.buyer_id",
            },
            f"FROM {dispute_t} t, {order_t} o WHERE t.id = %s AND o.number LIKE 'M{tag}%%' "
            "ORDER BY o.id",
        )
        mine = f"FROM {event_t} t, {dispute_t} d WHERE t.id = %s AND d.number LIKE 'C{tag}%%'"
        first_event = DisputeEvent.objects.filter(dispute=seed).order_by("id").first()
        assert first_event is not None
        timeline = [
            ("contested", "merchant", "d.filed_at + interval '3 hours'", "mod(d.id, 3) = 0"),
            ("ruled", "staff", "d.resolved_at", "d.resolved_at IS NOT NULL AND mod(d.id, 7) <> 0"),
            (
                "auto_decided",
                "system",
                "d.resolved_at",
                "d.resolved_at IS NOT NULL AND mod(d.id, 7) = 0",
            ),
            ("withdrawn", "buyer", "d.filed_at + interval '5 hours'", "d.status = 'withdrawn'"),
            ("fast_tracked", "system", "d.filed_at + interval '1 minute'", "d.fast_track"),
        ]
        for type_, role, when, where in timeline:
            _insert(
                cur,
                event_t,
                first_event.pk,
                {
                    "dispute_id": "d.id",
                    "type": f"'{type_}'",
                    "role": f"'{role}'",
                    "created_at": when,
                },
                f"{mine} AND {where} AND {when} < {past} ORDER BY {when}",
            )
        rating = DisputeRating.objects.get(dispute=seed)
        _insert(
            cur,
            rating_t,
            rating.pk,
            {
                "dispute_id": "d.id",
                "buyer_id": "d.buyer_id",
                "score": "1 + mod(d.id, 5)",
                "created_at": "d.resolved_at",
            },
            f"FROM {rating_t} t, {dispute_t} d WHERE t.id = %s AND d.number LIKE 'C{tag}%%' "
            "AND d.resolved_at IS NOT NULL AND mod(d.id, 5) = 0 ORDER BY d.resolved_at",
        )
