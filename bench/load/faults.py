"""Faults under load (`make faults`, bench/load/faults.sh; docs/load.md "Faults").

Run by bench/load/run.sh (LOAD_MODE=faults) beside Locust's fixed mix, in the run's production
environment:

    python -m bench.load.faults inject   # the faults, one after another; a line each
    python -m bench.load.faults check    # after the run: exactly once, outbox, payouts

`inject` waits until the users are past their logins, then, each fault after the platform
recovered from the one before, and only while Locust's users still have long enough to run for
the fault and its recovery to happen under load (`LOAD_SECONDS` after the ramp; a fault there is
no longer time for is not injected, said in the log, and the report counts it missing):

1. `kill -9` the Celery worker (its main process and its pool) in the middle of a deadline
   sweep: 15 armed complaints are made due at once, and the worker dies 0.3 s after it took
   the sweep that holds them;
2. `kill -9` the worker in the middle of a payout batch: 15 complaints awaiting the merchant
   made due at once (each a default judgment that pays the buyer), the worker dies 0.1 s after
   it took the batch of payouts the sweep handed over;
3. Redis (the run's own, faults.sh's) shut down and started again 5 s later (AOF on, as in
   docker-compose.yml);
4. every connection of the run's PostgreSQL database terminated (pg_terminate_backend);
5. beat stopped for two sweep intervals, then started again; one and a half intervals in,
   `manage.py enforce_deadlines` is run as docs/operations.md tells an operator to.

The worker and beat run under run.sh's restart loop (compose's `restart: unless-stopped`):
that restart, and nothing else, is what "on its own" allows. For each fault it prints one JSON
line (`FAULT {...}`): when it began and ended, when the platform had recovered — /healthz
answers 200, a sweep that began after the fault has finished, no deadline overdue, nothing in
the outbox or the payout queue older than two intervals — and the failed requests Locust
recorded (LOAD_FAILURES_FILE) from the fault to 10 s after the recovery.
"""

# ruff: noqa: S603, S607 - it runs pgrep, redis-cli and redis-server by name, on the run's own
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

WORK = Path(os.environ.get("LOAD_WORK", "."))
PLAN = Path(os.environ.get("LOAD_PLAN", "plan.json"))
BASE = os.environ.get("LOAD_BASE", "")
DB_NAME = os.environ.get("LOAD_DB_NAME", "")
INTERVAL = int(os.environ.get("SWEEP_INTERVAL_SECONDS", "10"))
REDIS_PORT = os.environ.get("LOAD_FAULTS_REDIS_PORT", "")
REDIS_DIR = os.environ.get("LOAD_FAULTS_REDIS_DIR", "")
RECOVERY_TIMEOUT = 300
CLUSTER = 15
GRACE = 60.0
# How long Locust's users work after the ramp (run.sh's SECONDS_RUN for LOAD_MODE=faults; the
# locustfile stops them that long after it wrote ramp.json).
MEASURE_SECONDS = float(os.environ.get("LOAD_SECONDS", "300"))


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen_complaints.settings")
    import django

    django.setup()


def _say(text: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- Processes ---------------------------------------------------------------------------


def _pid(name: str) -> int:
    return int((WORK / f"{name}.pid").read_text().strip())


def _kill_worker() -> int:
    """SIGKILL the worker's main process and its pool processes (by their ids)."""
    main = _pid("worker")
    children = subprocess.run(
        ["pgrep", "-P", str(main)], capture_output=True, text=True, check=False
    ).stdout.split()
    for pid in [main, *map(int, children)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return main


def _wait_for_task(task: str, offset: int, timeout: float) -> str | None:
    """Wait for the worker to log, after `offset`, that it received `task`; return its id.
    The clock's sweeps jump the queue (settings.CLOCK_PRIORITY), so one received is handed
    to a pool process at once unless both are busy; the caller kills after a short delay if
    the task has neither finished nor been discarded (past its `expires`) by then."""
    log = WORK / "logs" / "worker.log"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = log.read_bytes().decode(errors="replace")
        for line in text[offset:].splitlines():
            if f"{task}[" in line and "received" in line:
                return line.split(f"{task}[", 1)[1].split("]", 1)[0]
        time.sleep(0.05)
    return None


def _log_offset() -> int:
    return len((WORK / "logs" / "worker.log").read_bytes().decode(errors="replace"))


def _task_finished(task_id: str) -> str:
    """ "succeeded" or "discarded" (it came after its `expires`), else "" (still running)."""
    if not task_id:
        return ""
    text = (WORK / "logs" / "worker.log").read_text(errors="replace")
    for line in text.splitlines():
        if task_id in line and "succeeded" in line:
            return "succeeded"
        if task_id in line and "Discarding revoked task" in line:
            return "discarded"
    return ""


# --- The platform's state ----------------------------------------------------------------


def _healthz() -> int:
    try:
        with urllib.request.urlopen(BASE + "/healthz", timeout=5) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def _figures() -> dict[str, Any] | None:
    from django.db import DatabaseError, connection
    from django.utils import timezone

    from disputes.gauges import platform_figures
    from disputes.models import ClockRun

    try:
        figures = platform_figures(timezone.now())
        run = ClockRun.objects.filter(pk=1).first()
        figures["sweep_started"] = run.started_at.timestamp() if run else 0.0
        figures["sweep_finished"] = run.finished_at.timestamp() if run else 0.0
        return figures
    except DatabaseError:
        connection.close()
        return None


_baseline: dict[str, float] = {}


def _note_baseline() -> None:
    """The queues' oldest ages just before a fault: under steady load the outbox always holds
    rows a few seconds (or, on a saturated machine, a minute) old; recovered means back to
    that, not to empty."""
    figures = _figures() or {}
    for queue in ("outbox", "payouts", "webhooks"):
        _baseline[queue] = float(figures.get(f"{queue}_oldest_seconds", 0.0))


def _recovered(after: float) -> tuple[bool, str]:
    from disputes.services.notifications import SWEEP_GRACE

    global GRACE
    GRACE = SWEEP_GRACE.total_seconds()
    if _healthz() != 200:
        return False, "/healthz not 200"
    figures = _figures()
    if figures is None:
        return False, "the database did not answer"
    if not figures["sweep_started"] > after or figures["sweep_finished"] < figures["sweep_started"]:
        return False, "no sweep begun after the fault has finished"
    if figures["deadlines_overdue"]:
        return False, f"{figures['deadlines_overdue']} deadlines overdue"
    for queue in ("outbox", "payouts", "webhooks"):
        # The sweep re-sends a notification the broker lost once it is SWEEP_GRACE old
        # (disputes/services/notifications.py), so a lost handoff waits that, plus a sweep.
        limit = max(GRACE + 2 * INTERVAL, _baseline.get(queue, 0.0) + INTERVAL)
        if figures[f"{queue}_oldest_seconds"] > limit:
            return (
                False,
                f"{queue}: oldest {figures[f'{queue}_oldest_seconds']:.0f} s > {limit:.0f}",
            )
    return True, "ok"


def _wait_recovered(after: float) -> tuple[float | None, str]:
    end = time.time() + RECOVERY_TIMEOUT
    why, said = "", 0.0
    while time.time() < end:
        ok, why = _recovered(after)
        if ok:
            return time.time(), why
        if time.time() - said > 15:
            _say(f"  not recovered yet: {why}")
            said = time.time()
        time.sleep(0.5)
    return None, why


def _users_until() -> float:
    """When Locust's users stop: MEASURE_SECONDS after the measured part began (ramp.json)."""
    ramp = json.loads((WORK / "ramp.json").read_text())
    return float(ramp["ended_at"]) + MEASURE_SECONDS


def _time_needed() -> float:
    """What one fault takes at most under the driver's own bounds, from its start to the end of
    the 10 s after its recovery: catching the worker in a task (up to 6 intervals), the
    recovery (a lost notification waits the sweep's grace, then a sweep and its send), and the
    window the failed requests are counted in."""
    return 6 * INTERVAL + GRACE + 3 * INTERVAL + 10


def _failures(since: float, until: float) -> dict[str, Any]:
    path = WORK / "failures.jsonl"
    rows = []
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if since <= row["at"] <= until:
                rows.append(row)
    kinds: dict[str, int] = {}
    for row in rows:
        kinds[row["name"]] = kinds.get(row["name"], 0) + 1
    return {
        "failed": len(rows),
        "failing_seconds": round(rows[-1]["at"] - rows[0]["at"], 1) if rows else 0.0,
        "first_failure_after": round(rows[0]["at"] - since, 1) if rows else None,
        "by_request": dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:5]),
        "errors": sorted({row["error"][:120] for row in rows})[:3],
    }


def _overdue_now() -> tuple[int, float]:
    figures = _figures()
    if figures is None:
        return -1, 0.0
    return figures["deadlines_overdue"], figures["deadline_oldest_overdue_seconds"]


# --- Arming clusters ---------------------------------------------------------------------


def _due_now(states: list[str], count: int) -> list[int]:
    """Make `count` armed complaints in `states`, due later in the run, due now (one sweep
    then has them all), and note the new due time in the plan."""
    from django.utils import timezone

    from bench.load.generate import CLOCK_FIELD
    from disputes.models import Dispute

    plan = json.loads(PLAN.read_text())
    now = timezone.now()
    later = now + timedelta(seconds=3 * INTERVAL)
    chosen = [
        row for row in plan["armed"] if row["state"] in states and row["due"] > later.isoformat()
    ][:count]
    for row in chosen:
        Dispute.objects.filter(pk=row["id"], status=row["state"]).update(
            **{CLOCK_FIELD[row["state"]]: now}
        )
        row["due"] = now.isoformat()
    PLAN.write_text(json.dumps(plan, indent=1))
    return [row["id"] for row in chosen]


def _left_state(ids: list[int]) -> int:
    from bench.load.generate import CLOCK_EVENT
    from disputes.models import Dispute

    return Dispute.objects.filter(pk__in=ids).exclude(status__in=list(CLOCK_EVENT)).count()


def _payouts(ids: list[int]) -> dict[str, int]:
    from django.db.models import Count

    from escrow.models import Payout

    rows = (
        Payout.objects.filter(order__disputes__in=ids)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    return dict(rows)


# --- The faults --------------------------------------------------------------------------


def _worker_mid_task(task: str, states: list[str], delay: float) -> dict[str, Any]:
    for attempt in range(1, 4):
        offset = _log_offset()
        ids = _due_now(states, CLUSTER)
        found = _wait_for_task(task, offset, 6 * INTERVAL)
        if found is None:
            _say(f"{task} not received within {6 * INTERVAL} s (attempt {attempt})")
            continue
        task_id = found
        time.sleep(delay)
        finished = _task_finished(task_id)
        if finished == "discarded":
            _say(f"{task} {task_id} was discarded (past its expiry); again")
            continue
        killed_at = time.time()
        pid = _kill_worker()
        detail = {
            "task": task_id,
            "worker_pid": pid,
            "task_had_finished": finished,
            "cluster": len(ids),
            "cluster_enforced_at_kill": _left_state(ids),
            "cluster_payouts_at_kill": _payouts(ids),
            "attempt": attempt,
        }
        if not finished:
            return {"began": killed_at, "ended": killed_at, "ids": ids, **detail}
        _say(f"{task} {task_id} had finished before the kill; again")
        time.sleep(INTERVAL)
    raise SystemExit(f"could not catch {task} in progress")


def _redis_restart() -> dict[str, Any]:
    began = time.time()
    subprocess.run(["redis-cli", "-p", REDIS_PORT, "shutdown"], check=False, capture_output=True)
    time.sleep(5)
    _redis_start()
    return {"began": began, "ended": time.time(), "down_seconds": 5}


def _redis_start() -> None:
    subprocess.run(
        [
            "redis-server",
            "--port",
            REDIS_PORT,
            "--bind",
            "127.0.0.1",
            "--dir",
            REDIS_DIR,
            "--appendonly",
            "yes",
            "--maxmemory-policy",
            "noeviction",
            "--daemonize",
            "yes",
            "--pidfile",
            f"{REDIS_DIR}/redis.pid",
            "--logfile",
            f"{REDIS_DIR}/redis.log",
        ],
        check=True,
    )


def _postgres_terminate() -> dict[str, Any]:
    from django.db import connection

    began = time.time()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [DB_NAME],
        )
        terminated = cur.fetchone()[0]
    return {"began": began, "ended": time.time(), "connections_terminated": terminated}


def _beat_stop() -> dict[str, Any]:
    hold = WORK / "hold-beat"
    hold.touch()
    began = time.time()
    os.kill(_pid("beat"), signal.SIGTERM)
    worst = (0, 0.0)
    by_hand: dict[str, Any] = {}
    while time.time() < began + 2 * INTERVAL:
        overdue = _overdue_now()
        worst = max(worst, overdue)
        if not by_hand and time.time() > began + 1.5 * INTERVAL:
            # What docs/operations.md tells an operator while beat is down: one sweep by hand,
            # safe beside beat. Tested here: the overdue deadlines before and after it.
            by_hand["overdue_before"] = overdue[0]
            done = subprocess.run(
                [sys.executable, "manage.py", "enforce_deadlines"],
                capture_output=True,
                text=True,
                check=False,
            )
            by_hand["exit"] = done.returncode
            by_hand["overdue_after"] = _overdue_now()[0]
        time.sleep(1)
    hold.unlink()
    return {
        "began": began,
        "ended": time.time(),
        "stopped_seconds": 2 * INTERVAL,
        "overdue_max_while_stopped": worst[0],
        "oldest_overdue_while_stopped": round(worst[1], 1),
        "enforce_deadlines_by_hand": by_hand,
    }


FAULTS = [
    (
        "worker killed mid-sweep",
        lambda: _worker_mid_task(
            "disputes.tasks.deadlines_sweep",
            ["awaiting_merchant", "awaiting_buyer", "under_review"],
            0.3,
        ),
    ),
    (
        "worker killed mid-payout batch",
        lambda: _worker_mid_task("escrow.tasks.payouts_send", ["awaiting_merchant"], 0.1),
    ),
    ("Redis restarted (5 s down)", _redis_restart),
    ("PostgreSQL: every connection terminated", _postgres_terminate),
    ("beat stopped for two intervals", _beat_stop),
]


def inject() -> None:
    _setup()
    end = time.time() + 600
    while not (WORK / "ramp.json").exists():
        if time.time() > end:
            raise SystemExit("the users never finished logging in")
        time.sleep(1)
    time.sleep(5)
    from disputes.services.notifications import SWEEP_GRACE

    global GRACE
    GRACE = SWEEP_GRACE.total_seconds()
    users_until = _users_until()
    for name, fault in FAULTS:
        left = users_until - time.time()
        if left < _time_needed():
            # Injected after the users stopped, a fault's "0 failed" would say nothing about
            # requests: not injected, and the report counts it missing.
            _say(
                f"{name}: NOT injected: the users stop in {left:.0f} s, the fault and its "
                f"recovery may take {_time_needed():.0f} s (raise LOAD_SECONDS)"
            )
            continue
        _note_baseline()
        _say(f"{name}: begins (queues' oldest before: {_baseline})")
        detail = fault()
        detail.pop("ids", None)
        recovered, why = _wait_recovered(detail["ended"])
        until = (recovered or time.time()) + 10
        time.sleep(max(until - time.time(), 0))
        row = {
            "fault": name,
            "recovered_after": round(recovered - detail["ended"], 1) if recovered else None,
            "not_recovered": "" if recovered else why,
            **_failures(detail["began"] - 1, until),
            # A request in flight when its connection or process died fails at once; one that
            # fails later was sent after the fault and found the platform not yet recovered.
            "failed_2s_after_fault": _failures(detail["ended"] + 2, until)["failed"],
            "under_load_until": "recovery + 10 s" if until <= users_until else "NO",
            **{k: v for k, v in detail.items() if k not in ("began", "ended")},
            "began": detail["began"],
            "ended": detail["ended"],
        }
        print("FAULT " + json.dumps(row, ensure_ascii=False), flush=True)
        _say(f"{name}: recovered after {row['recovered_after']} s, {row['failed']} failed")


def _queues_drained() -> tuple[dict[str, Any], float, float]:
    """The platform's figures once the outbox, the payout queue and the webhook backlog are
    empty, or at the bound — whichever comes first — and the seconds waited and the bound.

    The check runs after Locust's users stopped, so every row it can find was written before
    it began (run.sh waits for the sweep after the last armed deadline first). A notification
    whose on-commit send was lost (a broker down, a worker killed) is the sweep's only once it
    is SWEEP_GRACE old (and one held back to coalesce, COALESCE_WINDOW); the sweep runs every
    INTERVAL and takes 200 rows at a time; then the worker sends them. So whatever the clock
    stands at when the load stopped, by max(grace, window) + one interval per 200 rows + two
    more intervals (the sweep's run, the worker's send) after the check began, everything
    waiting has been sent: a row still there then is a bug, not a clock reading."""
    from django.utils import timezone

    from disputes.gauges import platform_figures
    from disputes.services.notifications import COALESCE_WINDOW, SWEEP_GRACE

    began = time.time()
    figures = platform_figures(timezone.now())
    batches = max(1, -(-int(figures["outbox"]) // 200))
    held = max(SWEEP_GRACE, COALESCE_WINDOW).total_seconds()
    bound = held + (batches + 2) * INTERVAL
    while figures["outbox"] or figures["payouts"] or figures["webhooks"]:
        if time.time() - began >= bound:
            break
        time.sleep(2)
        figures = platform_figures(timezone.now())
    return figures, time.time() - began, bound


def check() -> None:
    """After the run: the faults' complaints and every payout and recovery exactly once, the
    outbox and queues empty (waited for, within `_queues_drained`'s bound). One line each, and
    `FAULTS_CHECK {...}`."""
    _setup()
    from django.db.models import Count

    from escrow.models import LedgerTransaction, Payout, TransactionKind

    plan = json.loads(PLAN.read_text())
    ids = [row["id"] for row in plan["armed"]]
    figures, waited, bound = _queues_drained()
    # Each complaint paid and recovered at most once (a second posting under another key
    # would be a double payment; the keys themselves are unique by constraint).
    twice = (
        LedgerTransaction.objects.filter(
            kind__in=[TransactionKind.COMPENSATION_PAYOUT, TransactionKind.RECOVERY],
            dispute_id__isnull=False,
        )
        .values("dispute_id", "kind")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    paid = LedgerTransaction.objects.filter(
        kind=TransactionKind.COMPENSATION_PAYOUT, dispute_id__in=ids
    ).count()
    recovered = LedgerTransaction.objects.filter(
        kind=TransactionKind.RECOVERY, dispute_id__in=ids
    ).count()
    sent = Payout.objects.filter(order__disputes__in=ids, status="sent").count()
    summary = {
        "armed_compensations_paid": paid,
        "armed_payouts_sent": sent,
        "armed_recoveries": recovered,
        "paid_or_recovered_twice": twice,
        "payouts_not_sent": Payout.objects.exclude(status="sent").count(),
        "outbox": figures["outbox"],
        "outbox_given_up": figures["outbox_given_up"],
        "payouts_queued": figures["payouts"],
        "webhooks_pending": figures["webhooks"],
        "auto_checks_pending": figures["auto_checks"],
        "deadlines_overdue": figures["deadlines_overdue"],
        "waited_for_the_queues_seconds": round(waited, 1),
        "queues_bound_seconds": round(bound, 1),
    }
    for key, value in summary.items():
        print(f"  {key}: {value}")
    print("FAULTS_CHECK " + json.dumps(summary))


if __name__ == "__main__":
    {"inject": inject, "check": check}[sys.argv[1]]()
