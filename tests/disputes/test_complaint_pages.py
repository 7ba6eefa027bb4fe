"""The buyer's complaint pages (/complaints/, /complaints/<number>/): every state in plain
words, every action through the page calling its service, permissions, query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from disputes import services
from disputes.models import (
    Dispute,
    DisputeEvent,
    DisputeRating,
    EventType,
    Evidence,
    Role,
    Status,
    Visibility,
)
from tests.disputes.factories import (
    arbitrator,
    file,
    offered,
    png,
    resolved_by_refund,
    under_review,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def page_of(client: Client, dispute: Dispute, **extra: Any) -> Any:
    client.force_login(dispute.buyer)
    return client.get(reverse("disputes:complaint", args=[dispute.number]), **extra)


def text_of(response: Any) -> str:
    return response.content.decode()


def post(client: Client, dispute: Dispute, name: str, data: dict[str, Any] | None = None) -> Any:
    client.force_login(dispute.buyer)
    return client.post(reverse(f"disputes:{name}", args=[dispute.number]), data or {})


def short(moment: dt.datetime | None) -> str:
    assert moment is not None
    return timezone.localtime(moment, dt.timezone(dt.timedelta(hours=8))).strftime("%m-%d %H:%M")


# --- Every state's sentence -------------------------------------------------------------------


def test_awaiting_merchant_says_who_must_act_by_when(client: Client) -> None:
    dispute = file()
    body = text_of(page_of(client, dispute))
    assert "等待商家处理" in body
    assert f"商家须在 {short(dispute.merchant_response_due)} 前答复，逾期将自动判您胜诉" in body
    assert 'class="countdown__bar"' in body


def test_fast_tracked_says_paid_first(client: Client) -> None:
    dispute = file()
    services.dispute_fast_track(dispute=dispute)
    dispute.refresh_from_db()
    body = text_of(page_of(client, dispute))
    assert "平台已先行赔付" in body
    assert "平台已向您赔付 ¥48.00" in body


def test_awaiting_buyer_shows_offer_with_accept_and_reject(client: Client) -> None:
    dispute = offered(Decimal("20.00"))
    body = text_of(page_of(client, dispute))
    assert "商家提出协商方案：退款 ¥20.00" in body
    assert f"请在 {short(dispute.buyer_response_due)} 前接受或拒绝" in body
    assert reverse("disputes:complaint_accept_offer", args=[dispute.number]) in body
    assert reverse("disputes:complaint_reject_offer", args=[dispute.number]) in body


def test_under_review_shows_review_clock(client: Client) -> None:
    dispute = under_review()
    body = text_of(page_of(client, dispute))
    assert "平台审核中" in body
    assert f"平台将在 {short(dispute.review_due)} 前作出裁决" in body


def test_paused_for_information_names_who_was_asked(client: Client) -> None:
    dispute = under_review()
    staff = arbitrator()
    services.dispute_request_info(
        dispute=dispute, staff=staff, party="buyer", question="Send the bank statement."
    )
    body = text_of(page_of(client, dispute))
    assert "平台需要您补充材料" in body
    other = under_review()
    services.dispute_request_info(dispute=other, staff=staff, party="merchant", question="Logs?")
    assert "平台正在等待商家补充材料" in text_of(page_of(client, other))


def test_resolved_states_name_outcome_and_who_decided(client: Client) -> None:
    by_merchant = resolved_by_refund()
    body = text_of(page_of(client, by_merchant))
    assert "已结案：全额退款 ¥48.00" in body
    assert "商家同意" in body
    assert "如不满意，可在" not in body  # refunded in full: an appeal could add nothing

    by_buyer = offered(Decimal("20.00"))
    services.dispute_accept_offer(dispute=by_buyer, buyer=by_buyer.buyer)
    body = text_of(page_of(client, by_buyer))
    assert "部分退款 ¥20.00" in body
    assert "您接受了商家的协商方案" in body
    assert "如不满意，可在" in body  # the appeal window

    by_staff = under_review()
    services.dispute_rule(
        dispute=by_staff, staff=arbitrator(), outcome="rejected", reason="No proof."
    )
    body = text_of(page_of(client, by_staff))
    assert "投诉未获支持" in body
    assert "由平台裁决" in body


def test_default_judgment_says_the_clock_decided(client: Client) -> None:
    dispute = file()
    assert dispute.merchant_response_due is not None
    with time_machine.travel(dispute.merchant_response_due + dt.timedelta(minutes=1)):
        services.dispute_default_judgment(dispute=dispute)
        body = text_of(page_of(client, dispute))
    assert "由平台时钟自动判定" in body
    assert "商家未按时答复" in body  # the timeline label


def test_appealed_and_withdrawn(client: Client) -> None:
    appealed = resolved_by_refund()
    services.dispute_appeal(dispute=appealed, user=appealed.buyer, reason="Only half worked.")
    assert "申诉审核中" in text_of(page_of(client, appealed))
    withdrawn = file()
    services.dispute_withdraw(dispute=withdrawn, buyer=withdrawn.buyer)
    assert "您已于" in text_of(page_of(client, withdrawn))


def test_timeline_is_translated_and_never_shows_internal_notes(client: Client) -> None:
    dispute = under_review()
    services.dispute_note(dispute=dispute, staff=arbitrator(), body="SECRET staff note")
    body = text_of(page_of(client, dispute))
    assert "投诉已提交" in body
    assert "商家提出异议" in body
    assert "SECRET staff note" not in body
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = text_of(page_of(client, dispute))
    assert "Complaint filed" in english
    assert "The merchant disagreed" in english


def test_money_says_where_it_went(client: Client) -> None:
    dispute = resolved_by_refund()
    body = text_of(page_of(client, dispute))
    # Sent on commit by the eager task in tests, or still on its way: both are said.
    assert "¥48.00 已于" in body or "¥48.00 退款处理中" in body


# --- Actions through the page -----------------------------------------------------------------


def test_accept_offer_through_the_page(client: Client) -> None:
    dispute = offered(Decimal("20.00"))
    response = post(client, dispute, "complaint_accept_offer")
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED
    assert dispute.resolved_amount == Decimal("20.00")


def test_reject_offer_through_the_page(client: Client) -> None:
    dispute = offered(Decimal("20.00"))
    response = post(client, dispute, "complaint_reject_offer", {"message": "Too little."})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW
    body = text_of(client.get(response["Location"]))
    assert "平台审核中" in body


def test_reject_after_the_deadline_is_an_error_on_the_page_not_a_500(client: Client) -> None:
    dispute = offered(Decimal("20.00"))
    assert dispute.buyer_response_due is not None
    with time_machine.travel(dispute.buyer_response_due + dt.timedelta(minutes=1)):
        response = post(client, dispute, "complaint_reject_offer", {"message": "Keep this text"})
    assert response.status_code == 400
    body = text_of(response)
    assert "Keep this text" in body
    assert 'role="alert"' in body


def test_withdraw_needs_the_confirmation(client: Client) -> None:
    dispute = file()
    url = reverse("disputes:complaint_withdraw", args=[dispute.number])
    client.force_login(dispute.buyer)
    assert client.get(url).status_code == 200
    response = client.post(url, {"message": "Sorted out"})
    assert response.status_code == 400
    assert "请勾选" in text_of(response)
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT
    response = client.post(url, {"confirm": "on", "message": "Sorted out"})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.WITHDRAWN


def test_appeal_through_the_page(client: Client) -> None:
    dispute = resolved_by_refund()
    response = post(client, dispute, "complaint_appeal", {"reason": ""})
    assert response.status_code == 400
    response = post(client, dispute, "complaint_appeal", {"reason": "Key still fails."})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW
    assert dispute.appeal_reason == "Key still fails."


def test_message_through_the_page_and_the_thread_partial(client: Client) -> None:
    dispute = file()
    response = post(client, dispute, "complaint_message", {"body": "Any news?"})
    assert response.status_code == 302
    assert DisputeEvent.objects.filter(dispute=dispute, type=EventType.MESSAGE).count() == 1
    part = client.get(reverse("disputes:complaint_thread_part", args=[dispute.number]))
    assert "Any news?" in text_of(part)
    # The page polls with the version it holds: nothing new → 204, nothing swapped.
    version = DisputeEvent.objects.filter(dispute=dispute, type=EventType.MESSAGE).get().pk
    url = reverse("disputes:complaint_thread_part", args=[dispute.number])
    assert client.get(url, {"v": str(version)}).status_code == 204


def test_status_partial_shows_a_new_offer(client: Client) -> None:
    dispute = file()
    client.force_login(dispute.buyer)
    page = text_of(client.get(reverse("disputes:complaint", args=[dispute.number])))
    url = reverse("disputes:complaint_status_part", args=[dispute.number])
    version = page.split(f"{url}?v=")[1].split('"')[0]
    assert client.get(url + "?v=" + version).status_code == 204
    services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="offer", amount=Decimal("9")
    )
    response = client.get(url + "?v=" + version)
    assert response.status_code == 200
    assert "¥9.00" in text_of(response)
    # The timeline comes with it, swapped out of band, holding the offer's event.
    timeline = text_of(response).split('id="timeline"')[1]
    assert timeline.startswith(' aria-labelledby="timeline-heading" hx-swap-oob="true">')
    assert timeline.count('<li class="timeline__item') == 2  # filed, then the offer
    assert "hx-swap-oob" not in page.split('id="timeline"')[1].split(">")[0]


def test_evidence_through_the_page(client: Client) -> None:
    dispute = file()
    response = post(client, dispute, "complaint_evidence", {"kind": "chat_record", "file": png()})
    assert response.status_code == 302
    evidence = Evidence.objects.get(dispute=dispute, kind="chat_record")
    image = client.get(
        reverse("disputes:complaint_evidence_image", args=[dispute.number, evidence.pk])
    )
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert image["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_fake_image_is_refused_next_to_the_file_field(client: Client) -> None:
    dispute = file()
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("proof.jpg", b"not an image at all", content_type="image/jpeg")
    response = post(
        client, dispute, "complaint_evidence", {"kind": "chat_record", "file": fake, "note": "N1"}
    )
    assert response.status_code == 400
    body = text_of(response)
    assert "field--invalid" in body
    assert 'value="N1"' in body


def test_answering_a_request_for_information_resumes_the_clock(client: Client) -> None:
    dispute = under_review()
    services.dispute_request_info(
        dispute=dispute, staff=arbitrator(), party="buyer", question="Statement?"
    )
    response = post(client, dispute, "complaint_message", {"body": "Here it is."})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.review_paused_at is None


def test_rating_once_after_resolution(client: Client) -> None:
    open_one = file()
    response = post(client, open_one, "complaint_rate", {"score": "5"})
    assert response.status_code == 409
    dispute = resolved_by_refund()
    assert post(client, dispute, "complaint_rate", {"score": "9"}).status_code == 400
    response = post(client, dispute, "complaint_rate", {"score": "4", "comment": "Quick."})
    assert response.status_code == 302
    assert DisputeRating.objects.get(dispute=dispute).score == 4
    body = text_of(client.get(reverse("disputes:complaint", args=[dispute.number])))
    assert "您给此投诉打了 4 分" in body
    assert post(client, dispute, "complaint_rate", {"score": "1"}).status_code == 409
    assert DisputeRating.objects.get(dispute=dispute).score == 4


# --- Permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "complaint",
        "complaint_status_part",
        "complaint_thread_part",
        "complaint_withdraw",
    ],
)
def test_another_buyer_gets_404_and_anonymous_goes_to_login(client: Client, name: str) -> None:
    dispute = file()
    url = reverse(f"disputes:{name}", args=[dispute.number])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    # The merchant and staff have their own pages: this one is the buyer's.
    client.force_login(dispute.merchant.owner)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        "complaint_message",
        "complaint_accept_offer",
        "complaint_reject_offer",
        "complaint_appeal",
        "complaint_rate",
        "complaint_evidence",
        "complaint_withdraw",
    ],
)
def test_another_buyer_cannot_act(client: Client, name: str) -> None:
    dispute = offered(Decimal("20.00"))
    client.force_login(UserFactory())
    url = reverse(f"disputes:{name}", args=[dispute.number])
    response = client.post(url, {"body": "x", "reason": "x", "score": "5", "confirm": "on"})
    assert response.status_code == 404
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_BUYER


def test_evidence_image_of_another_buyer_is_404(client: Client) -> None:
    dispute = file(evidence=[services.EvidenceUpload(kind="order_screenshot", file=png())])
    evidence = Evidence.objects.filter(dispute=dispute, kind="order_screenshot").get()
    client.force_login(UserFactory())
    url = reverse("disputes:complaint_evidence_image", args=[dispute.number, evidence.pk])
    assert client.get(url).status_code == 404


# --- Query counts -----------------------------------------------------------------------------


def _grow(dispute: Dispute, *, events: int, evidence: int, messages: int) -> None:
    """Bulk rows for the count test (the services' own checks cap files per party)."""
    now = timezone.now()
    DisputeEvent.objects.bulk_create(
        [
            DisputeEvent(
                dispute=dispute,
                type=EventType.EVIDENCE_ADDED,
                role=Role.MERCHANT,
                data={"kind": "chat_record"},
                created_at=now,
            )
            for _ in range(events)
        ]
        + [
            DisputeEvent(
                dispute=dispute,
                type=EventType.MESSAGE,
                role=Role.BUYER,
                actor=dispute.buyer,
                body=f"message {i}",
                created_at=now,
            )
            for i in range(messages)
        ]
        + [
            DisputeEvent(
                dispute=dispute,
                type=EventType.NOTE,
                role=Role.STAFF,
                body="internal",
                visibility=Visibility.STAFF,
                created_at=now,
            )
        ]
    )
    Evidence.objects.bulk_create(
        [
            Evidence(
                dispute=dispute,
                kind="chat_record",
                stored_name=f"bulk/{dispute.pk}-{i}.png",
                content_type="image/png" if i % 2 else "application/pdf",
                size=10,
                sha256="0" * 64,
                role=Role.BUYER,
                uploaded_by=dispute.buyer,
            )
            for i in range(evidence)
        ]
    )


def _count(django_assert_num_queries: Any, client: Client, dispute: Dispute, n: int) -> None:
    client.force_login(dispute.buyer)
    url = reverse("disputes:complaint", args=[dispute.number])
    client.get(url)  # warm the session and the shop's caches
    with django_assert_num_queries(n):
        response = client.get(url)
    assert response.status_code == 200


def test_complaint_page_queries_do_not_grow(client: Client, django_assert_num_queries: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small = file()
    client.force_login(small.buyer)
    url = reverse("disputes:complaint", args=[small.number])
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    big = file()
    _grow(big, events=200, evidence=40, messages=200)
    _count(django_assert_num_queries, client, big, len(one.captured_queries))
    body = text_of(client.get(reverse("disputes:complaint", args=[big.number])))
    assert "message 199" in body
    assert "internal" not in body


def test_my_complaints_queries_equal_at_1_and_50(
    client: Client, django_assert_num_queries: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from disputes.views import complaints

    monkeypatch.setattr(complaints, "PAGE_SIZE", 50)
    first = file()
    buyer = first.buyer
    client.force_login(buyer)
    url = reverse("disputes:my_complaints")
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        response = client.get(url)
    assert first.number in text_of(response)
    for _ in range(49):
        file(order=_order_for(buyer))
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(url)
    assert text_of(response).count('class="card order-row complaint-row"') == 50


def _order_for(buyer: Any) -> Any:
    from tests.disputes.factories import funded_order

    return funded_order(buyer=buyer)


def test_my_complaints_lists_and_filters(client: Client) -> None:
    open_one = file()
    done = resolved_by_refund(order=_order_for(open_one.buyer))
    client.force_login(open_one.buyer)
    url = reverse("disputes:my_complaints")
    body = text_of(client.get(url))
    assert open_one.number in body and done.number in body
    assert body.index(done.number) < body.index(open_one.number)  # newest first
    body = text_of(client.get(url, {"status": "resolved"}))
    assert done.number in body and open_one.number not in body
    assert "全额退款" in body or "已退款" in body
    assert client.get(url, {"status": "nonsense"}).status_code == 400
    other = UserFactory()
    client.force_login(other)
    assert open_one.number not in text_of(client.get(url))


def test_my_complaints_is_linked_from_the_header(client: Client) -> None:
    client.force_login(UserFactory())
    body = text_of(client.get(reverse("orders:my_orders")))
    assert reverse("disputes:my_complaints") in body
