"""The merchant dashboard's products, card-key import and sales orders pages, and
`GET /api/v1/merchant/orders/` (README "Merchant dashboard"; merchant/views/sales.py).

Owner and team members alike; another shop's product is a 404, an account without a shop is
sent to the application, an anonymous visitor to the login page."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from orders.models import (
    CardKey,
    CardKeyStatus,
    DuplicateKeyFlag,
    MemberRole,
    Merchant,
    MerchantMember,
    MerchantStatus,
    Order,
    OrderStatus,
    Product,
    ProductKind,
)
from orders.selectors import LOW_STOCK_THRESHOLD
from tests.factories import CardKeyFactory, MerchantFactory, ProductFactory, UserFactory
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def agent_of(merchant: Merchant) -> Any:
    user = UserFactory()
    MerchantMember.objects.create(merchant=merchant, user=user, role=MemberRole.AGENT)
    return user


@pytest.fixture
def owner(merchant: Merchant) -> Client:
    return logged_in(merchant.owner)


@pytest.fixture
def rates(settings: Any) -> Any:
    def set_rates(**scopes: str) -> None:
        rest = copy.deepcopy(settings.REST_FRAMEWORK)
        rest["DEFAULT_THROTTLE_RATES"].update(scopes)
        settings.REST_FRAMEWORK = rest
        cache.clear()

    return set_rates


PRODUCT_FORM = {
    "name": "王者荣耀 点券 60",
    "kind": ProductKind.GAME_CARD,
    "face_value": "60",
    "price": "¥58.50",
    "source": "腾讯官方授权渠道 合同 #2026-07",
    "active": "on",
}


# --- Who may open the pages ---------------------------------------------------------------


PAGES = [
    "/merchant/products/",
    "/merchant/products/new/",
    "/merchant/orders/",
]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("url", PAGES)
def test_an_account_without_a_shop_is_sent_to_the_application(url: str, buyer: Any) -> None:
    response = logged_in(buyer).get(url)
    assert response.status_code == 302
    assert not response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("action", ["edit", "import", "active"])
def test_another_shops_product_is_a_404(action: str, product: Product, other_merchant: Any) -> None:
    client = logged_in(other_merchant.owner)
    url = f"/merchant/products/{product.pk}/{action}/"
    response = client.post(url, {"active": "0", "keys": "NEWKEY-0001", **PRODUCT_FORM})
    assert response.status_code == 404
    if action != "active":
        assert client.get(url).status_code == 404
    product.refresh_from_db()
    assert product.active and product.name != PRODUCT_FORM["name"]
    assert product.card_keys.count() == 5


def test_the_anonymous_post_to_an_import_is_sent_to_login_and_imports_nothing(
    product: Product,
) -> None:
    response = Client().post(f"/merchant/products/{product.pk}/import/", {"keys": "ABCD-1234"})
    assert response.status_code == 302
    assert product.card_keys.count() == 5


# --- Products and stock -------------------------------------------------------------------


def test_the_products_page_shows_stock_and_warns_of_low_stock(
    merchant: Merchant, owner: Client
) -> None:
    low = ProductFactory(merchant=merchant, name="Low card")
    CardKeyFactory.create_batch(3, product=low)
    plenty = ProductFactory(merchant=merchant, name="Plenty card")
    CardKeyFactory.create_batch(LOW_STOCK_THRESHOLD, product=plenty)
    topup = ProductFactory(merchant=merchant, kind=ProductKind.PHONE_TOPUP, name="话费 50")
    off = ProductFactory(merchant=merchant, name="Retired card", active=False)
    ProductFactory(name="Someone else's card")

    response = owner.get("/merchant/products/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Someone else&#x27;s card" not in page and "Someone else's card" not in page
    products = {p.pk: p for p in response.context["products"]}
    assert set(products) == {low.pk, plenty.pk, topup.pk, off.pk}
    assert products[low.pk].low_stock and products[low.pk].in_stock == 3
    assert not products[plenty.pk].low_stock
    assert not products[topup.pk].low_stock  # top-ups have no keys to run out of
    assert not products[off.pk].low_stock  # off sale: nothing to warn about
    assert response.context["low_count"] == 1
    assert 'class="notice ms-low-note"' in page
    assert f'id="product-{low.pk}"' in page and "ms-product--low" in page


def test_a_team_member_creates_a_product_and_is_taken_to_its_import(merchant: Merchant) -> None:
    client = logged_in(agent_of(merchant))
    response = client.post("/merchant/products/new/", PRODUCT_FORM)
    product = Product.objects.get(merchant=merchant, name=PRODUCT_FORM["name"])
    assert response.status_code == 302
    assert response["Location"] == f"/merchant/products/{product.pk}/import/"
    assert product.price == Decimal("58.50")
    assert product.face_value == Decimal("60.00")
    assert product.source == PRODUCT_FORM["source"]
    assert product.active


def test_a_new_top_up_product_goes_back_to_the_list(merchant: Merchant, owner: Client) -> None:
    response = owner.post(
        "/merchant/products/new/", {**PRODUCT_FORM, "kind": ProductKind.PHONE_TOPUP}
    )
    assert response.status_code == 302
    assert response["Location"] == "/merchant/products/"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "abc"),
        ("price", "12.345"),
        ("price", "0"),
        ("price", "-5"),
        ("face_value", "1e3"),
        ("source", "   "),
        ("kind", "spaceship"),
        ("name", ""),
    ],
)
def test_bad_product_input_is_refused_next_to_its_field_and_kept(
    field: str, value: str, merchant: Merchant, owner: Client
) -> None:
    data = {**PRODUCT_FORM, field: value}
    response = owner.post("/merchant/products/new/", data)
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors[field]
    assert not Product.objects.filter(merchant=merchant).exists()
    # What the merchant typed is still there.
    assert PRODUCT_FORM["source"] in response.content.decode() or field == "source"


def test_the_owner_edits_a_product(product: Product, owner: Client) -> None:
    url = f"/merchant/products/{product.pk}/edit/"
    page = owner.get(url)
    assert page.status_code == 200
    assert page.context["form"].initial["price"] == f"{product.price:.2f}"
    response = owner.post(url, {**PRODUCT_FORM, "price": "45.00"})
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.price == Decimal("45.00")
    assert product.name == PRODUCT_FORM["name"]


def test_an_edit_with_a_bad_price_changes_nothing(product: Product, owner: Client) -> None:
    before = product.price
    response = owner.post(f"/merchant/products/{product.pk}/edit/", {**PRODUCT_FORM, "price": "x"})
    assert response.status_code == 400
    product.refresh_from_db()
    assert product.price == before


def test_deactivate_and_reactivate_a_product(product: Product, merchant: Merchant) -> None:
    client = logged_in(agent_of(merchant))
    url = f"/merchant/products/{product.pk}/active/"
    assert client.post(url, {"active": "0"}).status_code == 302
    product.refresh_from_db()
    assert not product.active
    # Off the catalogue, still on the merchant's list.
    assert Client().get(f"/products/{product.pk}/").status_code == 404
    assert product.pk in {p.pk for p in client.get("/merchant/products/").context["products"]}
    assert client.post(url, {"active": "1"}).status_code == 302
    product.refresh_from_db()
    assert product.active
    assert client.get(url).status_code == 405


# --- Card-key import ----------------------------------------------------------------------


def _import(client: Client, product: Product, **data: Any) -> Any:
    response = client.post(f"/merchant/products/{product.pk}/import/", data)
    if response.status_code == 302:
        assert response["Location"] == f"/merchant/products/{product.pk}/import/"
        return client.get(response["Location"])
    return response


def test_paste_five_keys_with_one_duplicate_reports_4_1_0(product: Product, owner: Client) -> None:
    keys = ["NEW-KEY-0001", "NEW-KEY-0002", "NEW-KEY-0003", "NEW-KEY-0001", "NEW-KEY-0004"]
    response = _import(owner, product, keys="\n".join(keys))
    assert response.status_code == 200
    report = response.context["report"]
    assert (report["imported"], report["duplicates"], report["rejected"]) == (4, 1, 0)
    assert [(p["line"], p["problem"]) for p in report["problems"]] == [(4, "duplicate")]
    assert report["problems"][0]["reason"]
    page = response.content.decode()
    assert 'data-count="imported">4<' in page
    assert 'data-count="duplicates">1<' in page
    assert 'data-count="rejected">0<' in page
    assert "NEW-KEY-0001" not in page  # a key is never shown back
    assert product.card_keys.filter(status=CardKeyStatus.AVAILABLE).count() == 9
    # The report is shown once: a reload neither imports again nor shows it again.
    again = owner.get(f"/merchant/products/{product.pk}/import/")
    assert again.context["report"] is None
    assert product.card_keys.count() == 9


def test_an_upload_reports_rejected_lines_and_keys_already_on_the_platform(
    product: Product, merchant: Merchant
) -> None:
    elsewhere = CardKeyFactory(plain="TAKEN-BY-OTHER-SHOP")
    upload = SimpleUploadedFile(
        "keys.txt",
        b"\xef\xbb\xbfGOOD-KEY-0001\r\nno spaces allowed\r\n\r\nTAKEN-BY-OTHER-SHOP\r\nab\r\n",
    )
    response = _import(logged_in(agent_of(merchant)), product, file=upload)
    report = response.context["report"]
    assert (report["imported"], report["duplicates"], report["rejected"]) == (1, 1, 2)
    assert [(p["line"], p["problem"]) for p in report["problems"]] == [
        (2, "rejected"),
        (5, "rejected"),
        (4, "duplicate"),
    ]
    assert all(p["reason"] for p in report["problems"])
    flag = DuplicateKeyFlag.objects.get()
    assert flag.existing_key == elsewhere and flag.cross_shop


def test_a_binary_file_is_refused_next_to_the_file_field(product: Product, owner: Client) -> None:
    upload = SimpleUploadedFile("keys.xlsx", b"PK\x03\x04\x00\x00binary")
    response = _import(owner, product, file=upload)
    assert response.status_code == 400
    assert response.context["form"].errors["file"]
    assert product.card_keys.count() == 5


def test_an_empty_import_is_refused(product: Product, owner: Client) -> None:
    response = _import(owner, product, keys="  \n ")
    assert response.status_code == 400
    assert response.context["form"].non_field_errors()


def test_an_inactive_shop_cannot_import(
    product: Product, merchant: Merchant, owner: Client
) -> None:
    Merchant.objects.filter(pk=merchant.pk).update(status=MerchantStatus.PENDING_VERIFICATION)
    page = owner.get(f"/merchant/products/{product.pk}/import/")
    assert page.context["shop_active"] is False
    response = _import(owner, product, keys="FRESH-KEY-0001")
    assert response.status_code == 403
    assert response.context["form"].non_field_errors()
    assert product.card_keys.count() == 5


def test_a_top_up_product_has_no_keys_to_import(topup_product: Product, owner: Client) -> None:
    response = _import(owner, topup_product, keys="FRESH-KEY-0001")
    assert response.status_code == 400
    assert response.context["form"].non_field_errors()
    assert topup_product.card_keys.count() == 0


def test_the_page_import_shares_the_apis_throttle(
    product: Product, owner: Client, merchant: Merchant, rates: Any
) -> None:
    rates(import_user="2/hour", import_ip="100/hour")
    api = Client()
    api.force_login(merchant.owner)
    assert (
        api.post(
            f"/api/v1/merchant/products/{product.pk}/card-keys/",
            {"keys": "API-KEY-0001"},
            content_type="application/json",
        ).status_code
        == 200
    )
    assert _import(owner, product, keys="PAGE-KEY-0001").status_code == 200
    refused = _import(owner, product, keys="PAGE-KEY-0002")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert refused.context["form"].non_field_errors()
    assert "PAGE-KEY-0002" in refused.content.decode()  # the paste is kept
    assert not CardKey.objects.filter(tail="0002", product=product).exists()


# --- Sales orders -------------------------------------------------------------------------


def test_the_orders_page_lists_the_shops_orders_with_keys_masked(
    product: Product, merchant: Merchant
) -> None:
    mine = paid_order(product=product)
    theirs = paid_order()
    client = logged_in(agent_of(merchant))
    response = client.get("/merchant/orders/")
    assert response.status_code == 200
    numbers = [row["order"].number for row in response.context["rows"]]
    assert numbers == [mine.number]
    assert theirs.number not in response.content.decode()
    page = response.content.decode()
    key = mine.card_keys.get()
    assert key.masked in page
    assert key.reveal() not in page
    assert mine.payment_reference in page


def test_orders_search_by_number_and_payment_reference(product: Product, owner: Client) -> None:
    CardKeyFactory.create_batch(5, product=product)
    first, second, third = (paid_order(product=product) for _ in range(3))

    def numbers(**query: str) -> list[str]:
        response = owner.get("/merchant/orders/", query)
        assert response.status_code == 200
        return [row["order"].number for row in response.context["rows"]]

    assert numbers(q=second.number.lower()) == [second.number]
    assert numbers(q=f"  {third.payment_reference} ") == [third.number]
    assert numbers(q="KM000000NOTHING") == []
    assert numbers() == [third.number, second.number, first.number]


def test_orders_filter_by_status_and_date(
    product: Product, merchant: Merchant, owner: Client
) -> None:
    delivered = paid_order(product=product)
    pending = Order.objects.create(
        number="KM260101PENDING01",
        buyer=UserFactory(),
        merchant=merchant,
        product=product,
        quantity=1,
        unit_price=product.price,
        amount=product.price,
    )
    # Placed at 23:30 on 1 March, Shanghai time (15:30 UTC).
    old = datetime(2026, 3, 1, 23, 30, tzinfo=SHANGHAI)
    Order.objects.filter(pk=pending.pk).update(created_at=old)

    def numbers(**query: str) -> list[str]:
        return [r["order"].number for r in owner.get("/merchant/orders/", query).context["rows"]]

    assert numbers(status=OrderStatus.PENDING_PAYMENT) == [pending.number]
    assert numbers(status=OrderStatus.DELIVERED) == [delivered.number]
    assert numbers(date_from="2026-03-01", date_to="2026-03-01") == [pending.number]
    assert numbers(date_from="2026-03-02", date_to="2026-03-02") == []
    assert pending.number not in numbers(date_from=(old + timedelta(days=1)).date().isoformat())


def test_bad_order_filters_are_refused_next_to_their_field(owner: Client, product: Product) -> None:
    paid_order(product=product)
    response = owner.get("/merchant/orders/", {"date_from": "2026-03-05", "date_to": "2026-03-01"})
    assert response.status_code == 400
    assert response.context["filter_form"].errors["date_to"]
    assert response.context["rows"] == []
    response = owner.get("/merchant/orders/", {"status": "lost", "date_from": "yesterday"})
    assert response.status_code == 400
    assert set(response.context["filter_form"].errors) == {"status", "date_from"}


@pytest.mark.parametrize(
    ("date_from", "date_to"), [("0001-01-01", "9999-12-31"), ("0001-01-02", "9999-12-30")]
)
def test_dates_at_the_ends_of_the_calendar_are_no_500(
    date_from: str,
    date_to: str,
    product: Product,
    owner: Client,
    merchant: Merchant,
    client_as: Any,
) -> None:
    order = paid_order(product=product)
    response = owner.get("/merchant/orders/", {"date_from": date_from, "date_to": date_to})
    assert response.status_code == 200
    assert [row["order"].number for row in response.context["rows"]] == [order.number]
    api = client_as(merchant.owner)
    body = api.get(
        "/api/v1/merchant/orders/", {"created_from": date_from, "created_to": date_to}
    ).json()
    assert [row["number"] for row in body["results"]] == [order.number]


def test_an_order_links_to_its_complaint(merchant: Merchant, owner: Client) -> None:
    from tests.disputes.factories import file, funded_order

    order = funded_order(product=ProductFactory(merchant=merchant))
    complaint = file(order)
    response = owner.get("/merchant/orders/")
    row = response.context["rows"][0]
    assert row["complaint"].number == complaint.number
    page = response.content.decode()
    assert complaint.number in page
    assert f'href="{reverse("merchant:complaint", args=[complaint.number])}"' in page


def test_orders_pagination_without_a_total(product: Product, owner: Client, settings: Any) -> None:
    from merchant.views import sales

    CardKeyFactory.create_batch(sales.ORDERS_PAGE_SIZE, product=product)
    for _ in range(sales.ORDERS_PAGE_SIZE + 1):
        paid_order(product=product)
    first = owner.get("/merchant/orders/")
    assert len(first.context["rows"]) == sales.ORDERS_PAGE_SIZE
    assert first.context["page"].has_next
    second = owner.get("/merchant/orders/", {"page": "2"})
    assert len(second.context["rows"]) == 1
    assert not second.context["page"].has_next and second.context["page"].has_previous
    assert owner.get("/merchant/orders/", {"page": "abc"}).status_code == 200


# --- Query counts: the same at 1 and 50 rows ----------------------------------------------


def _orders(merchant: Merchant, count: int) -> None:
    from tests.disputes.factories import file

    product = ProductFactory(merchant=merchant)
    CardKeyFactory.create_batch(count, product=product)
    for n in range(count):
        order = paid_order(product=product)
        if n % 2 == 0:
            file(order)


def _count_queries(client: Client, url: str, django_assert_max_num_queries: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm: session, translations
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_orders_and_products_pages_cost_the_same_queries_at_1_and_50_rows(
    django_assert_max_num_queries: Any,
) -> None:
    from tests.disputes.factories import fund

    small, large = MerchantFactory(), MerchantFactory()
    fund(small)
    fund(large)
    _orders(small, 1)
    _orders(large, 50)
    for _ in range(49):
        ProductFactory(merchant=large)
    counts = {}
    for merchant in (small, large):
        client = logged_in(merchant.owner)
        counts[merchant.pk] = (
            _count_queries(client, "/merchant/orders/", django_assert_max_num_queries),
            _count_queries(client, "/merchant/products/", django_assert_max_num_queries),
        )
    assert counts[small.pk] == counts[large.pk], counts


# --- GET /api/v1/merchant/orders/ ---------------------------------------------------------


def test_the_api_lists_the_shops_orders_to_owner_and_team(
    product: Product, merchant: Merchant, client_as: Any
) -> None:
    mine = paid_order(product=product)
    paid_order()  # another shop's
    for user in (merchant.owner, agent_of(merchant)):
        response = client_as(user).get("/api/v1/merchant/orders/")
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 1
        row = body["results"][0]
        assert row["number"] == mine.number
        assert row["buyer"] == mine.buyer.username
        assert row["complaint"] is None
        key = mine.card_keys.get()
        assert row["card_keys"] == [key.masked]
        assert key.reveal() not in response.content.decode()


def test_the_api_refuses_callers_without_a_shop(buyer: Any, client_as: Any) -> None:
    assert client_as(buyer).get("/api/v1/merchant/orders/").status_code == 404
    assert client_as(None).get("/api/v1/merchant/orders/").status_code in (401, 403)


def test_the_api_filters(product: Product, merchant: Merchant, client_as: Any) -> None:
    CardKeyFactory.create_batch(2, product=product)
    first, second = paid_order(product=product), paid_order(product=product)
    pending = Order.objects.create(
        number="KM260101PENDING02",
        buyer=UserFactory(),
        merchant=merchant,
        product=product,
        quantity=1,
        unit_price=product.price,
        amount=product.price,
    )
    Order.objects.filter(pk=pending.pk).update(
        created_at=datetime(2026, 3, 1, 0, 10, tzinfo=SHANGHAI)
    )
    api = client_as(merchant.owner)

    def numbers(**query: str) -> list[str]:
        response = api.get("/api/v1/merchant/orders/", query)
        assert response.status_code == 200, response.content
        return [row["number"] for row in response.json()["results"]]

    assert numbers(status="pending_payment") == [pending.number]
    assert numbers(number=first.number.lower()) == [first.number]
    assert numbers(payment_reference=second.payment_reference) == [second.number]
    assert numbers(created_from="2026-03-01", created_to="2026-03-01") == [pending.number]
    assert numbers(created_to="2026-02-28") == []
    assert pending.number not in numbers(created_from="2026-03-02")
    for bad in ({"status": "lost"}, {"created_from": "soon"}, {"status": ""}):
        assert api.get("/api/v1/merchant/orders/", bad).status_code == 400


def test_the_api_names_the_orders_complaint(merchant: Merchant, client_as: Any) -> None:
    from tests.disputes.factories import file, funded_order

    order = funded_order(product=ProductFactory(merchant=merchant))
    complaint = file(order)
    body = client_as(merchant.owner).get("/api/v1/merchant/orders/").json()
    assert body["results"][0]["complaint"] == complaint.number


def test_an_order_links_its_latest_complaint_not_withdrawn(
    merchant: Merchant, owner: Client, client_as: Any
) -> None:
    """The rule is the complaints app's (disputes.selectors.order_complaint, registered with
    orders at start-up): the latest complaint not withdrawn, else the latest withdrawn one —
    the page and the API alike."""
    from disputes.models import Dispute, Status
    from disputes.services import dispute_withdraw
    from tests.disputes.factories import file, funded_order

    order = funded_order(product=ProductFactory(merchant=merchant))
    api = client_as(merchant.owner)

    def linked() -> tuple[str, str]:
        row = owner.get("/merchant/orders/").context["rows"][0]
        body = api.get("/api/v1/merchant/orders/").json()
        return row["complaint"].number, body["results"][0]["complaint"]

    first = file(order)
    dispute_withdraw(dispute=first, buyer=order.buyer)
    second = file(order)
    assert linked() == (second.number, second.number)
    dispute_withdraw(dispute=second, buyer=order.buyer)
    assert linked() == (second.number, second.number)
    # A complaint not withdrawn wins over a newer withdrawn one (set directly: the rules
    # allow no second complaint while one is open).
    Dispute.objects.filter(pk=first.pk).update(status=Status.AWAITING_MERCHANT)
    assert linked() == (first.number, first.number)


def test_the_api_costs_the_same_queries_at_1_and_50_rows(client_as: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.disputes.factories import fund

    counts = []
    for size in (1, 50):
        merchant = MerchantFactory()
        fund(merchant)
        _orders(merchant, size)
        api = client_as(merchant.owner)
        with CaptureQueriesContext(connection) as ctx:
            response = api.get("/api/v1/merchant/orders/", {"page_size": "100"})
        assert len(response.json()["results"]) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
