"""The clock: every deadline enforced by the real sweep — the Celery task and the management
command — crossing the deadline with time-machine, never sleep."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from disputes import notices, services, tasks
from disputes.models import (
    CORE_EVIDENCE,
    ClockRun,
    DecidedBy,
    Dispute,
    EventType,
    Notification,
    Outcome,
    Policy,
    Status,
)
from disputes.services import clock, sweep
from escrow.models import Hold, HoldStatus, LedgerTransaction, Payout
from orders.models import MerchantStatus, SuspensionReason
from tests.disputes.factories import (
    agent_of,
    arbitrator,
    check_ledger,
    contest,
    deposit,
    file,
    funded_order,
    offered,
    png,
    under_review,
)
from tests.factories import ProductFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _keys(dispute: Dispute) -> list[str]:
    prefix = f"dispute:{dispute.pk}:"
    return sorted(
        k.removeprefix(prefix)
        for k in LedgerTransaction.objects.filter(key__startswith=prefix).values_list(
            "key", flat=True
        )
    )


def _task() -> dict:
    """The beat task, as a worker runs it (eager here)."""
    return tasks.deadlines_sweep.delay().get()


def _command() -> str:
    out = io.StringIO()
    call_command("enforce_deadlines", stdout=out)
    return out.getvalue()


def _cross(time_machine, moment) -> None:
    time_machine.move_to(moment + timedelta(seconds=1), tick=False)


def _old_buyer(days: int = 8):
    return UserFactory(date_joined=timezone.now() - timedelta(days=days))


def _core_evidence():
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    return [
        services.EvidenceUpload(kind=kind, file=png(f"{kind}.png", color=color))
        for kind, color in zip(CORE_EVIDENCE, colors, strict=True)
    ]


def _small_claim(buyer=None, **kwargs) -> Dispute:
    order = funded_order(buyer=buyer or _old_buyer(), **kwargs)
    return file(order, evidence=_core_evidence())


# --- Merchant silent: default judgment ----------------------------------------------------------


def _run_task() -> dict:
    return _task()["enforced"]


def _run_command() -> dict:
    out = _command()
    labels = {
        "merchant": "default judgments",
        "buyer": "offers accepted by silence",
        "review": "platform paid first",
        "info": "review clocks resumed",
    }
    counts = {}
    for clock_name, label in labels.items():
        line = next(line for line in out.splitlines() if label in line)
        counts[clock_name] = int(line.split()[0])
    return counts


CASES = {
    "merchant": (lambda: file(), "merchant_response_due", Outcome.REFUNDED),
    "buyer": (lambda: offered(Decimal("20.00")), "buyer_response_due", Outcome.PARTIALLY_REFUNDED),
    "review": (lambda: under_review(), "review_due", Outcome.REFUNDED),
    "info": (
        lambda: services.dispute_request_info(
            dispute=under_review(), staff=arbitrator(), party="merchant", question="Logs?"
        ),
        "info_due",
        "",
    ),
}


@pytest.mark.parametrize("runner", [_run_task, _run_command], ids=["task", "command"])
@pytest.mark.parametrize("clock_name", list(CASES))
def test_each_clock_acts_once_after_its_deadline_through_task_and_command(
    clock_name, runner, time_machine
):
    make, due_field, outcome = CASES[clock_name]
    dispute = make()
    due = getattr(dispute, due_field)
    time_machine.move_to(due - timedelta(seconds=1), tick=False)
    assert runner()[clock_name] == 0
    _cross(time_machine, due)
    assert runner() == {name: int(name == clock_name) for name in CASES}
    assert runner()[clock_name] == 0  # once
    dispute.refresh_from_db()
    if outcome:
        assert dispute.status == Status.RESOLVED and dispute.outcome == outcome
        assert dispute.decided_by == DecidedBy.SYSTEM
    else:
        assert dispute.status == Status.UNDER_REVIEW and dispute.review_paused_at is None
    check_ledger()


def test_silent_merchant_loses_by_default_through_the_beat_task(
    time_machine, django_capture_on_commit_callbacks
):
    order = funded_order()
    agent = agent_of(order.merchant)
    dispute = file(order)
    assert _task()["enforced"]["merchant"] == 0  # not due yet
    services.notifications_send(notification_ids=Notification.objects.values_list("pk", flat=True))
    _cross(time_machine, dispute.merchant_response_due)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = _task()
    assert result["enforced"]["merchant"] == 1

    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.outcome == Outcome.REFUNDED
    assert dispute.decided_by == DecidedBy.SYSTEM and dispute.decided_by_user is None
    assert dispute.resolved_amount == dispute.claimed_amount
    assert dispute.paid_out == dispute.recovered == dispute.claimed_amount
    assert dispute.appeal_due == dispute.resolved_at + timedelta(days=7)
    assert not dispute.appeal_final
    assert _keys(dispute) == ["payout", "recovery"]
    summary = deposit(dispute.merchant)
    assert summary.balance == Decimal("952.00") and summary.held == Decimal("0.00")
    assert Hold.objects.get(reference=f"dispute:{dispute.pk}").status == HoldStatus.CONSUMED
    assert Payout.objects.get(source_key=f"dispute:{dispute.pk}:payout").amount == 4800

    types = list(dispute.events.order_by("id").values_list("type", "data__movement"))
    assert types[-3:] == [
        (EventType.DEFAULT_JUDGMENT, None),
        (EventType.MONEY, "payout"),
        (EventType.MONEY, "recovery"),
    ]
    judgment = dispute.events.get(type=EventType.DEFAULT_JUDGMENT)
    assert judgment.from_status == Status.AWAITING_MERCHANT
    assert judgment.to_status == Status.RESOLVED and judgment.data["decided_by"] == "system"

    told = Notification.objects.filter(dispute=dispute, dedupe_key__contains=f":{judgment.pk}:")
    everyone = {dispute.buyer_id, order.merchant.owner_id, agent.pk}
    for channel in ("email", "inapp"):
        assert set(told.filter(channel=channel).values_list("recipient", flat=True)) == everyone
    about_it = [m for m in mail.outbox if dispute.number in m.subject]
    assert sorted(m.to[0] for m in about_it) == sorted(
        [dispute.buyer.email, order.merchant.owner.email, agent.email]
    )
    # The recovery left the deposit under its minimum: the owner is told the shop is suspended
    # and what to pay (disputes/services/shop_notices.py).
    assert [m.to[0] for m in mail.outbox if m not in about_it] == [order.merchant.owner.email]
    # The payout went out too; its e-mail to the buyer, a minute after the ruling's, waits for
    # the next sweep (one mail a minute per complaint) and goes then.
    waiting = Notification.objects.filter(sent_at__isnull=True)
    assert [(n.recipient_id, n.kind) for n in waiting] == [(dispute.buyer_id, "payout_sent")]
    time_machine.move_to(timezone.now() + timedelta(minutes=2), tick=False)
    assert services.notifications_send_pending() == 1
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
    assert "¥48.00" in mail.outbox[-1].body and mail.outbox[-1].to == [dispute.buyer.email]
    check_ledger()


def test_the_management_command_enforces_and_prints_counts_per_clock(time_machine):
    dispute = file()
    _cross(time_machine, dispute.merchant_response_due)
    out = _command()
    assert "1  default judgments" in out and "0  offers accepted by silence" in out
    assert "sweep done" in out
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.decided_by == DecidedBy.SYSTEM
    assert "0  default judgments" in _command()  # nothing twice
    assert _keys(dispute) == ["payout", "recovery"]


def test_a_short_deposit_becomes_a_receivable_and_suspends_the_shop(time_machine):
    order = funded_order(price=Decimal("48.00"), deposit_amount=Decimal("30.00"))
    order.merchant.refresh_from_db()
    dispute = file(order)
    _cross(time_machine, dispute.merchant_response_due)
    _task()
    summary = deposit(order.merchant)
    assert summary.balance == Decimal("0.00") and summary.receivable == Decimal("18.00")
    order.merchant.refresh_from_db()
    assert order.merchant.status == MerchantStatus.SUSPENDED
    assert order.merchant.suspension_reason == SuspensionReason.DEPOSIT
    check_ledger()


def test_the_merchants_answer_just_before_the_deadline_wins_over_the_clock(time_machine):
    dispute = file()
    time_machine.move_to(dispute.merchant_response_due - timedelta(seconds=1), tick=False)
    services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="offer", amount=Decimal("5")
    )
    _cross(time_machine, dispute.merchant_response_due)
    assert _task()["enforced"]["merchant"] == 0
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_BUYER


# --- Buyer silent on an offer ---------------------------------------------------------------------


def test_silent_buyer_is_resolved_on_the_offers_terms_by_the_sweep(time_machine):
    dispute = offered(Decimal("20.00"))
    _cross(time_machine, dispute.buyer_response_due)
    assert _task()["enforced"]["buyer"] == 1
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED
    assert dispute.outcome == Outcome.PARTIALLY_REFUNDED
    assert dispute.decided_by == DecidedBy.SYSTEM
    assert dispute.resolved_amount == dispute.paid_out == dispute.recovered == Decimal("20.00")
    assert dispute.events.filter(type=EventType.OFFER_LAPSED).count() == 1
    summary = deposit(dispute.merchant)
    assert summary.balance == Decimal("980.00") and summary.held == Decimal("0.00")
    check_ledger()


# --- Staff silent: the platform pays first --------------------------------------------------------


def test_missed_review_pays_the_buyer_first_and_waits_for_staff_on_recovery(time_machine):
    dispute = under_review()
    _cross(time_machine, dispute.review_due)
    assert "1  platform paid first" in _command()
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.outcome == Outcome.REFUNDED
    assert dispute.decided_by == DecidedBy.SYSTEM and dispute.recovery_pending
    assert dispute.paid_out == dispute.claimed_amount and dispute.recovered == Decimal("0.00")
    assert _keys(dispute) == ["payout"]
    assert deposit(dispute.merchant).held == dispute.claimed_amount  # kept for the decision
    check_ledger()

    services.dispute_decide_recovery(
        dispute=dispute, staff=arbitrator(), bears="merchant", reason="The key was invalid"
    )
    dispute.refresh_from_db()
    assert not dispute.recovery_pending and _keys(dispute) == ["payout", "recovery"]
    decided = dispute.events.get(type=EventType.RECOVERY_DECIDED)
    assert decided.data["bears"] == "merchant" and decided.visibility == "all"
    check_ledger()


def test_after_a_missed_review_staff_may_let_the_platform_bear_it(time_machine):
    dispute = under_review()
    _cross(time_machine, dispute.review_due)
    _task()
    services.dispute_decide_recovery(
        dispute=dispute, staff=arbitrator(), bears="platform", reason="Our delay"
    )
    dispute.refresh_from_db()
    assert _keys(dispute) == ["payout"] and not dispute.recovery_pending
    assert deposit(dispute.merchant).held == Decimal("0.00")
    assert dispute.events.get(type=EventType.RECOVERY_DECIDED).data["bears"] == "platform"
    check_ledger()


def test_an_appeal_past_its_review_deadline_pays_the_unpaid_buyer_first(time_machine):
    dispute = services.dispute_rule(
        dispute=under_review(), staff=arbitrator(), outcome="rejected", reason="Valid key"
    )
    assert dispute.paid_out == Decimal("0.00")
    dispute = services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="It was not")
    assert dispute.status == Status.UNDER_REVIEW
    _cross(time_machine, dispute.review_due)
    assert _task()["enforced"]["review"] == 1
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.appeal_final
    assert dispute.recovery_pending and dispute.paid_out == dispute.claimed_amount
    assert _keys(dispute) == ["payout"]
    check_ledger()


def test_an_appeal_past_its_deadline_does_not_pay_an_already_paid_buyer_again(time_machine):
    dispute = services.dispute_rule(
        dispute=under_review(), staff=arbitrator(), outcome="refunded", reason="Invalid key"
    )
    dispute = services.dispute_appeal(
        dispute=dispute, user=dispute.merchant.owner, reason="Upstream says used by the buyer"
    )
    _cross(time_machine, dispute.review_due)
    assert _task()["enforced"]["review"] == 1
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.appeal_final
    assert _keys(dispute) == ["payout", "recovery"]  # no second payout, no appeal payout
    assert dispute.paid_out == dispute.claimed_amount
    check_ledger()


# --- Information not given ----------------------------------------------------------------------


def test_silence_after_a_request_for_information_resumes_the_review_clock(time_machine):
    dispute = under_review()
    review_due = dispute.review_due
    dispute = services.dispute_request_info(
        dispute=dispute, staff=arbitrator(), party="buyer", question="Screenshot of the error?"
    )
    asked_at, info_due = dispute.review_paused_at, dispute.info_due
    _cross(time_machine, info_due)
    assert _task()["enforced"] == {"merchant": 0, "buyer": 0, "review": 0, "info": 1}
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW and dispute.review_paused_at is None
    # The pause (asked → the answer's deadline) is added to the review deadline.
    assert dispute.review_due == review_due + (info_due - asked_at)
    resumed = dispute.events.get(type=EventType.REVIEW_RESUMED)
    assert resumed.data["cause"] == "silence"
    _cross(time_machine, dispute.review_due)
    assert _task()["enforced"]["review"] == 1


# --- Small claims: the fast track -------------------------------------------------------------


def test_a_small_claim_with_the_three_proofs_is_paid_at_filing():
    dispute = _small_claim()
    assert dispute.fast_track and dispute.paid_out == dispute.claimed_amount
    assert _keys(dispute) == ["payout"]
    event = dispute.events.get(type=EventType.FAST_TRACKED)
    assert event.data["rule"] == "small_claim"
    assert Notification.objects.filter(
        dispute=dispute, recipient=dispute.buyer, dedupe_key__contains=f":{event.pk}:"
    ).exists()
    check_ledger()


def test_a_silent_merchant_on_a_fast_track_bears_it_without_a_second_payout(time_machine):
    dispute = _small_claim()
    _cross(time_machine, dispute.merchant_response_due)
    _task()
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.outcome == Outcome.REFUNDED
    assert _keys(dispute) == ["payout", "recovery"]
    assert dispute.paid_out == dispute.recovered == dispute.claimed_amount
    check_ledger()


def test_a_contested_fast_track_lost_by_the_buyer_leaves_them_the_money():
    dispute = _small_claim()
    services.dispute_add_evidence(
        dispute=dispute, user=dispute.merchant.owner, kind="upstream_proof", file=png("u.png")
    )
    services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="contest", message="Used"
    )
    services.dispute_rule(dispute=dispute, staff=arbitrator(), outcome="rejected", reason="Used")
    dispute.refresh_from_db()
    assert dispute.outcome == Outcome.REJECTED and dispute.paid_out == dispute.claimed_amount
    assert _keys(dispute) == ["payout"]
    assert deposit(dispute.merchant).held == Decimal("0.00")
    check_ledger()


def _policy(**values) -> dict:
    Policy.objects.filter(product_kind="").update(**values)
    return {}


@pytest.mark.parametrize(
    ("setup", "why"),
    [
        (lambda: {"buyer": _old_buyer(days=6)}, "the account is younger than 7 days"),
        (lambda: {"price": Decimal("100.01")}, "the claim is above the 100.00 threshold"),
        (lambda: _policy(small_claim_threshold=Decimal("40.00")), "the policy's threshold"),
        (lambda: _policy(fast_track_min_account_days=30), "the policy's account age"),
    ],
)
def test_claims_outside_the_fast_track_rules_run_the_normal_course(setup, why):
    kwargs = setup()
    dispute = _small_claim(**kwargs)
    assert not dispute.fast_track, why
    assert _keys(dispute) == []


def test_a_claim_without_all_three_core_proofs_is_not_fast_tracked():
    order = funded_order(buyer=_old_buyer())
    dispute = file(order, evidence=_core_evidence()[:2])
    assert not dispute.fast_track and _keys(dispute) == []


def test_a_malicious_ruling_within_180_days_bars_the_fast_track():
    buyer = _old_buyer()
    earlier = contest(file(funded_order(buyer=buyer)))
    services.dispute_rule(
        dispute=earlier, staff=arbitrator(), outcome="rejected_malicious", reason="Fabricated"
    )
    assert not _small_claim(buyer=buyer).fast_track


def test_at_most_three_fast_tracks_in_30_days_then_the_normal_course(time_machine):
    buyer = _old_buyer()
    assert all(_small_claim(buyer=buyer).fast_track for _ in range(3))
    assert not _small_claim(buyer=buyer).fast_track
    time_machine.move_to(timezone.now() + timedelta(days=31), tick=False)
    assert _small_claim(buyer=buyer).fast_track


# --- Reminders ---------------------------------------------------------------------------------


def _reminders(dispute: Dispute, clock_name: str):
    return Notification.objects.filter(
        dispute=dispute, dedupe_key__contains=f":reminder:{clock_name}:"
    )


def test_the_merchant_is_reminded_once_per_stage_12h_before_its_deadline_first(
    time_machine, django_capture_on_commit_callbacks
):
    """The first of the escalating reminders (all of them: tests/disputes/test_reminders.py).
    Filed at 20:00 Beijing time: the 12 h stage falls at 08:00, as the quiet hours end."""
    time_machine.move_to(datetime(2026, 12, 9, 12, 0, tzinfo=UTC), tick=False)
    order = funded_order()
    agent = agent_of(order.merchant)
    dispute = file(order)
    time_machine.move_to(dispute.merchant_response_due - timedelta(hours=12, minutes=1), tick=False)
    assert _task()["reminded"]["merchant"] == 0
    services.notifications_send(notification_ids=Notification.objects.values_list("pk", flat=True))
    time_machine.move_to(
        dispute.merchant_response_due - timedelta(hours=11, minutes=59), tick=False
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert _task()["reminded"]["merchant"] == 1
    reminders = _reminders(dispute, "merchant")
    assert set(reminders.values_list("recipient", "channel")) == {
        (order.merchant.owner_id, "email"),
        (order.merchant.owner_id, "inapp"),
        (agent.pk, "email"),
        (agent.pk, "inapp"),
    }
    assert len(mail.outbox) == 2 and " 12 " in mail.outbox[0].subject
    time_machine.move_to(dispute.merchant_response_due - timedelta(hours=5), tick=False)
    assert _task()["reminded"]["merchant"] == 0
    assert _reminders(dispute, "merchant").count() == 4


def test_the_buyer_is_reminded_12h_before_an_offer_lapses(time_machine):
    dispute = offered(Decimal("20.00"))
    time_machine.move_to(dispute.buyer_response_due - timedelta(hours=11), tick=False)
    assert _task()["reminded"]["buyer"] == 1
    assert set(_reminders(dispute, "buyer").values_list("recipient", flat=True)) == {
        dispute.buyer_id
    }
    assert "¥20.00" in notices.sentence(_reminders(dispute, "buyer").first())
    assert _task()["reminded"]["buyer"] == 0


def test_arbitrators_are_reminded_before_the_review_deadline_and_again_on_appeal(
    time_machine,
):
    judge = arbitrator()
    group = Group.objects.create(name="arbitrators")
    group.permissions.add(Permission.objects.get(codename="arbitrate"))
    via_group = StaffFactory()
    via_group.groups.add(group)
    StaffFactory()  # staff without the permission: not reminded
    dispute = under_review()
    time_machine.move_to(dispute.review_due - timedelta(hours=7), tick=False)
    assert _task()["reminded"]["review"] == 1
    assert set(_reminders(dispute, "review").values_list("recipient", flat=True)) == {
        judge.pk,
        via_group.pk,
    }
    assert _task()["reminded"]["review"] == 0

    services.dispute_rule(dispute=dispute, staff=judge, outcome="rejected", reason="Valid")
    dispute = services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="Again")
    time_machine.move_to(dispute.review_due - timedelta(hours=7), tick=False)
    assert _task()["reminded"]["review"] == 1
    # The 12 h stage of 2 clocks, to 2 staff on 2 channels.
    assert _reminders(dispute, "review").count() == 2 * 2 * 2


def test_the_user_sees_their_notifications_in_the_app(client, time_machine):
    dispute = file()
    owner = dispute.merchant.owner
    client.force_login(owner)
    assert 'class="badge"' in client.get("/").content.decode()
    page = client.get("/notifications/")
    assert page.status_code == 200
    assert dispute.number in page.content.decode()
    # Looking reads nothing (a GET changes nothing); the badge clears on the explicit POST.
    assert 'class="badge"' in client.get("/").content.decode()
    client.post("/notifications/read/")
    assert 'class="badge"' not in client.get("/").content.decode()
    assert not Notification.objects.filter(recipient=owner, read_at__isnull=True, channel="inapp")

    stranger = UserFactory()
    client.force_login(stranger)
    assert dispute.number not in client.get("/notifications/").content.decode()
    client.logout()
    assert client.get("/notifications/").status_code == 302


# --- Exactly once ----------------------------------------------------------------------------


def test_a_sweep_task_delivered_twice_moves_money_once(time_machine):
    disputes = [file() for _ in range(3)]
    _cross(
        time_machine, max(m for m in (d.merchant_response_due for d in disputes) if m is not None)
    )
    first = tasks.deadlines_sweep.apply().get()
    second = tasks.deadlines_sweep.apply().get()
    assert first["enforced"]["merchant"] == 3 and second["enforced"]["merchant"] == 0
    for dispute in disputes:
        assert _keys(dispute) == ["payout", "recovery"]
        assert dispute.events.filter(type=EventType.DEFAULT_JUDGMENT).count() == 1
    assert Payout.objects.count() == 3
    check_ledger()


def test_the_notification_task_delivered_twice_sends_one_email():
    dispute = file()
    ids = list(
        Notification.objects.filter(dispute=dispute, channel="email").values_list("pk", flat=True)
    )
    assert tasks.notifications_send.delay(ids).get() == len(ids)
    assert tasks.notifications_send.delay(ids).get() == 0
    assert len(mail.outbox) == len(ids)


def test_batches_over_many_shops_give_each_complaint_its_own_outcome(time_machine):
    products = [ProductFactory(), ProductFactory()]
    disputes = [file(funded_order(product=products[i % 2])) for i in range(7)]
    offers = [offered(Decimal("10.00"), order=funded_order(product=products[0])) for _ in range(2)]
    _cross(time_machine, max(m for m in (d.buyer_response_due for d in offers) if m is not None))
    report = services.deadlines_sweep(batch_size=3)
    assert report.enforced["merchant"] == 7 and report.enforced["buyer"] == 2
    assert report.batches >= 4
    for dispute in disputes:
        dispute.refresh_from_db()
        assert dispute.status == Status.RESOLVED and dispute.recovered == dispute.claimed_amount
        assert _keys(dispute) == ["payout", "recovery"]
    for dispute in offers:
        dispute.refresh_from_db()
        assert dispute.outcome == Outcome.PARTIALLY_REFUNDED
        assert _keys(dispute) == ["payout", "recovery"]
    for product in products:
        assert deposit(product.merchant).held == Decimal("0.00")
    check_ledger()


def test_a_complaint_that_cannot_be_enforced_does_not_hold_back_the_others(time_machine):
    disputes = [file() for _ in range(4)]
    poison = disputes[1]
    _cross(
        time_machine, max(m for m in (d.merchant_response_due for d in disputes) if m is not None)
    )
    real = clock._enforce_batch

    def fail_on_poison(clock_name, plans, appeal_days):
        if any(p.dispute.pk == poison.pk for p in plans):
            raise RuntimeError("corrupt complaint")
        return real(clock_name, plans, appeal_days)

    with mock.patch.object(clock, "_enforce_batch", side_effect=fail_on_poison):
        report = services.deadlines_sweep(batch_size=10)
    assert report.enforced["merchant"] == 3 and report.failed == 1
    poison.refresh_from_db()
    assert poison.status == Status.AWAITING_MERCHANT and _keys(poison) == []
    assert all(
        Dispute.objects.get(pk=d.pk).status == Status.RESOLVED for d in disputes if d != poison
    )
    check_ledger()
    assert services.deadlines_sweep().enforced["merchant"] == 1  # fixed: the next sweep acts


def test_the_kill_switch_never_fires_outside_a_test_database(monkeypatch):
    from django.db import connection

    monkeypatch.setenv("KAMEN_FAULT_KILL_AFTER_N", "1")
    monkeypatch.setitem(connection.settings_dict, "NAME", "kamen")
    assert sweep._fault_limit() is None
    monkeypatch.setitem(connection.settings_dict, "NAME", "/srv/kamen/db.sqlite3")
    assert sweep._fault_limit() is None
    monkeypatch.delenv("KAMEN_FAULT_KILL_AFTER_N")
    monkeypatch.setitem(connection.settings_dict, "NAME", "test_kamen")
    assert sweep._fault_limit() is None


def test_an_idle_sweep_costs_the_same_queries_whatever_the_history(time_machine):
    def idle_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            services.deadlines_sweep()
        return len(ctx.captured_queries)

    dispute = file()
    _cross(time_machine, dispute.merchant_response_due)
    services.deadlines_sweep()
    few = idle_queries()
    for _ in range(5):
        file()
    time_machine.move_to(timezone.now() + timedelta(days=2), tick=False)
    services.deadlines_sweep()
    assert idle_queries() == few


# --- Health ----------------------------------------------------------------------------------


def test_healthz_shows_the_last_sweep_and_what_is_overdue(client, time_machine):
    body = client.get("/healthz").json()["deadlines"]
    assert body["last_sweep_at"] is None and body["ok"] is False
    dispute = file()
    _cross(time_machine, dispute.merchant_response_due + timedelta(minutes=10))
    body = client.get("/healthz").json()["deadlines"]
    assert body["overdue"] == 1 and body["ok"] is False
    assert body["oldest_overdue"].startswith(
        timezone.localtime(dispute.merchant_response_due).strftime("%Y-%m-%dT%H:%M")
    )
    _task()
    body = client.get("/healthz").json()["deadlines"]
    assert body["overdue"] == 0 and body["oldest_overdue"] is None and body["ok"] is True
    assert body["last_sweep"]["enforced"]["merchant"] == 1
    assert ClockRun.objects.count() == 1
    time_machine.move_to(timezone.now() + timedelta(minutes=10), tick=False)
    assert client.get("/healthz").json()["deadlines"]["ok"] is False  # the sweep stopped


def test_the_admin_shows_the_clocks_health_line(admin_client, time_machine):
    dispute = file()
    _cross(time_machine, dispute.merchant_response_due)
    # The health line's wording is checked in English (zh-hans is the default language).
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    page = admin_client.get("/admin/disputes/dispute/", **english).content.decode()
    assert "clock-health" in page and "1 deadline overdue now" in page
    _task()
    page = admin_client.get("/admin/disputes/dispute/", **english).content.decode()
    assert "0 deadlines overdue now" in page and "last sweep" in page
    assert admin_client.get("/admin/disputes/notification/").status_code == 200


def test_a_batch_of_default_judgments_reads_the_shops_webhooks_once(time_machine):
    """The clock's batch stays a fixed number of statements whatever its size: the shops'
    webhooks and robots (integrations.events.emit, called for each complaint's notice) and the
    recipients' SMS numbers (the channel's address) are read once for the batch, not once per
    complaint or recipient."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    def endpoint_queries(n: int) -> int:
        start = timezone.now()
        # Each on its own shop, rich enough to stay open after paying (a suspension is news
        # of its own for the shop, told once per shop).
        disputes = [file(funded_order(deposit_amount=Decimal("5000.00"))) for _ in range(n)]
        assert len({d.merchant_id for d in disputes}) == n
        _cross(time_machine, max(d.merchant_response_due or start for d in disputes))
        now = timezone.now()
        with CaptureQueriesContext(connection) as ctx, transaction.atomic():
            rows = clock.lock_due(clock.MERCHANT, now=now, limit=100)
            assert clock.enforce(clock.MERCHANT, rows, now=now) == n
        for d in disputes:
            d.refresh_from_db()
            assert d.status == Status.RESOLVED, d.status
        time_machine.move_to(start + timedelta(days=5), tick=False)
        sql = [q["sql"] for q in ctx.captured_queries]
        return (
            sum("integrations_endpoint" in q for q in sql),
            sum("accounts_accountphone" in q for q in sql),
        )

    # One look-up of the shops' webhooks, one of the people's numbers (the SMS channel).
    assert endpoint_queries(2) == endpoint_queries(6) == (1, 1)
