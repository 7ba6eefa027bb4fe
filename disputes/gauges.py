"""The platform's own gauges on /metrics (kamen_complaints/metrics_endpoint.py), read at scrape
time: the promise (deadlines overdue, the sweep's lag), the queues that carry it out (the
notification outbox, the payouts, the webhook deliveries, the automatic checks) and the open
complaints. Each figure is a count and a minimum over a partial index of the rows still
waiting, so a scrape costs what is queued or open, never the history (docs/operations.md
"Metrics and alerts", prometheus/alerts.yml).

Registered by DisputesConfig.ready: this app is above everything it reads (escrow's payouts,
integrations' deliveries), the project package below it imports none of them.

Reconciliation (escrow, docs/reconciliation.md): the differences and the missing bills of the
days whose run did not come out clean — a run is replaced when the day is reconciled again, so
these fall back to 0 once finance has it matched. Days on which money moved and no run ever
compared them are check_ledger's to report: finding them reads every payment, too much for a
scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from disputes.models import OPEN_STATUSES, AutoCheck, CheckStatus, ClockRun, Dispute, Notification
from disputes.selectors import deadlines_overdue
from disputes.services.notifications import MAX_ATTEMPTS as NOTIFICATION_MAX_ATTEMPTS
from escrow.models import Payout, PayoutStatus, ReconciliationRun, ReconciliationStatus
from integrations.models import Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

PREFIX = "kamen_"
PAYOUT_QUEUED = (PayoutStatus.PENDING, PayoutStatus.FAILED)


def _age(now: datetime, oldest: datetime | None) -> float:
    return max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, value=value)


def platform_figures(now: datetime) -> dict[str, Any]:
    """Every figure the gauges export, as plain numbers (also what the tests compare)."""
    by_status = dict(
        Dispute.objects.filter(status__in=OPEN_STATUSES)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    overdue, oldest_overdue = deadlines_overdue(now)
    run = ClockRun.objects.filter(pk=1).only("finished_at").first()
    waiting = Notification.objects.filter(sent_at__isnull=True).order_by()
    outbox = waiting.filter(attempts__lt=NOTIFICATION_MAX_ATTEMPTS).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    given_up = waiting.filter(attempts__gte=NOTIFICATION_MAX_ATTEMPTS).count()
    payouts = (
        Payout.objects.filter(status__in=PAYOUT_QUEUED)
        .order_by()
        .aggregate(
            n=Count("pk"),
            failing=Count("pk", filter=Q(status=PayoutStatus.FAILED)),
            oldest=Min("created_at"),
        )
    )
    # Deliveries still to make: new or retrying ("failed" is final, the endpoint disabled).
    webhooks = (
        Delivery.objects.filter(status=DeliveryStatus.PENDING)
        .order_by()
        .aggregate(n=Count("pk"), oldest=Min("created_at"))
    )
    checks = (
        AutoCheck.objects.filter(status=CheckStatus.PENDING)
        .order_by()
        .aggregate(n=Count("pk"), oldest=Min("created_at"))
    )
    reconciliation = ReconciliationRun.objects.filter(
        status__in=(ReconciliationStatus.DIFFERENCES, ReconciliationStatus.FAILED)
    ).aggregate(
        differences=Sum("differences", filter=Q(status=ReconciliationStatus.DIFFERENCES)),
        failed=Count("pk", filter=Q(status=ReconciliationStatus.FAILED)),
    )
    return {
        "reconciliation_differences": reconciliation["differences"] or 0,
        "reconciliation_failed_days": reconciliation["failed"],
        "open": {status.value: by_status.get(status.value, 0) for status in OPEN_STATUSES},
        "deadlines_overdue": overdue,
        "deadline_oldest_overdue_seconds": _age(now, oldest_overdue),
        "sweep_lag_seconds": (now - run.finished_at).total_seconds() if run else float("inf"),
        "sweep_interval_seconds": settings.SWEEP_INTERVAL_SECONDS,
        "outbox": outbox["n"],
        "outbox_oldest_seconds": _age(now, outbox["oldest"]),
        "outbox_given_up": given_up,
        "payouts": payouts["n"],
        "payouts_failing": payouts["failing"],
        "payouts_oldest_seconds": _age(now, payouts["oldest"]),
        "webhooks": webhooks["n"],
        "webhooks_oldest_seconds": _age(now, webhooks["oldest"]),
        "auto_checks": checks["n"],
        "auto_checks_oldest_seconds": _age(now, checks["oldest"]),
    }


class PlatformCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            figures = platform_figures(timezone.now())
        except DatabaseError:
            # The request and process figures still answer; Prometheus alerts on this one.
            logger.warning(
                "platform gauges unavailable: the database did not answer", exc_info=True
            )
            yield _gauge("platform_up", "1 when the platform's gauges could be read.", 0)
            return
        yield _gauge("platform_up", "1 when the platform's gauges could be read.", 1)
        opened = GaugeMetricFamily(
            PREFIX + "complaints_open", "Open complaints by status.", labels=["status"]
        )
        for status, count in figures["open"].items():
            opened.add_metric([status], count)
        yield opened
        yield _gauge(
            "deadlines_overdue",
            "Complaint deadlines past and not yet enforced (should be 0 between sweeps).",
            figures["deadlines_overdue"],
        )
        yield _gauge(
            "deadline_oldest_overdue_seconds",
            "How long the oldest unenforced deadline has been past (0 when none).",
            figures["deadline_oldest_overdue_seconds"],
        )
        yield _gauge(
            "sweep_lag_seconds",
            "Seconds since the clock's last sweep finished (+Inf before the first).",
            figures["sweep_lag_seconds"],
        )
        yield _gauge(
            "sweep_interval_seconds",
            "How often beat sends the sweep (SWEEP_INTERVAL_SECONDS).",
            figures["sweep_interval_seconds"],
        )
        yield _gauge(
            "notification_outbox_length",
            "Notifications not yet sent that the sweep still tries.",
            figures["outbox"],
        )
        yield _gauge(
            "notification_outbox_oldest_seconds",
            "Age of the oldest notification still to send (0 when none).",
            figures["outbox_oldest_seconds"],
        )
        yield _gauge(
            "notification_given_up",
            "Notifications left unsent after every attempt (their last error is in the admin).",
            figures["outbox_given_up"],
        )
        yield _gauge(
            "payout_queue_length",
            "Payouts to buyers not yet sent (pending, or failed and to be retried).",
            figures["payouts"],
        )
        yield _gauge(
            "payout_queue_failing",
            "Payouts whose last attempt failed, waiting for their retry.",
            figures["payouts_failing"],
        )
        yield _gauge(
            "payout_queue_oldest_seconds",
            "Age of the oldest payout not yet sent (0 when none).",
            figures["payouts_oldest_seconds"],
        )
        yield _gauge(
            "webhook_backlog",
            "Webhook and group-robot deliveries not yet delivered and still tried.",
            figures["webhooks"],
        )
        yield _gauge(
            "webhook_backlog_oldest_seconds",
            "Age of the oldest delivery still to make (0 when none).",
            figures["webhooks_oldest_seconds"],
        )
        yield _gauge(
            "auto_checks_pending",
            "Automatic checks waiting for the upstream's answer.",
            figures["auto_checks"],
        )
        yield _gauge(
            "reconciliation_differences",
            "Differences between the ledger and the channels' bills on days not reconciled clean.",
            figures["reconciliation_differences"],
        )
        yield _gauge(
            "reconciliation_failed_days",
            "Channel-days whose bill could not be had for reconciliation.",
            figures["reconciliation_failed_days"],
        )
        yield _gauge(
            "auto_checks_oldest_seconds",
            "Age of the oldest automatic check still waiting (0 when none).",
            figures["auto_checks_oldest_seconds"],
        )


def register() -> None:
    from kamen_complaints.metrics_endpoint import register_collector

    register_collector("disputes.platform", PlatformCollector())
