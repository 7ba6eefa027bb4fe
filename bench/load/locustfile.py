"""The load test's users (`make load`, docs/load.md), for Locust (requirements-load.txt).

Run by bench/load/run.sh against the production shape on loopback; LOAD_PLAN names the JSON
plan bench/load/generate.py wrote (the accounts, the shops and their products in stock). Every
virtual user logs in once, through the real login page (staff through the admin's), and then
uses the pages and the API with that session (the API's POSTs carry the CSRF token, as the
pages' scripts do):

- buyers browse the catalogue, product pages and shop records, buy and pay (API), reveal their
  card keys, file complaints with one image (API, multipart), follow their complaint pages,
  post messages, and accept or reject the offers merchants make them;
- merchants (the owners of the shops the buyers buy from) work their inbox (the page and the
  API's deadline order), open complaints, and answer the ones filed during the run: accept a
  refund, offer a part, or contest with counter-evidence;
- staff open the admin's review queue and rule on the complaints contested during the run.

The logins (50 password hashes within seconds) are the ramp: 15 s after the last user has
logged in (the queue they built has drained), their figures are written apart
(LOAD_RAMP_STATS), the statistics restart, and Locust stops by itself LOAD_MEASURE_SECONDS
(120) later.

Every user also asks `GET /healthz` now and then: the same statistics for a request that does
almost nothing, at the same concurrency, as the baseline the report divides by.

Complaints move between users through module-level queues (one Locust process, gevent: a
deque's append and popleft never interleave), so each is answered by its own shop's owner and
ruled by one arbitrator, and nobody acts on a complaint another user is changing.

Only the standard library, Locust and its gevent here: this file runs in Locust's own
virtualenv.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import struct
import time
import zlib
from collections import defaultdict, deque
from decimal import Decimal
from typing import Any

import gevent
from locust import HttpUser, LoadTestShape, between, constant, events, task

PLAN: dict[str, Any] = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
PASSWORD = PLAN["password"]
SHOPS = PLAN["shops"]
FIRST_PRODUCT, LAST_PRODUCT = PLAN["products"]
MERCHANTS = PLAN["merchants"]

MEASURE_SECONDS = int(os.environ.get("LOAD_MEASURE_SECONDS", "120"))
SETTLE_SECONDS = 15
RAMP_STATS = os.environ.get("LOAD_RAMP_STATS", "")
# LOAD_MODE=capacity (bench/load/run.sh): the same mix stepped up (CapacityShape below) instead
# of a fixed LOAD_USERS; "fixed" (the default) and "faults" run the fixed mix.
CAPACITY = os.environ.get("LOAD_MODE", "fixed") == "capacity"
# Every failed request, with its time, one JSON line each (the faults run: how long each
# fault's failures lasted).
FAILURES_FILE = os.environ.get("LOAD_FAILURES_FILE", "")

_buyer_names = itertools.cycle(PLAN["buyers"])
_merchant_index = itertools.count()
_staff_names = itertools.cycle(PLAN["staff"])

# Complaints filed in this run, waiting for someone: per shop, for its owner's answer; per
# buyer, offers to accept or reject; contested (or offer rejected) ones for the arbitrators.
to_answer: dict[int, deque[str]] = defaultdict(deque)
offers: dict[str, deque[str]] = defaultdict(deque)
to_rule: deque[str] = deque()
amounts: dict[str, str] = {}  # complaint number → claimed amount
filed_by: dict[str, str] = {}  # complaint number → the buyer's username

# Think time between two actions of one user: people read a page before the next click. Short
# enough that 50 users keep the 2-core development machine busy, long enough that it is not
# only a queue (the report warns when /healthz itself waited, i.e. the server was saturated).
WAIT = between(2, 6)


def png(seed: int) -> bytes:
    """A small valid PNG (64×48, one colour per seed), made without Pillow."""
    width, height = 64, 48
    color = bytes([seed % 256, (seed * 7) % 256, 160])
    raw = b"".join(b"\x00" + color * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


_ramp: dict[str, Any] = {"logged_in": 0, "started": None, "logins_done": None}


def _logged_in(user: HttpUser) -> None:
    """Count the logins; after the last one, let the queue they built drain for SETTLE_SECONDS
    (requests sent during the ramp still finishing would otherwise land in the measured part
    with the ramp's waits), then start measuring."""
    _ramp["logged_in"] += 1
    runner = user.environment.runner
    if not CAPACITY and _ramp["logged_in"] == runner.target_user_count:
        _ramp["logins_done"] = time.monotonic()
        gevent.spawn_later(SETTLE_SECONDS, _start_measuring, user.environment)


def _start_measuring(environment: Any) -> None:
    """The ramp is over: its figures (the logins, 50 password hashes at once, and what queued
    behind them) are kept apart for the report, the statistics start again, and the steady
    state is measured for MEASURE_SECONDS, after which Locust stops by itself (the run's
    --run-time stays as the outer bound)."""
    stats = environment.stats
    saved = {
        "seconds": round(_ramp["logins_done"] - _ramp["started"], 1),
        "settle": SETTLE_SECONDS,
        "ended_at": time.time(),  # the report reads the access log from here on
        "users": _ramp["logged_in"],
        "requests": {
            f"{entry.method} {entry.name}": {
                "count": entry.num_requests,
                "failures": entry.num_failures,
                "median": entry.median_response_time,
                "p95": entry.get_response_time_percentile(0.95),
                "p99": entry.get_response_time_percentile(0.99),
            }
            for entry in stats.entries.values()
        },
        "failures": stats.total.num_failures,
    }
    if RAMP_STATS:
        with open(RAMP_STATS, "w", encoding="utf-8") as out:
            json.dump(saved, out)
    stats.reset_all()
    gevent.spawn_later(MEASURE_SECONDS, environment.runner.quit)


class _User(HttpUser):
    abstract = True
    wait_time = WAIT
    login_path = "/accounts/login/"
    username = ""

    def on_start(self) -> None:
        if _ramp["started"] is None:
            _ramp["started"] = time.monotonic()
        self.client.headers["Accept-Language"] = "zh-hans"
        self.client.get(self.login_path, name="login page", headers={"X-Load-Name": "login page"})
        response = self.client.post(
            self.login_path,
            data={
                "username": self.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", ""),
                "next": "/admin/" if self.login_path.startswith("/admin") else "/",
            },
            allow_redirects=False,
            name="login (POST)",
            headers={"X-Load-Name": "login (POST)"},
        )
        if response.status_code != 302:
            raise RuntimeError(f"login of {self.username} refused: {response.status_code}")
        _logged_in(self)

    # --- helpers ---------------------------------------------------------------------------

    def _headers(self, name: str) -> dict[str, str]:
        # X-Load-Name: the request type, for the capacity run's time split (bench/load/timing.py).
        return {"X-CSRFToken": self.client.cookies.get("csrftoken", ""), "X-Load-Name": name}

    def get(self, path: str, name: str) -> Any:
        return self.client.get(path, name=name, headers={"X-Load-Name": name})

    def api(self, method: str, path: str, name: str, expect: int = 200, **kwargs: Any) -> Any:
        """An API call with the session and its CSRF token; anything but `expect` is a
        failure (with the answer's first 300 characters)."""
        with self.client.request(
            method,
            "/api/v1" + path,
            name=name,
            headers=self._headers(name),
            catch_response=True,
            **kwargs,
        ) as response:
            if response.status_code != expect:
                response.failure(f"HTTP {response.status_code}: {response.text[:300]}")
                return None
            try:
                return response.json()
            except ValueError:
                response.failure("not JSON")
                return None

    @task(2)
    def healthz(self) -> None:
        self.get("/healthz", name="/healthz (baseline)")


class Buyer(_User):
    weight = 36

    def on_start(self) -> None:
        self.username = next(_buyer_names)
        super().on_start()
        self.delivered: list[dict[str, str]] = []  # orders not complained about yet
        self.complaints: list[str] = []
        self.seed = random.randrange(1 << 30)  # noqa: S311 - not security

    @task(6)
    def catalogue(self) -> None:
        page = random.choice(["", "?page=2", "?page=50", "?kind=game_card", "?kind=gift_card"])  # noqa: S311
        self.get("/" + page, name="page: catalogue")

    @task(3)
    def product(self) -> None:
        pk = random.randint(FIRST_PRODUCT, LAST_PRODUCT)  # noqa: S311
        self.get(f"/products/{pk}/", name="page: product")

    @task(3)
    def shop_record(self) -> None:
        self.get(f"/shops/{random.choice(SHOPS)}/", name="page: shop record")  # noqa: S311

    @task(3)
    def buy_and_reveal(self) -> None:
        shop = random.choice(MERCHANTS)  # noqa: S311
        product = random.choice(shop["hot"])  # noqa: S311
        order = self.api(
            "POST", "/orders/", "API: create order", 201, json={"product": product["id"]}
        )
        if order is None:
            return
        paid = self.api(
            "POST", f"/orders/{order['number']}/pay/", "API: pay", json={"channel": "sandbox"}
        )
        if paid is None or paid["status"] != "delivered":
            return
        self.api("POST", f"/orders/{order['number']}/reveal/", "API: reveal keys")
        self.get(f"/orders/{order['number']}/", name="page: order")
        self.delivered.append(
            {"number": order["number"], "amount": paid["amount"], "shop": shop["shop"]}
        )

    @task(2)
    def file_complaint(self) -> None:
        if not self.delivered:
            self.buy_and_reveal()
            if not self.delivered:
                return
        order = self.delivered.pop()
        self.seed += 1
        complaint = self.api(
            "POST",
            "/disputes/",
            "API: file complaint (1 image)",
            201,
            data={
                "order": order["number"],
                "reason": "invalid_card_key",
                "claimed_amount": order["amount"],
                "description": "负载测试：卡密提示已被使用。 The key says already redeemed.",
                "evidence_kind": "order_screenshot",
            },
            files={"evidence": (f"screenshot-{self.seed}.png", png(self.seed), "image/png")},
        )
        if complaint is None:
            return
        number = complaint["number"]
        self.complaints.append(number)
        amounts[number] = order["amount"]
        filed_by[number] = self.username
        to_answer[order["shop"]].append(number)

    @task(3)
    def follow_complaint(self) -> None:
        if not self.complaints:
            self.get("/complaints/", name="page: my complaints")
            return
        number = random.choice(self.complaints)  # noqa: S311
        self.get(f"/complaints/{number}/", name="page: complaint (buyer)")
        self.get(f"/complaints/{number}/live/status/", name="page: complaint live status")

    @task(1)
    def my_complaints(self) -> None:
        self.get("/complaints/", name="page: my complaints")

    @task(3)
    def message(self) -> None:
        if not self.complaints:
            return
        number = random.choice(self.complaints)  # noqa: S311
        self.api(
            "POST",
            f"/disputes/{number}/messages/",
            "API: post message (baseline insert)",
            201,
            json={"body": "请尽快处理，谢谢。 Please look at this soon."},
        )

    @task(2)
    def answer_offer(self) -> None:
        waiting = offers[self.username]
        if not waiting:
            return
        number = waiting.popleft()
        self.get(f"/complaints/{number}/", name="page: complaint (buyer)")
        if random.random() < 0.6:  # noqa: S311
            self.api("POST", f"/disputes/{number}/accept-offer/", "API: accept offer")
        else:
            answer = self.api(
                "POST",
                f"/disputes/{number}/reject-offer/",
                "API: reject offer",
                json={"message": "不接受部分退款。 Not enough."},
            )
            if answer is not None and answer["status"] == "under_review":
                to_rule.append(number)


class Merchant(_User):
    # 10 of the 50 (36 buyers, 4 staff); the capacity run keeps the proportions at every step.
    fixed_count = 0 if CAPACITY else 10
    weight = 10

    def on_start(self) -> None:
        index = next(_merchant_index) % len(MERCHANTS)
        self.shop = MERCHANTS[index]
        self.username = self.shop["username"]
        super().on_start()
        self.seed = 1_000_000 * (index + 1)

    @task(4)
    def inbox(self) -> None:
        self.get("/merchant/complaints/", name="page: merchant inbox")

    @task(3)
    def open_complaint(self) -> None:
        listing = self.api(
            "GET", "/disputes/?ordering=deadline", "API: merchant inbox (deadline order)"
        )
        if listing and listing["results"]:
            number = random.choice(listing["results"])["number"]  # noqa: S311
            self.get(f"/merchant/complaints/{number}/", name="page: complaint (merchant)")

    @task(1)
    def home(self) -> None:
        self.get("/merchant/", name="page: merchant home")

    @task(5)
    def answer(self) -> None:
        waiting = to_answer[self.shop["shop"]]
        if not waiting:
            return
        number = waiting.popleft()
        self.get(f"/merchant/complaints/{number}/", name="page: complaint (merchant)")
        roll = random.random()  # noqa: S311
        if roll < 0.3:
            self.api(
                "POST",
                f"/disputes/{number}/respond/",
                "API: merchant accepts (refund)",
                json={"action": "accept", "remedy": "refund", "message": "已退款。"},
            )
        elif roll < 0.65:
            claimed = Decimal(amounts.get(number, "1.00"))
            answer = self.api(
                "POST",
                f"/disputes/{number}/respond/",
                "API: merchant offers",
                json={
                    "action": "offer",
                    "amount": str((claimed / 2).quantize(Decimal("0.01"))),
                    "message": "退一半可以吗？",
                },
            )
            if answer is not None:
                offers[filed_by[number]].append(number)
        else:
            self.seed += 1
            done = self.api(
                "POST",
                f"/disputes/{number}/evidence/",
                "API: upload counter-evidence",
                201,
                data={"kind": "upstream_proof", "note": "上游显示发货时未使用"},
                files={"file": (f"upstream-{self.seed}.png", png(self.seed), "image/png")},
            )
            if done is None:
                return
            answer = self.api(
                "POST",
                f"/disputes/{number}/respond/",
                "API: merchant contests",
                json={"action": "contest", "message": "发货时卡密有效。 Valid at delivery."},
            )
            if answer is not None:
                to_rule.append(number)


class Staff(_User):
    fixed_count = 0 if CAPACITY else 4
    weight = 4
    login_path = "/admin/login/"

    def on_start(self) -> None:
        self.username = next(_staff_names)
        super().on_start()

    @task(4)
    def review_queue(self) -> None:
        self.get("/admin/disputes/dispute/", name="admin: review queue")

    @task(4)
    def rule(self) -> None:
        if not to_rule:
            self.review_queue()
            return
        number = to_rule.popleft()
        complaint = self.api("GET", f"/disputes/{number}/", "API: complaint (staff)")
        if complaint is None or complaint["status"] != "under_review":
            return
        roll = random.random()  # noqa: S311
        body: dict[str, Any] = {"reason": "负载测试裁决。 Decided on the evidence."}
        if roll < 0.5:
            body["outcome"] = "refunded"
        elif roll < 0.75:
            claimed = Decimal(complaint["claimed_amount"])
            body["outcome"] = "partially_refunded"
            body["amount"] = str((claimed / 3).quantize(Decimal("0.01")))
        else:
            body["outcome"] = "rejected"
        self.api("POST", f"/disputes/{number}/rule/", "API: staff rules", json=body)


@events.request.add_listener
def _record_failure(request_type: str, name: str, exception: Any = None, **kwargs: Any) -> None:
    """LOAD_FAILURES_FILE: every failed request with its time (the faults run reads how long
    each fault's failures lasted)."""
    if FAILURES_FILE and exception is not None:
        with open(FAILURES_FILE, "a", encoding="utf-8") as out:
            out.write(
                json.dumps(
                    {
                        "at": time.time(),
                        "name": f"{request_type} {name}",
                        "error": str(exception)[:200],
                    }
                )
                + "\n"
            )


# --- The capacity run (LOAD_MODE=capacity; docs/load.md "Capacity") -------------------------

STEPS = [int(n) for n in os.environ.get("LOAD_STEPS", "10,20,40,80,160").split(",")]
STEP_SECONDS = int(os.environ.get("LOAD_STEP_SECONDS", "60"))
FLOOR_SECONDS = int(os.environ.get("LOAD_FLOOR_SECONDS", "30"))
STEPS_FILE = os.environ.get("LOAD_STEPS_FILE", "")
P95_LIMIT_MS = 500
LOGIN_TIMEOUT = 240  # seconds for a step's new users to log in
# The complaint pages whose p95 ends the stepping (the pages people read their complaints on).
COMPLAINT_PAGES = (
    "page: my complaints",
    "page: complaint (buyer)",
    "page: complaint live status",
    "page: merchant inbox",
    "page: complaint (merchant)",
)


def _snapshot(environment: Any, users: int, started: float, kind: str) -> dict[str, Any]:
    """This step's figures per request type (since the statistics were reset at `started`)."""
    ended = time.time()
    seconds = max(ended - started, 1e-6)
    stats = environment.stats
    requests = {
        f"{entry.method} {entry.name}": {
            "count": entry.num_requests,
            "failures": entry.num_failures,
            "rps": round(entry.num_requests / seconds, 2),
            "mean": round(entry.avg_response_time, 1),
            "median": entry.median_response_time,
            "p95": entry.get_response_time_percentile(0.95),
            "p99": entry.get_response_time_percentile(0.99),
        }
        for entry in stats.entries.values()
        if entry.num_requests
    }
    return {
        "kind": kind,
        "users": users,
        "started": started,
        "ended": ended,
        "seconds": round(seconds, 1),
        "requests": requests,
        "total": {
            "count": stats.total.num_requests,
            "failures": stats.total.num_failures,
            "rps": round(stats.total.num_requests / seconds, 2),
        },
        "errors": [
            f"{e.occurrences}× {e.method} {e.name}: {str(e.error)[:200]}"
            for e in stats.errors.values()
        ][:10],
    }


if CAPACITY:

    class HealthzFloor(HttpUser):
        """The floor: only `GET /healthz`, back to back, at the concurrency the mix held."""

        wait_time = constant(0)
        weight = 1

        @task
        def healthz(self) -> None:
            self.client.get(
                "/healthz", name="/healthz (floor)", headers={"X-Load-Name": "/healthz (floor)"}
            )

    class CapacityShape(LoadTestShape):
        """Steps of LOAD_STEPS users (the mix's proportions), each: the new users log in, 15 s
        for their queue to drain, then LOAD_STEP_SECONDS measured. The stepping ends at the
        first step where a complaint page's p95 passes 500 ms or a request fails; then
        LOAD_FLOOR_SECONDS of /healthz alone at the last held step's concurrency. Every
        step's figures go to LOAD_STEPS_FILE (bench/load/report.py reads them)."""

        def __init__(self) -> None:
            super().__init__()
            self.index = 0
            self.phase = "login"
            self.since = time.monotonic()
            self.started = 0.0
            self.results: list[dict[str, Any]] = []
            self.stop_reason = ""

        def _write(self) -> None:
            if STEPS_FILE:
                with open(STEPS_FILE, "w", encoding="utf-8") as out:
                    json.dump({"steps": self.results, "stop": self.stop_reason}, out)

        def _enter(self, phase: str) -> None:
            self.phase, self.since = phase, time.monotonic()

        def _held(self) -> int:
            held = [r["users"] for r in self.results if r["kind"] == "step" and r["held"]]
            return held[-1] if held else STEPS[0]

        def tick(self) -> Any:
            environment = self.runner.environment
            waited = time.monotonic() - self.since
            mix = [Buyer, Merchant, Staff]
            if self.phase in ("login", "settle", "measure"):
                users = STEPS[self.index]
                if self.phase == "login":
                    if _ramp["logged_in"] >= users:
                        self._enter("settle")
                    elif waited > LOGIN_TIMEOUT:
                        self.stop_reason = f"{users} users not logged in within {LOGIN_TIMEOUT} s"
                        self._enter("floor-start")
                elif self.phase == "settle" and waited >= SETTLE_SECONDS:
                    environment.stats.reset_all()
                    self.started = time.time()
                    self._enter("measure")
                elif self.phase == "measure" and waited >= STEP_SECONDS:
                    result = _snapshot(environment, users, self.started, "step")
                    worst = max(
                        (result["requests"].get(f"GET {n}", {}).get("p95") or 0)
                        for n in COMPLAINT_PAGES
                    )
                    result["complaint_p95"] = worst
                    failed = result["total"]["failures"]
                    result["held"] = worst <= P95_LIMIT_MS and failed == 0
                    self.results.append(result)
                    self._write()
                    if not result["held"]:
                        self.stop_reason = f"{users} users: complaint pages' p95 {worst:.0f} ms" + (
                            f", {failed} failed requests" if failed else ""
                        )
                        self._enter("floor-start")
                    elif self.index + 1 < len(STEPS):
                        self.index += 1
                        self._enter("login")
                    else:
                        self.stop_reason = f"the last step ({users} users) held"
                        self._enter("floor-start")
                return (STEPS[self.index], SPAWN_RATE, mix)
            held = self._held()
            if self.phase == "floor-start":
                # Every mix user stops first: Locust keeps running users of a class left out
                # of user_classes, so the floor's users start only once they are gone.
                if self.runner.user_count == 0 or waited > 30:
                    self._enter("floor-settle")
                return (0, 100, mix)
            if self.phase == "floor-settle" and waited >= 5:
                environment.stats.reset_all()
                self.started = time.time()
                self._enter("floor")
            elif self.phase == "floor" and waited >= FLOOR_SECONDS:
                self.results.append(_snapshot(environment, held, self.started, "floor"))
                self._write()
                return None
            return (held, max(held, 1), [HealthzFloor])

    SPAWN_RATE = float(os.environ.get("LOAD_SPAWN_RATE", "5"))
