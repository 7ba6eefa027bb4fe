"""Recording an event for systems outside the platform: the one call the apps above make.

    emit(merchant_id=…, type="complaint.updated", data={…}, key="dispute:12:event:345")

writes one delivery row per enabled endpoint and robot of the shop that wants `type`, in the
caller's transaction, and hands them to Celery after commit; the clock's sweep retries what
failed (docs/integrations.md). `key` names the event once: the same key recorded again is the
same event (its `id` is derived from the key), so a retried transaction or a sweep that runs
twice sends nothing twice."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from integrations.models import STAFF_TARGET, Delivery, DeliveryStatus, Endpoint
from kamen_complaints.celery import publish as publish_task

logger = logging.getLogger(__name__)

# The event types (docs/integrations.md): what a shop may subscribe an endpoint to.
COMPLAINT_FILED = "complaint.filed"
COMPLAINT_UPDATED = "complaint.updated"
COMPLAINT_DEADLINE_REMINDER = "complaint.deadline_reminder"
COMPLAINT_DIGEST = "complaint.digest"
ORDER_MESSAGE = "order.message"
SHOP_SUSPENDED = "shop.suspended"
SHOP_REINSTATED = "shop.reinstated"
COLLECTIVE_CASE_OPENED = "collective_case.opened"
PING = "ping"

EVENT_TYPES: tuple[str, ...] = (
    COMPLAINT_FILED,
    COMPLAINT_UPDATED,
    COMPLAINT_DEADLINE_REMINDER,
    COMPLAINT_DIGEST,
    ORDER_MESSAGE,
    SHOP_SUSPENDED,
    SHOP_REINSTATED,
    COLLECTIVE_CASE_OPENED,
)


def event_labels() -> list[tuple[str, str]]:
    """The event types with what each means, for the page's choices."""
    from django.utils.translation import gettext as _

    return [
        (COMPLAINT_FILED, _("a complaint is filed against the shop")),
        (COMPLAINT_UPDATED, _("a complaint changes: status, offer, message, request, ruling")),
        (COMPLAINT_DEADLINE_REMINDER, _("a complaint's deadline is near")),
        (COMPLAINT_DIGEST, _("the daily digest of open complaints")),
        (ORDER_MESSAGE, _("a buyer writes about an order")),
        (SHOP_SUSPENDED, _("the shop is suspended")),
        (SHOP_REINSTATED, _("the shop sells again")),
        (
            COLLECTIVE_CASE_OPENED,
            _("a collective case opens on a batch of keys or a top-up channel"),
        ),
    ]


def event_id(key: str) -> str:
    """The event's public id, the same for the same key on every try and every recording."""
    return "evt_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def jsonable(value: Any) -> Any:
    """`data` as it is stored and sent: times as ISO 8601 with the platform's offset (+08:00,
    like the API), decimals as strings (2 places as given)."""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


# The enabled endpoints of the shops of a batch, read once (`targets_known`), so `emit` for each
# complaint of one of the clock's batches adds no query of its own.
_known_targets: ContextVar[dict[int, list[Endpoint]] | None] = ContextVar(
    "integrations_known_targets", default=None
)


@contextmanager
def targets_known(merchant_ids: Iterable[int]) -> Iterator[None]:
    """Within this block, `emit` for these shops reads their endpoints from one query made
    here: a batch of complaints costs one look-up, not one per complaint (the clock's batches
    stay a fixed number of statements). Endpoints changed inside the block are not seen."""
    ids = set(merchant_ids)
    found: dict[int, list[Endpoint]] = {m: [] for m in ids}
    if ids:
        for endpoint in Endpoint.objects.filter(merchant_id__in=ids, enabled=True).order_by("id"):
            found[endpoint.merchant_id].append(endpoint)
    token = _known_targets.set(found)
    try:
        yield
    finally:
        _known_targets.reset(token)


def _enabled_endpoints(merchant_id: int) -> list[Endpoint]:
    known = _known_targets.get()
    if known is not None and merchant_id in known:
        return known[merchant_id]
    return list(Endpoint.objects.filter(merchant_id=merchant_id, enabled=True).order_by("id"))


def emit(*, merchant_id: int, type: str, data: dict[str, Any], key: str) -> int:
    """Record the event for the shop `merchant_id` in the caller's transaction: one delivery row
    per enabled endpoint and robot of the shop subscribed to `type` (a key already recorded
    for a target adds nothing), sent after commit. Returns how many rows it wrote."""
    targets = [e for e in _enabled_endpoints(merchant_id) if e.wants(type)]
    return _record(
        type=type,
        data=data,
        key=key,
        merchant_id=merchant_id,
        targets=[(e.pk, f"endpoint:{e.pk}") for e in targets],
    )


def emit_staff(*, type: str, data: dict[str, Any], key: str) -> int:
    """Record the event for the arbitration team's group robot (settings ARBITRATION_ROBOT_*),
    like `emit`. Nothing is recorded when no robot is configured. Returns rows written."""
    if not (settings.ARBITRATION_ROBOT_KIND and settings.ARBITRATION_ROBOT_URL):
        return 0
    return _record(type=type, data=data, key=key, merchant_id=None, targets=[(None, STAFF_TARGET)])


def record_for_endpoint(endpoint: Endpoint, *, type: str, data: dict[str, Any], key: str) -> int:
    """One event for one endpoint whatever it subscribed to (the owner's "send a test event")."""
    return _record(
        type=type,
        data=data,
        key=key,
        merchant_id=endpoint.merchant_id,
        targets=[(endpoint.pk, f"endpoint:{endpoint.pk}")],
    )


def _record(
    *,
    type: str,
    data: dict[str, Any],
    key: str,
    merchant_id: int | None,
    targets: list[tuple[int | None, str]],
    now: datetime | None = None,
) -> int:
    if not targets:
        return 0
    eid = event_id(key)
    moment = now or timezone.now()
    existing = set(
        Delivery.objects.filter(event_id=eid, target__in=[t for _, t in targets]).values_list(
            "target", flat=True
        )
    )
    payload = jsonable(data)
    rows = [
        Delivery(
            event_id=eid,
            type=type,
            data=payload,
            created_at=moment,
            merchant_id=merchant_id,
            endpoint_id=endpoint_id,
            target=target,
            status=DeliveryStatus.PENDING,
            next_try_at=moment,
        )
        for endpoint_id, target in targets
        if target not in existing
    ]
    if not rows:
        return 0
    # A concurrent recording of the same key loses quietly to the unique (event_id, target).
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    publish_after_commit([eid])
    return len(rows)


def publish(event_ids: list[str]) -> bool:
    """Hand the events' deliveries to a worker now if the broker seems up (never raises; the
    broker's back-off is kamen_complaints.celery's, shared with the notification outbox)."""
    from integrations.tasks import deliveries_send

    return publish_task(deliveries_send, event_ids)


def publish_after_commit(event_ids: list[str]) -> None:
    transaction.on_commit(lambda: publish(event_ids), robust=True)
