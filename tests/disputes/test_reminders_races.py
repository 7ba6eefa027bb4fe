"""Reminders exactly once under two sweepers at once (PostgreSQL: row locks, SKIP LOCKED):
every stage of every complaint reaches each person on each channel once, and the shop's
integrations once (issue 20)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from disputes.models import Notification, NotificationKind
from disputes.services import sweep
from integrations import events
from integrations.models import Delivery
from integrations.services.endpoints import endpoint_create
from tests.disputes.factories import agent_of, file, funded_order
from tests.factories import ProductFactory
from tests.loopback import loopback_server

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SH = ZoneInfo("Asia/Shanghai")


def _two_sweepers() -> list[object]:
    barrier = threading.Barrier(2)
    results: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait()
            outcome: object = sweep.deadlines_sweep(record=False).reminded["merchant"]
        except Exception as exc:  # reported, never swallowed: the test asserts on it
            outcome = exc
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_sweepers_at_once_send_each_stage_once(time_machine, settings, monkeypatch):
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = True
    settings.SWEEP_BATCH_SIZE = 5  # several batches each, so the two interleave
    calls: list[str] = []
    real_emit = events.emit
    lock = threading.Lock()

    def emit(**kwargs):
        if kwargs["type"] == "complaint.deadline_reminder":
            with lock:
                calls.append(kwargs["key"])
        return real_emit(**kwargs)

    monkeypatch.setattr(events, "emit", emit)
    with loopback_server() as receiver:
        receiver.default = (200, b"ok", {})
        # Filed at 20:00 Beijing time: the stages fall at 08:00, 16:00 and 19:00, awake.
        time_machine.move_to(datetime(2026, 12, 9, 20, 0, tzinfo=SH), tick=False)
        product = ProductFactory()
        merchant = product.merchant
        agent = agent_of(merchant)
        endpoint_create(actor=merchant.owner, merchant=merchant, url=receiver.url + "/hook")
        disputes = [file(funded_order(product=product)) for _ in range(12)]
        due = disputes[0].merchant_response_due

        sent = 0
        for stage, lead in (("12h", 12), ("4h", 4), ("1h", 1)):
            time_machine.move_to(due - timedelta(hours=lead) + timedelta(minutes=1), tick=False)
            results = _two_sweepers()
            assert all(isinstance(r, int) for r in results), results
            assert sum(results) == len(disputes), (stage, results)
            sent += len(disputes)
            assert sweep.deadlines_sweep(record=False).reminded["merchant"] == 0

    rows = Notification.objects.filter(kind=NotificationKind.REMINDER_MERCHANT)
    per = Counter(
        (n.dispute_id, n.recipient_id, n.channel, n.params["stage"]) for n in rows.iterator()
    )
    expected = {
        (d.pk, user.pk, channel, stage)
        for d in disputes
        for user in (merchant.owner, agent)
        for channel in ("inapp", "email")
        for stage in ("12h", "4h", "1h")
    }
    assert set(per) == expected and set(per.values()) == {1}
    assert len(calls) == sent == len(set(calls))
    deliveries = Counter(
        d["data__stage"]
        for d in Delivery.objects.filter(type="complaint.deadline_reminder").values("data__stage")
    )
    assert deliveries == {"12h": 12, "4h": 12, "1h": 12}
