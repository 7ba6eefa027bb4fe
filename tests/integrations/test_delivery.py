"""Webhooks end to end against a real receiver on loopback: signed, retried with the same id
after a failure, given up after a day, the endpoint disabled and its owner told
(docs/integrations.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from integrations import events, services
from integrations.models import Delivery, DeliveryStatus, Endpoint
from integrations.services.delivery import next_try
from integrations.signals import endpoint_disabled
from tests.factories import MerchantFactory
from tests.loopback import Recorded, loopback_server

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private")]


def verify(secret: str, request: Recorded, *, now: int, tolerance: int = 300) -> dict:
    """What the README tells a merchant to do with an incoming event."""
    fields = dict(part.split("=", 1) for part in request.headers["Kamen-Signature"].split(","))
    t = int(fields["t"])
    expected = hmac.new(
        secret.encode(), f"{t}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"]), "bad signature"
    assert abs(now - t) <= tolerance, "stale signature"
    return json.loads(request.body)


def _webhook(merchant, url: str, events_: list[str] | None = None):
    return services.endpoint_create(
        actor=merchant.owner, merchant=merchant, url=url, events=events_
    )


def test_a_failed_delivery_is_retried_with_the_same_id_and_a_valid_signature(
    django_capture_on_commit_callbacks,
):
    merchant = MerchantFactory()
    start = timezone.now()
    with loopback_server() as receiver, time_machine.travel(start, tick=False) as clock:
        created = _webhook(merchant, receiver.url + "/hooks/kamen")
        receiver.respond(500)
        with django_capture_on_commit_callbacks(execute=True):
            written = events.emit(
                merchant_id=merchant.pk,
                type=events.COMPLAINT_FILED,
                data={"complaint": "TS1", "amount": "48.00"},
                key="dispute:1:event:1",
            )
        assert written == 1
        first = receiver.wait_for(1)[0]
        assert first.path == "/hooks/kamen"
        body = verify(created.secret, first, now=int(start.timestamp()))
        assert body["type"] == "complaint.filed"
        assert body["data"] == {"complaint": "TS1", "amount": "48.00"}
        assert set(body) == {"id", "type", "created", "data"}
        row = Delivery.objects.get()
        assert row.status == DeliveryStatus.PENDING
        assert row.attempts == 1 and row.last_status == 500
        assert row.next_try_at == start + timedelta(seconds=15)

        # Not due yet: the sweep leaves it.
        clock.shift(timedelta(seconds=10))
        assert services.deliveries_sweep() == 0
        assert len(receiver.requests) == 1

        clock.shift(timedelta(seconds=6))
        assert services.deliveries_sweep() == 1
        second = receiver.wait_for(2)[1]
        again = verify(created.secret, second, now=int(timezone.now().timestamp()))
        assert again["id"] == body["id"]
        assert again == body  # the same event, byte for byte apart from the signature's time
        row.refresh_from_db()
        assert row.status == DeliveryStatus.DELIVERED
        assert [entry["status"] for entry in row.log] == [500, 200]
        assert Endpoint.objects.get().failing_since is None


def test_the_same_key_is_one_event_and_unsubscribed_types_are_not_sent():
    merchant = MerchantFactory()
    with loopback_server() as receiver:
        _webhook(merchant, receiver.url + "/a", ["complaint.filed"])
        _webhook(merchant, receiver.url + "/b")
        data = {"complaint": "TS2"}
        assert events.emit(merchant_id=merchant.pk, type="complaint.filed", data=data, key="k") == 2
        assert events.emit(merchant_id=merchant.pk, type="complaint.filed", data=data, key="k") == 0
        assert events.emit(merchant_id=merchant.pk, type="order.message", data={}, key="m") == 1
        other = MerchantFactory()
        assert events.emit(merchant_id=other.pk, type="complaint.filed", data=data, key="k") == 0
    assert Delivery.objects.count() == 3
    assert len({d.event_id for d in Delivery.objects.filter(type="complaint.filed")}) == 1


def test_the_retry_schedule_runs_for_a_day():
    created = timezone.now()
    now = created
    tries = [now]
    attempts = 0
    while True:
        attempts += 1
        following = next_try(attempts=attempts, created_at=created, now=now)
        if following is None:
            break
        now = following
        tries.append(now)
    gaps = [b - a for a, b in zip(tries, tries[1:], strict=False)]
    assert gaps[:6] == [
        timedelta(seconds=15),
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=6),
    ]
    assert tries[-1] == created + timedelta(hours=24)


def test_an_endpoint_failing_for_a_day_is_disabled_and_the_signal_sent():
    merchant = MerchantFactory()
    heard: list[dict] = []

    def listener(sender, **kwargs):
        heard.append(kwargs)

    endpoint_disabled.connect(listener)
    start = timezone.now()
    try:
        with loopback_server() as receiver, time_machine.travel(start, tick=False) as clock:
            receiver.default = (503, b"down")
            _webhook(merchant, receiver.url + "/down")
            events.emit(merchant_id=merchant.pk, type="complaint.filed", data={}, key="x")
            services.deliveries_sweep()
            while Delivery.objects.filter(status=DeliveryStatus.PENDING).exists():
                due = Delivery.objects.get().next_try_at
                clock.move_to(due)
                services.deliveries_sweep()
    finally:
        endpoint_disabled.disconnect(listener)
    endpoint = Endpoint.objects.get()
    row = Delivery.objects.get()
    assert row.status == DeliveryStatus.FAILED
    assert row.last_try_at == start + timedelta(hours=24)
    assert len(receiver.requests) == row.attempts
    assert not endpoint.enabled and endpoint.disabled_reason == "failing"
    assert len(heard) == 1 and heard[0]["endpoint"].pk == endpoint.pk
    # Disabled: a new event for the shop is not recorded for it.
    assert events.emit(merchant_id=merchant.pk, type="complaint.filed", data={}, key="y") == 0
