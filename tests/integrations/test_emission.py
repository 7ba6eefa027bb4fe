"""Where the events come from: every notice about a complaint (disputes.services.outbox,
outbox_rows) is the shop's complaint.filed / complaint.updated event too — the single services
and the clock's batches alike, the merchant's own answer included —; a suspension or
reinstatement is shop.suspended / shop.reinstated; a chat message is order.message; and an
endpoint turned off after a day of failures tells the owner (NotificationKind.WEBHOOK_DISABLED)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone, translation

from disputes import notices
from disputes import services as dispute_services
from disputes.models import Notification, NotificationKind, Status
from integrations import services
from integrations.models import Delivery, DeliveryStatus, Endpoint
from orders import services as order_services
from orders.models import SuspensionReason
from orders.services.chat import order_message_post
from tests.complaint_fixtures import (  # noqa: F401 - autouse fixtures, applied by import
    _broker_assumed_up,
    _fast_passwords,
    _seeded_policy,
)
from tests.disputes.factories import file, funded_order
from tests.loopback import loopback_server

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private")]


def _hook(merchant, url: str) -> Endpoint:
    return services.endpoint_create(actor=merchant.owner, merchant=merchant, url=url).endpoint


def _events(merchant) -> list[Delivery]:
    return list(Delivery.objects.filter(merchant=merchant).order_by("id"))


def test_filing_an_offer_and_the_default_judgment_are_the_shops_events(settings):
    settings.SITE_URL = "https://kamen.example"
    order = funded_order(price=Decimal("48.00"))
    merchant = order.merchant
    with loopback_server() as receiver:
        _hook(merchant, receiver.url + "/in")
        dispute = file(order=order)
        filed = _events(merchant)
        assert [d.type for d in filed] == ["complaint.filed"]
        data = filed[0].data
        assert data["complaint"] == dispute.number and data["order"] == order.number
        assert data["status"] == "awaiting_merchant" and data["amount"] == "48.00"
        assert data["due"].startswith(
            timezone.localtime(dispute.merchant_response_due).strftime("%Y-%m-%dT%H:%M")
        )
        assert data["url"] == f"https://kamen.example/merchant/complaints/{dispute.number}/"
        assert data["change"] == "filed"

        # The sole owner's own offer: no notice reaches the shop's people, the event does.
        dispute_services.dispute_respond(
            dispute=dispute,
            merchant_user=merchant.owner,
            action="offer",
            amount=Decimal("20.00"),
            message="Half back?",
        )
        offer = _events(merchant)[-1]
        assert offer.type == "complaint.updated"
        assert offer.data["change"] == "offer_made" and offer.data["status"] == "awaiting_buyer"
        assert offer.data["details"]["amount"] == "20.00"

        # The buyer lets the offer lapse: the clock's batch resolves it.
        dispute.refresh_from_db()
        later = time_machine.travel(dispute.buyer_response_due + timedelta(minutes=1), tick=False)
        later.start()
        try:
            dispute_services.deadlines_sweep()
            dispute.refresh_from_db()
            assert dispute.status == Status.RESOLVED
            lapsed = _events(merchant)[-1]
            assert lapsed.type == "complaint.updated" and lapsed.data["change"] == "offer_lapsed"
            assert lapsed.data["status"] == "resolved"
            # Each event once (the recovery also took the deposit under its minimum: the shop is
            # suspended), all delivered to the receiver with distinct ids.
            assert [(d.type, d.data.get("change")) for d in _events(merchant)] == [
                ("complaint.filed", "filed"),
                ("complaint.updated", "offer_made"),
                ("shop.suspended", None),
                ("complaint.updated", "offer_lapsed"),
            ]
            services.deliveries_sweep()
            received = receiver.wait_for(4)
            assert len({r.json()["id"] for r in received}) == 4
            assert all(d.status == DeliveryStatus.DELIVERED for d in _events(merchant))
        finally:
            later.stop()


def test_a_suspension_and_a_reinstatement_are_shop_events():
    order = funded_order()
    merchant = order.merchant
    with loopback_server() as receiver:
        _hook(merchant, receiver.url)
        order_services.merchant_suspend(
            merchant=merchant, reason=SuspensionReason.MANUAL, note="售假"
        )
        suspended = _events(merchant)[-1]
        assert suspended.type == "shop.suspended"
        assert suspended.data["reason"] == "manual" and suspended.data["note"] == "售假"
        assert suspended.data["shop"] == merchant.shop_name
        assert "暂停" in suspended.data["summary"]


def test_a_chat_message_is_an_order_message_event(django_capture_on_commit_callbacks):
    order = funded_order()
    merchant = order.merchant
    with loopback_server() as receiver:
        _hook(merchant, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            message = order_message_post(order=order, user=order.buyer, body="卡密提示已使用  ")
        event = receiver.wait_for(1)[0].json()
    assert event["type"] == "order.message"
    assert event["data"]["order"] == order.number
    assert event["data"]["excerpt"] == "卡密提示已使用" and event["data"]["side"] == "buyer"
    assert event["data"]["at"] == timezone.localtime(message.created_at).isoformat()


def test_an_endpoint_failing_for_a_day_is_turned_off_and_the_owner_told():
    order = funded_order()
    merchant = order.merchant
    start = timezone.now()
    with loopback_server() as receiver, time_machine.travel(start, tick=False) as clock:
        receiver.default = (500, b"")
        endpoint = _hook(merchant, receiver.url + "/broken")
        file(order=order)
        services.deliveries_sweep()
        while Delivery.objects.filter(status=DeliveryStatus.PENDING).exists():
            clock.move_to(Delivery.objects.get(status=DeliveryStatus.PENDING).next_try_at)
            services.deliveries_sweep()
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    note = Notification.objects.get(
        recipient=merchant.owner, kind=NotificationKind.WEBHOOK_DISABLED, channel="inapp"
    )
    assert note.dispute_id is None
    with translation.override("en"):
        text = notices.sentence(note)
    assert endpoint.url_hint in text and "HTTP 500" in text and "24 hours" in text
    assert notices.link(note) == "/merchant/integrations/"
    with translation.override("zh-hans"):
        assert "已被关闭" in notices.sentence(note)
