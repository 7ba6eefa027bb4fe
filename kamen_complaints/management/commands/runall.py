"""`make run`: the web server, a Celery worker and Celery beat together; Ctrl-C stops all three.

Each process's output is prefixed with its name (`web |`, `worker |`, `beat |`). If any of them
exits on its own, the others are stopped too and the command fails, so a half-running platform
never hides.

The three run in their own process group, so Ctrl-C (or closing the terminal) reaches only this
command, which then sends each of them one SIGTERM: gunicorn finishes its requests, Celery does
a warm shutdown. (Letting the terminal's SIGINT reach them too races gunicorn's quick exit
against the graceful one and now and then leaves a worker to be SIGKILLed.) On Linux they also
get SIGTERM if this command itself dies, so none outlives it.

On the embedded defaults (SQLite, the filesystem broker) one worker with the solo pool is
enough and keeps SQLite writers few; production runs the three as separate services
(docker-compose.yml).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kamen_complaints.celery import _ensure_filesystem_broker_dirs

STOP_TIMEOUT_SECONDS = 15
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the parent dies, however it dies."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class Command(BaseCommand):
    help = "Run web (gunicorn), a Celery worker and Celery beat in the foreground."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default="127.0.0.1")

    def commands(self, *, host: str, port: str) -> dict[str, list[str]]:
        bindir = os.path.dirname(sys.executable)
        celery = [os.path.join(bindir, "celery"), "-A", "kamen_complaints"]
        worker_extra = []
        if settings.CELERY_BROKER_IS_FILESYSTEM:
            # Gossip, mingle and heartbeats are for clusters of workers; on the filesystem
            # transport they only add broker files to poll.
            worker_extra = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        return {
            "web": [
                os.path.join(bindir, "gunicorn"),
                "kamen_complaints.wsgi",
                "--bind",
                f"{host}:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "--graceful-timeout",
                "10",
                # gunicorn's control socket lives in $HOME: two servers of one user would clash.
                "--no-control-socket",
                "--access-logfile",
                "-",
            ],
            "worker": [
                *celery,
                "worker",
                "--loglevel",
                "INFO",
                "--pool",
                "solo",
                *worker_extra,
            ],
            "beat": [*celery, "beat", "--loglevel", "INFO"],
        }

    def handle(self, *args: Any, port: str, host: str, **options: Any) -> None:
        # The worker polls these folders from its first second; they may not exist yet.
        _ensure_filesystem_broker_dirs()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        procs: dict[str, subprocess.Popen[str]] = {}
        pumps: list[threading.Thread] = []
        stopping = False
        failed: str | None = None
        lock = threading.Lock()

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        def pump(name: str, stream: IO[str]) -> None:
            for line in stream:
                with lock:
                    self.stdout.write(f"{name:<6}| {line.rstrip()}")
                    self.stdout.flush()

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop)
        try:
            # All children first, then the output threads: no thread runs while we fork.
            for name, argv in self.commands(host=host, port=port).items():
                procs[name] = subprocess.Popen(  # noqa: S603 - fixed argv, our own binaries
                    argv,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    bufsize=1,
                    env=env,
                    process_group=0,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            for name, proc in procs.items():
                if proc.stdout is None:  # cannot happen with stdout=PIPE
                    raise CommandError(f"{name}: no output pipe")
                thread = threading.Thread(target=pump, args=(name, proc.stdout), daemon=True)
                thread.start()
                pumps.append(thread)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Kamen Complaints on http://{host}:{port}/ "
                    "(web, worker and beat; Ctrl-C stops all three)"
                )
            )
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        failed = f"{name} exited with status {proc.returncode}"
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            if procs and not failed:
                self.stdout.write("stopping web, worker and beat …")
            for proc in procs.values():
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            for proc in procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for thread in pumps:
                thread.join(timeout=2)
        if failed:
            raise CommandError(f"{failed}; stopped the others")
        self.stdout.write("stopped web, worker and beat")
