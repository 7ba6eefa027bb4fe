#!/usr/bin/env bash
# The production shape, proved end to end: gunicorn (2 workers), a Celery worker and Celery
# beat as separate processes against PostgreSQL and Redis; /healthz answering; one card-key
# order and one phone top-up paid and delivered through the API (the top-up by the worker,
# through Redis); beat dispatching the sweep; then everything stopped with SIGTERM.
#
# Uses a scratch database (kc_prodshape, created and dropped) and Redis db 2, so it never
# touches the test suite's databases. Run by .ci/run; on its own: `bash .ci/production-shape.sh`
# (needs .venv from `make venv`, PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379;
# override with PRODSHAPE_PG_URL / PRODSHAPE_REDIS_URL). Exits non-zero on any problem,
# printing the tails of the three logs.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${PRODSHAPE_BIN:-$PWD/.venv/bin}"
PG_URL="${PRODSHAPE_PG_URL:-postgres://postgres@127.0.0.1:5432}"
REDIS_URL="${PRODSHAPE_REDIS_URL:-redis://127.0.0.1:6379}"
DB_NAME=kc_prodshape
REDIS_DB=2
START_TIMEOUT=60
STOP_TIMEOUT=30

WORK="$(mktemp -d /tmp/kc-prodshape.XXXXXX)"
LOGS="$WORK/logs"
mkdir -p "$LOGS"
declare -A PIDS=()
DB_CREATED=0

log() { printf '[production-shape] %s\n' "$*"; }
fail() {
  printf '[production-shape] FAIL: %s\n' "$*" >&2
  exit 1
}

show_logs() {
  for name in web worker beat; do
    if [ -f "$LOGS/$name.log" ]; then
      printf '\n----- %s.log (last 40 lines) -----\n' "$name" >&2
      tail -n 40 "$LOGS/$name.log" >&2 || true
    fi
  done
}

# stop_all: SIGTERM web, worker and beat, then SIGKILL what lingers.
# shellcheck source=.ci/processes.sh
. .ci/processes.sh

cleanup() {
  local status=$?
  trap - EXIT
  set +e
  stop_all
  if [ "$status" -ne 0 ]; then
    show_logs
  fi
  if [ "$DB_CREATED" = 1 ]; then
    psql "$PG_URL/postgres" -q -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1
  fi
  "$BIN/python" - "$REDIS_URL/$REDIS_DB" <<'EOF' >/dev/null 2>&1
import sys

import redis

redis.Redis.from_url(sys.argv[1]).flushdb()
EOF
  if [ "$status" -eq 0 ]; then
    rm -rf "$WORK"
    log "OK: production shape works; everything stopped and cleaned up"
  else
    log "failed (status $status); logs kept in $LOGS"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$BIN/python" ] || fail "no virtualenv at $BIN (run \`make venv\` first)"

# --- Settings: every value from the environment, as in production ---------------------------
# shellcheck source=.ci/production-env.sh
. "$(dirname "$0")/production-env.sh"
# Beat dispatches the sweep every few seconds here, so we can watch it reach the worker.
export SWEEP_INTERVAL_SECONDS=3
export SANDBOX_TOPUP_SLOW_SECONDS=1
mkdir -p "$KAMEN_VAR_DIR" "$MEDIA_ROOT"

log "PostgreSQL: fresh database $DB_NAME; Redis: db $REDIS_DB"
PGOPTIONS=--client-min-messages=warning psql "$PG_URL/postgres" -q -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null
psql "$PG_URL/postgres" -q -c "CREATE DATABASE $DB_NAME" >/dev/null
DB_CREATED=1
"$BIN/python" - "$CELERY_BROKER_URL" <<'EOF'
import sys

import redis

client = redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2)
client.ping()
client.flushdb()
EOF

log "refused: the repository's development SECRET_KEY stops manage.py and gunicorn"
# Their logs hold the expected tracebacks: kept apart from the service logs checked below.
REFUSED="$WORK/refused"
mkdir -p "$REFUSED"
DEV_SECRET_KEY="$("$BIN/python" -c 'from kamen_complaints.deployment import DEVELOPMENT_SECRETS as d; print(d["SECRET_KEY"])')"
if SECRET_KEY="$DEV_SECRET_KEY" "$BIN/python" manage.py check >"$REFUSED/check.log" 2>&1; then
  fail "manage.py check accepted the development SECRET_KEY"
fi
grep -q "(kamen_complaints.E001) SECRET_KEY" "$REFUSED/check.log" \
  || fail "manage.py check failed without naming SECRET_KEY: $(tail -n 5 "$REFUSED/check.log")"
status=0
SECRET_KEY="$DEV_SECRET_KEY" timeout 30 "$BIN/gunicorn" kamen_complaints.wsgi --bind 127.0.0.1:0 \
  --workers 1 --no-control-socket >"$REFUSED/gunicorn.log" 2>&1 || status=$?
# 124: still serving after 30 s; 0: it started and stopped by itself. Either way not refused.
{ [ "$status" -ne 0 ] && [ "$status" -ne 124 ]; } \
  || fail "gunicorn did not refuse the development SECRET_KEY (status $status)"
grep -q "SECRET_KEY is the development default" "$REFUSED/gunicorn.log" \
  || fail "gunicorn stopped without naming SECRET_KEY: $(tail -n 5 "$REFUSED/gunicorn.log")"
log "  manage.py check and gunicorn (status $status) refused it, naming SECRET_KEY"

log "refused: the sandbox payment provider outside development, unless it says it is a demo"
if KAMEN_DEMO_DEPLOYMENT=false "$BIN/python" manage.py check >"$REFUSED/sandbox.log" 2>&1; then
  fail "manage.py check accepted the sandbox payment provider in production"
fi
grep -q "(orders.E001) PAYMENT_PROVIDER is the sandbox" "$REFUSED/sandbox.log" \
  || fail "manage.py check failed without naming the sandbox: $(tail -n 5 "$REFUSED/sandbox.log")"
log "  manage.py check refused it (orders.E001); this run says KAMEN_DEMO_DEPLOYMENT=true"

log "migrate, collectstatic, seed_demo"
"$BIN/python" manage.py migrate --noinput -v 0
"$BIN/python" manage.py collectstatic --noinput -v 0
"$BIN/python" manage.py seed_demo >"$LOGS/seed.log" 2>&1 || {
  cat "$LOGS/seed.log" >&2
  fail "seed_demo failed"
}
grep -q "Demo marketplace seeded" "$LOGS/seed.log" || fail "seed_demo seeded nothing"

PORT="$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"

log "start gunicorn (2 workers) on $BASE, a Celery worker and Celery beat"
"$BIN/gunicorn" kamen_complaints.wsgi --bind "127.0.0.1:$PORT" --workers 2 \
  --no-control-socket --graceful-timeout 20 --access-logfile - >"$LOGS/web.log" 2>&1 &
PIDS[web]=$!
"$BIN/celery" -A kamen_complaints worker --loglevel INFO --concurrency 2 \
  --hostname "prodshape@%h" >"$LOGS/worker.log" 2>&1 &
PIDS[worker]=$!
"$BIN/celery" -A kamen_complaints beat --loglevel INFO >"$LOGS/beat.log" 2>&1 &
PIDS[beat]=$!

check_alive() {
  local name
  for name in web worker beat; do
    kill -0 "${PIDS[$name]}" 2>/dev/null || fail "$name exited early"
  done
}

deadline=$((SECONDS + START_TIMEOUT))
until [ "$(curl -s -o "$WORK/healthz.json" -w '%{http_code}' "$BASE/healthz")" = 200 ]; do
  check_alive
  [ "$SECONDS" -lt "$deadline" ] || fail "/healthz did not answer 200 within ${START_TIMEOUT}s"
  sleep 0.5
done
log "/healthz: $(cat "$WORK/healthz.json")"
grep -q '"vendor": "postgresql"' "$WORK/healthz.json" || fail "/healthz does not report PostgreSQL"
grep -q '"transport": "redis"' "$WORK/healthz.json" || fail "/healthz does not report Redis"

deadline=$((SECONDS + START_TIMEOUT))
until grep -q "ready\." "$LOGS/worker.log"; do
  check_alive
  [ "$SECONDS" -lt "$deadline" ] || fail "the worker did not become ready within ${START_TIMEOUT}s"
  sleep 0.5
done

log "through the API: a card-key order and a phone top-up, bought and paid by a demo buyer"
"$BIN/python" - "$BASE" <<'EOF' || fail "the API flow failed"
import json
import sys
import time
import urllib.error
import urllib.request

BASE = sys.argv[1] + "/api/v1"


def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json", "Accept-Language": "en"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")[:500]


def expect(what, status, got_status, body):
    if got_status != status:
        sys.exit(f"{what}: expected HTTP {status}, got {got_status}: {body}")
    return body


token = expect(
    "token",
    200,
    *call("POST", "/auth/token/", {"username": "buyer1", "password": "kamen-demo-2026"}),
)["token"]
print("  token for buyer1: ok")

products = expect("catalogue", 200, *call("GET", "/products/?page_size=100"))["results"]
card = next(p for p in products if p["kind"] != "phone_topup" and p["in_stock"] > 0)
topup = next(p for p in products if p["kind"] == "phone_topup")
print(f"  catalogue: {len(products)} products")

order = expect("create", 201, *call("POST", "/orders/", {"product": card["id"], "quantity": 1}, token))
paid = expect(
    "pay", 200, *call("POST", f"/orders/{order['number']}/pay/", {"channel": "sandbox"}, token)
)
if paid["status"] != "delivered" or len(paid["card_keys"]) != 1:
    sys.exit(f"card-key order not delivered at payment: {paid}")
print(f"  {paid['number']} {card['name']}: {paid['status']}, keys {paid['card_keys']}")

order = expect(
    "create top-up",
    201,
    *call(
        "POST",
        "/orders/",
        {"product": topup["id"], "quantity": 1, "topup_target": "13800001111"},
        token,
    ),
)
paid = expect(
    "pay top-up",
    200,
    *call("POST", f"/orders/{order['number']}/pay/", {"channel": "sandbox"}, token),
)
print(f"  {paid['number']} {topup['name']}: {paid['status']} after payment")
if paid["status"] != "delivery_pending":
    sys.exit(f"a top-up answers delivery_pending at payment, got {paid['status']}")
deadline = time.monotonic() + 60
while True:
    seen = expect("order", 200, *call("GET", f"/orders/{order['number']}/", token=token))
    if seen["status"] != "delivery_pending":
        break
    if time.monotonic() > deadline:
        sys.exit("the top-up stayed delivery_pending for 60 s: did the worker get the task?")
    time.sleep(0.5)
if seen["status"] != "delivered":
    sys.exit(f"the top-up ended {seen['status']}, not delivered")
print(f"  {seen['number']}: {seen['status']} by the worker at {seen['delivered_at']}")
EOF

log "worker and beat"
deadline=$((SECONDS + START_TIMEOUT))
until grep -q "orders_sweep\[.*\] succeeded" "$LOGS/worker.log"; do
  check_alive
  [ "$SECONDS" -lt "$deadline" ] || fail "no sweep from beat reached the worker in ${START_TIMEOUT}s"
  sleep 0.5
done
grep -q "order_topup_deliver\[.*\] succeeded" "$LOGS/worker.log" \
  || fail "the worker log shows no top-up delivery"
grep -m1 "Sending due task orders-sweep" "$LOGS/beat.log" | sed 's/^/  beat:   /'
grep -m1 "order_topup_deliver\[.*\] succeeded" "$LOGS/worker.log" | sed 's/^/  worker: /'
grep -m1 "orders_sweep\[.*\] succeeded" "$LOGS/worker.log" | sed 's/^/  worker: /'
if grep -E "Traceback|ERROR/|\[ERROR\]" "$LOGS"/*.log; then
  fail "errors in the logs"
fi

log "stop web, worker and beat with SIGTERM"
check_alive
for name in web worker beat; do kill -TERM "${PIDS[$name]}"; done
for name in web worker beat; do
  pid="${PIDS[$name]}"
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$name (pid $pid) still running ${STOP_TIMEOUT}s after SIGTERM"
    sleep 0.2
  done
  status=0
  wait "$pid" || status=$?
  [ "$status" -eq 0 ] || fail "$name exited with status $status after SIGTERM"
  log "  $name (pid $pid) exited cleanly"
  unset "PIDS[$name]"
done
