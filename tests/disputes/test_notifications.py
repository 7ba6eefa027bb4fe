"""The notification outbox: written with the change, sent on commit, re-sent by the sweep,
never twice."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from disputes import services, tasks
from disputes.models import Notification
from tests.disputes.factories import agent_of, file, funded_order

pytestmark = pytest.mark.django_db


def test_the_whole_shop_team_is_notified_of_a_new_complaint():
    order = funded_order()
    agent = agent_of(order.merchant)
    dispute = file(order)
    for channel in ("email", "inapp"):
        recipients = set(
            Notification.objects.filter(dispute=dispute, channel=channel).values_list(
                "recipient", flat=True
            )
        )
        assert recipients == {order.merchant.owner.pk, agent.pk}


def test_a_lost_publish_is_sent_by_the_sweep_once(time_machine, django_capture_on_commit_callbacks):
    with (
        mock.patch("disputes.services._core.enqueue", return_value=False) as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        dispute = file()
    assert enqueue.called
    note = Notification.objects.get(dispute=dispute, channel="email")
    assert note.sent_at is None and mail.outbox == []
    assert services.notifications_send_pending() == 0  # too fresh: the task may still come
    time_machine.move_to(timezone.now() + timedelta(minutes=2), tick=False)
    assert tasks.notifications_send_pending() == 1
    assert services.notifications_send_pending() == 0
    assert len(mail.outbox) == 1
    note.refresh_from_db()
    assert note.sent_at is not None and note.attempts == 1


def test_sending_the_same_row_twice_sends_one_email():
    dispute = file()
    note = Notification.objects.get(dispute=dispute, channel="email")
    assert services.notification_send(notification_id=note.pk) is True
    assert services.notification_send(notification_id=note.pk) is False
    assert len(mail.outbox) == 1


def test_a_failed_send_is_counted_and_retried():
    dispute = file()
    note = Notification.objects.get(dispute=dispute, channel="email")
    with mock.patch("disputes.channels.send_mail", side_effect=OSError("smtp down")):
        assert services.notification_send(notification_id=note.pk) is False
    note.refresh_from_db()
    assert note.sent_at is None and note.attempts == 1 and "smtp down" in note.last_error
    assert services.notification_send(notification_id=note.pk) is True


def test_a_broker_outage_never_fails_the_request(django_capture_on_commit_callbacks):
    order = funded_order()
    with (
        mock.patch(
            "disputes.tasks.notifications_send.apply_async",
            side_effect=ConnectionError("redis down"),
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        dispute = file(order)
    assert dispute.pk is not None
    assert Notification.objects.filter(dispute=dispute, sent_at__isnull=True).exists()


def test_the_notifications_page_query_count_is_the_same_at_1_and_20_rows(client):
    dispute = file()
    owner = dispute.merchant.owner
    inbox = Notification.objects.filter(recipient=owner, channel="inapp")
    assert inbox.count() == 1
    client.force_login(owner)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/notifications/").status_code == 200
        return len(ctx.captured_queries)

    one = count()
    for n in range(19):
        services.dispute_message(dispute=dispute, user=dispute.buyer, body=f"message {n}")
    assert inbox.count() == 20
    assert count() == one
