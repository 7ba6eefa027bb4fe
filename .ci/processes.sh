# Sourced by .ci/production-shape.sh and bench/load/run.sh, which start web, worker and beat
# in the background. The caller defines `log`, STOP_TIMEOUT and the associative array PIDS
# (name → pid).

# SIGTERM everything still running, wait up to STOP_TIMEOUT, then SIGKILL what lingers.
stop_all() {
  local name pid deadline
  for name in "${!PIDS[@]}"; do
    pid="${PIDS[$name]}"
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  deadline=$((SECONDS + STOP_TIMEOUT))
  for name in "${!PIDS[@]}"; do
    pid="${PIDS[$name]}"
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}
