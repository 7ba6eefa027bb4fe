"""The merchant dashboard's lists on PostgreSQL (`python -m bench merchant_pages`).

One shop with 10,000 open complaints and 200,000 orders vs a shop with 10 of each; the median
server time of 20 requests of each page, side by side:

1. the complaint inbox (/merchant/complaints/, nearest deadline first) — target ratio ≤ 1.5;
2. the sales orders (/merchant/orders/, newest first) — target ratio ≤ 1.5;
3. the performance page (/merchant/performance/, aggregate SQL): both medians printed.

Requests go through Django's test client in-process (the server's time, no network), logged in
as each shop's owner. Rows are bulk-inserted by SQL (INSERT … SELECT generate_series), then
VACUUM ANALYZEd. Runs in its own scratch database `<name>_merchant_bench`, created, migrated and
dropped.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any
from urllib.parse import urlparse

from bench.bench_buyer_pages import _copy_sql, _get, _median_ms, _report
from bench.bench_escrow import _admin

BIG_ORDERS = 200_000
BIG_COMPLAINTS = 10_000
SMALL = 10
REQUESTS = 20


def run() -> None:
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://")):
        print("skipped: the merchant pages benchmark needs DATABASE_URL=postgres://…")
        return
    url = urlparse(raw)
    bench_db = f"{url.path.lstrip('/') or 'kamen'}_merchant_bench"
    _admin(url, f'DROP DATABASE IF EXISTS "{bench_db}"')
    _admin(url, f'CREATE DATABASE "{bench_db}"')
    try:
        _run(bench_db)
    finally:
        from django.db import connections

        connections.close_all()
        _admin(url, f'DROP DATABASE IF EXISTS "{bench_db}"')


def _run(bench_db: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen_complaints.settings")
    import django
    from django.db import connections

    django.setup()
    connections.close_all()
    connections["default"].settings_dict["NAME"] = bench_db
    connections["default"].settings_dict["CONN_MAX_AGE"] = None
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.db import connection
    from django.test import Client

    from escrow import services as escrow_services
    from tests.disputes import factories as f

    escrow_services.compensation._enqueue_payout = lambda payout_id: None  # no broker here

    started = time.perf_counter()
    small = f.file()
    _fill(small, orders=SMALL - 1, complaints=SMALL - 1)
    big = f.file()
    _fill(big, orders=BIG_ORDERS - 1, complaints=BIG_COMPLAINTS - 1)
    # As autovacuum leaves a platform in service: statistics, and a visibility map so the
    # counts (per status, and the page count) are index-only scans.
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(f"filled in {time.perf_counter() - started:.1f} s: {_sizes(small)} vs {_sizes(big)}")

    inbox, inbox_name = _url("complaints", "/api/v1/disputes/?ordering=deadline")
    performance, _name = _url("performance", "")
    pages = [(inbox_name, inbox, True), ("orders page", "/merchant/orders/", True)]
    if performance:
        pages.append(("performance", performance, False))
    else:
        print("performance   : /merchant/performance/ not built yet; not timed")
    client = Client()
    for what, path, is_list in pages:
        client.force_login(small.merchant.owner)
        t_small = _median_ms(_get(client, path), REQUESTS)
        client.force_login(big.merchant.owner)
        t_big = _median_ms(_get(client, path), REQUESTS)
        if is_list:
            _report(what, f"{SMALL} rows", t_small, "10k/200k rows", t_big)
        else:
            print(f"{what:14}: small shop {t_small:7.2f} ms | big shop {t_big:7.2f} ms (median)")
    # The search by a part of the order number (its last six characters: a trigram index
    # scan on PostgreSQL, orders/migrations/0007) and by the buyer's username.
    for what, term in (("orders search", lambda d: d.order.number[-6:]), ("buyer search", None)):
        times = []
        for shop in (small, big):
            client.force_login(shop.merchant.owner)
            q = term(shop) if term else shop.buyer.username
            times.append(_median_ms(_get(client, f"/merchant/orders/?q={q}"), REQUESTS))
        _report(what, f"{SMALL} rows", times[0], "200k rows", times[1])


def _url(name: str, fallback: str) -> tuple[str, str]:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(f"merchant:{name}"), "inbox"
    except NoReverseMatch:
        return fallback, "inbox (API)"


def _sizes(dispute: Any) -> str:
    from disputes.models import Dispute
    from orders.models import Order

    merchant_id = dispute.merchant_id
    orders = Order.objects.filter(merchant_id=merchant_id).count()
    complaints = Dispute.objects.filter(merchant_id=merchant_id).count()
    return f"{orders:,} orders/{complaints:,} complaints"


def _fill(dispute: Any, *, orders: int, complaints: int) -> None:
    """`orders` more paid orders of the complaint's shop (copies of its order, placed a
    minute apart going back), and an open complaint on `complaints` of them, each with its
    own deadline, so the inbox has a real order to sort."""
    from disputes.models import Dispute
    from orders.models import Order

    tag = uuid.uuid4().hex[:6]
    order_t, dispute_t = Order._meta.db_table, Dispute._meta.db_table
    _copy_sql(
        order_t,
        dispute.order_id,
        orders,
        {
            "number": f"'B{tag}' || g",
            "payment_reference": f"'PB{tag}' || g",
            "created_at": "t.created_at - (g || ' minutes')::interval",
        },
    )
    from django.db import connection

    with connection.cursor() as cur:
        cols = [c.name for c in connection.introspection.get_table_description(cur, dispute_t)]
        cols = [c for c in cols if c != "id"]
        values = [
            {
                "number": f"'C{tag}' || o.id",
                "order_id": "o.id",
                "filed_at": "t.filed_at - (mod(o.id, 997) || ' minutes')::interval",
                "merchant_response_due": (
                    "t.merchant_response_due + (mod(o.id, 1009) || ' minutes')::interval"
                ),
            }.get(c, f't."{c}"')
            for c in cols
        ]
        cur.execute(
            f"INSERT INTO {dispute_t} ({', '.join(chr(34) + c + chr(34) for c in cols)}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM {dispute_t} t, {order_t} o "
            "WHERE t.id = %s AND o.id IN ("
            f"  SELECT id FROM {order_t} WHERE number LIKE %s ORDER BY id LIMIT %s"
            ")",
            [dispute.pk, f"B{tag}%", complaints],
        )
