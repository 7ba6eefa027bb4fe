"""Policy: published with 7 days' notice (电子商务法 art. 34), history kept, overrides per kind."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from disputes import services
from disputes.models import Policy, PolicyChange
from disputes.selectors import policy_for
from kamen_complaints.errors import DomainError
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


def test_the_seeded_default_policy_is_in_force():
    policy = policy_for("game_card")
    assert policy.pk is not None and policy.product_kind == ""
    assert policy.complaint_window_hours == 72
    assert policy.merchant_response_hours == 24
    assert policy.buyer_response_hours == 24
    assert policy.review_hours == 48
    assert policy.small_claim_threshold == Decimal("100.00")
    assert policy.appeal_window_days == 7
    assert policy.blacklist_threshold == 3
    assert policy.blacklist_window_days == 180
    assert policy.blacklist_duration_days == 180
    assert policy.max_evidence_bytes == 10 * 1024 * 1024


def test_publishing_needs_seven_days_notice(frozen):
    with translation.override("en"), pytest.raises(DomainError) as caught:
        services.policy_publish(
            staff=None,
            effective_from=timezone.now() + timedelta(days=6, hours=23),
            values={"review_hours": 24},
            note="a reason for the change",
        )
    assert caught.value.code == "notice_too_short"
    assert "7 days" in caught.value.message
    policy = services.policy_publish(
        staff=None,
        effective_from=timezone.now() + timedelta(days=7),
        values={"review_hours": 24},
        note="a reason for the change",
    )
    assert policy.review_hours == 24


def test_a_published_policy_takes_effect_only_at_its_date(frozen):
    staff = StaffFactory()
    start = timezone.now() + timedelta(days=8)
    services.policy_publish(
        staff=staff,
        effective_from=start,
        values={"review_hours": 36},
        note="a reason for the change",
    )
    assert policy_for("").review_hours == 48
    frozen.move_to(start, tick=False)
    assert policy_for("").review_hours == 36
    assert policy_for("").merchant_response_hours == 24  # unnamed values carried over


def test_history_records_who_when_old_and_new(frozen):
    staff = StaffFactory()
    policy = services.policy_publish(
        staff=staff,
        effective_from=timezone.now() + timedelta(days=10),
        values={"complaint_window_hours": 96},
        note="Longer window for the holidays",
    )
    change = PolicyChange.objects.get(policy=policy)
    assert change.action == "published" and change.changed_by == staff
    assert change.old["complaint_window_hours"] == 72
    assert change.new["complaint_window_hours"] == 96


def test_a_kind_override_wins_for_its_kind_only(frozen):
    services.policy_publish(
        staff=None,
        product_kind="phone_topup",
        effective_from=timezone.now() + timedelta(days=7),
        values={"complaint_window_hours": 24},
        note="a reason for the change",
    )
    frozen.move_to(timezone.now() + timedelta(days=7, seconds=1), tick=False)
    assert policy_for("phone_topup").complaint_window_hours == 24
    assert policy_for("game_card").complaint_window_hours == 72


def test_a_pending_policy_may_be_revised_with_fresh_notice_one_in_force_never(frozen):
    staff = StaffFactory()
    policy = services.policy_publish(
        staff=staff,
        effective_from=timezone.now() + timedelta(days=7),
        values={"review_hours": 40},
        note="a reason for the change",
    )
    frozen.move_to(timezone.now() + timedelta(days=3), tick=False)
    with pytest.raises(DomainError) as caught:
        services.policy_revise(
            policy=policy,
            staff=staff,
            effective_from=policy.effective_from,
            values={},
            note="a reason for the change",
        )
    assert caught.value.code == "notice_too_short"
    revised = services.policy_revise(
        policy=policy,
        staff=staff,
        effective_from=timezone.now() + timedelta(days=7),
        values={"review_hours": 30},
        note="a reason for the change",
    )
    assert revised.review_hours == 30
    change = PolicyChange.objects.filter(policy=policy, action="revised").get()
    assert change.old["review_hours"] == 40 and change.new["review_hours"] == 30
    frozen.move_to(revised.effective_from + timedelta(seconds=1), tick=False)
    with pytest.raises(DomainError) as caught:
        services.policy_revise(
            policy=revised,
            staff=staff,
            effective_from=timezone.now() + timedelta(days=8),
            values={"review_hours": 1},
            note="a reason for the change",
        )
    assert caught.value.code == "not_allowed_in_state"


def test_invalid_values_are_refused():
    with pytest.raises(DomainError) as caught:
        services.policy_publish(
            staff=None,
            effective_from=timezone.now() + timedelta(days=8),
            values={"review_hours": 0},
            note="a reason for the change",
        )
    assert caught.value.code == "invalid"
    with pytest.raises(DomainError):
        services.policy_publish(
            staff=None,
            effective_from=timezone.now() + timedelta(days=8),
            values={"colour": 1},
            note="a reason for the change",
        )
    assert Policy.objects.count() == 1
