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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--seconds", type=int, required=True)
    parser.add_argument("--web-workers", type=int, required=True)
    parser.add_argument("--ledger-status", type=int, required=True)
    parser.add_argument("--locust-status", type=int, required=True)
    parser.add_argument("--total-seconds", type=int, required=True)
    args = parser.parse_args()
    work = Path(args.work)

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
    return 0 if ok_requests and ok_clock else 1


if __name__ == "__main__":
    raise SystemExit(main())
