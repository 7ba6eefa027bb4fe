"""Automatic checks (平台自动核验) and automatic outcomes: each rule through the real task on
commit, the sweep and the API; exactly once (a task delivered twice, an answer after the
merchant settled); an upstream that times out, errors or is still working (retried, no
outcome until it answers, nothing lost); the policy switches; the evidence stored with its
SHA-256 and in the evidence package; the ledger clean after each. The racing variants on
PostgreSQL are in test_auto_checks_races.py."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from rest_framework.test import APIClient

from disputes import services, tasks
from disputes.models import (
    AutoCheck,
    CheckDecision,
    CheckKind,
    CheckRule,
    CheckStatus,
    DecidedBy,
    Dispute,
    EventType,
    Notification,
    Outcome,
    Policy,
    Status,
)
from disputes.services import auto
from escrow.models import LedgerTransaction, TransactionKind
from orders import services as order_services
from orders.models import CardKeyReveal, CardKeyStatus, ProductKind
from orders.payments import SandboxTopupUpstream, TopupAnswer, UpstreamError
from orders.verifiers import SandboxCardKeyVerifier
from tests.disputes.auto_helpers import auto_events, checks, file_topup, key_order, topup_order
from tests.disputes.factories import check_ledger, file
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what a filing hands over on commit (the checks' task, Celery eager) at once."""

    def filing(function: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return filing


def _payouts(dispute: Dispute) -> int:
    return LedgerTransaction.objects.filter(
        dispute_id=dispute.pk, kind=TransactionKind.COMPENSATION_PAYOUT
    ).count()


def _assert_auto_refund(dispute: Dispute, rule: str, amount: Decimal | None = None) -> None:
    dispute.refresh_from_db()
    amount = dispute.claimed_amount if amount is None else amount
    assert dispute.status == Status.RESOLVED
    assert dispute.decided_by == DecidedBy.SYSTEM
    assert dispute.resolved_amount == amount
    assert (dispute.paid_out, dispute.recovered) == (amount, amount)
    # The merchant may appeal like any outcome, for the same 7 days.
    assert dispute.appeal_due == dispute.resolved_at + timedelta(days=7)
    [event] = auto_events(dispute)
    assert event.data["rule"] == rule
    applied = [c for c in checks(dispute) if c.decision == CheckDecision.APPLIED]
    assert applied and event.data["evidence"] == [c.sha256 for c in applied]
    assert _payouts(dispute) == 1
    check_ledger()


# --- The rules, through the task on commit ---------------------------------------------------


def test_a_topup_the_upstream_reports_not_credited_is_refunded_automatically(run_on_commit):
    order = topup_order("13912341111")
    assert order.status == "delivered"  # the delivery said yes; the supplier's books say no
    dispute = run_on_commit(file_topup, order)
    _assert_auto_refund(dispute, CheckRule.TOPUP_NOT_CREDITED)
    assert dispute.outcome == Outcome.REFUNDED
    # Both parties are told, in words that name the automatic check.
    notes = Notification.objects.filter(dispute=dispute, kind="auto_decided", channel="inapp")
    assert notes.count() == 2


def test_a_topup_the_upstream_reports_credited_is_evidence_for_the_merchant(run_on_commit):
    dispute = run_on_commit(file_topup, topup_order("13912345678"))
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT  # the normal clock runs
    [check] = checks(dispute)
    assert (check.status, check.rule, check.decision) == (
        CheckStatus.ANSWERED,
        CheckRule.TOPUP_CREDITED,
        CheckDecision.EVIDENCE,
    )
    assert not auto_events(dispute)
    check_ledger()


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("GAME-PREUSED-0001", CheckRule.KEY_REDEEMED_BEFORE_DELIVERY),
        ("GAME-UNKNOWN-0002", CheckRule.KEY_UNKNOWN),
    ],
)
def test_a_bad_key_is_refunded_automatically(run_on_commit, text, rule):
    dispute = run_on_commit(file, key_order(text))
    _assert_auto_refund(dispute, rule)
    key_check = checks(dispute, CheckKind.CARD_KEY)[0]
    assert key_check.result["card_key"] == f"****{text[-4:]}"
    assert text not in json.dumps(key_check.result)  # never the key in clear


def test_a_key_redeemed_after_the_buyer_revealed_it_decides_nothing(run_on_commit):
    order = key_order("GAME-USEDLATER-0003")
    order_services.order_reveal_keys(order=order, user=order.buyer, ip="10.0.0.1")
    dispute = run_on_commit(file, order)
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT
    [check] = checks(dispute, CheckKind.CARD_KEY)
    assert check.rule == CheckRule.KEY_REDEEMED_AFTER_REVEAL
    assert check.decision == CheckDecision.EVIDENCE
    # On the timeline for merchant and staff (and the buyer), with the evidence named.
    [event] = [
        e for e in auto_events(dispute, EventType.AUTO_CHECK) if e.data["check"] == "card_key"
    ]
    assert event.visibility == "all" and event.data["sha256"] == check.sha256
    assert dispute.paid_out == 0
    check_ledger()


def test_a_key_redeemed_after_delivery_but_never_revealed_is_evidence(run_on_commit):
    dispute = run_on_commit(file, key_order("GAME-USEDLATER-0004"))
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT
    assert checks(dispute, CheckKind.CARD_KEY)[0].rule == CheckRule.KEY_REDEEMED_UNREVEALED


def test_a_key_redeemed_at_no_given_time_decides_nothing(run_on_commit, monkeypatch):
    """An issuer that says "redeemed" without a time proves nothing about who redeemed it."""
    from orders.verifiers import KeyAnswer, KeyStatus

    monkeypatch.setattr(
        SandboxCardKeyVerifier,
        "verify",
        lambda self, **kw: KeyAnswer(KeyStatus.REDEEMED, None, {"state": "redeemed"}),
    )
    dispute = run_on_commit(file, key_order("GAME-NOTIME-0006"))
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT and dispute.paid_out == 0
    [check] = checks(dispute, CheckKind.CARD_KEY)
    assert check.rule == CheckRule.KEY_REDEEMED_TIME_UNKNOWN
    assert check.decision == CheckDecision.EVIDENCE
    check_ledger()


def test_a_valid_key_is_evidence_only(run_on_commit):
    dispute = run_on_commit(file, key_order("GAME-FINE-0005"))
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT
    assert {c.rule for c in checks(dispute)} == {
        CheckRule.KEY_VALID,
        CheckRule.NOT_DELIVERED_TWICE,
    }


def test_a_bad_key_is_replaced_when_the_buyer_chose_it_and_stock_exists(run_on_commit):
    order = key_order("GAME-PREUSED-0006", stock=("GAME-FRESH-0007",))
    dispute = run_on_commit(file, order, remedy_wanted="replace")
    dispute.refresh_from_db()
    assert (dispute.status, dispute.outcome, dispute.decided_by) == (
        Status.RESOLVED,
        Outcome.REPLACED,
        DecidedBy.SYSTEM,
    )
    assert order.card_keys.filter(tail="0007", status=CardKeyStatus.DELIVERED).exists()
    assert dispute.paid_out == 0 and _payouts(dispute) == 0
    assert auto_events(dispute, EventType.KEY_REPLACED)
    check_ledger()


def test_without_stock_a_replacement_becomes_a_refund(run_on_commit):
    dispute = run_on_commit(file, key_order("GAME-UNKNOWN-0008"), remedy_wanted="replace")
    _assert_auto_refund(dispute, CheckRule.KEY_UNKNOWN)


def test_only_the_bad_keys_of_an_order_are_refunded(run_on_commit):
    order = key_order("GAME-PREUSED-0009", "GAME-FINE-0010", price=D("30.00"))
    dispute = run_on_commit(file, order, claimed_amount=D("60.00"))
    _assert_auto_refund(dispute, CheckRule.KEY_REDEEMED_BEFORE_DELIVERY, amount=D("30.00"))
    assert dispute.outcome == Outcome.PARTIALLY_REFUNDED


def test_a_key_delivered_to_two_orders_refunds_the_later_buyer_at_once(run_on_commit):
    first = key_order("GAME-TWICE-0011")
    second = key_order("GAME-OTHER-0012")
    key = first.card_keys.get()
    # A fault put the first order's key in front of the second order's buyer too.
    reveal = CardKeyReveal.objects.create(order=second, user=second.buyer)
    reveal.card_keys.set([key, *second.card_keys.all()])
    # The first buyer got it first: evidence, no outcome.
    earlier = run_on_commit(file, first)
    earlier.refresh_from_db()
    assert earlier.status == Status.AWAITING_MERCHANT
    assert checks(earlier, CheckKind.DELIVERED_TWICE)[0].rule == CheckRule.NOT_DELIVERED_TWICE
    # The later buyer: refunded at once (the local check, by the task on commit).
    later = run_on_commit(file, second)
    twice = [c for c in checks(later, CheckKind.DELIVERED_TWICE) if c.card_key_id == key.pk]
    assert twice[0].rule == CheckRule.KEY_DELIVERED_TWICE
    assert twice[0].result["other_orders"][0]["earlier"] is True
    _assert_auto_refund(later, CheckRule.KEY_DELIVERED_TWICE)


def test_the_later_order_of_a_twice_delivered_key_is_refunded(run_on_commit):
    first = key_order("GAME-TWICE-0013")
    second = key_order("GAME-OTHER-0014")
    key = first.card_keys.get()
    reveal = CardKeyReveal.objects.create(order=first, user=first.buyer)
    reveal.card_keys.set([key])
    # The key is moved to the later order by a fault; the first buyer had already seen it.
    type(key).objects.filter(pk=key.pk).update(order=second)
    dispute = run_on_commit(file, second, card_keys=[key.pk])
    [twice] = checks(dispute, CheckKind.DELIVERED_TWICE)
    assert twice.rule == CheckRule.KEY_DELIVERED_TWICE
    assert twice.answered_at is not None and twice.sha256
    _assert_auto_refund(dispute, CheckRule.KEY_DELIVERED_TWICE)


# --- Exactly once ----------------------------------------------------------------------------


def test_a_task_delivered_twice_decides_once(run_on_commit):
    dispute = run_on_commit(file_topup, topup_order("13912341111"))
    tasks.dispute_auto_checks(dispute.pk)
    tasks.dispute_auto_checks.delay(dispute.pk)
    _assert_auto_refund(dispute, CheckRule.TOPUP_NOT_CREDITED)
    assert AutoCheck.objects.get(dispute=dispute).attempts == 1


def test_an_answer_after_the_merchant_accepted_makes_no_second_outcome():
    dispute = file_topup(topup_order("13912341111"))  # the task on commit was lost
    services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="accept", remedy="refund"
    )
    report = services.deadlines_sweep()
    assert report.auto_checks["answered"] == 1
    dispute.refresh_from_db()
    assert dispute.decided_by == DecidedBy.MERCHANT
    [check] = checks(dispute)
    assert check.decision == CheckDecision.ALREADY_DECIDED
    assert not auto_events(dispute)
    assert _payouts(dispute) == 1
    check_ledger()


def test_a_withdrawn_complaint_gets_no_automatic_outcome():
    dispute = file(key_order("GAME-PREUSED-0015"))
    services.dispute_withdraw(dispute=dispute, buyer=dispute.buyer)
    services.deadlines_sweep()
    dispute.refresh_from_db()
    assert dispute.status == Status.WITHDRAWN and dispute.paid_out == 0
    check_ledger()


def test_the_merchant_may_appeal_an_automatic_outcome(run_on_commit):
    dispute = run_on_commit(file, key_order("GAME-UNKNOWN-0016"))
    dispute = services.dispute_appeal(
        dispute=dispute, user=dispute.merchant.owner, reason="The issuer was wrong."
    )
    assert dispute.status == Status.UNDER_REVIEW
    services.deadlines_sweep(clocks_to_sweep=())  # nothing left for the checks to decide
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW and len(auto_events(dispute)) == 1
    check_ledger()


# --- An upstream that does not answer ---------------------------------------------------------


def test_an_upstream_timeout_is_retried_by_the_sweep_until_it_answers(
    run_on_commit, monkeypatch, time_machine
):
    calls: list[str] = []

    def down(self: Any, *, reference: str, timeout: float) -> TopupAnswer:
        calls.append(reference)
        raise UpstreamError(f"no answer in {timeout}s")

    monkeypatch.setattr(SandboxTopupUpstream, "query", down)
    dispute = run_on_commit(file_topup, topup_order("13912341111"))
    [check] = checks(dispute)
    assert (check.status, check.attempts) == (CheckStatus.PENDING, 1)
    assert "no answer" in check.last_error and check.next_attempt_at > timezone.now()
    assert not check.evidence_id  # nothing stored until it answers
    services.deadlines_sweep()  # before the back-off: not asked again
    assert len(calls) == 1
    time_machine.move_to(timezone.now() + timedelta(minutes=2))
    services.deadlines_sweep()  # asked again; still down
    check.refresh_from_db()
    assert (check.status, check.attempts, len(calls)) == (CheckStatus.PENDING, 2, 2)
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT  # no outcome until it answers
    monkeypatch.undo()
    time_machine.move_to(timezone.now() + timedelta(minutes=5))
    report = services.deadlines_sweep()
    assert report.auto_checks == {"asked": 1, "answered": 1, "decided": 1}
    _assert_auto_refund(dispute, CheckRule.TOPUP_NOT_CREDITED)
    assert checks(dispute)[0].attempts == 3


def test_an_upstream_error_of_any_kind_is_recorded_and_retried(run_on_commit, monkeypatch):
    def broken(self: Any, **kwargs: Any) -> Any:
        raise ConnectionResetError("peer reset")

    monkeypatch.setattr(SandboxCardKeyVerifier, "verify", broken)
    dispute = run_on_commit(file, key_order("GAME-PREUSED-0017"))
    [check] = checks(dispute, CheckKind.CARD_KEY)
    assert check.status == CheckStatus.PENDING and "ConnectionResetError" in check.last_error


def test_an_upstream_that_never_answers_is_left_to_people(run_on_commit, settings, time_machine):
    settings.AUTO_CHECK_MAX_ATTEMPTS = 2
    dispute = run_on_commit(file, key_order("GAME-NOREPLY-0018"))
    time_machine.move_to(timezone.now() + timedelta(minutes=5))
    services.deadlines_sweep()
    check = checks(dispute, CheckKind.CARD_KEY)[0]
    assert (check.status, check.rule, check.attempts) == (
        CheckStatus.GAVE_UP,
        CheckRule.NO_ANSWER,
        2,
    )
    assert check.evidence_id and check.decision == CheckDecision.EVIDENCE
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT


def test_a_topup_still_in_progress_upstream_is_asked_again(run_on_commit, time_machine):
    dispute = run_on_commit(file_topup, topup_order("13912342222"))
    [check] = checks(dispute)
    assert (check.status, check.answer) == (CheckStatus.PENDING, "pending")
    assert not check.evidence_id
    time_machine.move_to(timezone.now() + timedelta(minutes=2))
    services.deadlines_sweep()
    check.refresh_from_db()
    assert check.attempts == 2 and check.status == CheckStatus.PENDING


def test_the_sandbox_upstream_unreachable_pattern(run_on_commit):
    dispute = run_on_commit(file_topup, topup_order("13912349999"))
    [check] = checks(dispute)
    assert check.status == CheckStatus.PENDING and "no answer" in check.last_error


def test_a_lost_task_is_done_by_the_sweep():
    dispute = file(key_order("GAME-UNKNOWN-0019"))  # on commit never ran
    report = services.deadlines_sweep()
    assert report.auto_checks["decided"] == 1
    _assert_auto_refund(dispute, CheckRule.KEY_UNKNOWN)


def test_the_sweep_asks_in_bounded_batches():
    for i in range(5):
        file(key_order(f"GAME-FINE-{i:04d}"))
    report = services.deadlines_sweep(batch_size=2)
    assert report.auto_checks["asked"] == 10  # each key: its issuer and its deliveries
    assert not AutoCheck.objects.filter(status=CheckStatus.PENDING).exists()


# --- The policy --------------------------------------------------------------------------------


def _policy_off(kind: str, **values: bool) -> Policy:
    """A version for `kind`, published through the policy service and in force."""
    staff = StaffFactory()
    start = timezone.now() + timedelta(days=8)
    policy = services.policy_publish(
        staff=staff, effective_from=start, values=values, product_kind=kind, note="people only"
    )
    Policy.objects.filter(pk=policy.pk).update(effective_from=timezone.now() - timedelta(hours=1))
    return policy


def test_the_policy_switches_the_topup_rule_off_per_kind(run_on_commit):
    policy = _policy_off(ProductKind.PHONE_TOPUP, auto_topup_failed=False)
    assert policy.changes.get().new["auto_topup_failed"] is False  # in the history
    dispute = run_on_commit(file_topup, topup_order("13912341111"))
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT
    [check] = checks(dispute)
    assert (check.rule, check.decision) == (CheckRule.TOPUP_NOT_CREDITED, CheckDecision.POLICY_OFF)
    assert check.evidence_id  # still kept as evidence
    # Another kind is untouched.
    other = run_on_commit(file, key_order("GAME-UNKNOWN-0020"))
    _assert_auto_refund(other, CheckRule.KEY_UNKNOWN)


@pytest.mark.parametrize(
    ("switch", "text"),
    [
        ("auto_key_redeemed_before_delivery", "GAME-PREUSED-0021"),
        ("auto_key_unknown", "GAME-UNKNOWN-0022"),
    ],
)
def test_the_policy_switches_each_key_rule_off(run_on_commit, switch, text):
    _policy_off(ProductKind.GAME_CARD, **{switch: False})
    dispute = run_on_commit(file, key_order(text))
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT
    assert checks(dispute, CheckKind.CARD_KEY)[0].decision == CheckDecision.POLICY_OFF


# --- Evidence ----------------------------------------------------------------------------------


def test_every_answer_is_evidence_with_its_sha256_and_in_the_package(run_on_commit):
    dispute = run_on_commit(file_topup, topup_order("13912341111"))
    [check] = checks(dispute)
    evidence = check.evidence
    with default_storage.open(evidence.stored_name, "rb") as handle:
        content = handle.read()
    assert hashlib.sha256(content).hexdigest() == evidence.sha256 == check.sha256
    document = json.loads(content)
    assert document["shows"] == "topup_not_credited"
    assert document["record"]["state"] == "not_credited"
    assert document["record"]["target"] == "139****1111"
    data = services.dispute_evidence_package(dispute=dispute, user=dispute.buyer)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = archive.namelist()
    assert any(evidence.file_name in name for name in names)
    records = {r["file"]: r for r in manifest["evidence_records"]}
    assert records[evidence.file_name]["sha256_at_upload"] == check.sha256
    assert records[evidence.file_name]["unchanged_since_upload"] is True


# --- The API -----------------------------------------------------------------------------------


def test_filing_through_the_api_is_decided_by_the_task(django_capture_on_commit_callbacks):
    order = topup_order("13912341111")
    client = APIClient()
    client.force_authenticate(order.buyer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/disputes/",
            {"order": order.number, "reason": "not_received", "claimed_amount": "50.00"},
            format="json",
        )
    assert response.status_code == 201, response.json()
    number = response.json()["number"]
    shown = client.get(f"/api/v1/disputes/{number}/").json()
    assert shown["status"] == "resolved"
    assert shown["outcome"] == "refunded"
    assert shown["decided_by"] == "system"
    [check] = shown["auto_checks"]
    assert (check["kind"], check["shows"], check["decision"]) == (
        "topup",
        "topup_not_credited",
        "applied",
    )
    assert check["text"] == "平台自动核验：上游充值记录显示未到账 → 已自动退款"
    english = client.get(f"/api/v1/disputes/{number}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["auto_checks"][0]["text"] == (
        "Platform automatic check: the upstream's top-up record shows it was not credited "
        "→ refunded automatically"
    )
    _assert_auto_refund(Dispute.objects.get(number=number), CheckRule.TOPUP_NOT_CREDITED)


def test_the_api_takes_the_remedy_the_buyer_wants(django_capture_on_commit_callbacks):
    order = key_order("GAME-PREUSED-0030", stock=("GAME-FRESH-0031",))
    client = APIClient()
    client.force_authenticate(order.buyer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/disputes/",
            {
                "order": order.number,
                "reason": "invalid_card_key",
                "claimed_amount": "48.00",
                "remedy_wanted": "replace",
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    shown = client.get(f"/api/v1/disputes/{response.json()['number']}/").json()
    assert (shown["remedy_wanted"], shown["outcome"]) == ("replace", "replaced")
    bad = client.post(
        "/api/v1/disputes/",
        {"order": order.number, "reason": "other", "claimed_amount": "1", "remedy_wanted": "x"},
        format="json",
    )
    assert bad.status_code == 400 and "remedy_wanted" in bad.json()


def test_the_timeline_names_the_rule_and_the_evidence(run_on_commit):
    dispute = run_on_commit(file, key_order("GAME-PREUSED-0023"))
    [decided] = auto_events(dispute)
    assert decided.role == "system" and decided.actor is None
    assert decided.data["automatic"] is True
    assert "平台自动核验" in decided.body or "automatic check" in decided.body.lower()
    sha = [c.sha256 for c in checks(dispute, CheckKind.CARD_KEY)]
    assert decided.data["evidence"] == sha


def test_auto_decide_is_a_no_op_without_fresh_answers():
    dispute = file(key_order("GAME-FINE-0024"))
    assert auto.dispute_auto_decide(dispute_id=dispute.pk) is False
