"""The desk at work (issue 19, docs/admin.md): a ruling form with nothing preset, the two
sides of a case side by side, taking a case ("我来处理") so two arbitrators never rule on it
unknowingly, and the lists an arbitrator reads at 1280 px — the audit log in words, the
policy list with real publication times and a reason for every change."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from disputes import services
from disputes.models import Outcome, Policy, Status
from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError
from kamen_complaints.models import AuditAction
from tests.disputes.factories import under_review
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def arbitrator(name: str = "") -> User:
    user = StaffFactory(**({"username": name} if name else {}))
    user.groups.add(Group.objects.get(name="arbitrator"))
    return User.objects.get(pk=user.pk)


def case_url(dispute, action: str = "") -> str:
    if action:
        return reverse("admin:disputes_dispute_case_action", args=[dispute.pk, action])
    return reverse("admin:disputes_dispute_case", args=[dispute.pk])


QUEUE = reverse("admin:disputes_dispute_changelist")
RULING = {
    "outcome": "refunded",
    "reason": "Key redeemed before delivery",
    "recover_from_merchant": "1",
}


# --- The ruling form ------------------------------------------------------------------------


def test_the_ruling_form_opens_with_no_outcome_and_no_payer_chosen(client):
    dispute = under_review()
    client.force_login(arbitrator())
    body = client.get(case_url(dispute), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    rule = body[body.index('id="rule"') :]
    assert '<option value="" selected>' in rule  # the blank choice, not "refunded"
    assert 'value="refunded" selected' not in rule
    assert "checked" not in rule[: rule.index("</form>")]  # no payer ticked either


def test_ruling_without_an_outcome_is_a_form_error_and_nothing_happens(client):
    dispute = under_review()
    client.force_login(arbitrator())
    page = client.post(
        case_url(dispute, "rule"),
        {"outcome": "", "reason": "Looks fine", "recover_from_merchant": "1"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert "请选择裁决结果" in body
    assert "Looks fine" in body  # what was typed is kept
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW


def test_a_refund_asks_who_bears_it_a_rejection_does_not(client):
    dispute = under_review()
    client.force_login(arbitrator())
    page = client.post(
        case_url(dispute, "rule"),
        {"outcome": "refunded", "reason": "Bad key"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert page.status_code == 200
    assert "Say who bears it: the merchant or the platform." in page.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW
    done = client.post(case_url(dispute, "rule"), {"outcome": "rejected", "reason": "Key fine"})
    assert done.status_code == 302
    dispute.refresh_from_db()
    assert dispute.outcome == Outcome.REJECTED


# --- The two sides --------------------------------------------------------------------------


def test_the_claim_and_the_statement_are_side_by_side_at_the_top(client):
    dispute = under_review()
    client.force_login(arbitrator())
    body = client.get(case_url(dispute), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    claim = body.index("<h2>The buyer's claim</h2>")
    statement = body.index("<h2>The merchant's statement</h2>")
    records = body.index("<h2>The platform's records")
    assert claim < statement < records
    buyer_side, merchant_side = body[claim:statement], body[statement:records]
    assert dispute.description in buyer_side
    contested = dispute.events.filter(type="contested").get()
    assert contested.body and contested.body in merchant_side
    # Each side's evidence with it: the merchant's upstream proof is on the merchant's side.
    upstream = dispute.evidence.get(kind="upstream_proof")
    assert f"/case/evidence/{upstream.pk}/" in merchant_side
    assert f"/case/evidence/{upstream.pk}/" not in buyer_side


# --- Taking a case --------------------------------------------------------------------------


def test_taking_a_case_shows_in_the_queue_and_under_my_cases(client):
    dispute, other = under_review(), under_review()
    mine = arbitrator("ms_li")
    client.force_login(mine)
    assert client.post(case_url(dispute, "take")).status_code == 302
    dispute.refresh_from_db()
    assert dispute.taken_by == mine and dispute.taken_at is not None
    queue = client.get(QUEUE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "我的案件" in queue and 'title="ms_li"' in queue
    body = client.get(QUEUE + "?taken=mine").content.decode()
    assert dispute.number in body and other.number not in body
    body = client.get(QUEUE + "?taken=free").content.decode()
    assert other.number in body and dispute.number not in body
    # Another arbitrator's "my cases" does not list it.
    client.force_login(arbitrator())
    assert dispute.number not in client.get(QUEUE + "?taken=mine").content.decode()


def test_another_arbitrator_is_refused_until_the_hold_lapses(client):
    dispute = under_review()
    holder, colleague = arbitrator("ms_li"), arbitrator("mr_wang")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        services.dispute_take(dispute=dispute, staff=holder)
        client.force_login(colleague)
        page = client.get(case_url(dispute), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "ms_li is working on this case until" in page
        refused = client.post(case_url(dispute, "rule"), RULING, HTTP_ACCEPT_LANGUAGE="en")
        assert refused.status_code == 200
        assert "ms_li is working on this case until" in refused.content.decode()
        dispute.refresh_from_db()
        assert dispute.status == Status.UNDER_REVIEW
        with pytest.raises(DomainError) as caught:
            services.dispute_take(dispute=dispute, staff=colleague)
        assert caught.value.code == "case_taken" and caught.value.status_code == 409
        with pytest.raises(DomainError):
            services.dispute_request_info(
                dispute=dispute, staff=colleague, party="buyer", question="Why?"
            )
        with pytest.raises(DomainError):  # nor can they put it back for the holder
            services.dispute_release(dispute=dispute, staff=colleague)
        # The holder is abandoned: after CASE_TAKE_MINUTES the case is back in the queue.
        clock.shift(timedelta(minutes=django_settings.CASE_TAKE_MINUTES, seconds=1))
        assert dispute.number in client.get(QUEUE + "?taken=free").content.decode()
        assert client.post(case_url(dispute, "rule"), RULING).status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.decided_by_user == colleague


def test_the_hold_lasts_what_the_setting_says(client, settings):
    settings.CASE_TAKE_MINUTES = 30
    dispute = under_review()
    client.force_login(arbitrator())
    with time_machine.travel(timezone.now(), tick=False) as clock:
        services.dispute_take(dispute=dispute, staff=arbitrator("ms_li"))
        clock.shift(timedelta(minutes=29))
        assert dispute.number not in client.get(QUEUE + "?taken=free").content.decode()
        clock.shift(timedelta(minutes=1, seconds=1))
        assert dispute.number in client.get(QUEUE + "?taken=free").content.decode()
        dispute.refresh_from_db()
        lapses = services.staff.take_lapses_at(dispute)
        assert lapses is not None and lapses < timezone.now()


def _settings_in_a_process(minutes: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            " print(settings.CASE_TAKE_MINUTES)",
        ],
        env={**os.environ, "KAMEN_ENV": "development", "CASE_TAKE_MINUTES": minutes},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_environment_sets_the_hold_and_refuses_less_than_a_minute():
    read = _settings_in_a_process("45")
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "45"
    refused = _settings_in_a_process("0")
    assert refused.returncode != 0
    assert "CASE_TAKE_MINUTES must be a whole number of minutes, 1 or more." in refused.stderr


def test_the_holder_rules_and_releases(client):
    dispute, second = under_review(), under_review()
    holder = arbitrator()
    services.dispute_take(dispute=second, staff=holder)
    client.force_login(holder)
    assert client.post(case_url(second, "release")).status_code == 302
    second.refresh_from_db()
    assert second.taken_by is None
    services.dispute_take(dispute=dispute, staff=holder)
    assert client.post(case_url(dispute, "rule"), RULING).status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED


def test_a_decided_case_cannot_be_taken_and_a_party_may_not_take_one():
    dispute = under_review()
    services.dispute_rule(dispute=dispute, staff=arbitrator(), outcome="rejected", reason="Ok.")
    with pytest.raises(DomainError) as caught:
        services.dispute_take(dispute=dispute, staff=arbitrator())
    assert caught.value.code == "not_allowed_in_state"
    other = under_review()
    owner = other.merchant.owner
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    owner.groups.add(Group.objects.get(name="arbitrator"))
    with pytest.raises(DomainError) as refused:
        services.dispute_take(dispute=other, staff=User.objects.get(pk=owner.pk))
    assert refused.value.code == "conflict_of_interest"
    other.refresh_from_db()
    assert other.taken_by is None


# --- The lists at a desk --------------------------------------------------------------------


def test_the_audit_log_names_actions_and_record_types_in_words(admin_client):
    dispute = under_review()
    long_reason = "A very long reason. " * 20
    audit_record(actor=None, action=AuditAction.RULING, obj=dispute, reason=long_reason)
    audit_record(actor=None, action="conflict_refused", obj=dispute, reason="owner")
    url = reverse("admin:kamen_complaints_auditentry_changelist")
    body = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    rows = body[body.index('id="result_list"') :]
    assert ">disputes.dispute<" not in rows and '<td class="field-what">-</td>' not in rows
    assert "投诉" in rows  # the record type: the model's own name
    assert 'title="' + long_reason.strip() in rows  # the whole reason on hover
    assert "css/admin.css" in body
    english = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "refused: staff on both sides of the case" in english
    assert ">complaint<" in english
    # The filters work in words too.
    assert admin_client.get(url + "?action=conflict_refused").status_code == 200
    assert admin_client.get(url + "?object_type=disputes.dispute").status_code == 200


def test_the_policy_list_shows_real_publication_times(admin_client):
    seeded = Policy.objects.get(product_kind="")
    assert seeded.published_at.year >= 2000  # migration 0013 dated the 1970 seed
    body = admin_client.get(
        reverse("admin:disputes_policy_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "1970" not in body


def test_a_policy_change_needs_its_reason(admin_client):
    start = timezone.localtime() + timedelta(days=8)
    with pytest.raises(DomainError) as caught:
        services.policy_publish(staff=None, effective_from=start, values={}, note="  ")
    assert caught.value.code == "reason_required"
    count = Policy.objects.count()
    form = {
        **{
            name: getattr(Policy.objects.get(product_kind=""), name) for name in Policy.VALUE_FIELDS
        },
        "product_kind": "",
        "effective_from_0": start.strftime("%Y-%m-%d"),
        "effective_from_1": start.strftime("%H:%M:%S"),
        "note": "",
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
    }
    form = {k: ("" if v is None else v) for k, v in form.items()}
    form = {k: ("on" if v is True else v) for k, v in form.items() if v is not False}
    page = admin_client.post(reverse("admin:disputes_policy_add"), form, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and Policy.objects.count() == count
    assert "This field is required." in page.content.decode()
    form["note"] = "Longer review for the holidays"
    done = admin_client.post(reverse("admin:disputes_policy_add"), form)
    assert done.status_code == 302, done.content.decode()[:2000]
    assert Policy.objects.latest("id").note == "Longer review for the holidays"
