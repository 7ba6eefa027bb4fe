"""The blacklist admin shows, on each entry, the complaints that led to it: the buyer's
complaints ruled malicious within the policy's window before the entry, linked to their case
screens; nothing older, nobody else's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from disputes import services
from disputes.models import BlacklistEntry, BlacklistSource
from tests.disputes.factories import arbitrator, funded_order, under_review
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def malicious(buyer):
    dispute = under_review(order=funded_order(buyer=buyer))
    return services.dispute_rule(
        dispute=dispute, staff=arbitrator(), outcome="rejected_malicious", reason="Key redeemed"
    )


def desk_client(lang: str = "en") -> Client:
    staff = StaffFactory()
    staff.groups.add(Group.objects.get(name="arbitrator"))
    client = Client(headers={"accept-language": lang})
    client.force_login(staff)
    return client


def case_url(dispute) -> str:
    return reverse("admin:disputes_dispute_case", args=[dispute.pk])


def test_an_automatic_entry_lists_the_rulings_that_led_to_it(time_machine):
    buyer = UserFactory()
    too_old = malicious(buyer)
    time_machine.move_to(timezone.now() + timedelta(days=200), tick=False)
    counted = [malicious(buyer)]
    time_machine.move_to(timezone.now() + timedelta(days=60), tick=False)
    counted.append(malicious(buyer))
    someone_else = malicious(UserFactory())
    time_machine.move_to(timezone.now() + timedelta(days=60), tick=False)
    counted.append(malicious(buyer))
    entry = BlacklistEntry.objects.get(user=buyer)
    assert entry.source == BlacklistSource.AUTOMATIC

    response = desk_client().get(f"/admin/disputes/blacklistentry/{entry.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Complaints ruled malicious in the 180 days before this entry: 3" in body
    for dispute in counted:
        assert f'<a href="{case_url(dispute)}">{dispute.number}</a>' in body
        assert dispute.merchant.shop_name in body
    assert too_old.number not in body
    assert someone_else.number not in body


def test_a_manual_entry_without_rulings_says_so_in_chinese():
    manager = StaffFactory(perms=["disputes.manage_blacklist"])
    entry = services.blacklist_add(user=UserFactory(), staff=manager, reason="刷单账号")
    response = desk_client("zh-hans").get(f"/admin/disputes/blacklistentry/{entry.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "列入依据的投诉" in body
    assert "列入前 180 天内被裁定为恶意投诉的投诉：0 件" in body


def test_a_manual_entry_shows_the_buyers_earlier_malicious_rulings():
    buyer = UserFactory()
    earlier = malicious(buyer)
    manager = StaffFactory(perms=["disputes.manage_blacklist"])
    entry = services.blacklist_add(user=buyer, staff=manager, reason="Repeated abuse")
    body = desk_client().get(f"/admin/disputes/blacklistentry/{entry.pk}/change/").content.decode()
    assert f'<a href="{case_url(earlier)}">{earlier.number}</a>' in body


def test_anonymous_gets_the_login_page_not_the_entry():
    manager = StaffFactory(perms=["disputes.manage_blacklist"])
    entry = services.blacklist_add(user=UserFactory(), staff=manager, reason="x")
    response = Client().get(f"/admin/disputes/blacklistentry/{entry.pk}/change/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_a_role_cannot_see_the_entry():
    manager = StaffFactory(perms=["disputes.manage_blacklist"])
    entry = services.blacklist_add(user=UserFactory(), staff=manager, reason="x")
    client = Client()
    client.force_login(StaffFactory())
    assert client.get(f"/admin/disputes/blacklistentry/{entry.pk}/change/").status_code == 403
