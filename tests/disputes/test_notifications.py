"""The notification outbox: written with the change, sent on commit, re-sent by the sweep,
never twice — and what it says: what happened with its figures, in the reader's language,
linking to the complaint, one line per complaint and minute."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from disputes import notices, selectors, services, tasks
from disputes.models import Dispute, Notification, NotificationKind, Outcome, Role
from disputes.services.notifications import notify_payout_sent
from escrow import services as escrow_services
from escrow.models import Payout
from tests.disputes.factories import (
    agent_of,
    arbitrator,
    file,
    funded_order,
    offered,
    png,
    resolved_by_refund,
    under_review,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = "2026-11-02 10:00:05 +08:00"


def _due(moment: datetime | None) -> str:
    assert moment is not None
    return timezone.localtime(moment, SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _say(note: Notification, language: str) -> str:
    with translation.override(language):
        return notices.sentence(note)


def _inbox(dispute: Dispute, user, kind: str | None = None):
    rows = Notification.objects.filter(dispute=dispute, recipient=user, channel="inapp")
    return rows.filter(kind=kind) if kind else rows


def _lines(user):
    return selectors.inbox_lines(user, list(selectors.inbox_groups(user)))


def _english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# --- Who is told --------------------------------------------------------------------------


def test_the_whole_shop_team_and_the_buyer_are_told_of_a_new_complaint():
    order = funded_order()
    agent = agent_of(order.merchant)
    dispute = file(order)
    for channel in ("email", "inapp"):
        rows = Notification.objects.filter(dispute=dispute, channel=channel, kind="filed")
        assert set(rows.values_list("recipient", "role")) == {
            (order.merchant.owner.pk, "merchant"),
            (agent.pk, "merchant"),
            (order.buyer.pk, "buyer"),
        }


def test_the_buyer_is_told_of_filing_offer_information_request_ruling_and_payout():
    dispute = offered(Decimal("20.00"))
    kinds = set(_inbox(dispute, dispute.buyer).values_list("kind", flat=True))
    assert kinds == {"filed", "offer_made"}

    dispute = under_review()
    judge = arbitrator()
    services.dispute_request_info(
        dispute=dispute, staff=judge, party="buyer", question="Send the redemption screen"
    )
    services.dispute_message(dispute=dispute, user=dispute.buyer, body="Here it is")
    services.dispute_rule(dispute=dispute, staff=judge, outcome="refunded", reason="Valid")
    kinds = set(_inbox(dispute, dispute.buyer).values_list("kind", flat=True))
    assert {"filed", "contested", "info_requested", "ruled"} <= kinds

    assert escrow_services.payouts_send_pending() == 1  # the ruling's
    assert _inbox(dispute, dispute.buyer, "payout_sent").count() == 1
    dispute = resolved_by_refund()
    assert escrow_services.payouts_send_pending() == 1
    assert _inbox(dispute, dispute.buyer, "payout_sent").count() == 1
    assert not _inbox(dispute, dispute.merchant.owner, "payout_sent").exists()


def test_a_payout_is_told_once_however_often_its_signal_comes():
    dispute = resolved_by_refund()
    escrow_services.payouts_send_pending()
    payout = Payout.objects.get(source_key=f"dispute:{dispute.pk}:payout")
    before = Notification.objects.count()
    assert notify_payout_sent(Payout, payout=payout) == 0  # the dedupe key names the payout
    assert escrow_services.payouts_send_pending() == 0
    assert Notification.objects.count() == before
    note = _inbox(dispute, dispute.buyer, "payout_sent").get()
    when = _due(payout.sent_at)
    assert _say(note, "zh-hans") == f"¥48.00 已于 {when} 原路退回。"
    assert _say(note, "en") == f"¥48.00 was refunded to your original payment method on {when}."


# --- What it says, in both languages --------------------------------------------------------


def test_filing_is_told_with_the_claim_and_the_merchants_deadline_in_both_languages():
    dispute = file()
    due = _due(dispute.merchant_response_due)
    buyer_note = _inbox(dispute, dispute.buyer, "filed").get()
    assert _say(buyer_note, "zh-hans") == (
        f"您的投诉已提交，申请金额 ¥48.00。商家须在 {due} 前答复。"
    )
    assert _say(buyer_note, "en") == (
        f"Your complaint was filed, claiming ¥48.00. The merchant must answer by {due}."
    )
    shop_note = _inbox(dispute, dispute.merchant.owner, "filed").get()
    assert _say(shop_note, "en") == (
        f"New complaint claiming ¥48.00. Answer by {due}, or the buyer wins by default."
    )
    assert f"请在 {due} 前答复" in _say(shop_note, "zh-hans")
    # What is stored is the event and its figures, not a sentence.
    assert buyer_note.subject == buyer_note.body == ""
    assert buyer_note.params["amount"] == "48.00"
    assert buyer_note.params["number"] == dispute.number


def test_an_offer_is_told_with_its_amount_and_deadline():
    dispute = offered(Decimal("20.00"))
    due = _due(dispute.buyer_response_due)
    note = _inbox(dispute, dispute.buyer, "offer_made").get()
    assert _say(note, "en") == (
        f"The merchant offers ¥20.00. Answer by {due}; if you do not, the offer is accepted "
        "for you."
    )
    assert _say(note, "zh-hans") == f"商家提出退款 ¥20.00。请在 {due} 前答复，逾期视为接受。"


def test_a_message_is_told_with_its_first_line():
    dispute = file()
    services.dispute_message(
        dispute=dispute, user=dispute.merchant.owner, body="\n  Try it again now  \nsecond line"
    )
    note = _inbox(dispute, dispute.buyer, "message").get()
    assert _say(note, "en") == "The merchant wrote: “Try it again now”"
    assert _say(note, "zh-hans") == "商家留言：“Try it again now”"
    services.dispute_message(dispute=dispute, user=dispute.buyer, body="x" * 300)
    line = _inbox(dispute, dispute.merchant.owner, "message").get().params["line"]
    assert len(line) == notices.FIRST_LINE_CHARS and line.endswith("…")


def test_a_request_for_information_and_a_ruling_are_told_with_their_figures():
    dispute = under_review()
    judge = arbitrator()
    services.dispute_request_info(
        dispute=dispute, staff=judge, party="buyer", question="Send the redemption screen\nplease"
    )
    dispute.refresh_from_db()
    note = _inbox(dispute, dispute.buyer, "info_requested").get()
    due = _due(dispute.info_due)
    assert _say(note, "en") == (
        f"The platform asks you for information by {due}: “Send the redemption screen”"
    )
    assert _say(note, "zh-hans") == f"平台请您在 {due} 前补充材料：“Send the redemption screen”"

    services.dispute_rule(dispute=dispute, staff=judge, outcome="refunded", reason="Valid")
    for user in (dispute.buyer, dispute.merchant.owner):
        note = _inbox(dispute, user, "ruled").get()
        assert _say(note, "en") == "The platform ruled: refunded, ¥48.00."
        with translation.override("zh-hans"):
            refunded = str(Outcome.REFUNDED.label)
        assert _say(note, "zh-hans") == f"平台已裁决：{refunded}，¥48.00。"


@pytest.mark.parametrize("kind", NotificationKind.values)
@pytest.mark.parametrize("role", [Role.BUYER, Role.MERCHANT])
def test_every_kind_says_something_with_its_figures_in_both_languages(kind, role):
    params = {
        "number": "D2611020001",
        "order": "KM2611020001",
        "status": "awaiting_buyer",
        "due": "2026-11-03T14:00:00+08:00",
        "amount": "12.50",
        "paid": "12.50",
        "outcome": "refunded",
        "line": "It does not work",
        "by": "merchant",
        "evidence_kind": "chat_record",
        "hours": 4,
        "bears": "merchant",
        "at": "2026-11-03T15:02:00+08:00",
    }
    note = Notification(kind=kind, params=params, role=role)
    english, chinese = _say(note, "en"), _say(note, "zh-hans")
    assert english and chinese and english != chinese
    assert "%(" not in english + chinese
    assert not any("\u4e00" <= c <= "\u9fff" for c in english)  # no Chinese in English
    if "¥" in english:
        assert "¥12.50" in english and "¥12.50" in chinese
    if "2026-11-03" in english:
        assert "2026-11-03" in chinese


# --- Links ----------------------------------------------------------------------------------


def test_each_line_links_to_the_complaint_for_its_reader(client):
    dispute = file()
    buyer_line = _lines(dispute.buyer)[0]
    assert buyer_line.url == reverse("disputes:complaint", kwargs={"number": dispute.number})
    shop_line = _lines(dispute.merchant.owner)[0]
    assert shop_line.url == reverse(notices.LINK_URL_NAMES["merchant"], args=[dispute.number])
    client.force_login(dispute.buyer)
    page = client.get("/notifications/").content.decode()
    assert f'href="/complaints/{dispute.number}/"' in page


# --- The page: the reader's language, one line per complaint and minute -----------------------


def test_the_same_row_is_chinese_or_english_as_the_reader_chose(client):
    dispute = file()
    client.force_login(dispute.buyer)
    assert "您的投诉已提交，申请金额 ¥48.00" in client.get("/notifications/").content.decode()
    page = _english(client).get("/notifications/").content.decode()
    assert "Your complaint was filed, claiming ¥48.00" in page
    assert "您的投诉已提交" not in page


def test_events_of_one_complaint_within_a_minute_are_one_line_and_not_across_minutes(
    client, time_machine
):
    time_machine.move_to(START, tick=False)
    dispute = file()
    shop = dispute.merchant.owner
    time_machine.move_to("2026-11-02 10:00:30 +08:00", tick=False)
    services.dispute_message(dispute=dispute, user=shop, body="Which key?")
    time_machine.move_to("2026-11-02 10:00:50 +08:00", tick=False)
    services.dispute_message(dispute=dispute, user=shop, body="The first one?")
    time_machine.move_to("2026-11-02 10:01:10 +08:00", tick=False)
    services.dispute_message(dispute=dispute, user=shop, body="Please answer")

    lines = _lines(dispute.buyer)
    assert [len(line.notes) for line in lines] == [1, 3]
    with translation.override("en"):
        assert lines[0].text == "The merchant wrote: “Please answer”"
        assert lines[1].text == ("The merchant wrote: “The first one?” (and 2 more updates)")
        assert len(lines[1].others) == 2
    client.force_login(dispute.buyer)
    page = _english(client).get("/notifications/").content.decode()
    assert page.count('class="card notification') == 2


def test_a_merchant_sees_evidence_uploads_of_a_minute_as_one_line(time_machine):
    time_machine.move_to(START, tick=False)
    dispute = file()
    for second in (1, 20, 40):
        time_machine.move_to(f"2026-11-02 10:05:{second:02d} +08:00", tick=False)
        services.dispute_add_evidence(
            dispute=dispute, user=dispute.buyer, kind="chat_record", file=png(f"c{second}.png")
        )
    lines = _lines(dispute.merchant.owner)
    assert [len(line.notes) for line in lines] == [3, 1]
    with translation.override("en"):
        assert lines[0].text == "The buyer added 3 pieces of evidence."
    with translation.override("zh-hans"):
        assert lines[0].text == "买家补充了 3 份证据。"


def test_many_messages_in_a_minute_are_one_line_with_the_latest(time_machine):
    time_machine.move_to(START, tick=False)
    dispute = file()
    time_machine.move_to("2026-11-02 10:03:00 +08:00", tick=False)
    for text in ("one", "two", "three"):
        services.dispute_message(dispute=dispute, user=dispute.buyer, body=text)
    line = _lines(dispute.merchant.owner)[0]
    with translation.override("en"):
        assert line.text == "3 new messages; the latest: “three”"
    with translation.override("zh-hans"):
        assert line.text == "3 条新留言，最新：“three”"


def test_a_row_written_before_kinds_existed_still_shows(client):
    dispute = file()
    Notification.objects.create(
        dispute=dispute,
        recipient=dispute.buyer,
        channel="inapp",
        dedupe_key="legacy:1",
        subject=f"投诉 {dispute.number}：商家已答复",
        body="商家已答复\n\n状态：等待买家处理",
        sent_at=timezone.now(),
    )
    client.force_login(dispute.buyer)
    page = client.get("/notifications/").content.decode()
    assert f"投诉 {dispute.number}：商家已答复" in page
    assert "商家已答复<br><br>状态：等待买家处理" in page


# --- The unread badge ---------------------------------------------------------------------


def _badge(client) -> str | None:
    html = client.get(reverse("orders:catalogue")).content.decode()
    marker = 'class="badge" aria-label="'
    if marker not in html:
        return None
    return html.split(marker, 1)[1].split(">", 1)[1].split("<", 1)[0]


def test_the_badge_counts_unread_and_clears_when_read(client, time_machine):
    time_machine.move_to(START, tick=False)
    dispute = file()
    for minute in range(1, 25):  # 25 lines: more than a page
        time_machine.move_to(f"2026-11-02 10:{minute:02d}:00 +08:00", tick=False)
        services.dispute_message(dispute=dispute, user=dispute.merchant.owner, body=f"m{minute}")
    client.force_login(dispute.buyer)
    assert _badge(client) == "25"
    page = client.get("/notifications/").content.decode()
    assert page.count("notification--unread") == 20
    # Looking changes nothing (a GET never writes): still new on the second look.
    assert _badge(client) == "25"
    assert client.get("/notifications/").content.decode().count("notification--unread") == 20
    unread = _inbox(dispute, dispute.buyer).filter(read_at__isnull=True)
    newest = unread.order_by("-created_at", "-pk").first()
    response = client.post(
        reverse("disputes:notifications_read"), {"ids": [newest.pk], "page": "2"}
    )  # one line's "Mark as read"
    assert response.status_code == 302
    assert response["Location"] == "/notifications/?page=2"
    assert _badge(client) == "24"
    assert client.get("/notifications/").content.decode().count("notification--unread") == 19
    response = client.post(reverse("disputes:notifications_read"))
    assert response.status_code == 302
    assert _badge(client) is None
    assert not Notification.objects.filter(recipient=dispute.buyer, read_at__isnull=True).filter(
        channel="inapp"
    )


def test_a_get_of_the_page_reads_nothing_and_each_line_has_its_own_post_form(client):
    """Issue 17: GET /notifications/ marked what it showed as read (a link prefetch, a
    crawler or an image tag could empty the inbox). Reading is a POST, per line or all."""
    dispute = file()
    client.force_login(dispute.buyer)
    before = set(_inbox(dispute, dispute.buyer).filter(read_at__isnull=True).values_list("pk"))
    assert before
    page = client.get("/notifications/").content.decode()
    client.get("/notifications/?page=1")
    assert set(_inbox(dispute, dispute.buyer).filter(read_at__isnull=True).values_list("pk")) == (
        before
    )
    form = page.split('class="inline-form notification__read"', 1)[1].split("</form>", 1)[0]
    for (pk,) in before:
        assert f'name="ids" value="{pk}"' in form
    assert f'action="{reverse("disputes:notifications_read")}"' in page
    assert client.get(reverse("disputes:notifications_read")).status_code == 405


def test_reading_marks_only_ones_own_notifications(client):
    dispute = file()
    client.force_login(UserFactory())
    assert dispute.number not in client.get("/notifications/").content.decode()
    client.post(reverse("disputes:notifications_read"))
    theirs = list(_inbox(dispute, dispute.buyer).values_list("pk", flat=True))
    client.post(reverse("disputes:notifications_read"), {"ids": [str(pk) for pk in theirs]})
    client.post(reverse("disputes:notifications_read"), {"ids": ["x", "-1", "９", "9" * 40]})
    assert _inbox(dispute, dispute.buyer).filter(read_at__isnull=True).count() == len(theirs)
    client.logout()
    assert client.get("/notifications/").status_code == 302


def test_the_page_runs_the_same_queries_at_1_and_50_lines(client, time_machine):
    time_machine.move_to(START, tick=False)
    one = file()
    many = file()
    for n in range(49):
        time_machine.move_to(
            datetime(2026, 11, 2, 11, 0, tzinfo=SHANGHAI) + timedelta(minutes=n), tick=False
        )
        services.dispute_message(dispute=many, user=many.merchant.owner, body=f"message {n}")
    assert len(list(selectors.inbox_groups(many.buyer))) == 50

    def count(user) -> int:
        client.force_login(user)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/notifications/").status_code == 200
        return len(ctx.captured_queries)

    assert count(one.buyer) == count(many.buyer)


# --- E-mail: at least once, never twice, one mail per complaint and minute --------------------


def test_five_events_in_a_minute_are_two_mails_not_five(
    time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(START, tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        dispute = file()
    buyer_mail = [m for m in mail.outbox if m.to == [dispute.buyer.email]]
    assert len(buyer_mail) == 1
    for n, second in enumerate((15, 25, 35, 45)):
        time_machine.move_to(f"2026-11-02 10:00:{second} +08:00", tick=False)
        with django_capture_on_commit_callbacks(execute=True):
            services.dispute_message(dispute=dispute, user=dispute.merchant.owner, body=f"m{n}")
    assert len([m for m in mail.outbox if m.to == [dispute.buyer.email]]) == 1  # held
    time_machine.move_to("2026-11-02 10:02:00 +08:00", tick=False)
    assert services.notifications_send_pending() == 1
    buyer_mail = [m for m in mail.outbox if m.to == [dispute.buyer.email]]
    assert len(buyer_mail) == 2
    digest = buyer_mail[1]
    assert dispute.number in digest.subject and "4 条新留言" in digest.subject
    assert all(f"“m{n}”" in digest.body for n in range(4))
    assert f"/complaints/{dispute.number}/" in digest.body
    rows = Notification.objects.filter(recipient=dispute.buyer, channel="email")
    assert not rows.filter(sent_at__isnull=True).exists()
    assert services.notifications_send_pending() == 0


def test_an_email_is_in_the_platforms_language_whatever_the_request(
    django_capture_on_commit_callbacks,
):
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        dispute = offered(Decimal("20.00"))
    offer_mail = [m for m in mail.outbox if m.to == [dispute.buyer.email]][-1]
    assert "商家提出退款 ¥20.00" in offer_mail.subject or "商家提出退款 ¥20.00" in offer_mail.body
    note = Notification.objects.get(
        dispute=dispute, recipient=dispute.buyer, channel="email", kind="filed"
    )
    # What was sent is kept; it names the product and the shop.
    product, shop = dispute.order.product.name, dispute.merchant.shop_name
    assert note.subject.startswith(f"投诉 {dispute.number}（{product} · {shop}）：")


def test_an_old_unsent_row_is_sent_with_its_own_text():
    dispute = file()
    Notification.objects.filter(dispute=dispute).update(sent_at=timezone.now())
    old = Notification.objects.create(
        dispute=dispute,
        recipient=dispute.buyer,
        channel="email",
        dedupe_key="legacy:2",
        subject="投诉：旧通知",
        body="旧正文",
    )
    Notification.objects.filter(pk=old.pk).update(sent_at=None)
    mail.outbox.clear()
    with mock.patch("disputes.services.notifications._sent_recently", return_value=False):
        assert services.notification_send(notification_id=old.pk) is True
    assert [(m.subject, m.body) for m in mail.outbox] == [("投诉：旧通知", "旧正文")]


def _shop_email(dispute: Dispute) -> Notification:
    return Notification.objects.get(
        dispute=dispute, channel="email", recipient=dispute.merchant.owner
    )


def test_a_lost_publish_is_sent_by_the_sweep_once(time_machine, django_capture_on_commit_callbacks):
    with (
        mock.patch("kamen_complaints.celery.enqueue", return_value=False) as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        dispute = file()
    assert enqueue.called
    note = _shop_email(dispute)
    assert note.sent_at is None and mail.outbox == []
    assert services.notifications_send_pending() == 0  # too fresh: the task may still come
    time_machine.move_to(timezone.now() + timedelta(minutes=2), tick=False)
    assert tasks.notifications_send_pending() == 2  # the shop's and the buyer's
    assert services.notifications_send_pending() == 0
    assert len(mail.outbox) == 2
    note.refresh_from_db()
    assert note.sent_at is not None and note.attempts == 1


def test_sending_the_same_row_twice_sends_one_email():
    dispute = file()
    note = _shop_email(dispute)
    assert services.notification_send(notification_id=note.pk) is True
    assert services.notification_send(notification_id=note.pk) is False
    assert len(mail.outbox) == 1


def test_a_failed_send_is_counted_and_retried():
    dispute = file()
    note = _shop_email(dispute)
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
