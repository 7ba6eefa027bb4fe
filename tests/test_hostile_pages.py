"""Bad input on pages and in the admin (issue 17, section 4): a translated answer inside the
site, never a 500 and never Django's plain English 400."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client

from escrow import services as escrow_services
from escrow.models import Withdrawal, WithdrawalStatus
from tests.disputes.conftest import _seeded_policy  # noqa: F401  (autouse fixture)
from tests.disputes.factories import fund, funded_order
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def superuser() -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-long-enough-1")


def page_client(user: Any = None) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


# --- metrics ranges at the ends of the calendar --------------------------------------------

FAR_DATES = [
    {"from": "9999-12-31"},
    {"to": "0001-01-01"},
    {"from": "0001-01-01", "to": "9999-12-31"},
]


@pytest.mark.parametrize("query", FAR_DATES, ids=["from-max", "to-min", "both"])
def test_a_metrics_range_at_the_ends_of_the_calendar_is_named_not_a_500(query):
    staff = StaffFactory(perms=["disputes.view_metrics"])
    client = page_client(staff)
    page = client.get("/admin/disputes/metrics/", query, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "between 2000-01-01 and 2999-12-31" in " ".join(
        str(e) for errors in page.context["form"].errors.values() for e in errors
    )
    api = client.get("/api/v1/staff/metrics/", query, HTTP_ACCEPT_LANGUAGE="en")
    assert api.status_code == 400
    assert "between 2000-01-01" in str(api.json())


# --- NUL in an admin list filter or search --------------------------------------------------


def _changelists_with_filters() -> list[tuple[str, str]]:
    cases = []
    for model, model_admin in admin.site._registry.items():
        names = [f for f in model_admin.list_filter if isinstance(f, str)]
        if names:
            url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
            cases.append((url, names[0]))
    return sorted(cases)


CHANGELISTS = _changelists_with_filters()


def test_there_are_changelists_with_filters_to_try():
    assert len(CHANGELISTS) >= 6


@pytest.mark.parametrize(("url", "name"), CHANGELISTS, ids=[u for u, _ in CHANGELISTS])
def test_a_nul_in_an_admin_list_filter_is_a_translated_400(url, name):
    client = page_client(superuser())
    response = client.get(f"{url}?{name}=a%00b", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    page = response.content.decode()
    assert "NUL" in page and "不允许" in page  # translated …
    assert "<main" in page  # … inside the site's frame


def test_a_nul_in_an_admin_search_or_an_api_query_is_a_400():
    client = page_client(superuser())
    assert client.get("/admin/disputes/dispute/?q=a%00b").status_code == 400
    api = client.get("/api/v1/disputes/?ordering=a%00b")
    assert api.status_code == 400 and api.json()["code"] == "bad_request"


# --- the withdrawal action with an id that is not a number ----------------------------------


def test_the_withdrawal_action_with_a_non_numeric_id_decides_nothing_and_says_so():
    order = funded_order()
    merchant = order.merchant
    fund(merchant, Decimal("500.00"))
    withdrawal = escrow_services.withdrawal_request(
        merchant=merchant, amount=Decimal("100.00"), user=merchant.owner
    )
    client = page_client(superuser())
    response = client.post(
        "/admin/escrow/withdrawal/",
        {"action": "approve", "_selected_action": [str(withdrawal.pk), "1 OR 1=1", "abc"]},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert response.status_code == 200
    assert "not a withdrawal number" in response.content.decode()
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == WithdrawalStatus.PENDING


# --- bodies over the limits -----------------------------------------------------------------


def test_a_10_mb_form_body_is_the_sites_translated_413_page():
    order = funded_order()
    client = page_client(order.buyer)
    response = client.post(
        f"/orders/{order.number}/complain/",
        {"description": "x" * (10 * 1024 * 1024)},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 413
    page = response.content.decode()
    assert "<main" in page and "413" in page
    assert "一次发送的内容太多" in page


def test_an_oversized_multipart_body_elsewhere_is_the_413_page_before_the_view(settings):
    settings.MAX_REQUEST_BODY_SIZE = 50_000
    order = funded_order()
    client = page_client(order.buyer)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/accounts/login/",
        {"file": SimpleUploadedFile("big.bin", b"\0" * 60_000)},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 413
    assert "Too much was sent at once" in response.content.decode()
    api = page_client(order.buyer).post(
        "/api/v1/disputes/", {"file": SimpleUploadedFile("big.bin", b"\0" * 60_000)}
    )
    assert api.status_code == 413 and api.json()["code"] == "too_large"


def test_photos_adding_up_past_the_limit_bring_the_form_back_with_the_typed_text(settings):
    """Three 9 MB phone photos, each under the 10 MB per file, are more than one request may
    carry: the complaint form comes back (413) in the site's frame, the typed text kept, no
    file stored, nothing filed — not a bare text page."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from disputes.models import Dispute

    settings.MAX_REQUEST_BODY_SIZE = 25 * 1024 * 1024
    order = funded_order()
    client = page_client(order.buyer)
    photo = b"\xff\xd8\xff" + b"\x00" * (9 * 1024 * 1024)
    response = client.post(
        f"/orders/{order.number}/complain/",
        {
            "reason": "not_received",
            "claimed_amount": "12.00",
            "description": "付款后一直没有收到卡密 keep-me-typed",
            "evidence_order_screenshot": SimpleUploadedFile("a.jpg", photo),
            "evidence_payment_proof": SimpleUploadedFile("b.jpg", photo),
            "evidence_chat_record": SimpleUploadedFile("c.jpg", photo),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 413
    page = response.content.decode()
    assert "<main" in page and 'class="cf-form' in page
    assert "keep-me-typed" in page and 'value="12.00"' in page
    assert "none of them was attached" in page
    assert not Dispute.objects.filter(order=order).exists()
