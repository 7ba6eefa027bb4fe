"""The buyer's complaint pages on PostgreSQL (`python -m bench buyer_pages`).

1. The complaint page (/complaints/<number>/) of a complaint with 1 event vs one with 200
   events, 40 evidence files and 200 messages: median server time of 20 requests each, side by
   side, and the ratio. Target ≤ 1.5 (the page's queries are constant; only rendering grows).
2. My complaints (/complaints/) of a buyer with 10 vs 5,000 complaints (first page): median of
   20 each, and the ratio. Target ≤ 1.5.
3. The shop record (disputes.selectors.shop_record) of a shop with 100,000 paid orders in the
   window: uncached (median of 5) and cached (median of 50).

Requests go through Django's test client in-process (the server's time, no network). Rows are
bulk-inserted (INSERT … SELECT generate_series for the orders). Runs in its own scratch
database `<name>_buyer_bench`, created, migrated and dropped.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from bench.bench_escrow import _admin

TARGET_RATIO = 1.5


def run() -> None:
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://")):
        print("skipped: the buyer pages benchmark needs DATABASE_URL=postgres://…")
        return
    url = urlparse(raw)
    bench_db = f"{url.path.lstrip('/') or 'kamen'}_buyer_bench"
    _admin(url, f'DROP DATABASE IF EXISTS "{bench_db}"')
    _admin(url, f'CREATE DATABASE "{bench_db}"')
    try:
        _run(bench_db)
    finally:
        from django.db import connections

        connections.close_all()
        _admin(url, f'DROP DATABASE IF EXISTS "{bench_db}"')


def _median_ms(fn: Callable[[], Any], n: int) -> float:
    fn()  # warm
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _get(client: Any, url: str) -> Callable[[], Any]:
    def call() -> Any:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return response

    return call


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
    from django.test import Client
    from django.urls import reverse

    from escrow import services as escrow_services
    from tests.disputes import factories as f

    escrow_services.compensation._enqueue_payout = lambda payout_id: None  # no broker here

    # 1. The complaint page, 1 vs 200 events.
    small = f.file()
    big = f.file()
    _grow(big, events=200, evidence=40, messages=200)
    client = Client()
    client.force_login(small.buyer)
    t_small = _median_ms(_get(client, reverse("disputes:complaint", args=[small.number])), 20)
    client.force_login(big.buyer)
    t_big = _median_ms(_get(client, reverse("disputes:complaint", args=[big.number])), 20)
    _report("complaint page", "1 event", t_small, "200 events/40 files/200 msgs", t_big)

    # 2. My complaints, 10 vs 5,000 complaints of one buyer.
    few = f.file().buyer
    for _ in range(9):
        f.file(order=f.funded_order(buyer=few))
    many = f.file().buyer
    _many_complaints(many, 4999)
    client.force_login(few)
    t_few = _median_ms(_get(client, reverse("disputes:my_complaints")), 20)
    client.force_login(many)
    t_many = _median_ms(_get(client, reverse("disputes:my_complaints")), 20)
    _report("my complaints", "10 complaints", t_few, "5,000 complaints", t_many)

    # 3. The shop record of a shop with 100,000 orders.
    shop_dispute = f.file()
    _many_orders(shop_dispute.order_id, 100_000)
    from disputes import selectors

    merchant_id = shop_dispute.merchant_id
    uncached = _median_ms(lambda: selectors.shop_record(merchant_id, fresh=True), 5)
    cached = _median_ms(lambda: selectors.shop_record(merchant_id), 50)
    record = selectors.shop_record(merchant_id)
    print(
        f"shop record   : {record['orders']:,} orders; uncached {uncached:8.2f} ms, "
        f"cached {cached:6.3f} ms"
    )


def _report(what: str, a: str, ta: float, b: str, tb: float) -> None:
    ratio = tb / ta
    verdict = "meets" if ratio <= TARGET_RATIO else "ABOVE"
    print(f"{what:14}: {a} {ta:7.2f} ms | {b} {tb:7.2f} ms | ratio {ratio:.2f} ({verdict} ≤ 1.5)")


def _grow(dispute: Any, *, events: int, evidence: int, messages: int) -> None:
    from disputes.models import DisputeEvent, EventType, Evidence, Role

    DisputeEvent.objects.bulk_create(
        [
            DisputeEvent(
                dispute=dispute,
                type=EventType.EVIDENCE_ADDED,
                role=Role.MERCHANT,
                data={"kind": "chat_record"},
            )
            for _ in range(events)
        ]
        + [
            DisputeEvent(
                dispute=dispute,
                type=EventType.MESSAGE,
                role=Role.BUYER,
                actor=dispute.buyer,
                body=f"message {i}",
            )
            for i in range(messages)
        ]
    )
    Evidence.objects.bulk_create(
        [
            Evidence(
                dispute=dispute,
                kind="chat_record",
                stored_name=f"bench/{uuid.uuid4().hex}.png",
                content_type="image/png",
                size=10,
                sha256="0" * 64,
                role=Role.BUYER,
                uploaded_by=dispute.buyer,
            )
            for _ in range(evidence)
        ]
    )


def _copy_sql(table: str, source_id: int, n: int, replace: dict[str, str]) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cols = [c.name for c in connection.introspection.get_table_description(cur, table)]
        cols = [c for c in cols if c != "id"]
        values = [replace.get(c, f't."{c}"') for c in cols]
        cur.execute(
            f"INSERT INTO {table} ({', '.join(chr(34) + c + chr(34) for c in cols)}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM {table} t, generate_series(1, %s) g "
            "WHERE t.id = %s",
            [n, source_id],
        )


def _many_orders(order_id: int, n: int) -> None:
    """n paid orders of the order's shop, copies of it with new numbers."""
    from orders.models import Order

    tag = uuid.uuid4().hex[:6]
    unique = {"number": f"'B{tag}' || g", "payment_reference": f"'PB{tag}' || g"}
    _copy_sql(Order._meta.db_table, order_id, n, unique)


def _many_complaints(buyer: Any, n: int) -> None:
    """n complaints of one buyer: n copies of one order and one complaint on each."""
    from django.db import connection

    from disputes.models import Dispute
    from orders.models import Order

    dispute = Dispute.objects.filter(buyer=buyer).get()
    tag = uuid.uuid4().hex[:6]
    order_t, dispute_t = Order._meta.db_table, Dispute._meta.db_table
    unique = {"number": f"'M{tag}' || g", "payment_reference": f"'PM{tag}' || g"}
    _copy_sql(order_t, dispute.order_id, n, unique)
    with connection.cursor() as cur:
        cols = [c.name for c in connection.introspection.get_table_description(cur, dispute_t)]
        cols = [c for c in cols if c != "id"]
        values = [
            {
                "number": f"'C{tag}' || o.id",
                "order_id": "o.id",
                "filed_at": "t.filed_at - (o.id || ' seconds')::interval",
            }.get(c, f't."{c}"')
            for c in cols
        ]
        cur.execute(
            f"INSERT INTO {dispute_t} ({', '.join(chr(34) + c + chr(34) for c in cols)}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM {dispute_t} t, {order_t} o "
            "WHERE t.id = %s AND o.number LIKE %s",
            [dispute.pk, f"M{tag}%"],
        )
