"""A real HTTP server on loopback for tests of what the platform calls outside itself (a
merchant's webhook receiver, a group robot, an SMS provider, a payment channel).

    with loopback_server() as server:
        server.respond(500)              # the next request gets a 500, then the default again
        server.default = (200, b"ok")    # what every other request gets
        ... the code under test POSTs to server.url + "/hook" ...
        request = server.wait_for(1)[0]
        request.method, request.path, request.headers["Content-Type"], request.body

A handler (`server.handler = lambda request: (status, body, headers)`) answers instead, for a
test that speaks a protocol (checks a signature, returns a document). Requests are recorded in
order, whatever the answer was.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


Answer = tuple[int, bytes, dict[str, str]]


@dataclass
class LoopbackServer:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    default: tuple[int, bytes] = (200, b"ok")
    handler: Callable[[Recorded], Answer] | None = None
    delay: float = 0.0
    _queued: deque[tuple[int, bytes]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(self, status: int, body: bytes = b"") -> None:
        """The next request (not yet answered) gets this answer; then the default again."""
        self._queued.append((status, body))

    def answer(self, request: Recorded) -> Answer:
        with self._lock:
            self.requests.append(request)
            if self._queued:
                status, body = self._queued.popleft()
                return status, body, {}
        if self.handler is not None:
            return self.handler(request)
        return self.default[0], self.default[1], {}

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        """The first `count` requests, waiting up to `timeout` seconds for them to arrive."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
            time.sleep(0.01)
        return self.requests[:count]


@contextmanager
def loopback_server() -> Iterator[LoopbackServer]:
    state = LoopbackServer()

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Recorded(
                method=self.command,
                path=self.path,
                headers=dict(self.headers.items()),
                body=body,
            )
            status, payload, headers = state.answer(request)
            if state.delay:
                time.sleep(state.delay)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
