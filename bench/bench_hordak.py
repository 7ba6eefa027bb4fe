"""The ledger beside django-hordak, interleaved on the same PostgreSQL (`python -m bench hordak`).

Three paths take turns in chunks of CHUNK compensations, so a machine that is busier in one
part of the run favours none of them:

- the ledger: escrow.services.compensation_pay then compensation_recover in one
  transaction.atomic — each posting checked against the order's headroom and booked on the
  order, with its outbox row (as bench/bench_escrow.py);
- django-hordak 2.0 (`Account.transfer_to`, its transaction and two legs, balanced by its
  own triggers), the same two transfers per compensation in one transaction, in its own
  process and virtualenv (.venv/hordak, requirements-hordak.txt, `make bench` installs it;
  bench/hordak_side.py) on its own scratch database on the same server;
- the plain-SQL floor of bench/bench_escrow.py (the ledger's statements written by hand).

Prints transfers per second (a compensation is two transfers) for each and the ratios.
Targets: the ledger ≥ 1× hordak and ≥ 0.6 of the floor. `BENCH_HORDAK_N` compensations
per path (default 3,000). Skipped, saying so, without .venv/hordak.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.bench_escrow import CHUNK, _admin, _django_chunk, _fixtures, _Floor, _Quiet

N_DEFAULT = 3_000
HORDAK_PYTHON = Path(sys.prefix) / "hordak" / "bin" / "python"


def run() -> None:
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://")):
        print("skipped: the hordak benchmark needs DATABASE_URL=postgres://…")
        return
    if not HORDAK_PYTHON.exists():
        print(f"skipped: no {HORDAK_PYTHON} (make bench installs requirements-hordak.txt)")
        return
    url = urlparse(raw)
    base = url.path.lstrip("/") or "kamen"
    ours, theirs = f"{base}_ledger_bench", f"{base}_hordak_bench"
    n = int(os.environ.get("BENCH_HORDAK_N", N_DEFAULT))
    for name in (ours, theirs):
        _admin(url, f'DROP DATABASE IF EXISTS "{name}"')
        _admin(url, f'CREATE DATABASE "{name}"')
    try:
        _run(url, ours, raw.replace(url.path, f"/{theirs}", 1), n)
    finally:
        from django.db import connections

        connections.close_all()
        for name in (ours, theirs):
            _admin(url, f'DROP DATABASE IF EXISTS "{name}"')


def _run(url: Any, ours: str, theirs_url: str, n: int) -> None:
    from bench.bench_escrow import _setup_django

    _setup_django(ours)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    merchants, orders = _fixtures(n)
    from escrow import services

    services.compensation._enqueue_payout = lambda payout_id: None  # no broker in any path
    side = subprocess.Popen(  # noqa: S603 — our own script, our own interpreter
        [str(HORDAK_PYTHON), str(Path(__file__).with_name("hordak_side.py")), theirs_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert side.stdin is not None and side.stdout is not None
    try:
        assert side.stdout.readline().strip() == "ready"
        floor = _Floor(url, ours)
        ledger_orders, floor_orders = orders[:n], orders[n:]
        ledger = hordak = plain = 0.0
        for start in range(0, n, CHUNK):
            stop = min(start + CHUNK, n)
            ledger += _django_chunk(merchants, ledger_orders, start, stop)
            side.stdin.write(f"{stop - start}\n")
            side.stdin.flush()
            hordak += float(side.stdout.readline())
            plain += floor.chunk(merchants, floor_orders, start, stop, dispute_offset=n)
        floor.close()
    finally:
        side.stdin.close()
        side.wait(timeout=60)
    call_command("check_ledger", verbosity=0, stdout=_Quiet())
    rates = {name: 2 * n / seconds for name, seconds in (("ledger", ledger), ("hordak", hordak))}
    rates["floor"] = 2 * n / plain
    print(f"compensations: {n} per path, 2 transfers each, interleaved in chunks of {CHUNK}")
    for name, label in (
        ("ledger", "the ledger"),
        ("hordak", "django-hordak"),
        ("floor", "plain SQL"),
    ):
        print(f"{label:14}: {rates[name]:8.1f} transfers/s")
    vs_hordak = rates["ledger"] / rates["hordak"]
    vs_floor = rates["ledger"] / rates["floor"]
    print(
        f"ratio         : {vs_hordak:.2f}× hordak ({'meets' if vs_hordak >= 1 else 'BELOW'} ≥ 1), "
        f"{vs_floor:.2f} of the floor ({'meets' if vs_floor >= 0.6 else 'BELOW'} ≥ 0.6)"
    )
    print("check_ledger  : clean")
