"""平台自动核验 on the pages and in the metrics: the buyer's complaint page, the merchant's
complaint page and the staff case screen say what the automatic checks found, in plain words,
in Chinese and in English; the metrics show the share decided automatically and their median
time to outcome."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from disputes import metrics, services
from tests.disputes.auto_helpers import file_topup, key_order, topup_order
from tests.disputes.factories import file, resolved_by_refund
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def _get(user: Any, url: str, language: str = "zh-hans") -> str:
    client = Client()
    client.force_login(user)
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, url
    return response.content.decode()


@pytest.fixture
def decided(django_capture_on_commit_callbacks: Any) -> Any:
    with django_capture_on_commit_callbacks(execute=True):
        return file_topup(topup_order("13912341111"))


def test_the_three_pages_say_it_was_refunded_automatically(decided):
    line = "平台自动核验：上游充值记录显示未到账 → 已自动退款"
    buyer = _get(decided.buyer, f"/complaints/{decided.number}/")
    assert line in buyer and "由平台自动核验裁决" in buyer
    merchant = _get(decided.merchant.owner, f"/merchant/complaints/{decided.number}/")
    assert line in merchant and "由平台自动核验裁决" in merchant
    staff = StaffFactory()
    staff.groups.add(Group.objects.get(name="arbitrator"))
    desk = _get(staff, f"/admin/disputes/dispute/{decided.pk}/case/")
    assert line in desk and decided.auto_checks.get().sha256[:14] in desk


def test_in_english(decided):
    page = _get(decided.buyer, f"/complaints/{decided.number}/", "en")
    assert (
        "Platform automatic check: the upstream&#x27;s top-up record shows it was not credited "
        "→ refunded automatically" in page
    )


def test_a_check_waiting_for_its_upstream_says_so():
    dispute = file(key_order("GAME-NOREPLY-0001"))  # the task not run yet
    page = _get(dispute.buyer, f"/complaints/{dispute.number}/")
    assert "平台自动核验：正在向发卡方核验卡密 ****0001" in page


def test_evidence_only_reads_as_evidence(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        dispute = file(key_order("GAME-FINE-0002"))
    page = _get(dispute.merchant.owner, f"/merchant/complaints/{dispute.number}/")
    assert "发卡方记录显示卡密 ****0002 有效、未被使用 → 已存为证据，按常规流程处理" in page


def test_the_metrics_show_the_share_decided_automatically(decided):
    resolved_by_refund()  # decided by a merchant
    today = timezone.localdate()
    figures = metrics.metrics(metrics.Range(first=today - timedelta(days=1), last=today))
    assert figures["resolved"] == 2
    assert figures["decided_automatically"] == 1
    assert figures["decided_automatically_share"] == 0.5
    timing = figures["automatic_time_to_outcome"]
    assert timing["count"] == 1 and timing["median_minutes"] is not None
    assert timing["median_minutes"] < 1
    rows = dict(
        line.split(",", 2)[:2]
        for line in metrics.as_csv(
            metrics.live_report(metrics.Range(first=today, last=today))
        ).splitlines()
        if line.count(",") >= 2
    )
    assert rows["decided_automatically_share"] == "0.5"


def test_an_appealed_automatic_outcome_is_not_counted(decided):
    services.dispute_appeal(dispute=decided, user=decided.merchant.owner, reason="Wrong.")
    today = timezone.localdate()
    figures = metrics.metrics(metrics.Range(first=today, last=today))
    assert figures["decided_automatically"] == 0


def test_the_complaint_form_asks_the_remedy_for_keys_only(django_capture_on_commit_callbacks):
    order = key_order("GAME-PREUSED-0003", stock=("GAME-FRESH-0004",))
    page = _get(order.buyer, f"/orders/{order.number}/complain/")
    assert 'name="remedy_wanted"' in page and "从库存补发新卡密" in page
    client = Client()
    client.force_login(order.buyer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/orders/{order.number}/complain/",
            {"reason": "invalid_card_key", "claimed_amount": "48.00", "remedy_wanted": "replace"},
        )
    assert response.status_code == 302
    dispute = order.disputes.get()
    assert (dispute.remedy_wanted, dispute.outcome) == ("replace", "replaced")
    topup = topup_order("13912345678")
    assert 'name="remedy_wanted"' not in _get(topup.buyer, f"/orders/{topup.number}/complain/")


# --- When each check answered, one line per check, records as summaries (issue 19) ------------


def test_each_answer_says_when_it_was_checked(decided):
    check = decided.auto_checks.get()
    at = timezone.localtime(check.answered_at).strftime("%m-%d %H:%M")
    for user, url in (
        (decided.buyer, f"/complaints/{decided.number}/"),
        (decided.merchant.owner, f"/merchant/complaints/{decided.number}/"),
    ):
        assert f"核验时间 {at}" in _get(user, url)
    assert f"checked at {at}" in _get(decided.buyer, f"/complaints/{decided.number}/", "en")


def test_checks_still_running_are_one_line_each():
    dispute = file(key_order("GAME-NOREPLY-0003"))  # the tasks not run yet
    page = _get(dispute.buyer, f"/complaints/{dispute.number}/", "en")
    panel = page[page.index('id="auto-checks"') :]
    panel = panel[: panel.index("</section>")]
    lines = [part.split("</li>")[0] for part in panel.split("<li")[1:]]
    assert len(lines) == dispute.auto_checks.count() >= 1
    assert len(set(lines)) == len(lines)


def test_platform_records_read_as_titled_summaries_not_files(decided):
    buyer = _get(decided.buyer, f"/complaints/{decided.number}/")
    evidence = buyer[buyer.index('id="evidence"') :]
    evidence = evidence[: evidence.index("</section>")]
    assert "投诉提交时的平台记录" in evidence
    assert "平台自动核验：" in evidence and "上游充值记录显示未到账" in evidence
    assert "核验时间" in evidence
    assert "application/json" not in evidence and "/evidence/" not in evidence.split("<img")[0]
    assert ">文件<" not in evidence
    merchant = _get(decided.merchant.owner, f"/merchant/complaints/{decided.number}/", "en")
    evidence = merchant[merchant.index('id="evidence"') :]
    evidence = evidence[: evidence.index("</section>")]
    assert "Platform automatic check: top-up with the upstream supplier" in evidence
    assert ">File<" not in evidence


def _desk_evidence(dispute: Any, language: str = "zh-hans") -> str:
    staff = StaffFactory()
    staff.groups.add(Group.objects.get(name="arbitrator"))
    page = _get(staff, f"/admin/disputes/dispute/{dispute.pk}/case/", language)
    section = page[page.index('<ul class="desk-evidence">', page.index("desk-main")) :]
    return section[: section.index("</section>")]


def test_the_desk_shows_platform_records_as_summaries_with_their_figures(decided):
    evidence = _desk_evidence(decided)
    record = decided.evidence.get(kind="platform_record")
    check = decided.auto_checks.get()
    # The records at filing: what it is, the amount, payment and delivery, its hash.
    assert "投诉提交时的平台记录" in evidence
    assert f"¥{decided.order.amount}" in evidence and "已发卡密数" in evidence
    assert record.sha256[:16] in evidence
    # The automatic check's answer: which check, what it showed, its attempts, its hash.
    assert "平台自动核验：" in evidence and "上游充值记录显示未到账" in evidence
    assert "尝试次数" in evidence and check.sha256[:16] in evidence
    # Never a bare file tile of JSON with its generated name.
    assert "desk-pdf" not in evidence and ".json" not in evidence
    assert record.file_name not in evidence and check.evidence.file_name not in evidence


def test_the_desk_names_the_key_an_issuer_check_asked_about(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        dispute = file(key_order("GAME-PREUSED-0007"))
    evidence = _desk_evidence(dispute, "en")
    assert "card key" in evidence and "****0007" in evidence
    assert "Platform automatic check:" in evidence and "attempts" in evidence
    assert "desk-pdf" not in evidence
