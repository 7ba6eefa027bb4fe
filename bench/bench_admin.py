"""The staff admin's lists at scale on PostgreSQL (`python -m bench admin`).

The median server time of 20 requests (Django's test client in-process, logged in as a
superuser) of:

1. the orders list (/admin/orders/order/, newest first) — target ratio ≤ 2;
2. the complaints list, every complaint (/admin/disputes/dispute/?view=all) — target ≤ 2;
3. the review queue, the complaint list's default (/admin/disputes/dispute/) — target ≤ 2;
4. the metrics page (/admin/disputes/metrics/, its default range; median of 5): both printed;

first with 1,000 orders and 1,000 complaints, then with the full tables (1,000,000 orders and
200,000 complaints; `KAMEN_BENCH_ADMIN_SCALE=0.3` makes it 300,000 / 60,000 on a slow machine,
and the output says so). Rows are bulk-inserted by SQL (INSERT … SELECT generate_series) as
copies of one filed complaint and its order, one complaint in ten under review with its own
deadline (the queue), two in ten awaiting the merchant, the rest resolved; then VACUUM
ANALYZE, as autovacuum leaves a platform in service. Runs in its own scratch database
`<name>_admin_bench`, created, migrated and dropped.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any
from urllib.parse import urlparse

from bench.bench_buyer_pages import _copy_sql, _get, _median_ms
from bench.bench_escrow import _admin

SMALL = 1_000
FULL_ORDERS = 1_000_000
FULL_COMPLAINTS = 200_000
REQUESTS = 20
METRICS_REQUESTS = 5  # seconds each at full size
TARGET_RATIO = 2.0


def run() -> None:
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://")):
        print("skipped: the admin benchmark needs DATABASE_URL=postgres://…")
        return
    url = urlparse(raw)
    bench_db = f"{url.path.lstrip('/') or 'kamen'}_admin_bench"
    _admin(url, f'DROP DATABASE IF EXISTS "{bench_db}"')
    _admin(url, f'CREATE DATABASE "{bench_db}"')
    try:
        _run(bench_db)
    finally:
        from django.db import connections

        connections.close_all()
        if os.environ.get("KAMEN_BENCH_KEEP_DB") == "1":  # to EXPLAIN its queries afterwards
            print(f"kept the scratch database {bench_db}")
        else:
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
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from escrow import services as escrow_services
    from tests.disputes import factories as f

    escrow_services.compensation._enqueue_payout = lambda payout_id: None  # no broker here

    scale = float(os.environ.get("KAMEN_BENCH_ADMIN_SCALE", "1"))
    full_orders, full_complaints = int(FULL_ORDERS * scale), int(FULL_COMPLAINTS * scale)
    if scale != 1:
        print(
            f"scaled down (KAMEN_BENCH_ADMIN_SCALE={scale}): {full_orders:,} orders and "
            f"{full_complaints:,} complaints instead of {FULL_ORDERS:,} and {FULL_COMPLAINTS:,}"
        )

    seed = f.file()
    staff = get_user_model().objects.create_superuser("bench-admin", "", "bench-admin")
    client = Client()
    client.force_login(staff)
    changelist = reverse("admin:disputes_dispute_changelist")
    pages = [
        ("orders list", reverse("admin:orders_order_changelist"), True),
        ("complaints", changelist + "?view=all", True),
        ("review queue", changelist, True),
        ("metrics page", reverse("admin:disputes_metrics_changelist"), False),
    ]

    started = time.perf_counter()
    _fill(seed, orders=SMALL - 1, complaints=SMALL - 1)
    _vacuum()
    print(f"small tables filled in {time.perf_counter() - started:.1f} s: {_sizes()}")
    small = {what: _median_ms(_get(client, path), _n(lst)) for what, path, lst in pages}

    started = time.perf_counter()
    _fill(seed, orders=full_orders - SMALL, complaints=full_complaints - SMALL)
    _vacuum()
    print(f"full tables filled in {time.perf_counter() - started:.1f} s: {_sizes()}")
    full = {what: _median_ms(_get(client, path), _n(lst)) for what, path, lst in pages}

    big = f"{full_orders // 1000:,}k/{full_complaints // 1000:,}k"
    for what, _path, is_list in pages:
        ratio = full[what] / small[what]
        line = (
            f"{what:13}: 1k rows {small[what]:7.2f} ms | {big} rows {full[what]:7.2f} ms"
            f" | ratio {ratio:.2f}"
        )
        if is_list:
            verdict = "meets" if ratio <= TARGET_RATIO else "ABOVE"
            line += f" ({verdict} ≤ {TARGET_RATIO:g})"
        print(line)


def _n(is_list: bool) -> int:
    return REQUESTS if is_list else METRICS_REQUESTS


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")


def _sizes() -> str:
    from disputes.admin.desk import in_queue
    from disputes.models import Dispute
    from orders.models import Order

    orders, complaints = Order.objects.count(), Dispute.objects.count()
    queue = in_queue(Dispute.objects.all()).count()
    return f"{orders:,} orders, {complaints:,} complaints ({queue:,} in the review queue)"


def _fill(dispute: Any, *, orders: int, complaints: int) -> None:
    """`orders` more orders (copies of the complaint's order, a minute apart going back) and
    a complaint on `complaints` of them: one in ten under review (deadlines spread from 30 min
    overdue — 1 %, as a sweeping clock leaves it — to two days away), two in ten awaiting the
    merchant, the rest resolved."""
    from django.db import connection

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
    status = (
        "CASE WHEN mod(o.id, 10) = 0 THEN 'under_review' "
        "WHEN mod(o.id, 10) IN (1, 2) THEN 'awaiting_merchant' ELSE 'resolved' END"
    )
    with connection.cursor() as cur:
        cols = [c.name for c in connection.introspection.get_table_description(cur, dispute_t)]
        cols = [c for c in cols if c != "id"]
        replace = {
            "number": f"'C{tag}' || o.id",
            "order_id": "o.id",
            "status": status,
            "filed_at": "o.created_at + interval '1 hour'",
            "review_due": (
                "CASE WHEN mod(o.id, 10) = 0 THEN "
                "now() + ((mod(o.id, 3001) - 30) || ' minutes')::interval END"
            ),
            "outcome": "CASE WHEN mod(o.id, 10) > 2 THEN 'refunded' ELSE '' END",
            "decided_by": "CASE WHEN mod(o.id, 10) > 2 THEN 'staff' ELSE '' END",
            "resolved_at": (
                "CASE WHEN mod(o.id, 10) > 2 THEN o.created_at + interval '2 days' END"
            ),
        }
        values = [replace.get(c, f't."{c}"') for c in cols]
        cur.execute(
            f"INSERT INTO {dispute_t} ({', '.join(chr(34) + c + chr(34) for c in cols)}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM {dispute_t} t, {order_t} o "
            "WHERE t.id = %s AND o.id IN ("
            f"  SELECT id FROM {order_t} WHERE number LIKE %s ORDER BY id LIMIT %s"
            ")",
            [dispute.pk, f"B{tag}%", complaints],
        )
