"""Celery tasks: thin shells around services of the same name (docs/integrations.md).

Safe twice and beside the sweep: a delivery is claimed before it is sent, so two workers never
send the same row at once (at least once, never lost)."""

from __future__ import annotations

from celery import shared_task

from integrations import services


@shared_task(acks_late=True)
def deliveries_send(event_ids: list[str]) -> int:
    """On commit of an event: send its deliveries now (the sweep retries what fails)."""
    return services.deliveries_send(event_ids=event_ids)


@shared_task
def deliveries_sweep() -> int:
    """The clock's sweep: every delivery due (new ones the broker lost, retries)."""
    return services.deliveries_sweep()
