"""The load test's report (bench/load/run.sh; docs/load.md). Standard library only.

Reads what the run left in its work folder — Locust's CSV (`locust_stats.csv`,
`locust_failures.csv`), the server logs, `verify.txt` (bench/load/generate.py verify),
`ledger.txt` (manage.py check_ledger) — and prints:

1. per request type: count, failures, median, p95, p99 (ms), and the median's ratio to the
   median of `GET /healthz` measured in the same run at the same concurrency;
2. the targets, each with PASS or FAIL:
   - 0 failed requests and 0 server errors (5xx in the access log, tracebacks in any log);
   - every deadline that fell due during the run enforced exactly once, no overdue clock
     afterwards, and `check_ledger` clean;
   - filing a complaint with one image at ≥ ½ the throughput of the bare authenticated insert
     (posting a message on a complaint), both measured in the same run: by Little's law a
     request type's throughput at a given concurrency is that concurrency over its mean
     response time, so the ratio is mean(message) / mean(filing).

Exit status 1 when a correctness target (the first two) is missed; the speed figures are
printed, never asserted (docs/benchmarks.md).

With --mode capacity (`make capacity`) it prints instead the steps (`steps.json`, written by the
locustfile's CapacityShape), the request types at the last step held beside the /healthz
floor at that concurrency, and where the time went for the three slowest (`timing.jsonl`,
bench/load/timing.py); the correctness targets are the deadlines and the ledger, and no
server error. With --mode faults it adds the faults table (`faults.txt`, `faults-check.txt`,
bench/load/faults.py).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
from datetime import datetime
from pathlib import Path

HEALTHZ = "/healthz (baseline)"
SATURATED_MS = 100  # /healthz alone answers in a few ms; more is time spent queueing
FILING = "API: file complaint (1 image)"
INSERT = "API: post message (baseline insert)"
ORDER = "API: create order"


def _machine() -> str:
    cpus = os.cpu_count() or 0
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpus} CPU(s) {model}, {platform.system()} {platform.release()}".strip()


ACCESS = re.compile(
    r'\[(?P<t>[^\]]+)\] "(?P<request>[A-Z]+ \S+)[^"]*" (?P<status>\d{3}) .* (?P<ms>\d+)ms$'
)


def _server_times(access: str, since: float) -> list[tuple[int, str]]:
    """(milliseconds, "status METHOD path") of every request logged after `since` (epoch)."""
    found = []
    for line in access.splitlines():
        match = ACCESS.search(line)
        if match is None:
            continue
        at = datetime.strptime(match["t"], "%d/%b/%Y:%H:%M:%S %z").timestamp()
        if at < int(since) + 1:  # whole seconds: the ramp's last second is left out
            continue
        found.append((int(match["ms"]), f"{match['status']} {match['request']}"))
    return found


def _pct(values: list[int], q: float) -> float:
    return float(values[min(len(values) - 1, int(q * len(values)))])


def _capacity(work: Path) -> tuple[bool, str]:
    """The capacity run's tables; returns (held at least one step, the stop reason)."""
    data = json.loads((work / "steps.json").read_text()) if (work / "steps.json").exists() else {}
    steps = [r for r in data.get("steps", []) if r["kind"] == "step"]
    floor = next((r for r in data.get("steps", []) if r["kind"] == "floor"), None)
    print("Steps (each: the new users log in, 15 s to drain, then measured):")
    print(f"  {'users':>5} {'requests/s':>10} {'failed':>6} {'complaint pages p95':>19}  verdict")
    for r in steps:
        print(
            f"  {r['users']:5d} {r['total']['rps']:10.1f} {r['total']['failures']:6d} "
            f"{r['complaint_p95']:16.0f} ms  {'held' if r['held'] else 'NOT held'}"
        )
        for error in r["errors"]:
            print(f"        {error}")
    print(f"  stopped: {data.get('stop', '?')}")
    held = [r for r in steps if r["held"]]
    if not steps:
        return False, data.get("stop", "")
    if not held:
        print("  no step held: the figures below are of the first step, which did not")
    at = held[-1] if held else steps[0]
    users = at["users"]
    floor_rps = floor["total"]["rps"] if floor else 0.0
    floor_row = (floor or {}).get("requests", {}).get("GET /healthz (floor)", {})
    print()
    print(
        f"Capacity of one web node: {at['total']['rps']:.1f} requests/s held with {users} users "
        f"(the mix, think time 2–6 s; complaint pages' p95 {at['complaint_p95']:.0f} ms); "
        f"the same gunicorn serves {floor_rps:.1f} requests/s of GET /healthz alone to {users} "
        f"users without think time (the floor: median {floor_row.get('median', 0) or 0:.0f} ms, "
        f"p95 {floor_row.get('p95', 0) or 0:.0f} ms)."
    )
    print(
        f"Per request type at {users} users: its rate in the mix, and the rate {users} users would "
        "get asking only it back to back (concurrency ÷ mean time, Little's law), beside the "
        "floor's:"
    )
    header = (
        f"  {'request':46} {'count':>5} {'req/s':>6} {'mean':>6} {'p95':>6} "
        f"{'alone/s':>8} {'÷floor':>7}"
    )
    print(header)
    ranked = sorted(at["requests"].items(), key=lambda kv: -kv[1]["mean"])
    for name, row in ranked:
        alone = users * 1000 / row["mean"] if row["mean"] else 0.0
        share = f"{alone / floor_rps:6.2f}" if floor_rps else ""
        print(
            f"  {name[:46]:46} {row['count']:5d} {row['rps']:6.2f} {row['mean']:6.0f} "
            f"{row['p95'] or 0:6.0f} {alone:8.1f} {share:>7}"
        )
    print("  (milliseconds, client side; alone/s ÷ the floor's requests/s)")
    _time_split(work, at, [name for name, _row in ranked if "healthz" not in name][:3])
    return bool(held), data.get("stop", "")


def _part(value: float, total: float) -> str:
    return f"{value:.0f} ({100 * value / total:.0f}%)" if total else "0"


def _time_split(work: Path, at: dict, names: list[str]) -> None:
    """Where the server's time went for the given request types during the step `at`."""
    timing = work / "timing.jsonl"
    if not timing.exists():
        print("no timing.jsonl: the time split was not recorded")
        return
    sums: dict[str, list[float]] = {}
    for line in timing.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if not at["started"] <= row["at"] <= at["ended"]:
            continue
        key = row["name"]
        acc = sums.setdefault(key, [0, 0.0, 0.0, 0.0, 0.0, 0.0])
        acc[0] += 1
        for i, field in enumerate(("ms", "db", "tpl", "py", "queries"), start=1):
            acc[i] += row[field]
    print(
        "Where the time went, server side (bench/load/timing.py; mean per request over the "
        "same step), for the three slowest:"
    )
    print(
        f"  {'request':46} {'n':>4} {'server':>7} {'database':>9} {'templates':>10} "
        f"{'Python':>7} {'queries':>8}"
    )
    for name in names:
        acc = sums.get(name.split(" ", 1)[1])
        if not acc:
            print(f"  {name[:46]:46} (no server-side record)")
            continue
        n = acc[0]
        total, db, tpl, py, queries = (v / n for v in acc[1:])

        db_s, tpl_s, py_s = (_part(v, total) for v in (db, tpl, py))
        print(
            f"  {name[:46]:46} {n:4d} {total:6.0f}  {db_s:>9} {tpl_s:>10} {py_s:>7} {queries:8.1f}"
        )
    print("  (milliseconds; templates exclude the queries run while rendering)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--seconds", type=int, required=True)
    parser.add_argument("--web-workers", type=int, required=True)
    parser.add_argument("--ledger-status", type=int, required=True)
    parser.add_argument("--locust-status", type=int, required=True)
    parser.add_argument("--total-seconds", type=int, required=True)
    parser.add_argument("--mode", default="fixed", choices=["fixed", "capacity", "faults"])
    args = parser.parse_args()
    work = Path(args.work)
    if args.mode == "capacity":
        return _capacity_main(args, work)

    rows = list(csv.DictReader((work / "locust_stats.csv").open(encoding="utf-8")))
    by_name = {r["Name"]: r for r in rows if r["Name"] != "Aggregated"}
    total = next(r for r in rows if r["Name"] == "Aggregated")
    base = by_name.get(HEALTHZ)
    base_median = float(base["Median Response Time"]) if base else 0.0

    print()
    print(
        f"Load: {args.users} users for {args.seconds} s (after all logged in) against gunicorn "
        f"({args.web_workers} workers), a Celery worker and beat, PostgreSQL and Redis on "
        "loopback; "
        f"{_machine()}"
    )
    print(
        "Throttles raised for this run (THROTTLE_*=100000/min): every virtual user comes from "
        "127.0.0.1, and the production rates would refuse them with 429."
    )
    header = (
        f"{'request':44} {'count':>6} {'fail':>5} {'median':>7} {'p95':>7} {'p99':>7} "
        f"{'÷healthz':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in sorted(rows, key=lambda r: (r["Name"] == "Aggregated", r["Name"])):
        if not int(row["Request Count"]):
            continue  # asked only during the ramp (the logins), reported below
        name = row["Name"]
        median = float(row["Median Response Time"])
        ratio = f"{median / base_median:8.1f}×" if base_median and name != "Aggregated" else ""
        label = name if name == "Aggregated" else f"{row['Type']} {name}"
        label = "all requests" if name == "Aggregated" else label
        print(
            f"{label[:44]:44} {int(row['Request Count']):6d} {int(row['Failure Count']):5d} "
            f"{median:7.0f} {float(row['95%']):7.0f} {float(row['99%']):7.0f} {ratio:>9}"
        )
    print(
        f"(milliseconds, client side; {float(total['Requests/s']):.1f} requests/s in all; "
        f"the ratio is each median over GET /healthz's {base_median:.0f} ms)"
    )
    if base_median > SATURATED_MS:
        print(
            f"WARNING: /healthz's median is {base_median:.0f} ms: the server was saturated (a "
            "queue in front of gunicorn), so every median is mostly waiting and the ratios say "
            "little; run again on a quieter machine or with fewer LOAD_USERS"
        )

    ramp_file = work / "ramp.json"
    ramp = json.loads(ramp_file.read_text()) if ramp_file.exists() else None
    if ramp:
        print(
            f"The ramp, before the figures above (not in them): {ramp['users']} users logged in "
            f"within {ramp['seconds']:.0f} s, then {ramp['settle']} s for the queue to drain; "
            "each login hashes its password (PBKDF2), so they queue:"
        )
        for name, row in sorted(ramp["requests"].items()):
            print(
                f"  {name[:42]:42} {row['count']:6d} {row['failures']:5d} "
                f"{row['median'] or 0:7.0f} {row['p95'] or 0:7.0f} {row['p99'] or 0:7.0f}"
            )
    else:
        print("The ramp never ended: not every user logged in (see the failures below)")

    failures = int(total["Failure Count"]) + (ramp["failures"] if ramp else 0)
    failure_lines = []
    failures_csv = work / "locust_failures.csv"
    if failures_csv.exists():
        for row in csv.DictReader(failures_csv.open(encoding="utf-8")):
            failure_lines.append(
                f"    {row['Occurrences']}× {row['Method']} {row['Name']}: {row['Error'][:200]}"
            )
    logs = work / "logs"
    access = (logs / "web.log").read_text(errors="replace") if (logs / "web.log").exists() else ""
    server_errors = len(re.findall(r'" 5\d\d ', access))
    tracebacks = {
        name: (logs / f"{name}.log").read_text(errors="replace").count("Traceback")
        for name in ("web", "worker", "beat")
        if (logs / f"{name}.log").exists()
    }

    server = _server_times(access, ramp["ended_at"] if ramp else 0.0)

    verify_text = (work / "verify.txt").read_text() if (work / "verify.txt").exists() else ""
    summary_line = next(
        (line for line in verify_text.splitlines() if line.startswith("VERIFY ")), ""
    )
    summary = json.loads(summary_line[len("VERIFY ") :]) if summary_line else {}
    ledger_text = (work / "ledger.txt").read_text() if (work / "ledger.txt").exists() else ""

    if server:
        times = sorted(ms for ms, _line in server)
        print(
            f"Server side (gunicorn's own time per request, from its access log, same period): "
            f"median {_pct(times, 0.5):.0f} ms, p95 {_pct(times, 0.95):.0f} ms, p99 "
            f"{_pct(times, 0.99):.0f} ms over {len(times)} requests; the rest of the times "
            "above is the wait for one of the workers (and Locust's share of the CPU). Slowest:"
        )
        for ms, line in sorted(server, reverse=True)[:5]:
            print(f"  {ms:6d} ms  {line}")

    print()
    print("Targets")
    ok_requests = (
        ramp is not None and failures == 0 and server_errors == 0 and not any(tracebacks.values())
    )
    print(
        f"  {'PASS' if ok_requests else 'FAIL'}  0 failed requests and 0 server errors: "
        f"{failures} failed, {server_errors} 5xx in the access log, tracebacks "
        + ", ".join(f"{k} {v}" for k, v in tracebacks.items())
    )
    for line in failure_lines[:15]:
        print(line)

    armed = summary.get("armed", 0)
    ok_clock = (
        bool(summary)
        and armed > 0
        and summary.get("exactly_once") == armed
        and summary.get("problems") == 0
        and summary.get("overdue") == 0
        and args.ledger_status == 0
    )
    print(
        f"  {'PASS' if ok_clock else 'FAIL'}  every deadline that fell due during the run "
        f"enforced exactly once: {summary.get('exactly_once', '?')}/{armed or '?'}; overdue "
        f"clocks after: {summary.get('overdue', '?')}; check_ledger "
        f"{'clean' if args.ledger_status == 0 else 'BREACHED'}"
    )
    for line in verify_text.splitlines():
        if not line.startswith("VERIFY "):
            print("  " + line)
    if args.ledger_status != 0:
        print("\n".join("    " + line for line in ledger_text.splitlines()[-20:]))
    else:
        first = ledger_text.splitlines()[0] if ledger_text else ""
        print(f"    check_ledger: {first}; ledger clean")

    filing, insert = by_name.get(FILING), by_name.get(INSERT)
    if filing and insert and int(filing["Request Count"]) and int(insert["Request Count"]):
        f_mean = float(filing["Average Response Time"])
        i_mean = float(insert["Average Response Time"])
        ratio = i_mean / f_mean
        verdict = "PASS" if ratio >= 0.5 else "FAIL"
        print(
            f"  {verdict}  filing with an image ≥ ½ the throughput of the bare insert: "
            f"{ratio:.2f} (filing: mean {f_mean:.0f} ms, {int(filing['Request Count'])} "
            f"requests; message: mean {i_mean:.0f} ms, {int(insert['Request Count'])} requests; "
            f"throughput at equal concurrency = concurrency / mean time)"
        )
        order = by_name.get(ORDER)
        if order and int(order["Request Count"]):
            o_mean = float(order["Average Response Time"])
            print(
                f"        (for scale, not the target: against creating an order, one row and "
                f"no notification, answering an order not a complaint: {o_mean / f_mean:.2f}, "
                f"mean {o_mean:.0f} ms)"
            )
    else:
        print("  FAIL  filing vs the bare insert: not enough requests of either to compare")
    print(
        f"run took {args.total_seconds} s in all (generation, start, {args.seconds} s of load, "
        "checks)"
    )
    if args.mode == "faults":
        return 0 if _faults(work) and ok_clock else 1
    return 0 if ok_requests and ok_clock else 1


def _faults(work: Path) -> bool:
    """The faults table (bench/load/faults.py inject) and the check after the run."""
    text = (work / "faults.txt").read_text() if (work / "faults.txt").exists() else ""
    rows = [json.loads(x[6:]) for x in text.splitlines() if x.startswith("FAULT ")]
    print()
    print("Faults (the failed requests above are theirs; bench/load/faults.py):")
    print(f"  {'fault':42} {'failed':>6} {'for':>6} {'recovered after':>15}  notes")
    ok = len(rows) == 5
    for row in rows:
        recovered = row["recovered_after"]
        ok = ok and recovered is not None
        notes = {
            k: v
            for k, v in row.items()
            if k not in ("fault", "recovered_after", "failed", "failing_seconds", "began", "ended")
        }
        print(
            f"  {row['fault'][:42]:42} {row['failed']:6d} {row['failing_seconds']:5.1f}s "
            f"{'NOT' if recovered is None else f'{recovered:.1f} s':>15}  "
            + json.dumps(notes, ensure_ascii=False)[:600]
        )
    if len(rows) < 5:
        print(f"  only {len(rows)} of 5 faults ran (see logs/faults.log)")
    check = (work / "faults-check.txt").read_text() if (work / "faults-check.txt").exists() else ""
    line = next((x for x in check.splitlines() if x.startswith("FAULTS_CHECK ")), "")
    summary = json.loads(line[len("FAULTS_CHECK ") :]) if line else {}
    clean = bool(summary) and all(
        summary[key] == 0
        for key in (
            "paid_or_recovered_twice",
            "payouts_not_sent",
            "outbox",
            "outbox_given_up",
            "payouts_queued",
            "deadlines_overdue",
        )
    )
    print(
        f"  {'PASS' if clean else 'FAIL'}  after the faults: each complaint paid and recovered "
        f"at most once, every payout sent, nothing in the outbox: {json.dumps(summary)}"
    )
    return ok and clean


def _server_errors(work: Path) -> tuple[int, dict[str, int]]:
    logs = work / "logs"
    access = (logs / "web.log").read_text(errors="replace") if (logs / "web.log").exists() else ""
    tracebacks = {
        name: (logs / f"{name}.log").read_text(errors="replace").count("Traceback")
        for name in ("web", "worker", "beat")
        if (logs / f"{name}.log").exists()
    }
    return len(re.findall(r'" 5\d\d ', access)), tracebacks


def _deadlines(work: Path, ledger_status: int) -> bool:
    verify_text = (work / "verify.txt").read_text() if (work / "verify.txt").exists() else ""
    line = next((x for x in verify_text.splitlines() if x.startswith("VERIFY ")), "")
    summary = json.loads(line[len("VERIFY ") :]) if line else {}
    armed = summary.get("armed", 0)
    ok = (
        armed > 0
        and summary.get("exactly_once") == armed
        and summary.get("problems") == 0
        and summary.get("overdue") == 0
        and ledger_status == 0
    )
    print(
        f"  {'PASS' if ok else 'FAIL'}  every deadline that fell due during the run enforced "
        f"exactly once: {summary.get('exactly_once', '?')}/{armed or '?'}; overdue clocks "
        f"after: {summary.get('overdue', '?')}; check_ledger "
        f"{'clean' if ledger_status == 0 else 'BREACHED'}"
    )
    for text in verify_text.splitlines():
        if not text.startswith("VERIFY "):
            print("  " + text)
    if ledger_status != 0 and (work / "ledger.txt").exists():
        print("\n".join("    " + x for x in (work / "ledger.txt").read_text().splitlines()[-20:]))
    return ok


def _capacity_main(args: argparse.Namespace, work: Path) -> int:
    print()
    print(
        f"Capacity: the load test's mix (36 buyers : 10 merchants : 4 staff) stepped up against "
        f"gunicorn ({args.web_workers} workers), a Celery worker and beat, PostgreSQL and Redis "
        f"on loopback, Locust on the same machine; {_machine()}"
    )
    print("Throttles raised for this run (THROTTLE_*=100000/min), as in `make load`.")
    held, _stop = _capacity(work)
    server_errors, tracebacks = _server_errors(work)
    print()
    print("Targets")
    ok_errors = server_errors == 0 and not any(tracebacks.values())
    print(
        f"  {'PASS' if ok_errors else 'FAIL'}  0 server errors (a failed request at the step "
        f"that did not hold is the stop, reported above): {server_errors} 5xx, tracebacks "
        + ", ".join(f"{k} {v}" for k, v in tracebacks.items())
    )
    ok_clock = _deadlines(work, args.ledger_status)
    print(f"run took {args.total_seconds} s in all")
    return 0 if held and ok_errors and ok_clock else 1


if __name__ == "__main__":
    raise SystemExit(main())
