"""The load test (`make load`): bench/load/run.sh drives it; docs/load.md says what and why."""
