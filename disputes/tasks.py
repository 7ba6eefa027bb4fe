"""Celery tasks: thin shells around services of the same name.

Every task here is safe to run twice or at the same time as itself (acks_late: a worker that
dies mid-task has it redelivered): the services are idempotent.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from disputes import services


@shared_task(acks_late=True)
def deadlines_sweep() -> dict[str, Any]:
    """Beat, every SWEEP_INTERVAL_SECONDS: enforce every due deadline, send the reminders and
    whatever the outbox still holds. Bounded by SWEEP_MAX_SECONDS (under the task's soft time
    limit); what is left waits for the next sweep."""
    return services.deadlines_sweep(max_seconds=settings.SWEEP_MAX_SECONDS).as_dict()


@shared_task(acks_late=True)
def notifications_send(notification_ids: list[int]) -> int:
    """Deliver outbox rows (handed over on commit; the sweep re-sends what is lost)."""
    return services.notifications_send(notification_ids=notification_ids)


@shared_task(acks_late=True)
def dispute_auto_checks(dispute_id: int) -> dict[str, int]:
    """On commit of a filing: ask the upstreams about the complaint (its top-up, its card
    keys), store their answers as evidence and apply the automatic rules. Safe twice or
    beside the sweep: checks are claimed under row locks and decided under the complaint's
    (docs/automatic-checks.md)."""
    return services.auto_checks_run(dispute_id=dispute_id)


@shared_task
def notifications_send_pending() -> int:
    return services.notifications_send_pending()


@shared_task
def complaint_drafts_purge() -> int:
    """Beat, hourly: delete complaint-form draft files older than 24 h (disputes/drafts.py)."""
    from disputes.drafts import purge_expired_drafts

    return purge_expired_drafts()


@shared_task(acks_late=True)
def shops_send_digest() -> int:
    """Beat, hourly from 10:00 to 23:00 Asia/Shanghai: the daily digest of open complaints,
    sent by the first run of the day (a missed hour is caught up by the next; a second run
    finds the day taken — disputes/services/reminders.py)."""
    from disputes.services.reminders import shops_send_digest as send

    return send()


@shared_task(acks_late=True)
def collective_consider(dispute_id: int) -> int:
    """On commit of an outcome in the buyer's favour: open a collective case if the
    complaint's batch or channel reached its threshold (docs/collective-cases.md). Safe twice
    and beside the sweep: one case per batch or channel (a partial unique constraint)."""
    from disputes.services.collective import collective_cases_open_due

    return collective_cases_open_due(dispute_id=dispute_id)


@shared_task(acks_late=True)
def collective_case_check(case_id: int) -> dict[str, int]:
    """On commit of a case's opening: ask the issuer about its orders, then settle it. Safe
    twice and beside the sweep (rows claimed with SKIP LOCKED, settled once under the case's
    lock)."""
    from disputes.services.collective import collective_case_check as check

    return check(case_id=case_id)


@shared_task(acks_late=True)
def metrics_rollup() -> int | None:
    """Every few minutes (Celery beat): roll up the metrics' daily figures — the days not
    yet rolled up, today so far included, and those changed since the last run
    (docs/metrics.md). Idempotent; None when another run is still going."""
    from disputes.metrics_rollup import rollup

    return rollup()
