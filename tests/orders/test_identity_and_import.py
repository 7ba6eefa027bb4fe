"""One identity, one shop; only active shops import card keys, at a limited rate.

Security issue section 5 (docs/security/merchants-and-evidence.md):
- an application with an identity number another shop uses is accepted like any other (no
  oracle), flagged to the verifier in the admin, and its verification refused;
- an unverified, rejected or suspended shop cannot import (the import report says which keys
  are already on the platform), and imports are throttled (scope `import`).
"""

from __future__ import annotations

import copy
import itertools

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from kamen_complaints.errors import DomainError
from orders import services
from orders.models import CardKey, DuplicateKeyFlag, Merchant, MerchantStatus, SuspensionReason
from tests.factories import ProductFactory, StaffFactory, UserFactory
from tests.orders.utils import import_keys

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_activation_guards")]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(body: str) -> str:
    """A valid mainland identity number from its first 17 digits (GB 11643-1999)."""
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


SAME_ID = id_number("44030519900101123")
OTHER_ID = id_number("31010119851231456")
_shop_numbers = itertools.count(1)


def apply(id_number: str = SAME_ID, **overrides: object) -> Merchant:
    values: dict[str, object] = {
        "user": UserFactory(),
        "shop_name": f"店铺-{next(_shop_numbers)}",
        "legal_name": "王五",
        "id_number": id_number,
        "phone": "13912345678",
        "address": "广州市天河区天河路1号",
    }
    values.update(overrides)
    return services.merchant_apply(**values)  # type: ignore[arg-type]


def verified(id_number: str = SAME_ID) -> Merchant:
    return services.merchant_verify(merchant=apply(id_number), staff=StaffFactory())


def verifier_client(*perms: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(
        StaffFactory(perms=["orders.view_merchant", "orders.change_merchant", *perms])
    )
    return client


# --- One identity, one shop -----------------------------------------------------------------


def test_an_application_with_a_registered_identity_number_is_answered_like_any_other():
    """No oracle: whether the number is known never shows in the applicant's answer."""
    first = APIClient()
    first.force_authenticate(UserFactory())
    second = APIClient()
    second.force_authenticate(UserFactory())
    body = {"legal_name": "王五", "phone": "13912345678", "address": "广州市天河区天河路1号"}
    one = first.post("/api/v1/merchant/apply/", {**body, "shop_name": "甲店", "id_number": SAME_ID})
    two = second.post(
        "/api/v1/merchant/apply/", {**body, "shop_name": "乙店", "id_number": SAME_ID}
    )
    assert (one.status_code, two.status_code) == (201, 201)
    assert set(one.json()) == set(two.json())
    assert one.json()["status"] == two.json()["status"] == "pending_verification"


def test_verifying_a_second_shop_with_the_same_identity_number_is_refused():
    first = verified()
    second = apply()
    with pytest.raises(DomainError) as exc:
        services.merchant_verify(merchant=second, staff=StaffFactory())
    assert exc.value.code == "identity_duplicate"
    assert exc.value.status_code == 409
    assert first.shop_name in exc.value.message
    second.refresh_from_db()
    assert second.status == MerchantStatus.PENDING_VERIFICATION
    assert second.verified_at is None


def test_a_suspended_shop_keeps_its_identity_from_opening_a_new_shop():
    banned = verified()
    services.merchant_suspend(merchant=banned, reason=SuspensionReason.MANUAL, note="售假")
    comeback = apply()
    with pytest.raises(DomainError) as exc:
        services.merchant_verify(merchant=comeback, staff=StaffFactory())
    assert exc.value.code == "identity_duplicate"


def test_two_look_alike_applications_wait_until_the_verifier_rejects_one():
    staff = StaffFactory()
    first, second = apply(), apply()
    for merchant in (first, second):
        with pytest.raises(DomainError):
            services.merchant_verify(merchant=merchant, staff=staff)
    services.merchant_reject(merchant=second, staff=staff, reason="同一身份重复申请")
    assert services.merchant_verify(merchant=first, staff=staff).status == MerchantStatus.ACTIVE


def test_a_rejected_application_does_not_block_the_same_person_applying_again():
    staff = StaffFactory()
    services.merchant_reject(merchant=apply(), staff=staff, reason="证件照片模糊")
    again = services.merchant_verify(merchant=apply(), staff=staff)
    assert again.status == MerchantStatus.ACTIVE


def test_the_shop_itself_is_verified_again_without_being_its_own_duplicate():
    shop = verified()
    apply(OTHER_ID)  # someone else entirely
    again = services.merchant_verify(merchant=shop, staff=StaffFactory())
    assert again.status == MerchantStatus.ACTIVE


def test_the_staff_api_refuses_the_duplicate_with_a_translated_message():
    verified()
    second = apply()
    client = APIClient()
    client.force_authenticate(StaffFactory(perms=["orders.verify_merchant"]))
    response = client.post(
        f"/api/v1/staff/merchants/{second.pk}/verify/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "identity_duplicate"
    assert "同一身份证号" in body["detail"]
    english = client.post(f"/api/v1/staff/merchants/{second.pk}/verify/", HTTP_ACCEPT_LANGUAGE="en")
    assert "same identity number" in english.json()["detail"]


def test_the_admin_flags_shared_identity_numbers_for_the_verifier():
    first = verified()
    second = apply()
    alone = apply(OTHER_ID)
    client = verifier_client("orders.verify_merchant")
    listing = client.get("/admin/orders/merchant/", {"identity_shared": "yes"})
    assert listing.status_code == 200
    assert set(listing.context["cl"].result_list) == {first, second}
    others = client.get("/admin/orders/merchant/", {"identity_shared": "no"})
    assert list(others.context["cl"].result_list) == [alone]
    page = client.get(f"/admin/orders/merchant/{second.pk}/change/")
    text = page.content.decode()
    assert first.shop_name in text
    warnings = [str(m) for m in page.context["messages"]]
    assert any("same identity number" in m for m in warnings)
    assert (
        "same identity number"
        not in client.get(f"/admin/orders/merchant/{alone.pk}/change/").content.decode()
    )


def test_the_admin_verify_action_reports_the_duplicate_and_changes_nothing():
    verified()
    second = apply()
    client = verifier_client("orders.verify_merchant")
    response = client.post(
        "/admin/orders/merchant/",
        {"action": "verify", "_selected_action": [second.pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any(second.shop_name in m and "same identity number" in m for m in messages)
    second.refresh_from_db()
    assert second.status == MerchantStatus.PENDING_VERIFICATION


def test_the_duplicate_message_is_translated_to_chinese():
    with translation.override("zh-hans"):
        verified()
        second = apply()
        with pytest.raises(DomainError) as exc:
            services.merchant_verify(merchant=second, staff=StaffFactory())
    assert "same identity number" not in exc.value.message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.value.message)


# --- Card-key import: active shops only -------------------------------------------------------


def _not_active(status: str) -> Merchant:
    if status == "pending_verification":
        return apply(OTHER_ID)
    merchant = apply(OTHER_ID)
    staff = StaffFactory()
    if status == "rejected":
        return services.merchant_reject(merchant=merchant, staff=staff, reason="资料不符")
    merchant = services.merchant_verify(merchant=merchant, staff=staff)
    return services.merchant_suspend(merchant=merchant, reason=SuspensionReason.MANUAL, note="x")


@pytest.mark.parametrize("status", ["pending_verification", "rejected", "suspended"])
def test_a_shop_that_is_not_active_cannot_probe_keys_by_importing_them(status):
    someone_elses = ProductFactory()
    import_keys(someone_elses, ["VICTIM-KEY-0001"])
    merchant = _not_active(status)
    product = ProductFactory(merchant=merchant)
    client = APIClient()
    client.force_authenticate(merchant.owner)
    response = client.post(
        f"/api/v1/merchant/products/{product.pk}/card-keys/",
        {"keys": "VICTIM-KEY-0001\nFRESH-KEY-0002"},
        format="json",
    )
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "merchant_inactive"
    assert "duplicate" not in str(body)
    assert not CardKey.objects.filter(product=product).exists()
    assert not DuplicateKeyFlag.objects.exists()


def test_the_service_refuses_an_inactive_shop_before_reading_the_keys():
    product = ProductFactory(merchant=apply(OTHER_ID))
    with pytest.raises(DomainError) as exc:
        services.card_keys_import(product=product, data="ANY-KEY-0001")
    assert exc.value.code == "merchant_inactive"
    with translation.override("zh-hans"), pytest.raises(DomainError) as exc:
        services.card_keys_import(product=product, data="ANY-KEY-0001")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.value.message)


def test_an_active_shop_still_imports():
    product = ProductFactory(merchant=verified(OTHER_ID))
    report = services.card_keys_import(product=product, data="GOOD-KEY-0001\nGOOD-KEY-0002")
    assert report.imported == 2


# --- Card-key import: rate-limited ------------------------------------------------------------


@pytest.fixture
def import_rates(settings):
    rest = copy.deepcopy(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"].update({"import_user": "2/min", "import_ip": "100/min"})
    settings.REST_FRAMEWORK = rest
    cache.clear()


def test_the_import_rates_are_settings():
    from django.conf import settings

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates["import_user"] and rates["import_ip"]


@pytest.mark.usefixtures("import_rates")
def test_imports_past_the_rate_are_429():
    product = ProductFactory(merchant=verified(OTHER_ID))
    client = APIClient()
    client.force_authenticate(product.merchant.owner)
    url = f"/api/v1/merchant/products/{product.pk}/card-keys/"
    for n in range(2):
        assert client.post(url, {"keys": f"RATE-KEY-000{n}"}, format="json").status_code == 200
    response = client.post(url, {"keys": "RATE-KEY-0009"}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert not CardKey.objects.filter(tail="0009").exists()


@pytest.mark.usefixtures("import_rates")
def test_the_import_limit_also_holds_per_address(settings):
    rest = copy.deepcopy(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"].update({"import_user": "100/min", "import_ip": "1/min"})
    settings.REST_FRAMEWORK = rest
    cache.clear()
    first = ProductFactory(merchant=verified(OTHER_ID))
    second = ProductFactory(merchant=verified(id_number("11010119800101001")))
    responses = []
    for product in (first, second):
        client = APIClient()
        client.force_authenticate(product.merchant.owner)
        responses.append(
            client.post(
                f"/api/v1/merchant/products/{product.pk}/card-keys/",
                {"keys": f"IP-KEY-{product.pk:04d}"},
                format="json",
            ).status_code
        )
    assert responses == [200, 429]
