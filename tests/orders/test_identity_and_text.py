"""Identity numbers, phone numbers and names as people type them (issue 17, section 5).

- `３１０１…` (fullwidth) or any other Unicode digits are the same identity number as `3101…`:
  normalised (NFKC, ASCII digits, X upper-cased) before they are validated and fingerprinted,
  so one identity still holds one shop; phone numbers likewise.
- Shop and product names holding zero-width or bidi control characters are refused (service,
  form, API, model); a shop name equal to another after NFKC, case folding and white space
  collapsing is taken, in the database too (kamen_complaints.text).
"""

from __future__ import annotations

import importlib
import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient

from kamen_complaints.errors import DomainError
from kamen_complaints.text import name_key, normalize_digits
from orders import crypto, services
from orders.models import Merchant, MerchantStatus, Product
from tests.factories import MerchantFactory, ProductFactory, StaffFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_activation_guards")]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９ｘ")
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def id_number(body: str) -> str:
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


SAME_ID = id_number("31010119900101123")
X_ID = next(
    id_number(f"4403051990010{n:04d}")
    for n in range(10_000)
    if id_number(f"4403051990010{n:04d}").endswith("X")
)
_shops = itertools.count(1)


def apply(id_number: str = SAME_ID, **overrides: object) -> Merchant:
    values: dict[str, object] = {
        "user": UserFactory(),
        "shop_name": f"店铺-{next(_shops)}",
        "legal_name": "王五",
        "id_number": id_number,
        "phone": "13912345678",
        "address": "广州市天河区天河路1号",
    }
    values.update(overrides)
    return services.merchant_apply(**values)  # type: ignore[arg-type]


# --- Identity and phone numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        SAME_ID[:17].translate(_FULLWIDTH) + SAME_ID[17],  # what the review typed
        SAME_ID.translate(_FULLWIDTH),
        SAME_ID.translate(_ARABIC_INDIC),
        "\u3000" + SAME_ID.translate(_FULLWIDTH) + " ",
    ],
    ids=["fullwidth-body", "fullwidth", "arabic-indic", "ideographic-space"],
)
def test_an_identity_number_in_other_digits_is_the_same_identity(typed):
    first = services.merchant_verify(merchant=apply(SAME_ID), staff=StaffFactory())
    second = apply(typed)
    assert second.id_number_fingerprint == first.id_number_fingerprint
    assert second.id_number_last4 == SAME_ID[-4:]
    assert crypto.decrypt(second.id_number_encrypted) == SAME_ID
    with pytest.raises(DomainError) as exc:
        services.merchant_verify(merchant=second, staff=StaffFactory())
    assert exc.value.code == "identity_duplicate"
    second.refresh_from_db()
    assert second.status == MerchantStatus.PENDING_VERIFICATION


def test_a_fullwidth_lower_case_check_digit_x_is_the_same_identity():
    first = apply(X_ID)
    second = apply(X_ID.translate(_FULLWIDTH))  # ends in "ｘ"
    assert second.id_number_fingerprint == first.id_number_fingerprint
    assert crypto.decrypt(second.id_number_encrypted) == X_ID


def test_the_api_and_the_apply_page_store_the_normalised_identity_and_phone():
    api = APIClient()
    api.force_authenticate(UserFactory())
    body = {
        "shop_name": "甲店",
        "legal_name": "王五",
        "id_number": SAME_ID.translate(_FULLWIDTH),
        "phone": "＋８６ １３９１２３４５６７８",
        "address": "广州市天河区天河路1号",
    }
    assert api.post("/api/v1/merchant/apply/", body).status_code == 201
    page = Client(HTTP_ACCEPT_LANGUAGE="en")
    page.force_login(UserFactory())
    response = page.post("/merchant/apply/", {**body, "shop_name": "乙店"})
    assert response.status_code == 302, response.content.decode()[:2000]
    stored = {
        (m.phone, m.id_number_fingerprint)
        for m in Merchant.objects.filter(shop_name__in=["甲店", "乙店"])
    }
    assert stored == {("13912345678", crypto.fingerprint(SAME_ID, purpose="identity"))}


def test_a_phone_top_up_number_in_fullwidth_digits_is_stored_in_ascii():
    assert services.validate_phone("１３９１２３４５６７８") == "13912345678"
    assert normalize_digits(" ١٣٩ ") == "139"


def test_digits_that_are_not_decimal_digits_are_still_refused():
    with pytest.raises(DomainError) as exc:
        apply("①" + SAME_ID[1:])
    assert exc.value.code == "id_number_invalid"
    with pytest.raises(DomainError):
        services.validate_phone("1391234567８a")


# --- Invisible characters in names -------------------------------------------------------------

INVISIBLE = ["\u200b", "\u200d", "\u200e", "\u202e", "\u2066", "\ufeff", "\u00ad", "\x07"]


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_a_shop_name_with_an_invisible_character_is_refused(char):
    with pytest.raises(DomainError) as exc:
        apply(shop_name=f"Acme{char}Shop")
    assert exc.value.code == "shop_name_invalid"
    assert f"U+{ord(char):04X}" in exc.value.message
    assert not Merchant.objects.filter(shop_name__startswith="Acme").exists()


def test_a_shop_name_with_an_invisible_character_is_refused_by_api_page_and_model():
    api = APIClient()
    api.force_authenticate(UserFactory())
    body = {
        "shop_name": "Acme\u200bShop",
        "legal_name": "王五",
        "id_number": SAME_ID,
        "phone": "13912345678",
        "address": "广州市天河区天河路1号",
    }
    response = api.post("/api/v1/merchant/apply/", body)
    assert response.status_code == 400
    assert "U+200B" in str(response.json())
    page = Client(HTTP_ACCEPT_LANGUAGE="en")
    page.force_login(UserFactory())
    response = page.post("/merchant/apply/", body)
    assert response.status_code == 400  # the form again, the error next to the field
    assert "U+200B" in response.content.decode()
    assert not Merchant.objects.exists()
    merchant = MerchantFactory()
    merchant.shop_name = "Acme\u202eShop"
    with pytest.raises(ValidationError) as exc:
        merchant.full_clean()
    assert "shop_name" in exc.value.message_dict


@pytest.mark.parametrize("char", ["\u200b", "\u202e", "\u2069"])
def test_a_product_name_with_an_invisible_character_is_refused(char):
    merchant = MerchantFactory()
    with pytest.raises(DomainError) as exc:
        services.product_create(
            merchant=merchant,
            name=f"Steam{char}100",
            kind="game_card",
            face_value=100,
            price=95,
            source="upstream",
        )
    assert exc.value.code == "name_invalid"
    product = ProductFactory(merchant=merchant)
    with pytest.raises(DomainError):
        services.product_update(product=product, name=f"Steam{char}100")
    product.refresh_from_db()
    assert char not in product.name
    assert not Product.objects.filter(name__contains=char).exists()


def test_the_product_api_refuses_an_invisible_character():
    merchant = MerchantFactory()
    api = APIClient()
    api.force_authenticate(merchant.owner)
    response = api.post(
        "/api/v1/merchant/products/",
        {"name": "Steam\u200b100", "kind": "game_card", "face_value": "100", "price": "95"}
        | {"source": "upstream"},
        format="json",
    )
    assert response.status_code == 400
    assert "name" in response.json()


# --- One shop name, however it is typed ---------------------------------------------------------


@pytest.mark.parametrize(
    "look_alike", ["ＡＣＭＥ Shop", "acme  shop", " ACME\u3000SHOP ", "Acme Shop"], ids=str
)
def test_a_shop_name_equal_after_normalisation_is_taken(look_alike):
    apply(shop_name="Acme Shop")
    with pytest.raises(DomainError) as exc:
        apply(shop_name=look_alike, id_number=id_number("11010119800101001"))
    assert exc.value.code == "shop_name_taken"
    assert Merchant.objects.count() == 1


def test_the_database_refuses_a_look_alike_shop_name_too():
    MerchantFactory(shop_name="Acme Shop")
    with pytest.raises(IntegrityError), transaction.atomic():
        MerchantFactory(shop_name="ＡＣＭＥ  shop")
    assert name_key("ＡＣＭＥ  shop") == name_key("Acme Shop") == "acme shop"


def test_renaming_a_shop_to_a_look_alike_is_refused_by_the_model_form():
    MerchantFactory(shop_name="Acme Shop")
    other = MerchantFactory(shop_name="Other")
    other.shop_name = "acme   SHOP"
    with pytest.raises(ValidationError) as exc:
        other.full_clean()
    assert "shop_name" in exc.value.message_dict
    other.shop_name = "Renamed"
    other.save(update_fields=["shop_name"])
    other.refresh_from_db()
    assert other.shop_name_key == "renamed"


# --- What the old code stored -------------------------------------------------------------------


def test_the_migration_normalises_identity_numbers_and_keys_stored_before():
    """17 fullwidth digits and an ASCII check digit passed the old check and were stored and
    fingerprinted as typed; orders 0006 stores them normalised, so the verifier sees the
    shared identity. Two old look-alike shop names: the older keeps the key."""
    from django.apps import apps

    migration = importlib.import_module("orders.migrations.0006_shop_name_key")
    typed = SAME_ID[:17].translate(_FULLWIDTH) + SAME_ID[17]
    verified = services.merchant_verify(merchant=apply(SAME_ID), staff=StaffFactory())
    old = MerchantFactory(status=MerchantStatus.PENDING_VERIFICATION, shop_name="Old Shop")
    look_alike = MerchantFactory(shop_name="Old Shop 2")
    Merchant.objects.filter(pk=old.pk).update(
        id_number_encrypted=crypto.encrypt(typed),
        id_number_last4=typed[-4:],
        id_number_fingerprint=crypto.fingerprint(typed, purpose="identity"),
    )
    Merchant.objects.filter(pk=look_alike.pk).update(shop_name="ＯＬＤ  shop", shop_name_key=None)
    Merchant.objects.filter(pk=old.pk).update(shop_name_key=None)

    migration.normalise_identity_numbers(apps, None)
    migration.fill_keys(apps, None)

    old.refresh_from_db()
    assert old.id_number_fingerprint == verified.id_number_fingerprint
    assert crypto.decrypt(old.id_number_encrypted) == SAME_ID
    assert old.id_number_last4 == SAME_ID[-4:]
    with pytest.raises(DomainError) as exc:
        services.merchant_verify(merchant=old, staff=StaffFactory())
    assert exc.value.code == "identity_duplicate"
    assert old.shop_name_key == "old shop"
    look_alike.refresh_from_db()
    assert look_alike.shop_name_key is None
    # It keeps working (a status change saves the whole row) until staff rename it.
    services.merchant_suspend(merchant=look_alike, staff=StaffFactory(), reason="manual", note="x")
    look_alike.refresh_from_db()
    assert (look_alike.status, look_alike.shop_name_key) == (MerchantStatus.SUSPENDED, None)
    look_alike.shop_name = "Renamed Old Shop"
    look_alike.full_clean()
    look_alike.save()
    look_alike.refresh_from_db()
    assert look_alike.shop_name_key == "renamed old shop"
