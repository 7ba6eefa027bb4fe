#!/usr/bin/env bash
# Faults under load (`make faults`; docs/load.md "Faults"). The load test's fixed mix
# (bench/load/run.sh, LOAD_MODE=faults) while bench/load/faults.py kills the Celery worker in the
# middle of a sweep and of a payout batch, restarts Redis, terminates every connection of the
# run's PostgreSQL database and stops beat for two intervals, then checks that each deadline,
# payout and recovery happened exactly once and nothing is left in the outbox.
#
# Redis is this script's own redis-server (LOAD_FAULTS_REDIS_PORT, 6390), started here with
# docker-compose.yml's options and stopped at the end, so restarting it touches nobody else's;
# PostgreSQL is the shared server, of which only the run's scratch database's connections are
# terminated (the server itself is never restarted).
set -euo pipefail
cd "$(dirname "$0")/../.."

PORT="${LOAD_FAULTS_REDIS_PORT:-6390}"
DIR="$(mktemp -d /tmp/kc-faults-redis.XXXXXX)"
stop_redis() {
  if [ -f "$DIR/redis.pid" ]; then
    kill -TERM "$(cat "$DIR/redis.pid")" 2>/dev/null || true
    sleep 1
  fi
  rm -rf "$DIR"
}
trap stop_redis EXIT

if redis-cli -p "$PORT" ping >/dev/null 2>&1; then
  echo "[faults] something already answers on port $PORT; set LOAD_FAULTS_REDIS_PORT" >&2
  exit 2
fi
redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --appendonly yes \
  --maxmemory-policy noeviction --daemonize yes --pidfile "$DIR/redis.pid" \
  --logfile "$DIR/redis.log"
for _ in $(seq 50); do
  redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done

# The users work LOAD_SECONDS after their logins; every fault, its recovery and the 10 s after
# must fall inside, and faults.py injects none it has no longer time for (each may take up to
# 160 s by its own bounds; the 300 s of the other modes left the last three after the users).
LOAD_MODE=faults LOAD_REDIS_URL="redis://127.0.0.1:$PORT" LOAD_REDIS_DB=0 \
  LOAD_SECONDS="${LOAD_SECONDS:-720}" \
  LOAD_FAULTS_REDIS_PORT="$PORT" LOAD_FAULTS_REDIS_DIR="$DIR" \
  LOAD_DB_NAME="${LOAD_DB_NAME:-kc_faults}" bash bench/load/run.sh
