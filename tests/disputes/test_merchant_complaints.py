"""The merchant dashboard's complaint pages (/merchant/, /merchant/complaints/,
/merchant/complaints/<number>/): the inbox by deadline, the answer forms through the
services, what each answer does to the deposit, permissions, query counts, and the API's
`?ordering=`."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from disputes import services
from disputes.models import Dispute, Evidence, Role, Status
from orders import services as order_services
from orders.models import CardKey, CardKeyStatus, Merchant
from tests.disputes.factories import (
    agent_of,
    arbitrator,
    deposit,
    file,
    funded_order,
    offered,
    png,
    resolved_by_refund,
    under_review,
)
from tests.factories import PASSWORD, CardKeyFactory, MerchantFactory, ProductFactory, UserFactory
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db


def get(client: Client, user: Any, name: str, *args: Any, **params: Any) -> Any:
    client.force_login(user)
    return client.get(reverse(f"merchant:{name}", args=args), params)


def post(
    client: Client, dispute: Dispute, name: str, data: dict[str, Any], user: Any = None
) -> Any:
    client.force_login(user or dispute.merchant.owner)
    return client.post(reverse(f"merchant:{name}", args=[dispute.number]), data)


def text(response: Any) -> str:
    return response.content.decode()


def inbox_numbers(response: Any) -> list[str]:
    return re.findall(
        r'class="order-row__number mono" href="/merchant/complaints/(\w+)/"', text(response)
    )


def shop_with_orders(n: int, *, price: Decimal = Decimal("48.00")) -> list[Any]:
    product = ProductFactory(price=price)
    orders = [paid_order(product=product) for _ in range(n)]
    from tests.disputes.factories import fund

    fund(product.merchant, Decimal("5000.00"))
    return orders


# --- Who may open the dashboard --------------------------------------------------------------


def test_anonymous_goes_to_login(client: Client) -> None:
    for url in (reverse("merchant:home"), reverse("merchant:complaints")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_an_account_without_a_shop_is_sent_to_apply(client: Client) -> None:
    buyer = UserFactory()
    response = get(client, buyer, "home")
    assert response.status_code == 302
    assert response["Location"] == reverse("merchant:apply")
    followed = client.get(reverse("merchant:complaints"), follow=True)
    assert "您的账号还没有店铺" in text(followed)


def test_owner_and_team_member_see_the_home(client: Client) -> None:
    dispute = file()
    agent = agent_of(dispute.merchant)
    for user in (dispute.merchant.owner, agent):
        response = get(client, user, "home")
        assert response.status_code == 200
        body = text(response)
        assert dispute.number in body
        assert dispute.merchant.shop_name in body
    # The team link is the owner's only (the page itself answers 403 to others: M3's tests).
    assert "merchant-nav" in text(get(client, agent, "home"))


def test_a_merchant_lands_on_the_dashboard_after_login(client: Client) -> None:
    merchant = MerchantFactory()
    response = client.post(
        reverse("login"), {"username": merchant.owner.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("merchant:home")
    buyer = UserFactory()
    other = Client()
    response = other.post(reverse("login"), {"username": buyer.username, "password": PASSWORD})
    assert response["Location"] == reverse("orders:catalogue")
    # An explicit `next` still wins.
    third = Client()
    response = third.post(
        reverse("login") + "?next=/orders/",
        {"username": merchant.owner.username, "password": PASSWORD, "next": "/orders/"},
    )
    assert response["Location"] == "/orders/"


def test_another_merchants_complaint_is_404(client: Client) -> None:
    dispute = file()
    stranger = MerchantFactory().owner
    assert get(client, stranger, "complaint", dispute.number).status_code == 404
    response = post(client, dispute, "complaint_accept_refund", {}, user=stranger)
    assert response.status_code == 404
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT
    # The buyer of the complaint has no shop: sent to apply, never shown the merchant page.
    assert get(client, dispute.buyer, "complaint", dispute.number).status_code == 302


def test_a_team_member_answers(client: Client) -> None:
    dispute = file()
    agent = agent_of(dispute.merchant)
    assert get(client, agent, "complaint", dispute.number).status_code == 200
    response = post(client, dispute, "complaint_accept_refund", {"message": ""}, user=agent)
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED


# --- The inbox ---------------------------------------------------------------------------------


def test_the_inbox_lists_open_complaints_by_the_nearest_deadline(
    client: Client, time_machine: Any
) -> None:
    orders = shop_with_orders(3)
    start = timezone.now()
    time_machine.move_to(start - dt.timedelta(hours=20))
    oldest = file(orders[0])
    time_machine.move_to(start - dt.timedelta(hours=2))
    newer = file(orders[1])
    time_machine.move_to(start)
    offer = offered(order=orders[2])  # the buyer's clock: 48 h by default, later still
    response = get(client, oldest.merchant.owner, "complaints")
    assert response.status_code == 200
    assert inbox_numbers(response) == [oldest.number, newer.number, offer.number]
    body = text(response)
    # Counts per status.
    assert re.search(
        r'inbox-counts__item--awaiting_merchant"><span class="inbox-counts__n">2<', body
    )
    assert re.search(r'inbox-counts__item--awaiting_buyer"><span class="inbox-counts__n">1<', body)


def test_the_countdown_turns_amber_under_4_hours_and_red_under_1(
    client: Client, time_machine: Any
) -> None:
    dispute = file()
    due = dispute.merchant_response_due
    assert due is not None
    owner = dispute.merchant.owner
    time_machine.move_to(due - dt.timedelta(hours=10))
    body = text(get(client, owner, "complaints"))
    assert "countdown--amber" not in body and "countdown--red" not in body
    assert 'data-amber="14400"' in body and 'data-red="3600"' in body
    time_machine.move_to(due - dt.timedelta(hours=3))
    body = text(get(client, owner, "complaints"))
    assert "countdown--amber" in body and "countdown--red" not in body
    time_machine.move_to(due - dt.timedelta(minutes=30))
    body = text(get(client, owner, "complaints"))
    assert "countdown--red" in body and "countdown--amber" not in body
    # The detail page's countdown too.
    body = text(get(client, owner, "complaint", dispute.number))
    assert "countdown--red" in body


def test_filters_search_and_the_resolved_tab(client: Client) -> None:
    orders = shop_with_orders(3)
    first = file(orders[0])
    other_reason = file(orders[1], reason="not_received")
    done = resolved_by_refund(order=orders[2])
    owner = first.merchant.owner
    assert inbox_numbers(get(client, owner, "complaints", reason="not_received")) == [
        other_reason.number
    ]
    assert inbox_numbers(get(client, owner, "complaints", q=first.number)) == [first.number]
    assert inbox_numbers(get(client, owner, "complaints", q=first.order.number.lower())) == [
        first.number
    ]
    assert set(inbox_numbers(get(client, owner, "complaints", status="awaiting_merchant"))) == {
        first.number,
        other_reason.number,
    }
    # The product filter: a second product's complaint only.
    product = ProductFactory(merchant=first.merchant)
    second = file(paid_order(product=product))
    assert inbox_numbers(get(client, owner, "complaints", product=product.pk)) == [second.number]
    closed = get(client, owner, "complaints", tab="closed")
    assert inbox_numbers(closed) == [done.number]
    assert done.number not in inbox_numbers(get(client, owner, "complaints"))


def test_pages_are_counted_right_in_both_tabs_filtered_or_not(client: Client) -> None:
    """The unfiltered tabs take their size from the per-status counts (no second COUNT); the
    page links must still match what is listed, and a filter counts what it matches."""
    from merchant.views.complaints import PAGE_SIZE

    orders = shop_with_orders(PAGE_SIZE + 3)
    complaints = [file(order) for order in orders[: PAGE_SIZE + 1]]
    resolved_by_refund(order=orders[-1])
    owner = complaints[0].merchant.owner
    first = get(client, owner, "complaints")
    second = get(client, owner, "complaints", page=2)
    listed = inbox_numbers(first) + inbox_numbers(second)
    assert len(inbox_numbers(first)) == PAGE_SIZE
    assert sorted(listed) == sorted(d.number for d in complaints)
    assert 'href="?page=2"' in text(first) or "page=2" in text(first)
    assert inbox_numbers(get(client, owner, "complaints", page=3)) == inbox_numbers(second)
    closed = get(client, owner, "complaints", tab="closed")
    assert len(inbox_numbers(closed)) == 1 and "page=2" not in text(closed)
    searched = get(client, owner, "complaints", q=complaints[0].number)
    assert inbox_numbers(searched) == [complaints[0].number]
    assert "page=2" not in text(searched)


def test_bad_filters_answer_400_with_the_error_next_to_the_field(client: Client) -> None:
    dispute = file()
    owner = dispute.merchant.owner
    response = get(client, owner, "complaints", q="KM'--", status="lost")
    assert response.status_code == 400
    body = text(response)
    assert body.count('class="field__error"') == 2
    assert 'value="KM&#x27;--"' in body  # the input kept


def test_another_shops_complaints_never_show(client: Client) -> None:
    mine = file()
    theirs = file()
    body = text(get(client, mine.merchant.owner, "complaints"))
    assert mine.number in body and theirs.number not in body


def _many(n: int) -> Merchant:
    orders = shop_with_orders(n)
    for order in orders:
        file(order)
    return orders[0].merchant


@pytest.mark.parametrize("page", ["complaints", "home"])
def test_query_count_is_the_same_at_1_and_50_rows(
    client: Client, django_assert_num_queries: Any, page: str
) -> None:
    one = _many(1)
    many = _many(50)
    counts = []
    for merchant in (one, many):
        client.force_login(merchant.owner)
        client.get(reverse(f"merchant:{page}"))  # warm: session, content types
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse(f"merchant:{page}"))
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    with django_assert_num_queries(counts[1]):
        client.get(reverse(f"merchant:{page}"))


# --- One complaint -------------------------------------------------------------------------


def test_the_page_shows_the_claim_the_platforms_records_and_no_buyer_ip(client: Client) -> None:
    order = funded_order()
    order_services.order_reveal_keys(
        order=order, user=order.buyer, ip="203.0.113.77", user_agent="SecretBrowser/9.9"
    )
    dispute = file(order)
    services.dispute_add_evidence(
        dispute=dispute, user=dispute.buyer, kind="order_screenshot", file=png("shot.png")
    )
    response = get(client, dispute.merchant.owner, "complaint", dispute.number)
    assert response.status_code == 200
    body = text(response)
    assert "The key says already redeemed." in body
    assert "203.0.113.77" not in body and "SecretBrowser" not in body
    assert 'id="records"' in body
    shown = timezone.localtime(order.reveals.get().at, dt.timezone(dt.timedelta(hours=8))).strftime(
        "%Y-%m-%d %H:%M"
    )
    records = body.split('id="records"')[1].split("</section>")[0]
    assert shown in records
    # The evidence thumbnail and its full size, served to the shop; never the platform record.
    evidence = Evidence.objects.get(dispute=dispute, kind="order_screenshot")
    image_url = reverse("merchant:complaint_evidence_image", args=[dispute.number, evidence.pk])
    assert image_url in body
    image = client.get(image_url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    record = Evidence.objects.filter(dispute=dispute, kind="platform_record").first()
    if record is not None:
        url = reverse("merchant:complaint_evidence_image", args=[dispute.number, record.pk])
        assert client.get(url).status_code == 404
    # Another shop cannot fetch the image.
    client.force_login(MerchantFactory().owner)
    assert client.get(image_url).status_code == 404


def test_each_form_says_what_happens_to_the_deposit(client: Client) -> None:
    dispute = file(funded_order(price=Decimal("98.00"), deposit_amount=Decimal("4702.00")))
    summary = deposit(dispute.merchant)
    assert summary.available == Decimal("4604.00")  # the claim is held
    body = text(get(client, dispute.merchant.owner, "complaint", dispute.number))
    assert "将从保证金扣除 ¥98.00，可用余额 ¥4,604.00" in body
    assert body.count('class="answer-note"') == 4


def test_a_fast_tracked_complaint_says_the_payout_is_recovered(client: Client) -> None:
    dispute = file(funded_order(price=Decimal("98.00")))
    Dispute.objects.filter(pk=dispute.pk).update(fast_track=True, paid_out=Decimal("98.00"))
    body = text(get(client, dispute.merchant.owner, "complaint", dispute.number))
    assert "平台已先行赔付买家 ¥98.00，将从保证金追偿" in body
    # No offer and no replacement for a complaint the platform already paid.
    assert 'action="/merchant/complaints/' + dispute.number + '/offer/"' not in body
    assert "/accept-replace/" not in body


def test_accept_with_a_refund(client: Client) -> None:
    dispute = file(funded_order(price=Decimal("98.00")))
    before = deposit(dispute.merchant)
    response = post(client, dispute, "complaint_accept_refund", {"message": "Sorry"})
    assert response.status_code == 302
    assert response["Location"] == reverse("merchant:complaint", args=[dispute.number])
    dispute.refresh_from_db()
    assert dispute.status == Status.RESOLVED and dispute.outcome == "refunded"
    assert deposit(dispute.merchant).balance == before.balance - Decimal("98.00")
    assert "message--success" in text(client.get(response["Location"]))


def test_accept_with_a_replacement_key_uses_the_stock(client: Client) -> None:
    order = funded_order()
    CardKeyFactory(product=order.product)
    CardKeyFactory(product=order.product)
    dispute = file(order)
    body = text(get(client, dispute.merchant.owner, "complaint", dispute.number))
    assert re.search(r'class="answer-option__stock">库存 2<', body)
    response = post(client, dispute, "complaint_accept_replace", {})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.outcome == "replaced"
    available = CardKey.objects.filter(product=order.product, status=CardKeyStatus.AVAILABLE)
    assert available.count() == 1
    assert order.card_keys.count() == 2


def test_replacement_out_of_stock_is_refused_next_to_the_form(client: Client) -> None:
    dispute = file()
    response = post(client, dispute, "complaint_accept_replace", {})
    assert response.status_code in (400, 409)
    assert 'class="form-errors"' in text(response)
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT


def test_an_offer_and_its_bad_amounts(client: Client) -> None:
    dispute = file(funded_order(price=Decimal("98.00")))
    response = post(client, dispute, "complaint_offer", {"amount": "98.00"})
    assert response.status_code == 400
    body = text(response)
    amount_field = body.split('name="amount"')[1].split('class="field"')[0]
    assert 'class="field__error"' in amount_field  # the service's refusal, next to the field
    assert 'id="answer"' in body and 'answer-option" open' in body
    response = post(client, dispute, "complaint_offer", {"amount": "abc"})
    assert response.status_code == 400
    assert 'value="abc"' in text(response)
    response = post(client, dispute, "complaint_offer", {"amount": "40.00", "message": "Half?"})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_BUYER and dispute.offer_amount == Decimal("40.00")


def test_contest_with_counter_evidence_in_the_same_form(client: Client) -> None:
    dispute = file()
    response = post(
        client,
        dispute,
        "complaint_contest",
        {"message": "Redeemed upstream", "kind": "redemption_record"},
    )
    assert response.status_code == 400
    assert "field__error" in text(response)
    assert "Redeemed upstream" in text(response)  # the statement kept
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT
    response = post(
        client,
        dispute,
        "complaint_contest",
        {"message": "Redeemed upstream", "kind": "redemption_record", "file": png("upstream.png")},
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW
    assert dispute.evidence.filter(role=Role.MERCHANT, kind="redemption_record").count() == 1


def test_a_refused_contest_stores_no_evidence(client: Client, time_machine: Any) -> None:
    dispute = file()
    assert dispute.merchant_response_due is not None
    time_machine.move_to(dispute.merchant_response_due + dt.timedelta(minutes=1))
    response = post(
        client,
        dispute,
        "complaint_contest",
        {"message": "Too late", "kind": "redemption_record", "file": png("late.png")},
    )
    assert response.status_code in (400, 409)
    assert not dispute.evidence.filter(role=Role.MERCHANT).exists()


def test_an_empty_statement_is_refused(client: Client) -> None:
    dispute = file()
    response = post(
        client, dispute, "complaint_contest", {"message": " ", "kind": "other", "file": png()}
    )
    assert response.status_code == 400
    assert not dispute.evidence.filter(role=Role.MERCHANT).exists()


def test_a_message_and_evidence_answer_a_request_for_information(client: Client) -> None:
    dispute = under_review()
    staff = arbitrator()
    services.dispute_request_info(
        dispute=dispute, staff=staff, party="merchant", question="Send the upstream log"
    )
    body = text(get(client, dispute.merchant.owner, "complaint", dispute.number))
    assert 'id="info-request"' in body
    response = post(client, dispute, "complaint_message", {"body": "Here it is"})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.review_paused_at is None  # the clock resumed
    response = post(
        client, dispute, "complaint_evidence", {"kind": "upstream_proof", "file": png("log.png")}
    )
    assert response.status_code == 302
    assert dispute.evidence.filter(role=Role.MERCHANT, kind="upstream_proof").count() == 2


def test_answer_forms_are_gone_once_answered(client: Client) -> None:
    dispute = resolved_by_refund()
    body = text(get(client, dispute.merchant.owner, "complaint", dispute.number))
    assert 'id="answer"' not in body
    response = post(client, dispute, "complaint_accept_refund", {})
    assert response.status_code == 409


# --- Notifications link to the dashboard -------------------------------------------------------


def test_merchant_notifications_link_to_the_merchant_page(client: Client) -> None:
    dispute = file()
    client.force_login(dispute.merchant.owner)
    body = text(client.get(reverse("disputes:notifications")))
    assert reverse("merchant:complaint", args=[dispute.number]) in body


# --- The API's ordering ---------------------------------------------------------------------------


def test_api_ordering(time_machine: Any) -> None:
    orders = shop_with_orders(3)
    start = timezone.now()
    time_machine.move_to(start - dt.timedelta(hours=20))
    old = file(orders[0])
    time_machine.move_to(start - dt.timedelta(hours=1))
    new = file(orders[1])
    time_machine.move_to(start)
    done = resolved_by_refund(order=orders[2])
    api = APIClient()
    api.force_authenticate(old.merchant.owner)

    def numbers(query: str) -> list[str]:
        response = api.get(f"/api/v1/disputes/{query}")
        assert response.status_code == 200
        return [d["number"] for d in response.json()["results"]]

    assert numbers("?ordering=deadline") == [old.number, new.number, done.number]
    assert numbers("?ordering=filed_at") == [old.number, new.number, done.number]
    assert numbers("?ordering=-filed_at") == [done.number, new.number, old.number]
    assert numbers("") == [done.number, new.number, old.number]
    response = api.get("/api/v1/disputes/?ordering=price")
    assert response.status_code == 400
    assert "ordering" in response.json().get("fields", response.json())
