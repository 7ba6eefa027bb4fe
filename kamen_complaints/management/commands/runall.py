"""`make run`: the web server, a Celery worker and Celery beat together; Ctrl-C stops all three.

If any of them exits, the others are stopped too, so a half-running platform never hides.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run web (gunicorn), a Celery worker and Celery beat in the foreground."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def handle(self, *args: Any, port: str, host: str, **options: Any) -> None:
        bindir = os.path.dirname(sys.executable)
        commands = {
            "web": [
                os.path.join(bindir, "gunicorn"),
                "kamen_complaints.wsgi",
                "--bind",
                f"{host}:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "--access-logfile",
                "-",
            ],
            "worker": [
                os.path.join(bindir, "celery"),
                "-A",
                "kamen_complaints",
                "worker",
                "--loglevel",
                "INFO",
                "--pool",
                "solo",
            ],
            "beat": [
                os.path.join(bindir, "celery"),
                "-A",
                "kamen_complaints",
                "beat",
                "--loglevel",
                "INFO",
            ],
        }
        procs: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, argv in commands.items():
            procs[name] = subprocess.Popen(argv)  # noqa: S603 - fixed argv, our own binaries
        self.stdout.write(f"Kamen Complaints on http://{host}:{port}/  (Ctrl-C stops all)")
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with {proc.returncode}; stopping")
                        stopping = True
                time.sleep(0.5)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + 15
            for proc in procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
