"""Hostile input is a 400 in the API's JSON shape, never a 500 and never quietly accepted
(docs/security/hostile-input.md): text that is not valid Unicode, empty or non-integer list
parameters, bodies that are not objects, amounts spelt any way but plain ASCII decimals."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from disputes.models import Dispute, Status
from escrow.selectors import deposit_summary
from kamen_complaints.money import parse_yuan
from orders.models import Order, OrderStatus, Product
from tests.disputes.conftest import _seeded_policy  # noqa: F401  (autouse fixture)
from tests.disputes.factories import file, fund, png_bytes
from tests.factories import (
    CardKeyFactory,
    MerchantFactory,
    OrderFactory,
    ProductFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SURROGATE = "\ud800"
# UTF-7 spells U+D800 as "+2AA-": a form or multipart body declaring that charset decodes to a
# lone surrogate without any JSON escape.
UTF7_SURROGATE = b"+2AA-"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def blacklist_manager() -> Any:
    return StaffFactory(perms=["disputes.manage_blacklist"])


def client_for(user: Any) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    return client


def assert_refused(response: Any, status: int = 400, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    if code is not None:
        assert body.get("code") == code, body
        assert body["detail"]
    return body


# --- A lone surrogate in a choice field --------------------------------------------------


def _dispute() -> Dispute:
    return file()


def _case_pay() -> tuple[Any, str, dict]:
    order = OrderFactory()
    return order.buyer, f"/api/v1/orders/{order.number}/pay/", {"channel": SURROGATE}


def _case_product() -> tuple[Any, str, dict]:
    merchant = MerchantFactory()
    body = {"name": "x", "kind": SURROGATE, "face_value": "1", "price": "1", "source": "s"}
    return merchant.owner, "/api/v1/merchant/products/", body


def _case_topup() -> tuple[Any, str, dict]:
    merchant = MerchantFactory()
    return (
        merchant.owner,
        "/api/v1/merchant/deposit/topups/",
        {"amount": "10", "channel": SURROGATE},
    )


def _case_file_reason() -> tuple[Any, str, dict]:
    order = OrderFactory(status=OrderStatus.DELIVERED)
    body = {"order": order.number, "reason": SURROGATE, "claimed_amount": "1.00"}
    return order.buyer, "/api/v1/disputes/", body


def _case_file_evidence_kind() -> tuple[Any, str, dict]:
    order = OrderFactory(status=OrderStatus.DELIVERED)
    body = {
        "order": order.number,
        "reason": "other",
        "claimed_amount": "1.00",
        "evidence_kind": [SURROGATE],
    }
    return order.buyer, "/api/v1/disputes/", body


def _dispute_case(action: str, body: dict, who: str = "buyer") -> Any:
    def case() -> tuple[Any, str, dict]:
        dispute = _dispute()
        user = dispute.buyer if who == "buyer" else dispute.merchant.owner
        return user, f"/api/v1/disputes/{dispute.number}/{action}/", body

    return case


CHOICE_CASES = {
    "pay channel": _case_pay,
    "product kind": _case_product,
    "top-up channel": _case_topup,
    "complaint reason": _case_file_reason,
    "complaint evidence_kind": _case_file_evidence_kind,
    # The buyer may not respond, rule, ask for information or decide recovery: before, the
    # validation error naming the surrogate was a 500 even for a caller without the right.
    "respond action (buyer)": _dispute_case("respond", {"action": SURROGATE}),
    "respond remedy (merchant)": _dispute_case(
        "respond", {"action": "accept", "remedy": SURROGATE}, who="merchant"
    ),
    "rule outcome (buyer)": _dispute_case("rule", {"outcome": SURROGATE, "reason": "r"}),
    "request-info party (buyer)": _dispute_case(
        "request-info", {"party": SURROGATE, "question": "q"}
    ),
    "recovery bears (merchant)": _dispute_case(
        "recovery", {"bears": SURROGATE, "reason": "r"}, who="merchant"
    ),
    "a surrogate as a key": _dispute_case("messages", {SURROGATE: "x", "body": "hi"}),
}


@pytest.mark.parametrize("case", CHOICE_CASES.values(), ids=CHOICE_CASES.keys())
def test_a_lone_surrogate_in_a_json_body_is_a_400_not_a_500(case):
    user, path, body = case()
    disputes_before = list(Dispute.objects.values_list("pk", "status"))
    products_before = Product.objects.count()
    # json.dumps escapes it as \ud800, as any client library would send it.
    response = client_for(user).post(path, json.dumps(body), content_type="application/json")
    assert_refused(response, 400, "invalid_text")
    assert list(Dispute.objects.values_list("pk", "status")) == disputes_before
    assert Product.objects.count() == products_before


def test_the_refusal_is_translated():
    user, path, body = _case_product()
    client = client_for(user)
    zh = client.post(path, json.dumps(body), content_type="application/json")
    en = client.post(
        path, json.dumps(body), content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "not valid Unicode" in en.json()["detail"]
    assert zh.json()["detail"] != en.json()["detail"]
    assert "Unicode" in zh.json()["detail"]  # the zh-hans sentence names it too


def test_a_lone_surrogate_in_a_form_body_is_a_400():
    merchant = MerchantFactory()
    body = b"name=x&kind=" + UTF7_SURROGATE + b"&face_value=1&price=1&source=s"
    response = client_for(merchant.owner).post(
        "/api/v1/merchant/products/",
        body,
        content_type="application/x-www-form-urlencoded; charset=utf-7",
    )
    assert_refused(response, 400, "invalid_text")
    assert not Product.objects.exists()


def _multipart(kind: bytes, filename_parameter: bytes) -> bytes:
    return (
        b"--BoUnDaRy\r\n"
        b'Content-Disposition: form-data; name="kind"\r\n\r\n' + kind + b"\r\n"
        b"--BoUnDaRy\r\n"
        b'Content-Disposition: form-data; name="file"; ' + filename_parameter + b"\r\n"
        b"Content-Type: image/png\r\n\r\n" + png_bytes() + b"\r\n"
        b"--BoUnDaRy--\r\n"
    )


@pytest.mark.parametrize("where", ["field", "file name"])
def test_a_lone_surrogate_in_a_multipart_body_is_a_400(where):
    dispute = _dispute()
    if where == "field":
        body = _multipart(UTF7_SURROGATE, b'filename="a.png"')
    else:  # RFC 2231 lets a file name declare its own charset
        body = _multipart(b"chat_record", b"filename*=utf-7''a%2B2AA-.png")
    evidence_before = dispute.evidence.count()
    response = client_for(dispute.buyer).post(
        f"/api/v1/disputes/{dispute.number}/evidence/",
        body,
        content_type="multipart/form-data; boundary=BoUnDaRy; charset=utf-7",
    )
    # (Django's multipart parser drops a file whose name does not decode: "no file sent".)
    assert_refused(response, 400, "invalid_text" if where == "field" else None)
    assert dispute.evidence.count() == evidence_before


@pytest.mark.parametrize(
    "path", ["/api/v1/disputes/?status=", "/api/v1/orders/?status=", "/api/v1/products/?kind="]
)
@pytest.mark.parametrize("value", ["%ED%A0%80", "%2B2AA-", "%00"])
def test_junk_in_a_choice_filter_is_a_400(path, value):
    # Django decodes the query string itself (invalid UTF-8 → U+FFFD), whatever charset the
    # request declares: no surrogate gets through, and the junk is refused like any value.
    response = client_for(UserFactory()).get(path + value, CONTENT_TYPE="text/plain; charset=utf-7")
    assert_refused(response, 400)


# --- Empty and non-integer list parameters -----------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/disputes/?status=", "status"),
        ("/api/v1/orders/?status=", "status"),
        ("/api/v1/products/?kind=", "kind"),
        ("/api/v1/products/?kind=%20", "kind"),
    ],
)
def test_an_empty_filter_is_a_400_not_everything(path, name):
    assert name in assert_refused(client_for(UserFactory()).get(path), 400)


def test_a_known_status_still_filters():
    dispute = _dispute()
    client = client_for(dispute.buyer)
    listed = client.get("/api/v1/disputes/?status=awaiting_merchant").json()
    assert [d["number"] for d in listed["results"]] == [dispute.number]
    assert client.get("/api/v1/disputes/?status=resolved").json()["count"] == 0
    assert client.get("/api/v1/orders/?status=delivered").status_code == 200


@pytest.mark.parametrize("param", ["page_size", "page"])
@pytest.mark.parametrize("value", ["null", "", "0", "-1", "1.5", "1e1", "%EF%BC%91", "%D9%A1", "x"])
@pytest.mark.parametrize(
    "path",
    ["/api/v1/orders/", "/api/v1/products/", "/api/v1/disputes/", "/api/v1/staff/blacklist/"],
)
def test_a_page_or_page_size_that_is_not_a_positive_integer_is_a_400(path, param, value):
    user = blacklist_manager() if "staff" in path else UserFactory()
    body = assert_refused(client_for(user).get(f"{path}?{param}={value}"), 400)
    assert param in body


def test_page_size_above_the_maximum_is_read_as_100_and_a_page_past_the_end_is_404():
    for _ in range(3):
        ProductFactory()
    client = client_for(UserFactory())
    page = client.get("/api/v1/products/?page_size=1000&page=1").json()
    assert page["count"] == 3 and len(page["results"]) == 3
    assert client.get("/api/v1/products/?page_size=2&page=2").json()["results"]
    assert_refused(client.get("/api/v1/products/?page_size=2&page=3"), 404, "not_found")


def test_a_blacklist_active_flag_that_is_not_a_boolean_is_a_400():
    client = client_for(blacklist_manager())
    assert "active" in assert_refused(client.get("/api/v1/staff/blacklist/?active=maybe"))
    assert client.get("/api/v1/staff/blacklist/?active=true").status_code == 200


# --- Bodies that are not an object --------------------------------------------------------


@pytest.mark.parametrize("body", ["[]", "null", '[{"channel": "sandbox"}]', '"sandbox"', "1"])
def test_a_pay_body_that_is_not_an_object_is_a_400_and_pays_nothing(body):
    order = OrderFactory()
    response = client_for(order.buyer).post(
        f"/api/v1/orders/{order.number}/pay/", body, content_type="application/json"
    )
    assert_refused(response, 400, "parse_error")
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT and order.paid_at is None


def test_an_empty_pay_body_still_means_the_default_channel():
    """No body at all is not a body of the wrong shape: the channel defaults to the sandbox."""
    product = ProductFactory()
    CardKeyFactory(product=product)
    order = OrderFactory(product=product)
    response = client_for(order.buyer).post(f"/api/v1/orders/{order.number}/pay/")
    assert response.status_code == 200, response.content[:300]
    assert Order.objects.get(pk=order.pk).paid_at is not None


# --- Amounts ------------------------------------------------------------------------------

REFUSED_AMOUNTS = [
    "1_0.00",  # Python's digit separator
    "１２.５０",  # fullwidth digits
    "١٢",  # Arabic-Indic digits
    "1E-2",
    "1e2",
    " 12.50",
    "12.50 ",
    "+12.50",
    "12.",
    ".5",
    "0x10",
    "12.5.0",
    "Infinity",
    "NaN",
    "-",
    "",
    "9" * 41,
    12.5,  # a JSON float: a binary fraction, never exactly 12.50
    12.0,
    True,
    [],
    {},
]


@pytest.mark.parametrize("amount", REFUSED_AMOUNTS, ids=[repr(a) for a in REFUSED_AMOUNTS])
def test_an_amount_that_is_not_a_plain_ascii_decimal_is_a_400(amount):
    merchant = MerchantFactory()
    body = {"name": "点卡", "kind": "other", "face_value": "10.00", "price": amount, "source": "s"}
    response = client_for(merchant.owner).post(
        "/api/v1/merchant/products/", json.dumps(body), content_type="application/json"
    )
    assert "price" in assert_refused(response, 400)
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("amount", "stored"),
    [("12", "12.00"), ("12.5", "12.50"), ("12.50", "12.50"), ("0012.50", "12.50"), (12, "12.00")],
)
def test_plain_ascii_decimals_and_json_integers_are_accepted(amount, stored):
    merchant = MerchantFactory()
    body = {"name": "点卡", "kind": "other", "face_value": "100.00", "price": amount, "source": "s"}
    response = client_for(merchant.owner).post(
        "/api/v1/merchant/products/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201, response.content[:300]
    assert response.json()["price"] == stored


@pytest.mark.parametrize("amount", ["1E+3", "１０", 10.0, "10_0"])
def test_a_top_up_amount_spelt_oddly_credits_nothing(amount):
    merchant = MerchantFactory()
    response = client_for(merchant.owner).post(
        "/api/v1/merchant/deposit/topups/",
        json.dumps({"amount": amount, "channel": "sandbox"}),
        content_type="application/json",
    )
    assert "amount" in assert_refused(response, 400)
    assert deposit_summary(merchant).balance == Decimal("0.00")


def test_a_claimed_amount_spelt_oddly_files_nothing():
    dispute = _dispute()
    order = dispute.order
    fund(order.merchant)
    response = client_for(UserFactory()).post(
        "/api/v1/disputes/",
        json.dumps({"order": order.number, "reason": "other", "claimed_amount": "1E1"}),
        content_type="application/json",
    )
    assert "claimed_amount" in assert_refused(response, 400)


def test_a_negative_amount_is_refused_by_its_rule_with_amount_invalid():
    merchant = MerchantFactory()
    response = client_for(merchant.owner).post(
        "/api/v1/merchant/deposit/topups/",
        {"amount": "-3.00", "channel": "sandbox"},
        format="json",
    )
    assert_refused(response, 400, "amount_invalid")


def test_amount_messages_are_clear_in_both_languages():
    merchant = MerchantFactory()
    client = client_for(merchant.owner)
    body = {"name": "点卡", "kind": "other", "face_value": "10.00", "price": 9.5, "source": "s"}
    en = client.post("/api/v1/merchant/products/", body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert en.json()["price"] == ['Send an amount as a string such as "12.50" (or a whole number).']
    zh = client.post("/api/v1/merchant/products/", body, format="json")
    assert "12.50" in zh.json()["price"][0] and zh.json()["price"] != en.json()["price"]
    body["price"] = "1E-2"
    en = client.post("/api/v1/merchant/products/", body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert en.json()["price"] == ["Enter an amount such as 12.50."]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", Decimal("7.00")),
        ("7.1", Decimal("7.10")),
        ("-7.10", Decimal("-7.10")),
        (7, Decimal("7.00")),
        (Decimal("7.10"), Decimal("7.10")),
        ("9999999999.99", Decimal("9999999999.99")),
    ],
)
def test_parse_yuan_accepts(value, expected):
    assert parse_yuan(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "7.001",
        Decimal("7.001"),
        Decimal("NaN"),
        7.5,
        False,
        None,
        "10000000000.00",
        10**5000,
        "٧",
        "7\n",
    ],
    ids=lambda value: "huge int" if isinstance(value, int) and value > 10**9 else repr(value),
)
def test_parse_yuan_refuses(value):
    with pytest.raises(ValueError):
        parse_yuan(value)


# --- The schema a fuzzer reads ------------------------------------------------------------


def test_the_schema_links_complaints_to_their_actions():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    schema = response.json() if response["Content-Type"].startswith("application/json") else None
    if schema is None:
        import yaml

        schema = yaml.safe_load(response.content)
    listed = schema["paths"]["/api/v1/disputes/"]["get"]["responses"]["200"]["links"]
    filed = schema["paths"]["/api/v1/disputes/"]["post"]["responses"]["201"]["links"]
    for action in ("respond", "accept_offer", "withdraw", "messages", "evidence_create", "appeal"):
        assert any(action in op for op in listed), action
        assert any(action in op for op in filed), action
    link = next(v for k, v in listed.items() if "respond" in k)
    assert link["parameters"] == {"number": "$response.body#/results/0/number"}
    orders = schema["paths"]["/api/v1/orders/"]["post"]["responses"]["201"]["links"]
    assert any("pay" in op for op in orders)
    amount = schema["components"]["schemas"]["TopupRequest"]["properties"]["amount"]
    assert amount["oneOf"][0]["pattern"] == r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$"
    assert amount["oneOf"][1]["type"] == "integer"


def test_a_complaint_stays_unchanged_by_refused_input():
    dispute = _dispute()
    client = client_for(dispute.merchant.owner)
    response = client.post(
        f"/api/v1/disputes/{dispute.number}/respond/",
        json.dumps({"action": "offer", "amount": "1E1", "message": "m"}),
        content_type="application/json",
    )
    assert "amount" in assert_refused(response, 400)
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT


# --- Text takes a JSON string (found by the fuzz run over the new endpoints) ---------------


@pytest.mark.django_db
@pytest.mark.parametrize("body", [0, -2.4961523304872784e16, True, ["a"], {"a": 1}])
def test_a_message_body_that_is_not_a_string_is_refused_and_nothing_is_posted(body: Any) -> None:
    dispute = _dispute()
    before = dispute.events.count()
    response = client_for(dispute.buyer).post(
        f"/api/v1/disputes/{dispute.number}/messages/", {"body": body}, format="json"
    )
    errors = assert_refused(response)
    assert "body" in errors
    assert dispute.events.count() == before


@pytest.mark.django_db
def test_the_blacklist_takes_json_only() -> None:
    client = client_for(blacklist_manager())
    buyer = UserFactory()
    response = client.post(
        "/api/v1/staff/blacklist/",
        {"user": buyer.pk, "reason": "0", "expires_at": ""},
        format="multipart",
    )
    assert response.status_code == 415
    ok = client.post(
        "/api/v1/staff/blacklist/", {"user": buyer.pk, "reason": "abuse"}, format="json"
    )
    assert ok.status_code == 201, ok.content[:300]


@pytest.mark.django_db
def test_paying_takes_json_only_so_a_malformed_multipart_body_is_refused() -> None:
    order = OrderFactory()
    client = client_for(order.buyer)
    boundary = "a222103b9b30b1f9e8be6882ecedb1d2"
    response = client.generic(
        "POST",
        f"/api/v1/orders/{order.number}/pay/",
        f"--{boundary}\r\n[]--{boundary}--\r\n",
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 415
    order.refresh_from_db()
    assert order.paid_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("kinds", [[{"a": 1}], [1, "chat_record"], [None], [["order_screenshot"]]])
def test_an_evidence_kind_that_is_not_text_is_a_400_not_a_500(kinds: Any) -> None:
    """Found by the CI fuzz: an object in the evidence_kind list reached .strip() (a 500)."""
    order = file().order
    response = client_for(order.buyer).post(
        "/api/v1/disputes/",
        {
            "order": order.number,
            "reason": "invalid_card_key",
            "claimed_amount": "1.00",
            "evidence_kind": kinds,
        },
        format="json",
    )
    assert_refused(response)


@pytest.mark.django_db
@pytest.mark.parametrize("value", [0, 1, "yes", "true", None])
def test_a_yes_no_that_is_not_json_true_or_false_is_refused(value: Any) -> None:
    """Found by the CI fuzz: recover_from_merchant: 0 was read as false."""
    from tests.disputes.factories import arbitrator, contest

    dispute = contest(file())
    response = client_for(arbitrator()).post(
        f"/api/v1/disputes/{dispute.number}/rule/",
        {"outcome": "refunded", "reason": "x", "recover_from_merchant": value},
        format="json",
    )
    errors = assert_refused(response)
    assert "recover_from_merchant" in errors
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW
