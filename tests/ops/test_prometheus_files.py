"""The example Prometheus beside docker-compose.yml (prometheus/): the rules parse, each rule
asks for metrics /metrics really exports, the alerts the operator needs are there, and the
compose service scrapes web with the token (no Docker engine runs in the test suite)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(settings.BASE_DIR)
DURATION = re.compile(r"\d+[smhdwy]")
# PromQL words that are not metric names.
PROMQL = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "delta", "deriv", "rate", "increase", "min_over_time", "max_over_time", "avg_over_time",
    "sum", "min", "max", "avg", "count", "abs", "time", "bool", "offset", "job",
}  # fmt: skip
# Exported by Prometheus itself for every target.
BUILT_IN = {"up"}
# Inside the Prometheus container, written by the compose service at start.
TOKEN_FILE = "/tmp/kamen/metrics-token"  # noqa: S108


def load(name: str) -> Any:
    return yaml.safe_load((ROOT / "prometheus" / name).read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    return [rule for group in load("alerts.yml")["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return words - PROMQL


@pytest.mark.django_db
def test_every_rule_is_well_formed_and_names_only_exported_metrics(client):
    exported = {
        family.name for family in text_string_to_metric_families(client.get("/metrics").text)
    } | BUILT_IN
    found = rules()
    assert found
    for rule in found:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"Kamen[A-Za-z]+", rule["alert"])
        assert DURATION.fullmatch(rule["for"]), rule["for"]
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"]
        names = metric_names(rule["expr"])
        assert names, rule["expr"]
        unknown = names - exported
        assert not unknown, f"{rule['alert']}: not exported by /metrics: {sorted(unknown)}"


def test_the_alerts_the_operator_needs_are_there():
    by_name = {rule["alert"]: rule for rule in rules()}
    overdue = by_name["KamenDeadlineOverdue"]
    assert overdue["expr"].strip() == "kamen_deadlines_overdue > 0"
    assert overdue["for"] == "2m"
    late = by_name["KamenSweepLate"]
    assert late["expr"].strip() == "kamen_sweep_lag_seconds > 3 * kamen_sweep_interval_seconds"
    for alert, metric in (
        ("KamenNotificationOutboxGrowing", "kamen_notification_outbox_length"),
        ("KamenPayoutQueueGrowing", "kamen_payout_queue_length"),
    ):
        expr = " ".join(by_name[alert]["expr"].split())
        assert f"delta({metric}[10m]) > 0" in expr
        assert f"min_over_time({metric}[10m]) > 0" in expr
    reconciliation = " ".join(by_name["KamenReconciliationDifference"]["expr"].split())
    assert "kamen_reconciliation_differences > 0" in reconciliation


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_files_and_the_alerts_fire_when_they_should():
    """`promtool` (Debian's prometheus package): the syntax of both files, and the unit tests
    of prometheus/alerts.test.yml — each alert fires on its series, not before its `for`."""
    for args in (
        ("check", "rules", "alerts.yml"),
        ("check", "config", "--syntax-only", "prometheus.yml"),
        ("test", "rules", "alerts.test.yml"),
    ):
        result = subprocess.run(
            ["promtool", *args],
            cwd=ROOT / "prometheus",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_web_with_the_token_and_loads_the_rules():
    config = load("prometheus.yml")
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["web:8000"]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": TOKEN_FILE}

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    service = compose["services"]["prometheus"]
    assert "./prometheus:/etc/prometheus:ro" in service["volumes"]
    command = " ".join(service["command"])
    assert f"> {TOKEN_FILE}" in command
    assert "--config.file=/etc/prometheus/prometheus.yml" in command
    assert service["ports"] == ["127.0.0.1:9090:9090"]  # not on every interface
    token = "${METRICS_TOKEN:?"
    assert service["environment"]["METRICS_TOKEN"].startswith(token)
    web = compose["services"]["web"]["environment"]
    assert web["METRICS_TOKEN"].startswith(token)
    # Prometheus asks for http://web:8000/: Django must accept that host.
    assert "web" in web["ALLOWED_HOSTS"].split(":-", 1)[1].rstrip("}").split(",")
