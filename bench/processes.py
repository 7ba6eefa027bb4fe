"""The real processes a benchmark starts beside itself: a private redis-server, a Celery worker
and beat (bench_sweep's deadline latency, bench_auto's filing → payout). Their start-up is
never part of a figure."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
START_UP_SECONDS = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(processes: list[subprocess.Popen[bytes]], env: dict[str, str]) -> str:
    """A private redis-server as the broker when one is on PATH (appended to `processes`, its
    URL put in `env`); else Celery's filesystem transport as configured. Returns its name."""
    if not shutil.which("redis-server"):
        return "filesystem"
    port = free_port()
    processes.append(
        subprocess.Popen(  # noqa: S603 - fixed arguments
            [  # noqa: S607 - redis-server from PATH, as the tests use it
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
    )
    env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{port}/0"
    return "redis"


def start_celery(
    env: dict[str, str], workdir: Path, *, beat: bool
) -> list[subprocess.Popen[bytes]]:
    """A worker (2 processes) and, with `beat`, the beat; waits for their start-up."""
    celery = str(Path(sys.executable).parent / "celery")
    quiet = {
        "env": env,
        "cwd": BASE_DIR,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }
    started = [
        subprocess.Popen(  # noqa: S603 - fixed arguments
            [celery, "-A", "kamen_complaints", "worker", "-c", "2", "--loglevel", "WARNING"]
            + ["--without-gossip", "--without-mingle"],
            **quiet,  # type: ignore[call-overload]
        )
    ]
    if beat:
        started.append(
            subprocess.Popen(  # noqa: S603 - fixed arguments
                [celery, "-A", "kamen_complaints", "beat", "--loglevel", "WARNING"]
                + ["-s", str(workdir / "beat-schedule")],
                **quiet,  # type: ignore[call-overload]
            )
        )
    time.sleep(START_UP_SECONDS)
    return started


def stop(processes: list[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """SIGTERM, newest first; killed if one does not stop within `timeout`."""
    for process in reversed(processes):
        process.send_signal(signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
