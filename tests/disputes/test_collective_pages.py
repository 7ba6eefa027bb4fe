"""The pages of a collective case (issue 22, docs/collective-cases.md), on a case opened and
settled through the real path (three complaints upheld by the automatic check on a batch of
keys, the tasks run on commit): the buyer's notice on the order page and "我也遇到了" (one POST
→ the new complaint), the refunded buyer told how; the dashboard's case and the shop's one
answer; the desk's list and case screen with the money at risk, closing the case; the public
record. Every page reads the core's rows; every write is the core's service."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from disputes.models import CollectiveCase, CollectiveStatus, Dispute, Finding
from disputes.selectors import shop_records
from orders import services as order_services
from orders.models import KeyBatch, Order, Product, ProductKind
from tests.disputes.factories import file, fund
from tests.factories import ProductFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
PRICE = D("48.00")


@pytest.fixture
def client() -> Client:
    """The pages in English (their sentences are asserted); zh-hans is checked apart."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def case_of(django_capture_on_commit_callbacks: Any) -> Any:
    """A batch of 10 keys, the first 6 unknown to the issuer, 8 sold one per order; the first
    3 buyers complain, the automatic check upholds them, and the case opens and settles (the
    tasks handed over on commit run at once). Returns (case, product, orders)."""

    def make() -> tuple[CollectiveCase, Product, list[Order]]:
        product = ProductFactory(price=PRICE, face_value=PRICE, kind=ProductKind.GAME_CARD)
        fund(product.merchant, D("3000.00"))  # stays above the minimum after the refunds
        lines = [f"UNKNOWN-{i:04d}-PAGES" for i in range(6)]
        lines += [f"GOOD-{i:04d}-PAGES" for i in range(4)]
        report = order_services.card_keys_import(
            product=product, data="\n".join(lines), imported_by=product.merchant.owner
        )
        assert KeyBatch.objects.filter(pk=report.batch_id).exists()
        orders = []
        for _ in range(8):
            buyer = UserFactory()
            order = order_services.order_create(buyer=buyer, product=product, quantity=1)
            orders.append(order_services.order_pay(order=order, buyer=buyer))
        for order in orders[:3]:
            with django_capture_on_commit_callbacks(execute=True):
                file(order)
        case = CollectiveCase.objects.get()
        assert case.status == CollectiveStatus.SETTLED
        return case, product, orders

    return make


def _page(client: Any, user: User, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- The buyer ------------------------------------------------------------------------------


def test_a_refunded_buyer_reads_how_they_were_refunded_and_is_offered_no_join(
    client: Any, case_of: Any
) -> None:
    case, _product, orders = case_of()
    refunded = orders[4]  # a bad key, no complaint: the case refunded it
    row = refunded.collective_rows.get()
    assert row.refunded_at is not None and row.finding == Finding.KEY_UNKNOWN
    html = _page(client, refunded.buyer, reverse("orders:order", args=[refunded.number]))
    assert 'id="collective-notice"' in html
    assert case.number in html
    assert "does not know your key" in html
    assert "by the platform, collective case " + case.number in html
    assert "¥48.00" in html
    assert reverse("disputes:collective_join", args=[refunded.number]) not in html
    # The service asks the same rule (disputes.services.collective.join_refusal): a posted
    # join for the refunded order is refused with its reason, nothing filed.
    response = client.post(reverse("disputes:collective_join", args=[refunded.number]), follow=True)
    assert "already refunded this order through the case" in response.content.decode()
    assert not Dispute.objects.filter(order=refunded).exists()


def test_a_buyer_of_a_good_key_joins_in_one_post_and_lands_on_the_new_complaint(
    client: Any, case_of: Any, django_capture_on_commit_callbacks: Any
) -> None:
    case, _product, orders = case_of()
    good = orders[7]  # the issuer reports its key valid
    join = reverse("disputes:collective_join", args=[good.number])
    html = _page(client, good.buyer, reverse("orders:order", args=[good.number]))
    assert "reports your key valid" in html
    assert f'action="{join}"' in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(join)
    complaint = Dispute.objects.get(order=good)
    assert complaint.collective_case_id == case.pk
    assert response.status_code == 302
    assert response["Location"] == reverse("disputes:complaint", args=[complaint.number])
    # The order page now links the complaint instead of offering to join again.
    html = _page(client, good.buyer, reverse("orders:order", args=[good.number]))
    assert f'action="{join}"' not in html
    assert reverse("disputes:complaint", args=[complaint.number]) in html


def test_a_refused_join_comes_back_to_the_order_page_with_the_reason(
    client: Any, case_of: Any
) -> None:
    case, _product, orders = case_of()
    good = orders[6]
    CollectiveCase.objects.filter(pk=case.pk).update(status=CollectiveStatus.CLOSED)
    client.force_login(good.buyer)
    response = client.post(reverse("disputes:collective_join", args=[good.number]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("orders:order", args=[good.number])
    assert "is not part of an open collective case" in response.content.decode()
    assert not Dispute.objects.filter(order=good).exists()
    # Someone else's order is a 404, a GET is not allowed.
    client.force_login(UserFactory())
    assert client.post(reverse("disputes:collective_join", args=[good.number])).status_code == 404
    assert client.get(reverse("disputes:collective_join", args=[good.number])).status_code == 405


# --- The shop -------------------------------------------------------------------------------


def test_the_dashboard_shows_the_case_and_the_shop_answers_once_for_the_batch(
    client: Any, case_of: Any
) -> None:
    case, product, _orders = case_of()
    owner = product.merchant.owner
    home = _page(client, owner, reverse("merchant:home"))
    url = reverse("merchant:collective_case", args=[case.pk])
    assert url in home and case.number in home
    page = _page(client, owner, url)
    for label, value in (("Keys", "10"), ("Delivered", "8"), ("Found bad", "6")):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in page
    assert "3 · ¥144.00" in page  # refunded: 3 orders without a complaint
    # No supplier: the service's refusal next to its field, nothing saved.
    response = client.post(url, {"supplier": " ", "lot": "L-1", "withdraw_rest": "on"})
    assert response.status_code == 400
    assert (
        "Name the supplier" in response.content.decode() or "required" in response.content.decode()
    )
    case.refresh_from_db()
    assert case.answered_at is None
    response = client.post(
        url, {"supplier": "Acme Cards", "lot": "L-2026-12", "note": "Stolen lot."}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.supplier, case.lot, case.answered_by_id) == ("Acme Cards", "L-2026-12", owner.pk)
    page = _page(client, owner, url)
    assert "Acme Cards" in page and 'name="supplier"' not in page
    # Another shop's owner: 404.
    other = ProductFactory().merchant.owner
    client.force_login(other)
    assert client.get(url).status_code == 404


# --- The desk -------------------------------------------------------------------------------


def _staff(role: str) -> User:
    user = StaffFactory()
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)


def test_the_desk_lists_the_case_with_its_figures_and_an_arbitrator_closes_it(
    client: Any, case_of: Any
) -> None:
    case, product, orders = case_of()
    arbitrator = _staff("arbitrator")
    listing = _page(client, arbitrator, reverse("admin:disputes_collectivecase_changelist"))
    screen_url = reverse("admin:disputes_collectivecase_case", args=[case.pk])
    assert screen_url in listing and product.merchant.shop_name in listing
    screen = _page(client, arbitrator, screen_url)
    for complaint in Dispute.objects.filter(collective_case=case):
        assert complaint.number in screen
    for order in orders[3:6]:  # refunded without a complaint
        assert order.number in screen
    assert "The refunds came to ¥144.00" in screen
    # The change URL opens the case screen.
    change = reverse("admin:disputes_collectivecase_change", args=[case.pk])
    assert client.get(change)["Location"] == screen_url
    close = reverse("admin:disputes_collectivecase_close", args=[case.pk])
    response = client.post(close, {"note": ""})
    assert response.status_code == 400
    case.refresh_from_db()
    assert case.status == CollectiveStatus.SETTLED
    response = client.post(close, {"note": "Every order answered; the shop named its supplier."})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CollectiveStatus.CLOSED and case.closed_by_id == arbitrator.pk
    # Finance reads the case (the money at risk) but does not close it.
    finance = _staff("finance")
    screen = _page(client, finance, screen_url)
    assert "The refunds came to" in screen and 'name="note"' not in screen


def test_a_verifier_does_not_see_the_desk_s_cases(client: Any, case_of: Any) -> None:
    case, _product, _orders = case_of()
    client.force_login(_staff("verifier"))
    url = reverse("admin:disputes_collectivecase_case", args=[case.pk])
    assert client.get(url).status_code == 404
    assert client.get(reverse("admin:disputes_collectivecase_changelist")).status_code == 403


# --- The public record ----------------------------------------------------------------------


def test_the_shop_record_counts_its_collective_cases(client: Any, case_of: Any) -> None:
    case, product, _orders = case_of()
    records = shop_records(product.merchant.pk, fresh=True)
    assert records[90]["collective_cases"] == 1
    assert records[90]["collective_refunded_orders"] == case.refunded_count == 3
    response = client.get(reverse("disputes:shop", args=[product.merchant.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 collective case in the last 90 days" in html
    body = client.get(f"/api/v1/shops/{product.merchant.pk}/record/").json()
    assert (body["collective_cases"], body["collective_refunded_orders"]) == (1, 3)
