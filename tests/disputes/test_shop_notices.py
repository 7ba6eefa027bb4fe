"""What the shop's owner is told about the shop itself (issue 19): suspended with the reason
and the exact amount to pay, owing after a recovery, reinstated, verification running out, a
withdrawal approved or rejected — in the app and by e-mail, each with its amount and the page
to act on it (disputes/services/shop_notices.py, worded by disputes/notices.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone, translation
from rest_framework.test import APIClient

from disputes import notices, services
from disputes.models import Notification, NotificationKind
from disputes.services.shop_notices import shops_warn_verification_expiring
from escrow import services as escrow_services
from orders import services as order_services
from orders.models import MerchantStatus, SuspensionReason
from tests.disputes.factories import arbitrator, file, fund, funded_order, under_review
from tests.escrow.factories import finance_staff
from tests.factories import MerchantFactory, StaffFactory

pytestmark = pytest.mark.django_db

K = NotificationKind


def _notes(merchant, kind: str, channel: str = "inapp"):
    return Notification.objects.filter(recipient=merchant.owner, kind=kind, channel=channel)


def _say(note: Notification, language: str = "en") -> str:
    with translation.override(language):
        return notices.sentence(note)


def test_a_ruling_that_suspends_the_shop_tells_the_owner_what_it_owes(
    django_capture_on_commit_callbacks,
):
    """End to end: a ¥48 claim against a ¥10 deposit, ruled refunded: the shop owes ¥38 and
    is suspended; the owner reads both, with the amount and the deposit page, and gets them
    by e-mail."""
    order = funded_order(price=Decimal("48.00"), deposit_amount=Decimal("10.00"))
    merchant = order.merchant
    dispute = under_review(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_rule(
            dispute=dispute, staff=arbitrator(), outcome="refunded", reason="key was used"
        )
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.SUSPENDED
    suspended = _notes(merchant, K.SHOP_SUSPENDED).get()
    assert suspended.dispute_id is None
    text = _say(suspended)
    # The exact amount to pay: the ¥38.00 owed, then the deposit back up to its ¥1,000.00.
    assert merchant.minimum_deposit == Decimal("1000.00")
    assert "is suspended" in text and "Pay ¥1,038.00 on the deposit page" in text
    assert "you owe ¥38.00" in text
    assert notices.link(suspended) == "/merchant/deposit/"
    owed = _notes(merchant, K.DEBT_RECORDED).get()
    assert f"Complaint {dispute.number} cost ¥38.00 more" in _say(owed)
    assert "owes the platform ¥38.00" in _say(owed)
    assert notices.link(owed) == "/merchant/deposit/"
    zh = _say(suspended, "zh-hans")
    assert "¥1,038.00" in zh and "暂停" in zh
    assert _notes(merchant, K.SHOP_SUSPENDED, "email").exists()
    sent = [m for m in mail.outbox if m.to == [merchant.owner.email]]
    assert any("¥1,038.00" in m.body and "/merchant/deposit/" in m.body for m in sent)


def test_a_top_up_that_cures_the_deposit_tells_the_owner_the_shop_sells_again():
    order = funded_order(price=Decimal("48.00"), deposit_amount=Decimal("10.00"))
    merchant = order.merchant
    services.dispute_respond(
        dispute=file(order),
        merchant_user=merchant.owner,
        action="accept",
        remedy="refund",
    )
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.SUSPENDED
    fund(merchant, Decimal("1038.00"))  # the debt, then the deposit up to its minimum
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.ACTIVE
    back = _notes(merchant, K.SHOP_REINSTATED).get()
    assert merchant.shop_name in _say(back) and "sells again" in _say(back)
    assert notices.link(back) == "/merchant/"


def test_a_manual_suspension_names_the_staff_reason_and_verification_expiry_links_to_verify():
    merchant = MerchantFactory()
    order_services.merchant_suspend(
        merchant=merchant,
        reason=SuspensionReason.MANUAL,
        note="selling stolen keys",
        staff=StaffFactory(),
    )
    note = _notes(merchant, K.SHOP_SUSPENDED).get()
    assert "“selling stolen keys”" in _say(note)
    other = MerchantFactory(reverification_due=timezone.now() - timedelta(minutes=1))
    assert order_services.merchants_expire_verifications() == 1
    expired = _notes(other, K.SHOP_SUSPENDED).get()
    assert "real-name verification expired" in _say(expired)
    assert "verification page" in _say(expired)
    assert notices.link(expired) == "/merchant/verification/"
    assert notices.link(note) == "/merchant/"  # a staff suspension: nothing to pay


def test_verification_running_out_is_told_once_14_days_before():
    soon = MerchantFactory(reverification_due=timezone.now() + timedelta(days=13))
    MerchantFactory(reverification_due=timezone.now() + timedelta(days=30))
    assert shops_warn_verification_expiring() >= 1
    assert shops_warn_verification_expiring() == 0  # once per verification
    note = _notes(soon, K.VERIFICATION_EXPIRING).get()
    assert "runs out on" in _say(note) and soon.shop_name in _say(note)
    assert notices.link(note) == "/merchant/verification/"
    assert Notification.objects.filter(kind=K.VERIFICATION_EXPIRING, channel="inapp").count() == 1


def test_withdrawals_approved_and_rejected_are_told_with_the_amount():
    order = funded_order(deposit_amount=Decimal("1500.00"))
    merchant = order.merchant
    finance = finance_staff()
    first = escrow_services.withdrawal_request(
        merchant=merchant, amount=Decimal("120.00"), user=merchant.owner
    )
    escrow_services.withdrawal_approve(withdrawal=first, staff=finance)
    second = escrow_services.withdrawal_request(
        merchant=merchant, amount=Decimal("80.00"), user=merchant.owner
    )
    escrow_services.withdrawal_reject(withdrawal=second, staff=finance, reason="bank details wrong")
    approved = _notes(merchant, K.WITHDRAWAL_APPROVED).get()
    assert "¥120.00" in _say(approved) and "approved" in _say(approved)
    rejected = _notes(merchant, K.WITHDRAWAL_REJECTED).get()
    assert "¥80.00" in _say(rejected) and "bank details wrong" in _say(rejected)
    assert notices.link(rejected) == "/merchant/deposit/"
    assert "提现" in _say(approved, "zh-hans")


def test_shop_notices_are_on_the_owners_page_and_api():
    merchant = MerchantFactory()
    order_services.merchant_suspend(
        merchant=merchant, reason=SuspensionReason.MANUAL, note="checking", staff=StaffFactory()
    )
    client = Client()
    client.force_login(merchant.owner)
    html = client.get("/notifications/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"Shop {merchant.shop_name}" in html and "“checking”" in html
    api = APIClient()
    api.force_authenticate(merchant.owner)
    row = api.get("/api/v1/notifications/", HTTP_ACCEPT_LANGUAGE="en").json()["results"][0]
    assert row["kind"] == "shop_suspended" and row["complaint"] is None
    assert row["link"] == "/merchant/"
