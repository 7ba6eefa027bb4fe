"""Sending the deliveries: at least once, with back-off, for a day (docs/integrations.md).

A row is claimed before it is sent (its next try moved a lease ahead, under its row lock with
SKIP LOCKED), so two workers, or a worker and the sweep, never send it at the same time; the
answer is recorded afterwards under the row lock again. A crash between the send and the record
sends it again after the lease: at least once, same `id`, never lost.

Retries: 15 s, 1 min, 5 min, 30 min, 2 h, then every 6 h, up to 24 h after the event (the last
try at 24 h). An endpoint whose tries have failed for 24 h without a success in between is
disabled and its owner told (integrations.signals.endpoint_disabled)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations import net, robots, signing
from integrations.models import (
    STAFF_TARGET,
    DeliveryStatus,
    DisabledReason,
    Endpoint,
    EndpointKind,
)
from integrations.models import Delivery as DeliveryRow
from integrations.signals import endpoint_disabled
from orders.crypto import decrypt

logger = logging.getLogger(__name__)

RETRY_DELAYS = (
    timedelta(seconds=15),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
RETRY_WINDOW = timedelta(hours=24)
DISABLE_AFTER = timedelta(hours=24)
# A claimed row is not due again for this long (a worker that died mid-send is retried after).
LEASE = timedelta(minutes=2)
# How many tries a row's log keeps.
LOG_LENGTH = 20
SWEEP_BATCH = 100


def next_try(*, attempts: int, created_at: datetime, now: datetime) -> datetime | None:
    """When to try again after `attempts` failed tries, or None: the day is over."""
    deadline = created_at + RETRY_WINDOW
    if now >= deadline:
        return None
    delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return min(now + delay, deadline)


@dataclass(frozen=True, slots=True)
class Result:
    status: int | None
    error: str  # empty: delivered


def _claim(rows: Q, *, now: datetime, limit: int) -> list[int]:
    with transaction.atomic():
        ids = list(
            DeliveryRow.objects.select_for_update(skip_locked=True)
            .filter(rows, status=DeliveryStatus.PENDING, next_try_at__lte=now)
            .order_by("next_try_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            DeliveryRow.objects.filter(pk__in=ids).update(next_try_at=now + LEASE)
    return ids


def deliveries_send(*, event_ids: Iterable[str]) -> int:
    """Send the due deliveries of these events now (on commit). Returns how many were sent
    successfully."""
    ids = _claim(Q(event_id__in=list(event_ids)), now=timezone.now(), limit=SWEEP_BATCH)
    return sum(delivery_attempt(delivery_id=pk) for pk in ids)


def deliveries_sweep(*, max_seconds: float | None = None) -> int:
    """Send every delivery that is due: new rows the broker lost, retries. Bounded by
    `max_seconds`; what is left waits for the next sweep. Returns how many succeeded."""
    budget = max_seconds if max_seconds is not None else settings.SWEEP_MAX_SECONDS
    started = time.monotonic()
    delivered = 0
    while time.monotonic() - started < budget:
        ids = _claim(Q(), now=timezone.now(), limit=SWEEP_BATCH)
        if not ids:
            break
        for pk in ids:
            delivered += delivery_attempt(delivery_id=pk)
    return delivered


def _where(row: DeliveryRow) -> tuple[str, str, str] | None:
    """The kind, URL and secret of the row's target, or None when it is gone or disabled."""
    if row.target == STAFF_TARGET:
        kind, url = settings.ARBITRATION_ROBOT_KIND, settings.ARBITRATION_ROBOT_URL
        if not (kind and url):
            return None
        return kind, url, settings.ARBITRATION_ROBOT_SECRET
    endpoint = row.endpoint
    if endpoint is None or not endpoint.enabled:
        return None
    secret = decrypt(endpoint.secret_encrypted) if endpoint.secret_encrypted else ""
    return endpoint.kind, decrypt(endpoint.url_encrypted), secret


def _send(row: DeliveryRow, *, kind: str, url: str, secret: str, now: datetime) -> Result:
    if kind == EndpointKind.WEBHOOK:
        raw = json.dumps(row.body(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        outgoing = robots.Outgoing(
            url=url,
            body=raw,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                signing.HEADER: signing.header(secret, int(now.timestamp()), raw),
                "Kamen-Event-Id": row.event_id,
                "Kamen-Event-Type": row.type,
            },
        )
    else:
        outgoing = robots.prepare(
            kind, url=url, secret=secret, event_type=row.type, data=row.data, now=now
        )
    try:
        answer = net.post(outgoing.url, body=outgoing.body, headers=outgoing.headers)
    except net.TransportError as exc:
        return Result(status=None, error=str(exc)[:300])
    if not 200 <= answer.status < 300:
        return Result(status=answer.status, error=f"HTTP {answer.status}")
    if kind != EndpointKind.WEBHOOK:
        refusal = robots.verdict(kind, answer.body)
        if refusal is not None:
            return Result(status=answer.status, error=refusal)
    return Result(status=answer.status, error="")


def delivery_attempt(*, delivery_id: int) -> int:
    """One try of one claimed delivery: send it, record the answer, schedule the next try or
    give up, and disable an endpoint failing for 24 h. Returns 1 if it was delivered."""
    row = DeliveryRow.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if row is None or row.status != DeliveryStatus.PENDING:
        return 0
    now = timezone.now()
    where = _where(row)
    if where is None:
        result = Result(status=None, error="the endpoint is disabled or removed")
    else:
        kind, url, secret = where
        result = _send(row, kind=kind, url=url, secret=secret, now=now)
        if result.error:
            logger.info("delivery %s to %s failed: %s", row.event_id, row.target, result.error)
    return _record(delivery_id, result, now=timezone.now(), target_gone=where is None)


def _record(delivery_id: int, result: Result, *, now: datetime, target_gone: bool) -> int:
    with transaction.atomic():
        row = DeliveryRow.objects.select_for_update().filter(pk=delivery_id).first()
        if row is None or row.status != DeliveryStatus.PENDING:
            return 0
        row.attempts += 1
        row.last_try_at = now
        row.last_status = result.status
        row.last_error = result.error[:300]
        row.log = [
            *row.log[-(LOG_LENGTH - 1) :],
            {"at": now.isoformat(), "status": result.status, "error": result.error[:200]},
        ]
        if not result.error:
            row.status = DeliveryStatus.DELIVERED
            row.delivered_at = now
            row.next_try_at = None
        else:
            retry = (
                None
                if target_gone
                else next_try(attempts=row.attempts, created_at=row.created_at, now=now)
            )
            row.next_try_at = retry
            if retry is None:
                row.status = DeliveryStatus.FAILED
        row.save()
        if row.endpoint_id is not None and not target_gone:
            _endpoint_health(row.endpoint_id, ok=not result.error, error=result.error, now=now)
    return 0 if result.error else 1


def _endpoint_health(endpoint_id: int, *, ok: bool, error: str, now: datetime) -> None:
    """A success clears the endpoint's failing streak; a failure starts it, and 24 h of it
    disables the endpoint (its owner is told through the signal, in this transaction)."""
    if ok:
        Endpoint.objects.filter(pk=endpoint_id, failing_since__isnull=False).update(
            failing_since=None
        )
        return
    endpoint = Endpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
        return
    if endpoint.enabled and now - endpoint.failing_since >= DISABLE_AFTER:
        endpoint.enabled = False
        endpoint.disabled_reason = DisabledReason.FAILING
        endpoint.save(update_fields=["enabled", "disabled_reason"])
        DeliveryRow.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, next_try_at=None, last_error="the endpoint was disabled"
        )
        endpoint_disabled.send(
            sender=Endpoint,
            endpoint=endpoint,
            failing_since=endpoint.failing_since,
            last_error=error,
        )
