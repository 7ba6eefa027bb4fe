"""Reminders that escalate (issue 20): before each merchant deadline at 12 h, 4 h and 1 h left,
to every channel of the team and to the shop's integrations, quiet hours respected except for
the last; the arbitrators the same before the review deadline, with the arbitration team's
robot; a daily 10:00 digest. Each once per deadline, stage and channel — all through the real
sweep (disputes.services.sweep) with the clock moved by time-machine."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from disputes import notices, services
from disputes.models import (
    DigestRun,
    Dispute,
    Notification,
    NotificationKind,
    ReminderSettings,
    Status,
)
from disputes.services import reminders, sweep
from integrations import events
from integrations.models import Delivery
from integrations.services.endpoints import endpoint_create
from kamen_complaints.errors import DomainError, Forbidden
from tests.disputes.factories import agent_of, arbitrator, file, funded_order, under_review
from tests.factories import ProductFactory
from tests.loopback import loopback_server

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
K = NotificationKind


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment in December 2026, Beijing time."""
    return datetime(2026, 12, day, hour, minute, second, tzinfo=SH)


def _sweep() -> dict:
    return sweep.deadlines_sweep().reminded


def _stages(dispute: Dispute, kind: str = K.REMINDER_MERCHANT, channel: str = "inapp"):
    """The stages sent, in order, as the shop's owner (or the first arbitrator) got them."""
    rows = Notification.objects.filter(dispute=dispute, kind=kind, channel=channel)
    first = rows.order_by("id").values_list("recipient", flat=True).first()
    return [n.params["stage"] for n in rows.filter(recipient=first).order_by("id")]


@pytest.fixture
def emitted(monkeypatch):
    """Every call to integrations.events.emit / emit_staff, passed on to the real ones."""
    calls: list[dict] = []
    real_emit, real_staff = events.emit, events.emit_staff

    def emit(**kwargs):
        calls.append({"staff": False, **kwargs})
        return real_emit(**kwargs)

    def emit_staff(**kwargs):
        calls.append({"staff": True, **kwargs})
        return real_staff(**kwargs)

    monkeypatch.setattr(events, "emit", emit)
    monkeypatch.setattr(events, "emit_staff", emit_staff)
    return calls


@pytest.fixture
def receiver(settings):
    """A shop's webhook receiver on loopback (the platform allows private targets in tests)."""
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = True
    with loopback_server() as server:
        server.default = (200, b"ok", {})
        yield server


def _hook(merchant, server) -> None:
    endpoint_create(actor=merchant.owner, merchant=merchant, url=server.url + "/hook")


# --- Stages ------------------------------------------------------------------------------------


def test_the_merchant_gets_the_12h_4h_and_1h_reminders_once_each_on_every_channel(
    time_machine, emitted, receiver, django_capture_on_commit_callbacks
):
    # Filed 20:00: the stages fall at 08:00, 16:00 and 19:00 the next day, outside the
    # default quiet hours (23:00–08:00).
    time_machine.move_to(at(9, 20), tick=False)
    order = funded_order()
    agent = agent_of(order.merchant)
    _hook(order.merchant, receiver)
    dispute = file(order)
    due = dispute.merchant_response_due
    assert due == at(10, 20)
    # The filing's own mails go now, hours before the first reminder (a mail within the
    # minute before would hold the reminder's back to be sent with the next ones).
    services.notifications_send(notification_ids=Notification.objects.values_list("pk", flat=True))

    seen = []
    for stage, lead in (("12h", 12), ("4h", 4), ("1h", 1)):
        time_machine.move_to(due - timedelta(hours=lead, seconds=1), tick=False)
        assert _sweep()["merchant"] == 0, f"before the {stage} stage"
        time_machine.move_to(due - timedelta(hours=lead), tick=False)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            assert _sweep()["merchant"] == 1, f"the {stage} stage"
        seen.append(stage)
        assert _sweep()["merchant"] == 0, "a second sweep sends nothing"
        assert _stages(dispute) == seen
        # Both people on the team, in the app and by e-mail.
        assert sorted(m.to[0] for m in mail.outbox) == sorted(
            [order.merchant.owner.email, agent.email]
        )
        assert f" {lead} " in mail.outbox[0].subject

    for user in (order.merchant.owner, agent):
        for channel in ("inapp", "email"):
            rows = Notification.objects.filter(
                dispute=dispute, recipient=user, channel=channel, kind=K.REMINDER_MERCHANT
            ).order_by("id")
            assert [n.params["stage"] for n in rows] == ["12h", "4h", "1h"]
            assert [n.params["hours"] for n in rows] == [12, 4, 1]
    # The shop's integrations: one event per stage, with the contract's figures.
    calls = [c for c in emitted if c["type"] == "complaint.deadline_reminder"]
    assert [c["data"]["stage"] for c in calls] == ["12h", "4h", "1h"]
    assert [c["data"]["hours_left"] for c in calls] == [12, 4, 1]
    first = calls[0]
    assert first["merchant_id"] == order.merchant_id
    assert first["data"]["complaint"] == dispute.number
    assert first["data"]["order"] == order.number
    assert first["data"]["status"] == "awaiting_merchant"
    assert first["data"]["amount"] == str(dispute.claimed_amount)
    assert datetime.fromisoformat(first["data"]["due"]) == due
    assert first["data"]["url"].endswith(f"/merchant/complaints/{dispute.number}/")
    assert len({c["key"] for c in calls}) == 3
    assert all(str(int(due.timestamp())) in c["key"] for c in calls)
    deliveries = Delivery.objects.filter(type="complaint.deadline_reminder")
    assert sorted(d.data["stage"] for d in deliveries) == ["12h", "1h", "4h"]

    # After the deadline: the clock acts, no reminder is left.
    time_machine.move_to(due + timedelta(seconds=1), tick=False)
    assert _sweep()["merchant"] == 0
    assert Delivery.objects.filter(type="complaint.deadline_reminder").count() == 3


def test_the_reminder_says_how_long_is_left_in_chinese(time_machine):
    time_machine.move_to(at(9, 20), tick=False)
    dispute = file()
    time_machine.move_to(dispute.merchant_response_due - timedelta(hours=4), tick=False)
    _sweep()
    note = Notification.objects.get(dispute=dispute, kind=K.REMINDER_MERCHANT, channel="inapp")
    assert note.params["stage"] == "4h"
    with translation.override("zh-hans"):
        text = notices.sentence(note)
    assert "4" in text and "小时" in text


def test_a_complaint_first_seen_with_3h_left_gets_the_4h_then_the_1h_reminder_never_the_12h(
    time_machine,
):
    time_machine.move_to(at(9, 20), tick=False)
    dispute = file()
    due = dispute.merchant_response_due
    # The sweep did not run for 21 hours (an outage): 3 h are left.
    time_machine.move_to(due - timedelta(hours=3), tick=False)
    assert _sweep()["merchant"] == 1
    assert _stages(dispute) == ["4h"]
    time_machine.move_to(due - timedelta(minutes=61), tick=False)
    assert _sweep()["merchant"] == 0
    time_machine.move_to(due - timedelta(minutes=59), tick=False)
    assert _sweep()["merchant"] == 1
    assert _stages(dispute) == ["4h", "1h"]
    assert _sweep()["merchant"] == 0


def test_quiet_hours_hold_the_12h_and_4h_reminders_until_they_end(time_machine):
    # Filed 10:00: 12 h stage at 22:00 (awake), 4 h stage at 06:00 (quiet until 08:00),
    # 1 h stage at 09:00.
    time_machine.move_to(at(9, 10), tick=False)
    dispute = file()
    due = dispute.merchant_response_due
    time_machine.move_to(at(9, 22), tick=False)
    assert _sweep()["merchant"] == 1
    for quiet in (at(10, 6), at(10, 7, 59, 59)):
        time_machine.move_to(quiet, tick=False)
        assert _sweep()["merchant"] == 0
    assert _stages(dispute) == ["12h"]
    time_machine.move_to(at(10, 8), tick=False)
    assert _sweep()["merchant"] == 1
    assert _stages(dispute) == ["12h", "4h"]
    time_machine.move_to(due - timedelta(hours=1), tick=False)
    assert _sweep()["merchant"] == 1
    assert _stages(dispute) == ["12h", "4h", "1h"]


def test_the_1h_reminder_goes_in_quiet_hours_and_a_held_4h_one_that_would_come_later_is_dropped(
    time_machine,
):
    # Filed 09:00: 12 h stage at 21:00; the 4 h stage at 05:00 is quiet until 08:00, when only
    # 1 h is left: the 1 h reminder goes then, the 4 h one never.
    time_machine.move_to(at(9, 9), tick=False)
    held = file()
    # Filed 01:00: the 1 h stage at 00:00 the next night, in quiet hours — it goes.
    time_machine.move_to(at(9, 1), tick=False)
    night = file()
    time_machine.move_to(at(9, 13), tick=False)  # 12 h before `night`
    _sweep()
    time_machine.move_to(at(9, 21), tick=False)  # 12 h before `held`, 4 h before `night`
    _sweep()
    assert _stages(held) == ["12h"] and _stages(night) == ["12h", "4h"]
    time_machine.move_to(at(10, 0), tick=False)  # quiet; 1 h before `night`
    assert _sweep()["merchant"] == 1
    assert _stages(night) == ["12h", "4h", "1h"]
    time_machine.move_to(at(10, 5), tick=False)
    assert _sweep()["merchant"] == 0
    time_machine.move_to(at(10, 8), tick=False)
    assert _sweep()["merchant"] == 1
    assert _stages(held) == ["12h", "1h"]


def test_the_owner_sets_quiet_hours_and_they_move_the_reminders(time_machine):
    time_machine.move_to(at(9, 10), tick=False)
    dispute = file()
    merchant = dispute.merchant
    reminders.reminder_settings_update(
        merchant=merchant,
        actor=merchant.owner,
        quiet_hours=True,
        quiet_start=time(21, 0),
        quiet_end=time(23, 30),
        digest=True,
    )
    time_machine.move_to(at(9, 22), tick=False)  # the 12 h stage, quiet for this shop
    assert _sweep()["merchant"] == 0
    time_machine.move_to(at(9, 23, 30), tick=False)
    assert _sweep()["merchant"] == 1
    # 06:00 is no longer quiet for this shop: the 4 h stage goes on time.
    time_machine.move_to(at(10, 6), tick=False)
    assert _sweep()["merchant"] == 1
    assert _stages(dispute) == ["12h", "4h"]
    reminders.reminder_settings_update(
        merchant=merchant,
        actor=merchant.owner,
        quiet_hours=False,
        quiet_start=time(21, 0),
        quiet_end=time(23, 30),
        digest=True,
    )
    assert not reminders.quiet_until(ReminderSettings.objects.get(merchant=merchant), at(10, 22))


def test_a_moved_deadline_starts_its_stages_again(time_machine):
    """The review clock pauses for a request for information and moves by the pause when it
    resumes: the arbitrators are reminded again for the new deadline."""
    time_machine.move_to(at(9, 12), tick=False)
    judge = arbitrator()
    dispute = under_review()
    first_due = dispute.review_due
    time_machine.move_to(first_due - timedelta(hours=5), tick=False)
    assert _sweep()["review"] == 1
    assert _stages(dispute, K.REMINDER_REVIEW) == ["12h"]
    dispute = services.dispute_request_info(
        dispute=dispute, staff=judge, party="merchant", question="Logs?"
    )
    time_machine.move_to(timezone.now() + timedelta(hours=2), tick=False)
    services.dispute_message(dispute=dispute, user=dispute.merchant.owner, body="Here they are.")
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW and dispute.review_paused_at is None
    assert dispute.review_due == first_due + timedelta(hours=2)
    # 5 h left on the moved deadline: its own 12 h stage (the latest reached), then 4 h, 1 h.
    assert _sweep()["review"] == 1
    for lead in (4, 1):
        time_machine.move_to(dispute.review_due - timedelta(hours=lead), tick=False)
        assert _sweep()["review"] == 1
        assert _sweep()["review"] == 0
    rows = Notification.objects.filter(
        dispute=dispute, kind=K.REMINDER_REVIEW, channel="inapp", recipient=judge
    ).order_by("id")
    assert [(n.params["stage"], n.params["due"][:16]) for n in rows] == [
        ("12h", first_due.astimezone(SH).isoformat()[:16]),
        ("12h", dispute.review_due.astimezone(SH).isoformat()[:16]),
        ("4h", dispute.review_due.astimezone(SH).isoformat()[:16]),
        ("1h", dispute.review_due.astimezone(SH).isoformat()[:16]),
    ]


def test_a_merchant_deadline_moved_by_hand_restarts_and_one_moved_away_waits(time_machine):
    time_machine.move_to(at(9, 20), tick=False)
    dispute = file()
    due = dispute.merchant_response_due
    time_machine.move_to(due - timedelta(hours=2), tick=False)
    _sweep()
    assert _stages(dispute) == ["4h"]
    # Moved 30 h later (as a future rule might): nothing until its own 12 h stage.
    Dispute.objects.filter(pk=dispute.pk).update(merchant_response_due=due + timedelta(hours=30))
    assert _sweep()["merchant"] == 0
    time_machine.move_to(due + timedelta(hours=18), tick=False)
    assert _sweep()["merchant"] == 1
    assert _stages(dispute) == ["4h", "12h"]


def test_staff_get_the_review_stages_through_the_arbitration_robot(time_machine, settings, emitted):
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = True
    with loopback_server() as robot:
        settings.ARBITRATION_ROBOT_KIND = "wecom"
        settings.ARBITRATION_ROBOT_URL = robot.url + "/cgi-bin/webhook/send?key=k"
        time_machine.move_to(at(9, 12), tick=False)
        judge = arbitrator()
        dispute = under_review()
        due = dispute.review_due
        for lead in (12, 4, 1):
            time_machine.move_to(due - timedelta(hours=lead), tick=False)
            assert _sweep()["review"] == 1
            assert _sweep()["review"] == 0
    assert _stages(dispute, K.REMINDER_REVIEW) == ["12h", "4h", "1h"]
    assert set(
        Notification.objects.filter(dispute=dispute, kind=K.REMINDER_REVIEW).values_list(
            "recipient", "channel", "role"
        )
    ) == {(judge.pk, "inapp", "staff"), (judge.pk, "email", "staff")}
    staff_calls = [c for c in emitted if c["staff"]]
    assert [c["type"] for c in staff_calls] == ["complaint.review_reminder"] * 3
    assert [c["data"]["stage"] for c in staff_calls] == ["12h", "4h", "1h"]
    assert staff_calls[0]["data"]["url"].endswith(f"/admin/disputes/dispute/{dispute.pk}/case/")
    assert sorted(
        Delivery.objects.filter(type="complaint.review_reminder").values_list(
            "data__stage", flat=True
        )
    ) == ["12h", "1h", "4h"]
    # Quiet hours are the shops': a review stage at night goes at once.
    assert not [c for c in emitted if c["type"] == "complaint.deadline_reminder"]


def test_a_batch_of_reminders_costs_the_same_statements_for_1_and_for_20_complaints(
    time_machine,
):
    def reminder_queries(count: int) -> int:
        time_machine.move_to(at(9, 20), tick=False)
        for _ in range(count):
            file(funded_order(product=ProductFactory()))
        time_machine.move_to(at(10, 8, 30), tick=False)  # 11.5 h before every deadline
        with CaptureQueriesContext(connection) as ctx:
            report = sweep.deadlines_sweep(
                clocks_to_sweep=(), auto_checks=False, drain=False, record=False
            )
        assert report.reminded["merchant"] == count
        Dispute.objects.update(status=Status.WITHDRAWN)
        return len(ctx.captured_queries)

    assert reminder_queries(1) == reminder_queries(20)


# --- The daily digest --------------------------------------------------------------------------


def test_the_daily_digest_goes_once_a_day_at_10_with_open_complaints_by_deadline(
    time_machine, emitted, receiver
):
    time_machine.move_to(at(9, 8), tick=False)
    order = funded_order()
    merchant = order.merchant
    agent = agent_of(merchant)
    _hook(merchant, receiver)
    first_filed = file(order)  # answer by 10 Dec 08:00
    time_machine.move_to(at(9, 9), tick=False)
    product = ProductFactory(merchant=merchant)
    second_filed = file(funded_order(product=product))  # answer by 10 Dec 09:00
    # Under review, the platform deciding by 9 Dec 23:00: first in the list.
    reviewed = under_review(order=funded_order(product=product))
    Dispute.objects.filter(pk=reviewed.pk).update(review_due=at(9, 23))
    quiet_shop = file()  # its owner turned the digest off
    reminders.reminder_settings_update(
        merchant=quiet_shop.merchant,
        actor=quiet_shop.merchant.owner,
        quiet_hours=True,
        quiet_start=time(23),
        quiet_end=time(8),
        digest=False,
    )
    gone = file()  # a third shop, whose only complaint was withdrawn: no digest
    Dispute.objects.filter(pk=gone.pk).update(status=Status.WITHDRAWN)

    time_machine.move_to(at(9, 9, 59, 59), tick=False)
    assert reminders.shops_send_digest() == 0
    time_machine.move_to(at(9, 10), tick=False)
    assert reminders.shops_send_digest() == 1
    for moment in (at(9, 10, 0, 30), at(9, 11), at(9, 23)):
        time_machine.move_to(moment, tick=False)
        assert reminders.shops_send_digest() == 0
    digest = Notification.objects.filter(kind=K.DAILY_DIGEST)
    assert set(digest.values_list("recipient", "channel")) == {
        (merchant.owner_id, "inapp"),
        (merchant.owner_id, "email"),
        (agent.pk, "inapp"),
        (agent.pk, "email"),
    }
    note = digest.filter(channel="inapp").first()
    assert note.dispute_id is None
    assert [c["number"] for c in note.params["complaints"]] == [
        reviewed.number,
        first_filed.number,
        second_filed.number,
    ]
    with translation.override("zh-hans"):
        assert reviewed.number in notices.sentence(note)
        assert notices.link(note) == "/merchant/complaints/"
    subject, body = notices.email(list(digest.filter(channel="email", recipient=agent)))
    assert "\n" not in subject
    assert (
        body.index(reviewed.number)
        < body.index(first_filed.number)
        < body.index(second_filed.number)
    )
    calls = [c for c in emitted if c["type"] == "complaint.digest"]
    assert len(calls) == 1 and calls[0]["merchant_id"] == merchant.pk
    assert calls[0]["key"] == f"shop:{merchant.pk}:digest:2026-12-09"
    assert calls[0]["data"]["count"] == 3
    assert DigestRun.objects.get().shops == 1

    # The next day: again, once.
    time_machine.move_to(at(10, 10, 1), tick=False)
    assert reminders.shops_send_digest() == 1
    assert reminders.shops_send_digest() == 0
    assert digest.count() == 8
    assert Delivery.objects.filter(type="complaint.digest").count() == 2


def test_the_digest_is_a_beat_entry_every_hour_from_10_beijing_time(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["disputes-daily-digest"]
    assert entry["task"] == "disputes.tasks.shops_send_digest"
    assert entry["schedule"].hour == set(range(10, 24))
    assert entry["schedule"].minute == {0}
    assert settings.CELERY_TIMEZONE == "Asia/Shanghai"


# --- The shop's settings ------------------------------------------------------------------------


def test_only_the_owner_changes_the_reminder_settings():
    order = funded_order()
    agent = agent_of(order.merchant)
    with pytest.raises(Forbidden):
        reminders.reminder_settings_update(
            merchant=order.merchant,
            actor=agent,
            quiet_hours=False,
            quiet_start=time(23),
            quiet_end=time(8),
            digest=False,
        )
    with pytest.raises(DomainError) as refused:
        reminders.reminder_settings_update(
            merchant=order.merchant,
            actor=order.merchant.owner,
            quiet_hours=True,
            quiet_start=time(8),
            quiet_end=time(8),
            digest=False,
        )
    assert refused.value.code == "quiet_hours_empty"
    assert not ReminderSettings.objects.exists()


def test_quiet_hours_are_read_in_beijing_time_and_may_run_past_midnight():
    night = ReminderSettings(quiet_start=time(23), quiet_end=time(8))
    assert reminders.quiet_until(night, at(9, 22, 59)) is None
    assert reminders.quiet_until(night, at(9, 23)) == at(10, 8)
    assert reminders.quiet_until(night, at(10, 7, 59)) == at(10, 8)
    assert reminders.quiet_until(night, at(10, 8)) is None
    day = ReminderSettings(quiet_start=time(12), quiet_end=time(14))
    assert reminders.quiet_until(day, at(9, 13)) == at(9, 14)
    assert reminders.quiet_until(day, at(9, 11)) is None
    # A UTC moment is read in Beijing time: 15:30 UTC is 23:30 there.
    utc = datetime(2026, 12, 9, 15, 30, tzinfo=ZoneInfo("UTC"))
    assert reminders.quiet_until(night, utc) == at(10, 8)


def test_stage_at_is_the_latest_stage_reached():
    due = at(10, 20)
    assert reminders.stage_at(due, due - timedelta(hours=12, seconds=1)) is None
    assert reminders.stage_at(due, due - timedelta(hours=12)) == "12h"
    assert reminders.stage_at(due, due - timedelta(hours=4, seconds=1)) == "12h"
    assert reminders.stage_at(due, due - timedelta(hours=3)) == "4h"
    assert reminders.stage_at(due, due - timedelta(minutes=1)) == "1h"
    assert reminders.stage_at(due, due) is None
