"""The shop's reminder settings page, /merchant/reminders/ (merchant/views/reminders.py):
everyone on the team reads them, only the owner changes them, through the one service
(disputes.services.reminders.reminder_settings_update); bad input is a translated error on the
page and changes nothing."""

from __future__ import annotations

from datetime import time

import pytest
from django.test import Client

from disputes.models import ReminderSettings
from kamen_complaints.models import AuditEntry
from tests.disputes.factories import agent_of
from tests.factories import MerchantFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/merchant/reminders/"
GOOD = {"quiet_hours": "on", "quiet_start": "22:30", "quiet_end": "07:00", "digest": ""}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_owner_sees_the_defaults_and_changes_them():
    merchant = MerchantFactory()
    client = _client(merchant.owner)
    page = client.get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'value="23:00"' in body and 'value="08:00"' in body
    assert f'href="{URL}"' in body  # in the dashboard's navigation
    saved = client.post(URL, GOOD)
    assert saved.status_code == 302 and saved["Location"] == URL
    choice = ReminderSettings.objects.get(merchant=merchant)
    assert (choice.quiet_hours, choice.quiet_start, choice.quiet_end, choice.digest) == (
        True,
        time(22, 30),
        time(7, 0),
        False,
    )
    assert choice.updated_by == merchant.owner
    entry = AuditEntry.objects.get(action="reminder_settings_changed")
    assert entry.before["digest"] is True and entry.after["digest"] is False
    page = client.get(URL).content.decode()
    assert "22:30–07:00" in page


def test_bad_times_are_a_translated_error_on_the_page_and_change_nothing():
    merchant = MerchantFactory()
    client = _client(merchant.owner)
    same = client.post(URL, {**GOOD, "quiet_end": "22:30"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert same.status_code == 400
    assert "免打扰时段的开始和结束时间不能相同" in same.content.decode()
    nonsense = client.post(URL, {**GOOD, "quiet_start": "25:99"})
    assert nonsense.status_code == 400
    assert not ReminderSettings.objects.exists()


def test_a_team_member_reads_the_settings_but_cannot_change_them():
    merchant = MerchantFactory()
    agent = agent_of(merchant)
    client = _client(agent)
    page = client.get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    assert "<form" not in body.split('class="merchant-nav"')[1].split("</nav>")[1]
    assert client.post(URL, GOOD).status_code == 403
    assert not ReminderSettings.objects.exists()


def test_people_without_a_shop_never_reach_the_settings():
    anonymous = Client().get(URL)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    for user in (UserFactory(), StaffFactory()):
        response = _client(user).post(URL, GOOD)
        assert response.status_code == 302 and "/merchant/apply/" in response["Location"]
    assert not ReminderSettings.objects.exists()
