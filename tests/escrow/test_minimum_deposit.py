"""A shop's minimum deposit changes through escrow, so its standing follows at once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from escrow import services
from kamen_complaints.errors import DomainError, Forbidden
from orders import services as order_services
from orders.models import MerchantStatus, SuspensionReason
from tests.escrow.factories import assert_ledger_clean, finance_staff, funded_merchant
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

D = Decimal


def test_raising_the_minimum_above_the_deposit_suspends_the_shop_at_once():
    merchant = funded_merchant("1000.00")
    merchant = services.deposit_set_minimum(
        merchant=merchant, amount=D("1500.00"), reason="risk review", staff=finance_staff()
    )
    assert merchant.minimum_deposit == D("1500.00")
    assert merchant.status == MerchantStatus.SUSPENDED
    assert merchant.suspension_reason == SuspensionReason.DEPOSIT
    assert_ledger_clean()


def test_lowering_the_minimum_to_what_the_shop_holds_reinstates_it():
    staff = finance_staff()
    merchant = funded_merchant("1000.00")
    services.deposit_set_minimum(
        merchant=merchant, amount=D("1500.00"), reason="risk review", staff=staff
    )
    merchant = services.deposit_set_minimum(
        merchant=merchant, amount=D("800.00"), reason="review closed", staff=staff
    )
    assert merchant.status == MerchantStatus.ACTIVE
    assert merchant.suspension_reason == ""


def test_lowering_the_minimum_never_lifts_a_manual_suspension():
    merchant = funded_merchant("1000.00")
    order_services.merchant_suspend(merchant=merchant, reason="manual", note="fraud check")
    merchant = services.deposit_set_minimum(
        merchant=merchant, amount=D("100.00"), reason="lower", staff=finance_staff()
    )
    assert merchant.status == MerchantStatus.SUSPENDED
    assert merchant.suspension_reason == SuspensionReason.MANUAL


def test_the_minimum_needs_a_reason_and_the_finance_permission():
    merchant = funded_merchant("1000.00")
    with pytest.raises(Forbidden):
        services.deposit_set_minimum(
            merchant=merchant, amount=D("10.00"), reason="x", staff=StaffFactory()
        )
    with pytest.raises(DomainError) as refused:
        services.deposit_set_minimum(
            merchant=merchant, amount=D("10.00"), reason="  ", staff=finance_staff()
        )
    assert refused.value.code == "reason_required"
    merchant.refresh_from_db()
    assert merchant.minimum_deposit == D("1000.00")


def test_finance_changes_the_minimum_in_the_admin_and_it_is_logged(client):
    client.force_login(finance_staff())
    merchant = funded_merchant("1000.00")
    url = reverse("admin:escrow_account_minimum")
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"merchant": merchant.pk, "amount": "2000.00", "reason": "risk review"}
    )
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.minimum_deposit == D("2000.00")
    assert merchant.status == MerchantStatus.SUSPENDED
    entry = LogEntry.objects.get(object_id=str(merchant.pk))
    assert "1000.00 -> 2000.00" in entry.get_change_message()


def test_the_minimum_form_is_refused_to_staff_outside_finance(client):
    client.force_login(StaffFactory())
    assert client.get(reverse("admin:escrow_account_minimum")).status_code == 403


def test_the_merchant_admin_no_longer_edits_the_minimum_directly(admin_client):
    merchant = funded_merchant("1000.00")
    page = admin_client.get(reverse("admin:orders_merchant_change", args=[merchant.pk]))
    assert page.status_code == 200
    assert b'name="minimum_deposit"' not in page.content
