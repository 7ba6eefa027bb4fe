"""The automatic checks' benchmarks on PostgreSQL (`make bench`, or `python -m bench auto`).

1. Filing → outcome with a real worker and beat: a private redis-server (if one is on PATH,
   else the filesystem broker), a Celery worker and beat as subprocesses with
   SWEEP_INTERVAL_SECONDS=5; a separate filer process files 200 machine-verifiable complaints
   (phone top-ups the sandbox supplier reports not credited: numbers ending in 1111) through
   `dispute_file`, as the API does. Printed: median and max from filing to the buyer's payout
   being posted. Target: max ≤ SWEEP_INTERVAL_SECONDS + the slowest sweep (the task on
   commit normally decides within a second; the sweep is the safety net).

2. Filing time with a slow issuer: the filer files card-key complaints with the worker's
   sandbox issuer answering at once, then taking 2 s a key (SANDBOX_VERIFIER_DELAY_SECONDS).
   Printed: the median `dispute_file` time of each and their ratio. Target ≤ 1.1: the
   upstream is asked after commit, by the worker, never in the filing.

    DATABASE_URL=postgres://… make bench    (BENCH_AUTO_N=200, BENCH_AUTO_KEYS=40)

Runs in its own scratch database `<name>_auto_bench`, created, migrated and dropped.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

from bench.bench_escrow import _admin
from bench.processes import start_celery, start_redis, stop

N_DEFAULT = 200
KEYS_DEFAULT = 40
INTERVAL = 5
SLOW_VERIFIER_SECONDS = 2
TARGET_RATIO = 1.1
BASE_DIR = Path(__file__).resolve().parent.parent


# --- Seeding (in this process, tasks eager: nothing reaches a broker) ------------------------


def _seed(n_topups: int, n_keys: int) -> None:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.utils import timezone

    from escrow import services as escrow
    from kamen_complaints.celery import app
    from orders import crypto
    from orders import services as orders
    from orders.models import (
        CardKey,
        MemberRole,
        Merchant,
        MerchantMember,
        MerchantStatus,
        Product,
    )

    app.conf.task_always_eager = True  # the top-up deliveries of the seed run inline
    unusable = make_password(None)
    owner = User.objects.create(username="owner", email="o@example.com", password=unusable)
    merchant = Merchant.objects.create(
        owner=owner,
        shop_name="bench shop",
        legal_name="bench",
        id_number_encrypted=crypto.encrypt("11010519491231002X"),
        id_number_last4="002X",
        id_number_fingerprint="bench-auto",
        phone="13800138000",
        address="bench",
        status=MerchantStatus.ACTIVE,
        verified_at=timezone.now(),
    )
    MerchantMember.objects.create(merchant=merchant, user=owner, role=MemberRole.OWNER)
    escrow.deposit_topup_confirm(
        merchant=merchant,
        reference="BENCH-AUTO-TOPUP",
        amount=Decimal("9000000.00"),
        channel="sandbox",
        user=owner,
    )
    topup = Product.objects.create(
        merchant=merchant, name="话费 50", kind="phone_topup", face_value=50, price=50, source="b"
    )
    card = Product.objects.create(
        merchant=merchant, name="点卡 48", kind="game_card", face_value=50, price=48, source="b"
    )
    keys = [f"BENCH-PREUSED-{i:06d}" for i in range(2 * n_keys)]
    CardKey.objects.bulk_create(
        [
            CardKey(
                product=card,
                secret_encrypted=crypto.encrypt(k),
                fingerprint=crypto.fingerprint(k),
                tail=k[-4:],
            )
            for k in keys
        ]
    )
    for i in range(n_topups + 2 * n_keys):
        buyer = User.objects.create(username=f"b{i}", email=f"b{i}@example.com", password=unusable)
        if i < n_topups:
            order = orders.order_create(
                buyer=buyer, product=topup, quantity=1, topup_target=f"139{i:04d}1111"
            )
        else:
            order = orders.order_create(buyer=buyer, product=card, quantity=1)
        orders.order_pay(order=order, buyer=buyer)
    app.conf.task_always_eager = False


# --- The filer (a process of its own, like a web worker) -------------------------------------


def _filer(kind: str, count: int) -> None:
    """Files `count` complaints on orders of `kind` not complained about yet; prints one JSON
    line: each complaint's id and how long `dispute_file` took (its commit and the task's
    publication included)."""
    import django

    django.setup()
    from disputes import services
    from orders.models import Order

    orders = list(
        Order.objects.filter(product__kind=kind, disputes__isnull=True)
        .select_related("buyer", "product")
        .order_by("id")[:count]
    )
    took = []
    for order in orders:
        started = time.perf_counter()
        dispute = services.dispute_file(
            buyer=order.buyer,
            order=order,
            reason="not_received" if kind == "phone_topup" else "invalid_card_key",
            claimed_amount=order.amount,
            description="bench",
        )
        took.append((dispute.pk, time.perf_counter() - started))
    print(json.dumps(took))


def _file(env: dict[str, str], kind: str, count: int) -> list[tuple[int, float]]:
    out = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "bench.bench_auto", "--file", kind, str(count)],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return [(int(pk), float(s)) for pk, s in json.loads(out.stdout.strip().splitlines()[-1])]


# --- The worker and beat -------------------------------------------------------------------


def _wait_resolved(ids: list[int], limit: float = 180) -> float:
    """Until every complaint is resolved; returns the slowest sweep seen meanwhile."""
    from disputes.models import ClockRun, Dispute

    slowest = 0.0
    deadline = time.monotonic() + limit
    while Dispute.objects.filter(pk__in=ids).exclude(status="resolved").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the worker and beat did not decide the complaints")
        run = ClockRun.objects.filter(pk=1).first()
        if run is not None:
            slowest = max(slowest, float(run.counts.get("seconds", 0)))
        time.sleep(0.2)
    run = ClockRun.objects.filter(pk=1).first()
    if run is not None:
        slowest = max(slowest, float(run.counts.get("seconds", 0)))
    return slowest


def run() -> None:
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://")):
        print("skipped: the automatic-check benchmark needs DATABASE_URL=postgres://…")
        return
    url = urlparse(raw)
    name = f"{url.path.lstrip('/') or 'kamen'}_auto_bench"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen_complaints.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from escrow import services as escrow_services

    n = int(os.environ.get("BENCH_AUTO_N", N_DEFAULT))
    n_keys = int(os.environ.get("BENCH_AUTO_KEYS", KEYS_DEFAULT))
    connections.close_all()
    _admin(url, f'DROP DATABASE IF EXISTS "{name}"')
    _admin(url, f'CREATE DATABASE "{name}"')
    connections["default"].settings_dict["NAME"] = name
    escrow_services.ledger.forget_account_ids()
    workdir = Path(tempfile.mkdtemp(prefix="kc-auto-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    logging.disable(logging.INFO)  # the seed's order and task lines
    try:
        call_command("migrate", verbosity=0)
        _seed(n, n_keys)
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": raw.rsplit("/", 1)[0] + "/" + name,
                "KAMEN_VAR_DIR": str(workdir),
                "SWEEP_INTERVAL_SECONDS": str(INTERVAL),
                "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
                "LOG_LEVEL": "WARNING",
                "CELERY_TASK_ALWAYS_EAGER": "false",
                "SANDBOX_VERIFIER_DELAY_SECONDS": "0",
            }
        )
        broker = start_redis(processes, env)
        if broker != "redis":
            env.pop("CELERY_BROKER_URL", None)
        workers = start_celery(env, workdir, beat=True)
        processes += workers

        # 1. Filing → payout posted, 200 top-ups the supplier never credited.
        filed = _file(env, "phone_topup", n)
        ids = [pk for pk, _s in filed]
        slowest = _wait_resolved(ids)
        from disputes.models import Dispute, EventType
        from escrow.models import LedgerTransaction

        paid = dict(
            LedgerTransaction.objects.filter(
                dispute_id__in=ids, key__endswith=":payout"
            ).values_list("dispute_id", "created_at")
        )
        disputes = list(Dispute.objects.filter(pk__in=ids))
        latencies = sorted((paid[d.pk] - d.filed_at).total_seconds() for d in disputes)
        automatic = sum(
            1 for d in disputes if d.events.filter(type=EventType.AUTO_DECIDED).exists()
        )
        bound = INTERVAL + slowest
        worst = latencies[-1]
        print(
            f"automatic outcomes, real worker + beat ({broker} broker), sweep every "
            f"{INTERVAL} s, {len(ids)} complaints ({automatic} decided automatically):"
        )
        print(
            f"  filing → payout posted: median {statistics.median(latencies):.2f} s, "
            f"max {worst:.2f} s"
        )
        print(
            f"  bound: interval {INTERVAL} s + slowest sweep {slowest:.2f} s = {bound:.2f} s "
            f"({'meets' if worst <= bound else 'ABOVE'})"
        )

        # 2. The filing's own time, instant issuer vs one taking 2 s a key.
        instant = [s for _pk, s in _file(env, "game_card", n_keys)]
        stop(workers)
        processes = [p for p in processes if p not in workers]
        slow_env = {**env, "SANDBOX_VERIFIER_DELAY_SECONDS": str(SLOW_VERIFIER_SECONDS)}
        workers = start_celery(slow_env, workdir, beat=False)
        processes += workers
        slow = [s for _pk, s in _file(slow_env, "game_card", n_keys)]
        ratio = statistics.median(slow) / statistics.median(instant)
        print(f"filing time, {n_keys} card-key complaints each:")
        print(
            f"  median with an instant issuer {statistics.median(instant) * 1000:.1f} ms, "
            f"with a {SLOW_VERIFIER_SECONDS} s issuer {statistics.median(slow) * 1000:.1f} ms"
        )
        print(
            f"  ratio {ratio:.2f} (target ≤ {TARGET_RATIO}: "
            f"{'meets' if ratio <= TARGET_RATIO else 'ABOVE'})"
        )
    finally:
        logging.disable(logging.NOTSET)
        stop(processes)
        shutil.rmtree(workdir, ignore_errors=True)
        connections.close_all()
        _admin(url, f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--file":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen_complaints.settings")
        _filer(sys.argv[2], int(sys.argv[3]))
    else:
        run()
