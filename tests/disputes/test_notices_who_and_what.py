"""Notifications name the product and the shop, and never report a person's own action back
to them (their teammates are still told): disputes.services.outbox.notify, disputes.notices."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from disputes import notices, selectors, services
from disputes.models import Notification
from tests.disputes.factories import agent_of, file, funded_order, offered, resolved_by_refund

pytestmark = pytest.mark.django_db


def _kinds(dispute, user) -> set[str]:
    rows = Notification.objects.filter(dispute=dispute, recipient=user, channel="inapp")
    return set(rows.values_list("kind", flat=True))


def test_the_buyer_is_not_told_of_their_own_answer_withdrawal_or_appeal():
    accepted = offered(Decimal("20.00"))
    services.dispute_accept_offer(dispute=accepted, buyer=accepted.buyer)
    assert "offer_accepted" not in _kinds(accepted, accepted.buyer)
    assert "offer_accepted" in _kinds(accepted, accepted.merchant.owner)

    rejected = offered(Decimal("20.00"))
    services.dispute_reject_offer(dispute=rejected, buyer=rejected.buyer)
    assert "offer_rejected" not in _kinds(rejected, rejected.buyer)
    assert "offer_rejected" in _kinds(rejected, rejected.merchant.owner)

    withdrawn = file()
    services.dispute_withdraw(dispute=withdrawn, buyer=withdrawn.buyer)
    assert "withdrawn" not in _kinds(withdrawn, withdrawn.buyer)
    assert "withdrawn" in _kinds(withdrawn, withdrawn.merchant.owner)


def test_the_member_who_appealed_is_not_told_the_rest_of_the_team_and_the_buyer_are():
    order = funded_order()
    agent = agent_of(order.merchant)
    dispute = resolved_by_refund(order=order)
    services.dispute_appeal(dispute=dispute, user=agent, reason="The key was redeemed.")

    assert "appealed" not in _kinds(dispute, agent)
    assert "appealed" in _kinds(dispute, order.merchant.owner)
    assert "appealed" in _kinds(dispute, dispute.buyer)


def test_the_buyer_who_appealed_is_not_told_the_shop_is():
    dispute = offered(Decimal("20.00"))
    dispute = services.dispute_accept_offer(dispute=dispute, buyer=dispute.buyer)
    services.dispute_appeal(dispute=dispute, user=dispute.buyer, reason="Only half.")

    assert "appealed" not in _kinds(dispute, dispute.buyer)
    assert "appealed" in _kinds(dispute, dispute.merchant.owner)


def test_the_buyer_still_gets_the_receipt_of_a_filing_with_the_merchants_deadline():
    dispute = file()

    assert "filed" in _kinds(dispute, dispute.buyer)


def test_the_inbox_and_the_mail_name_the_product_and_the_shop(
    client: Client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dispute = file()
    product = dispute.order.product.name
    shop = dispute.merchant.shop_name

    client.force_login(dispute.merchant.owner)
    page = client.get(reverse("disputes:notifications")).content.decode()
    assert product in page and shop in page

    owner_mail = [m for m in mail.outbox if m.to == [dispute.merchant.owner.email]][-1]
    assert product in owner_mail.subject and shop in owner_mail.subject

    line = selectors.inbox_lines(dispute.buyer, list(selectors.inbox_groups(dispute.buyer)))[0]
    assert line.about == notices.about(line.latest) == f"{product} · {shop}"
