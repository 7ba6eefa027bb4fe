#!/usr/bin/env bash
# The load test (`make load`; what and why: docs/load.md). The production shape on loopback —
# gunicorn, a Celery worker and Celery beat against PostgreSQL and Redis, with the production
# environment of .ci/production-env.sh (fresh secrets, KAMEN_ENV=production) — on a scratch
# database it creates and drops, filled with the demo (seed_demo) and a generated marketplace
# (bench/load/generate.py). Then Locust (bench/load/locustfile.py, in its own virtualenv
# .venv/load from requirements-load.txt) runs LOAD_USERS users (50) for LOAD_SECONDS (120),
# headless, and stops by itself; the report (bench/load/report.py) prints every request
# type's count, failures, median, p95 and p99 beside GET /healthz's, and the targets.
#
# LOAD_MODE picks the run: "fixed" (the default: LOAD_USERS users), "capacity" (`make
# capacity`: the same mix stepped up through LOAD_STEPS until the complaint pages' p95 passes
# 500 ms or a request fails, then /healthz alone at the concurrency held, with each request's
# time split into database, templates and Python by bench/load/timing.py) or "faults" (`make
# faults`, bench/load/faults.sh: the fixed mix while bench/load/faults.py breaks the worker,
# Redis, PostgreSQL's connections and beat; worker and beat run under a restart loop, as
# compose's `restart: unless-stopped` keeps them). docs/load.md says what each prints.
#
# Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (LOAD_PG_URL /
# LOAD_REDIS_URL); database kc_load (LOAD_DB_NAME) and Redis db 4 (LOAD_REDIS_DB), both emptied
# before and after. Exits non-zero when the harness fails or a correctness target is missed
# (a failed request, a server error, a deadline not enforced exactly once, a ledger breach);
# the speed figures are printed, never asserted. Logs are kept (and named) on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN="${LOAD_BIN:-$PWD/.venv/bin}"
LOCUST_BIN="${LOAD_LOCUST_BIN:-$PWD/.venv/load/bin}"
PG_URL="${LOAD_PG_URL:-postgres://postgres@127.0.0.1:5432}"
REDIS_URL="${LOAD_REDIS_URL:-redis://127.0.0.1:6379}"
DB_NAME="${LOAD_DB_NAME:-kc_load}"
REDIS_DB="${LOAD_REDIS_DB:-4}"
USERS="${LOAD_USERS:-50}"
SECONDS_RUN="${LOAD_SECONDS:-120}"
SPAWN_RATE="${LOAD_SPAWN_RATE:-5}"
WEB_WORKERS="${LOAD_WEB_WORKERS:-3}"
MODE="${LOAD_MODE:-fixed}"
STEPS="${LOAD_STEPS:-10,20,40,80,160}"
STEP_SECONDS="${LOAD_STEP_SECONDS:-60}"
case "$MODE" in
  fixed) ;;
  capacity)
    # The deadlines fall due over about the first three steps (login, 15 s, the step); the
    # stepping may end before or after that, and the check after the run waits for them.
    SECONDS_RUN=$((3 * (STEP_SECONDS + 30)))
    export LOAD_KEYS_PER_HOT="${LOAD_KEYS_PER_HOT:-400}"
    ;;
  faults) SECONDS_RUN="${LOAD_SECONDS:-300}" ;;
  *)
    printf '[load] LOAD_MODE must be fixed, capacity or faults, not %s\n' "$MODE" >&2
    exit 2
    ;;
esac
RAMP_SECONDS=45 # about how long the logins take, and the 15 s after, before the measured part
START_TIMEOUT=90
STOP_TIMEOUT=30

WORK="$(mktemp -d /tmp/kc-load.XXXXXX)"
LOGS="$WORK/logs"
mkdir -p "$LOGS"
declare -A PIDS=()
DB_CREATED=0

log() { printf '[load] %s\n' "$*"; }
fail() {
  printf '[load] FAIL: %s\n' "$*" >&2
  exit 1
}

# stop_all: SIGTERM web, worker and beat, then SIGKILL what lingers.
# shellcheck source=.ci/processes.sh
. .ci/processes.sh

cleanup() {
  local status=$?
  trap - EXIT
  set +e
  stop_all
  if [ "$DB_CREATED" = 1 ]; then
    psql "$PG_URL/postgres" -q -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1
  fi
  "$BIN/python" -c 'import sys, redis; redis.Redis.from_url(sys.argv[1]).flushdb()' \
    "$REDIS_URL/$REDIS_DB" >/dev/null 2>&1
  if [ "$status" -eq 0 ] && [ "${LOAD_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
  elif [ "$status" -eq 0 ]; then
    log "kept (LOAD_KEEP=1): logs, Locust's CSV and the checks' output in $WORK"
  else
    for name in web worker beat; do
      if [ -f "$LOGS/$name.log" ] && grep -q Traceback "$LOGS/$name.log"; then
        printf '\n----- %s.log: first traceback -----\n' "$name" >&2
        grep -m1 -A 40 Traceback "$LOGS/$name.log" >&2
      fi
    done
    log "failed (status $status); logs and Locust's CSV kept in $WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$BIN/python" ] || fail "no virtualenv at $BIN (run \`make venv\` first)"
[ -x "$LOCUST_BIN/locust" ] || fail "no Locust at $LOCUST_BIN (\`make load\` installs it)"

# --- The production environment (fresh secrets), on our scratch database and Redis db -------
# shellcheck source=.ci/production-env.sh
. .ci/production-env.sh
# The throttles are per client address, and every virtual user comes from 127.0.0.1: at the
# production rates the 50 users' logins (30/min per address), reveals (60/min) and filings
# (30/hour) would be refused with 429 after the first seconds, and over make faults' 720 s the
# merchants' counter-evidence (120/hour per address) too. Raised far above what the run
# sends, so it measures the work, not the refusals (the report says so). The lockout counts
# failed passwords only; the run has none.
for scope in LOGIN REVEAL FILING FILING_ATTEMPT EVIDENCE IMPORT; do
  export "THROTTLE_${scope}_USER=100000/min" "THROTTLE_${scope}_IP=100000/min"
done
# Beat sends the sweeps every 10 s (production: 60 s), so the deadlines that fall due during
# the 120 s run are enforced during it, and the last ones within seconds of its end.
export SWEEP_INTERVAL_SECONDS="${LOAD_SWEEP_INTERVAL:-10}"
export LOG_LEVEL=WARNING
# The virtual arbitrators log in with a password through the admin's page; the second step
# (STAFF_REQUIRE_2FA, on in production) is an authenticator a load generator cannot hold, so
# the run turns it off and measures the work after the login (tests/accounts prove the step).
export STAFF_REQUIRE_2FA=false
mkdir -p "$KAMEN_VAR_DIR" "$MEDIA_ROOT"

started=$SECONDS
log "PostgreSQL: fresh database $DB_NAME; Redis: db $REDIS_DB"
PGOPTIONS=--client-min-messages=warning psql "$PG_URL/postgres" -q -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null
psql "$PG_URL/postgres" -q -c "CREATE DATABASE $DB_NAME" >/dev/null
DB_CREATED=1
"$BIN/python" -c 'import sys, redis; c = redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2); c.ping(); c.flushdb()' \
  "$CELERY_BROKER_URL"

log "migrate, collectstatic, compile_translations, seed_demo"
"$BIN/python" manage.py migrate --noinput -v 0
"$BIN/python" manage.py collectstatic --noinput -v 0
"$BIN/python" manage.py compile_translations >/dev/null
"$BIN/python" manage.py seed_demo >"$LOGS/seed.log" 2>&1 || {
  cat "$LOGS/seed.log" >&2
  fail "seed_demo failed"
}

log "generate the marketplace (100 shops, 10,000 products, 200,000 orders, 20,000 complaints)"
PLAN="$WORK/plan.json"
"$BIN/python" -m bench.load.generate fill "$PLAN" >"$LOGS/generate.log" 2>&1 || {
  tail -n 40 "$LOGS/generate.log" >&2
  fail "generating the marketplace failed"
}
grep "^generated" "$LOGS/generate.log" | sed 's/^/  /'

# The metrics' days rolled up once, as an operator does after upgrading (docs/metrics.md):
# otherwise beat's first run during the load is that backfill — every day of the generated
# history, seconds of the worker and PostgreSQL on the cores the web node is measured on —
# where production's runs every five minutes roll up only what changed.
log "roll up the metrics' days once (manage.py metrics_rollup)"
"$BIN/python" manage.py metrics_rollup >"$LOGS/rollup.log" 2>&1 || {
  tail -n 40 "$LOGS/rollup.log" >&2
  fail "metrics_rollup failed"
}

PORT="$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
log "start gunicorn ($WEB_WORKERS workers) on $BASE, a Celery worker (2 processes), Celery beat"
# The capacity run's gunicorn loads bench/load/settings.py: the production settings plus the
# middleware that splits each request's time (bench/load/timing.py) into $WORK/timing.jsonl.
WEB_ENV=()
if [ "$MODE" = capacity ]; then
  WEB_ENV=(DJANGO_SETTINGS_MODULE=bench.load.settings "LOAD_TIMING_FILE=$WORK/timing.jsonl")
fi
env "${WEB_ENV[@]}" "$BIN/gunicorn" kamen_complaints.wsgi --bind "127.0.0.1:$PORT" --workers "$WEB_WORKERS" \
  --timeout 60 --no-control-socket --graceful-timeout 20 --access-logfile - \
  --access-logformat '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms' \
  >"$LOGS/web.log" 2>&1 &
PIDS[web]=$!
WORKER_CMD=("$BIN/celery" -A kamen_complaints worker --loglevel INFO --concurrency 2 --hostname "load@%h")
BEAT_CMD=("$BIN/celery" -A kamen_complaints beat --loglevel INFO)
if [ "$MODE" = faults ]; then
  # The faults run kills them: each runs under a loop that starts it again a second after it
  # exits (what compose's `restart: unless-stopped` does), unless $WORK/hold-<name> exists
  # (beat stopped for two intervals). The process's own pid is in $WORK/<name>.pid. The task
  # received lines (INFO) are what faults.py watches to kill the worker in the middle of a task.
  supervise() {
    local name=$1
    shift
    (
      child=0
      trap 'kill -TERM $child 2>/dev/null; wait $child; exit 0' TERM
      while :; do
        while [ -e "$WORK/hold-$name" ]; do sleep 0.2; done
        "$@" >>"$LOGS/$name.log" 2>&1 &
        child=$!
        echo "$child" >"$WORK/$name.pid"
        wait "$child" || true
        printf '[supervise] %s (pid %s) exited at %s; starting it again\n' "$name" "$child" \
          "$(date +%T.%N)" >>"$LOGS/$name.log"
        sleep 1
      done
    ) &
    PIDS[$name]=$!
  }
  supervise worker env LOG_LEVEL=INFO "${WORKER_CMD[@]}"
  supervise beat "${BEAT_CMD[@]}"
else
  "${WORKER_CMD[@]}" >"$LOGS/worker.log" 2>&1 &
  PIDS[worker]=$!
  "${BEAT_CMD[@]}" >"$LOGS/beat.log" 2>&1 &
  PIDS[beat]=$!
fi

check_alive() {
  local name
  for name in web worker beat; do
    kill -0 "${PIDS[$name]}" 2>/dev/null || fail "$name exited early"
  done
}
deadline=$((SECONDS + START_TIMEOUT))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ] \
  && grep -q "ready\." "$LOGS/worker.log"; do
  check_alive
  [ "$SECONDS" -lt "$deadline" ] || fail "/healthz or the worker not ready within ${START_TIMEOUT}s"
  sleep 0.5
done

# The deadlines fall due from 5 s after this to the end of the measured 120 s (the ramp, 50
# logins and 15 s for their queue to drain, takes some 30-45 s first).
"$BIN/python" -m bench.load.generate arm "$PLAN" $((SECONDS_RUN + RAMP_SECONDS)) >"$LOGS/arm.log" 2>&1 || {
  cat "$LOGS/arm.log" >&2
  fail "arming the deadlines failed"
}
log "$(tail -n 1 "$LOGS/arm.log")"
if [ "$MODE" = capacity ]; then
  log "Locust: steps of $STEPS users (spawned $SPAWN_RATE/s), ${STEP_SECONDS}s measured each, until a complaint page's p95 passes 500 ms or a request fails"
  IFS=, read -r -a steps <<<"$STEPS"
  RUN_LIMIT=$((${#steps[@]} * (STEP_SECONDS + 15 + 240) + 120))
else
  log "Locust: $USERS users (spawned $SPAWN_RATE/s, each logs in once), then ${SECONDS_RUN}s measured, headless"
  RUN_LIMIT=$((SECONDS_RUN + 4 * RAMP_SECONDS))
fi
FAULTS_PID=""
if [ "$MODE" = faults ]; then
  # The faults, one after another while the users work (bench/load/faults.py).
  LOAD_WORK="$WORK" LOAD_PLAN="$PLAN" LOAD_BASE="$BASE" LOAD_DB_NAME="$DB_NAME" \
    "$BIN/python" -m bench.load.faults inject >"$WORK/faults.txt" 2>"$LOGS/faults.log" &
  FAULTS_PID=$!
fi
locust_status=0
# The locustfile stops Locust SECONDS_RUN after the last login; --run-time (ramp allowance
# included) and timeout are the outer bounds.
LOAD_PLAN="$PLAN" LOAD_MEASURE_SECONDS="$SECONDS_RUN" LOAD_RAMP_STATS="$WORK/ramp.json" \
  LOAD_MODE="$MODE" LOAD_STEPS="$STEPS" LOAD_STEP_SECONDS="$STEP_SECONDS" \
  LOAD_STEPS_FILE="$WORK/steps.json" LOAD_FAILURES_FILE="$WORK/failures.jsonl" \
  LOAD_SPAWN_RATE="$SPAWN_RATE" \
  timeout --kill-after=30 $((RUN_LIMIT + 60)) \
  "$LOCUST_BIN/locust" -f bench/load/locustfile.py --headless --host "$BASE" \
  --users "$USERS" --spawn-rate "$SPAWN_RATE" --stop-timeout 15 \
  --run-time "${RUN_LIMIT}s" \
  --csv "$WORK/locust" --only-summary --loglevel WARNING \
  >"$LOGS/locust.log" 2>&1 || locust_status=$?
if [ -n "$FAULTS_PID" ]; then
  # The faults end before the measured part does; wait for the last recovery it watches.
  wait "$FAULTS_PID" || log "the faults driver exited with status $? (see $LOGS/faults.log)"
fi
check_alive
# Locust exits 1 when any request failed: the report says which; anything else is the harness.
[ "$locust_status" -le 1 ] || {
  tail -n 40 "$LOGS/locust.log" >&2
  fail "Locust exited with status $locust_status"
}

log "after the run: wait for a sweep that began after the last armed deadline, and its outbox"
# Not a fixed sleep: the check waits until the clock has looked at every armed deadline after
# it fell due (bench.load.generate settled), however the beat interval and the sweep's own
# length fall — a target that depended on where the clock stood was not a target.
deadline=$((SECONDS + SECONDS_RUN + 4 * RAMP_SECONDS + 6 * SWEEP_INTERVAL_SECONDS + 60))
until "$BIN/python" -m bench.load.generate settled "$PLAN" >"$WORK/settled.txt" 2>&1; do
  check_alive
  [ "$SECONDS" -lt "$deadline" ] || { cat "$WORK/settled.txt" >&2; break; }
  sleep 2
done
log "$(tail -n 1 "$WORK/settled.txt")"
sleep 3 # the outbox rows that sweep handed to the worker
"$BIN/python" -m bench.load.generate verify "$PLAN" >"$WORK/verify.txt" 2>&1 || true
ledger_status=0
"$BIN/python" manage.py check_ledger --no-color >"$WORK/ledger.txt" 2>&1 || ledger_status=$?
if [ "$MODE" = faults ]; then
  LOAD_WORK="$WORK" LOAD_PLAN="$PLAN" "$BIN/python" -m bench.load.faults check \
    >"$WORK/faults-check.txt" 2>&1 || true
fi
curl -s "$BASE/healthz" >"$WORK/healthz.json" || true

log "stop web, worker and beat"
stop_all
PIDS=()

report_status=0
"$BIN/python" bench/load/report.py --work "$WORK" --users "$USERS" --seconds "$SECONDS_RUN" \
  --web-workers "$WEB_WORKERS" --mode "$MODE" --ledger-status "$ledger_status" --locust-status "$locust_status" \
  --total-seconds $((SECONDS - started)) || report_status=$?
exit "$report_status"
