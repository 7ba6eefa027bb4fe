"""The three slowest API paths of the capacity run, in process on PostgreSQL
(`python -m bench fastpath`; docs/benchmarks.md "Capacity"):

1. filing a complaint with one image (`POST /api/v1/disputes/`, multipart, as the load's buyers
   do),
2. the merchant accepting it (`POST /api/v1/disputes/<n>/respond/`, accept with a refund),
3. staff ruling on a contested one (`POST /api/v1/disputes/<n>/rule/`, refunded).

For each: the number of queries (django.test.utils.CaptureQueriesContext) and the median time
of RUNS requests (BENCH_FASTPATH_RUNS, default 20; after one to warm up) through Django's
test client (the server's time, no network; timed while the queries are captured; beside it
the fastest request and the median CPU time of this process, the Python side without
PostgreSQL's, less disturbed by other work on the machine), each on a complaint of its own
made beforehand, and the queries one request sends more than once (the same SQL, parameters
included) — the duplicate reads. Runs in its own scratch database
`<name>_fastpath_bench`, created, migrated and dropped. Publishing goes to the configured broker
(CELERY_BROKER_URL; nothing consumes it here), as the web node does.
"""

from __future__ import annotations

import cProfile
import logging
import os
import pstats
import re
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from bench.bench_escrow import _admin

RUNS = int(os.environ.get("BENCH_FASTPATH_RUNS", "20"))
# BENCH_FASTPATH_DUMP=<file>: every query of one request of each path appended there.
DUMP = os.environ.get("BENCH_FASTPATH_DUMP", "")
# BENCH_FASTPATH_PROFILE=1: the project's functions in one request of each, by cumulative time.
PROFILE = bool(os.environ.get("BENCH_FASTPATH_PROFILE"))


def run() -> None:
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://")):
        print("skipped: the fast path benchmark needs DATABASE_URL=postgres://…")
        return
    url = urlparse(raw)
    bench_db = f"{url.path.lstrip('/') or 'kamen'}_fastpath_bench"
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
    logging.disable(logging.INFO)  # the services' INFO lines for every order made
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="fastpath-bench-")
    from django.test import Client

    from tests.disputes import factories as f
    from tests.factories import ProductFactory

    n = RUNS + 1  # one warm-up request each
    product = ProductFactory()
    f.fund(product.merchant, Decimal("100000.00"))  # every hold and refund covered
    owner = product.merchant.owner

    # 1. Filing: a buyer of their own for each (the filing limit counts per buyer).
    orders = [f.funded_order(product=product, deposit_amount=0) for _ in range(n)]
    image = f.png_bytes(64, 64)

    def file_one(i: int) -> Callable[[Client], Any]:
        order = orders[i]

        def call(client: Client) -> Any:
            from django.core.files.uploadedfile import SimpleUploadedFile

            return client.post(
                "/api/v1/disputes/",
                {
                    "order": order.number,
                    "reason": "invalid_card_key",
                    "claimed_amount": str(order.amount),
                    "description": "负载测试：卡密提示已被使用。 The key says already redeemed.",
                    "evidence_kind": "order_screenshot",
                    "evidence": SimpleUploadedFile(
                        f"screenshot-{i}.png", image, content_type="image/png"
                    ),
                },
            )

        return call

    _measure(
        "API: file complaint (1 image)", [(o.buyer, file_one(i)) for i, o in enumerate(orders)]
    )

    # 2. The merchant accepts (refund), each on a complaint just filed.
    filed = [f.file(order=f.funded_order(product=product, deposit_amount=0)) for _ in range(n)]

    def respond(number: str) -> Callable[[Client], Any]:
        body = {"action": "accept", "remedy": "refund", "message": "已退款。"}
        return lambda c: c.post(
            f"/api/v1/disputes/{number}/respond/", body, content_type="application/json"
        )

    _measure("API: merchant accepts (refund)", [(owner, respond(d.number)) for d in filed])

    # 3. Staff rule (refunded) on contested complaints.
    staff = f.arbitrator()
    contested = [
        f.contest(f.file(order=f.funded_order(product=product, deposit_amount=0))) for _ in range(n)
    ]

    def rule(number: str) -> Callable[[Client], Any]:
        body = {"outcome": "refunded", "reason": "负载测试裁决。 Decided on the evidence."}
        return lambda c: c.post(
            f"/api/v1/disputes/{number}/rule/", body, content_type="application/json"
        )

    _measure("API: staff rules (refunded)", [(staff, rule(d.number)) for d in contested])


def _measure(name: str, calls: list[tuple[Any, Callable[[Any], Any]]]) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    times: list[float] = []
    cpu_times: list[float] = []
    counts: list[int] = []
    duplicates: Counter[str] = Counter()
    reads: Counter[str] = Counter()
    clients: dict[int, Client] = {}
    for i, (user, call) in enumerate(calls):
        client = clients.get(user.pk)
        if client is None:
            client = clients[user.pk] = Client()
            client.force_login(user)
        profiler = cProfile.Profile() if PROFILE and i == 1 else None
        with CaptureQueriesContext(connection) as captured:
            start, cpu_start = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            response = call(client)
            if profiler is not None:
                profiler.disable()
            elapsed = (time.perf_counter() - start) * 1000
            cpu = (time.process_time() - cpu_start) * 1000
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(
                r"/work/main/(?!\.venv)", 30
            )
        assert response.status_code in (200, 201), (name, response.status_code, response.content)
        if i == 0:
            continue  # warm-up
        times.append(elapsed)
        cpu_times.append(cpu)
        counts.append(len(captured.captured_queries))
        if i == 1:
            seen = Counter(_shape(q["sql"]) for q in captured.captured_queries)
            duplicates = Counter({sql: k for sql, k in seen.items() if k > 1})
            reads = Counter(_read_of(q["sql"]) for q in captured.captured_queries)
            if DUMP:
                with open(DUMP, "a", encoding="utf-8") as out:
                    out.write(f"== {name}\n")
                    out.writelines(f"{q['sql']}\n" for q in captured.captured_queries)
    print(
        f"{name:32}: {statistics.median(counts):5.1f} queries (min {min(counts)}, max "
        f"{max(counts)}), median {statistics.median(times):7.2f} ms of {len(times)} (fastest "
        f"{min(times):.2f}; this process's CPU {statistics.median(cpu_times):.2f})"
    )
    print("  reads by table: " + ", ".join(f"{t} {k}" for t, k in reads.most_common() if t))
    for sql, k in duplicates.most_common():
        print(f"    same SQL {k}×: {sql[:160]}")


def _read_of(sql: str) -> str:
    """The table a SELECT reads first (its FROM), "" for anything else."""
    found = re.match(r'\s*SELECT .*? FROM "?(\w+)"?', sql, re.S)
    return found.group(1) if found else ""


def _shape(sql: str) -> str:
    """The SQL as sent, savepoint names made alike (each has its own id)."""
    return re.sub(r'"?s\d+_x\d+"?', "<savepoint>", sql)
