"""/metrics: who may scrape it, what it answers, and the platform's gauges read from the rows
(kamen_complaints/metrics_endpoint.py, disputes/gauges.py, docs/operations.md)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from disputes.models import AutoCheck, ClockRun, Dispute, Notification, Status
from disputes.services.notifications import MAX_ATTEMPTS
from escrow.models import Payout, ReconciliationRun
from integrations.models import Delivery
from tests.complaint_fixtures import (  # noqa: F401 - autouse fixtures, applied by import
    _broker_assumed_up,
    _fast_passwords,
    _seeded_policy,
)
from tests.disputes.factories import file, under_review

TOKEN = "t" * 20 + "0123456789abcdef"
OUTSIDE = "203.0.113.9"


def scrape(client, **extra):
    return client.get("/metrics", **extra)


def samples(response) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def same_page(response, path: str) -> str:
    """The page with what differs by request alone (its path, the CSRF token) taken out."""
    page = response.content.decode().replace(path, "PATH")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", page)


def value(found, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


# --- Who may scrape -----------------------------------------------------------------------


@pytest.mark.django_db
def test_loopback_scrapes_without_a_token_by_default(client):
    response = scrape(client)  # the test client's REMOTE_ADDR is 127.0.0.1
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    # Behind the same middleware as every page: security headers, CSP, the request id.
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Request-ID"]
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_anyone_else_gets_the_sites_ordinary_404(client, settings):
    settings.METRICS_TOKEN = TOKEN
    not_found = same_page(client.get("/no-such-page", REMOTE_ADDR=OUTSIDE), "/no-such-page")
    refusals = [
        scrape(client, REMOTE_ADDR=OUTSIDE),
        scrape(client, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer " + TOKEN[:-1] + "x"),
        scrape(client, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Token " + TOKEN),
        scrape(client, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer"),
        client.post("/metrics", REMOTE_ADDR=OUTSIDE),
        # Through a proxy on the same host REMOTE_ADDR is loopback: the proxy header decides.
        scrape(client, HTTP_X_FORWARDED_FOR=OUTSIDE),
        scrape(client, HTTP_X_REAL_IP=OUTSIDE),
    ]
    for response in refusals:
        assert response.status_code == 404
        assert same_page(response, "/metrics") == not_found
        assert b"kamen_" not in response.content


@pytest.mark.django_db
def test_the_token_opens_it_from_anywhere(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = scrape(client, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer " + TOKEN)
    assert response.status_code == 200
    assert b"kamen_deadlines_overdue" in response.content
    # A token sent without one configured opens nothing, even from loopback.
    settings.METRICS_TOKEN = ""
    assert scrape(client, HTTP_AUTHORIZATION="Bearer " + TOKEN).status_code == 404


@pytest.mark.django_db
def test_an_allowed_network_scrapes_without_a_token(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "fd00::/8"]
    assert scrape(client, REMOTE_ADDR="10.20.30.40").status_code == 200
    assert scrape(client, REMOTE_ADDR="fd00::5").status_code == 200
    assert scrape(client, REMOTE_ADDR="11.0.0.1").status_code == 404
    assert scrape(client).status_code == 404  # loopback is no longer listed


@pytest.mark.django_db
def test_only_get_once_allowed(client):
    assert client.post("/metrics").status_code == 405


def test_a_bad_network_or_a_short_token_stops_the_start(tmp_path):
    import os
    import subprocess
    import sys

    for name, value in (("METRICS_ALLOWED_NETWORKS", "10.0.0.0/33"), ("METRICS_TOKEN", "short")):
        env = {**os.environ, "KAMEN_ENV": "development", name: value}
        result = subprocess.run(
            [sys.executable, "-c", "import kamen_complaints.settings"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        assert name in result.stderr


# --- What it exports ----------------------------------------------------------------------


@pytest.mark.django_db
def test_request_and_database_figures_from_django_prometheus(client):
    client.get("/healthz")
    found = samples(scrape(client))
    names = {name for name, _labels in found}
    assert "django_http_requests_total_by_method_total" in names
    assert "django_http_requests_latency_seconds_by_view_method_count" in names
    # The database wrapper counts the queries, labelled by the real vendor.
    vendor = connection.vendor
    assert value(found, "django_db_execute_total", alias="default", vendor=vendor) > 0
    assert type(connections["default"]).__module__.startswith("django_prometheus.")


@pytest.mark.django_db
def test_platform_gauges_read_the_rows(client):
    now = timezone.now().replace(microsecond=0)
    with time_machine.travel(now, tick=False):
        waiting = file()
        late = file()
        reviewed = under_review()
        # Deadlines: one past by five minutes, the others in the future.
        Dispute.objects.filter(pk=late.pk).update(merchant_response_due=now - timedelta(minutes=5))
        ClockRun.objects.update_or_create(
            pk=1,
            defaults={
                "started_at": now - timedelta(seconds=95),
                "finished_at": now - timedelta(seconds=90),
            },
        )
        # The outbox: whatever filing wrote is sent; two waiting, one given up, one sent.
        Notification.objects.update(sent_at=now)
        user = waiting.buyer
        for key, age, attempts in (("a", 600, 0), ("b", 60, 3), ("c", 7200, MAX_ATTEMPTS)):
            Notification.objects.create(
                recipient=user,
                channel="email",
                dedupe_key=f"ops-test-{key}",
                created_at=now - timedelta(seconds=age),
                attempts=attempts,
            )
        # Payouts: pending (20 min), failed and to retry (5 min), one sent.
        for key, age, status in (("p", 1200, "pending"), ("f", 300, "failed"), ("s", 9000, "sent")):
            Payout.objects.create(
                order=waiting.order,
                source_key=f"ops-test-{key}",
                amount=100,
                status=status,
                created_at=now - timedelta(seconds=age),
            )
        # Webhook deliveries: one pending (3 min), one delivered, one failed for good.
        Delivery.objects.all().delete()
        for key, age, status in (
            ("1", 180, "pending"),
            ("2", 999, "delivered"),
            ("3", 999, "failed"),
        ):
            Delivery.objects.create(
                event_id=f"evt-{key}",
                type="complaint.filed",
                created_at=now - timedelta(seconds=age),
                target="staff",
                status=status,
            )
        # Automatic checks: one still waiting (2 min), the rest answered.
        AutoCheck.objects.update(status="answered")
        AutoCheck.objects.create(
            dispute=reviewed, kind="topup", status="pending", created_at=now - timedelta(minutes=2)
        )
        # Reconciliation: one day with 3 differences, one without its bill, one clean.
        for channel, day, status, differences in (
            ("alipay", 1, "differences", 3),
            ("wechatpay", 1, "failed", 0),
            ("alipay", 2, "clean", 0),
        ):
            ReconciliationRun.objects.create(
                channel=channel,
                day=(now - timedelta(days=day)).date(),
                status=status,
                differences=differences,
            )
        found = samples(scrape(client))

    assert value(found, "kamen_platform_up") == 1
    assert value(found, "kamen_reconciliation_differences") == 3
    assert value(found, "kamen_reconciliation_failed_days") == 1
    assert value(found, "kamen_complaints_open", status=Status.AWAITING_MERCHANT) == 2
    assert value(found, "kamen_complaints_open", status=Status.UNDER_REVIEW) == 1
    assert value(found, "kamen_complaints_open", status=Status.AWAITING_BUYER) == 0
    assert value(found, "kamen_deadlines_overdue") == 1
    assert value(found, "kamen_deadline_oldest_overdue_seconds") == 300
    assert value(found, "kamen_sweep_lag_seconds") == 90
    assert value(found, "kamen_sweep_interval_seconds") == 60
    assert value(found, "kamen_notification_outbox_length") == 2
    assert value(found, "kamen_notification_outbox_oldest_seconds") == 600
    assert value(found, "kamen_notification_given_up") == 1
    assert value(found, "kamen_payout_queue_length") == 2
    assert value(found, "kamen_payout_queue_failing") == 1
    assert value(found, "kamen_payout_queue_oldest_seconds") == 1200
    assert value(found, "kamen_webhook_backlog") == 1
    assert value(found, "kamen_webhook_backlog_oldest_seconds") == 180
    assert value(found, "kamen_auto_checks_pending") == 1
    assert value(found, "kamen_auto_checks_oldest_seconds") == 120


@pytest.mark.django_db
def test_an_empty_platform_reads_zero_and_a_sweep_that_never_ran(client):
    found = samples(scrape(client))
    assert value(found, "kamen_deadlines_overdue") == 0
    assert value(found, "kamen_notification_outbox_length") == 0
    assert value(found, "kamen_payout_queue_oldest_seconds") == 0
    assert value(found, "kamen_sweep_lag_seconds") == float("inf")
    assert value(found, "kamen_reconciliation_differences") == 0


@pytest.mark.django_db
def test_a_scrape_costs_the_same_queries_with_more_rows(client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert scrape(client).status_code == 200
        return len(captured)

    file()
    few = queries()
    for _ in range(4):
        file()
    Notification.objects.update(sent_at=None)
    assert queries() == few


@pytest.mark.django_db
def test_the_gauges_say_so_when_the_database_does_not_answer(client, monkeypatch):
    from django.db import DatabaseError

    from disputes import gauges

    def broken(now):
        raise DatabaseError("server closed the connection")

    monkeypatch.setattr(gauges, "platform_figures", broken)
    response = scrape(client)
    assert response.status_code == 200
    found = samples(response)
    assert value(found, "kamen_platform_up") == 0
    assert ("kamen_deadlines_overdue", ()) not in found
