"""The API keys page, /merchant/api-keys/ (merchant/views/api_keys.py): the owner's, without
JavaScript; the same services as the API."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.test import Client
from django.utils import timezone

from kamen_complaints.models import AuditEntry
from merchant import services
from merchant.models import MerchantAPIKey
from tests.disputes.factories import agent_of
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

URL = "/merchant/api-keys/"


def browser(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)
    return client


def test_the_owner_creates_a_key_seen_once_then_lists_and_revokes_it():
    shop = MerchantFactory()
    page = browser(shop.owner)
    empty = page.get(URL)
    assert empty.status_code == 200
    assert "API 密钥" in empty.content.decode()
    made = page.post(
        URL,
        {"name": "ERP 同步", "scopes": ["complaints:read", "complaints:answer"]},
    )
    assert made.status_code == 200
    assert "no-store" in made["Cache-Control"]
    key = MerchantAPIKey.objects.get()
    html = made.content.decode()
    secret = html.split('id="new-key" type="text" value="', 1)[1].split('"', 1)[0]
    assert secret.startswith(key.prefix + ".")
    assert MerchantAPIKey.objects.key_generator.verify(secret, key.hashed_key)
    assert key.scopes == ["complaints:read", "complaints:answer"]
    # Never again: the next GET lists the key by its prefix only.
    listed = page.get(URL).content.decode()
    assert key.prefix in listed and secret not in listed and "ERP 同步" in listed

    revoked = page.post(f"{URL}{key.prefix}/revoke/")
    assert revoked.status_code == 302 and revoked["Location"] == URL
    key.refresh_from_db()
    assert key.revoked and key.revoked_by == shop.owner
    assert "已撤销" in page.get(URL).content.decode()
    assert AuditEntry.objects.filter(object_id=key.prefix).count() == 2


def test_the_expiry_is_the_end_of_the_day_chosen_in_shanghai():
    shop = MerchantFactory()
    day = timezone.localdate() + timezone.timedelta(days=3)
    browser(shop.owner).post(URL, {"name": "bot", "scopes": ["orders:read"], "expires_on": day})
    key = MerchantAPIKey.objects.get()
    local = timezone.localtime(key.expiry_date)
    assert isinstance(local, datetime)
    assert local.date() == date.fromordinal(day.toordinal() + 1) and local.hour == 0


def test_bad_input_is_shown_next_to_its_field_and_nothing_is_made():
    shop = MerchantFactory()
    page = browser(shop.owner)
    no_scope = page.post(URL, {"name": "bot"})
    assert no_scope.status_code == 400
    assert "field--invalid" in no_scope.content.decode()
    yesterday = timezone.localdate() - timezone.timedelta(days=2)
    past = page.post(URL, {"name": "bot", "scopes": ["orders:read"], "expires_on": yesterday})
    assert past.status_code == 400
    assert "必须是将来的时间" in past.content.decode()
    assert not MerchantAPIKey.objects.exists()


def test_a_team_member_gets_the_403_page_and_no_nav_link():
    shop = MerchantFactory()
    secret = services.api_key_create(
        merchant=shop, actor=shop.owner, name="ERP", scopes=["orders:read"]
    )[1]
    prefix = secret.partition(".")[0]
    agent = browser(agent_of(shop))
    assert agent.get(URL).status_code == 403
    assert agent.post(URL, {"name": "x", "scopes": ["orders:read"]}).status_code == 403
    assert agent.post(f"{URL}{prefix}/revoke/").status_code == 403
    assert not MerchantAPIKey.objects.get().revoked
    assert URL not in agent.get("/merchant/").content.decode()
    assert URL in browser(shop.owner).get("/merchant/").content.decode()
    # Another shop's key is a 404 for its owner.
    other = browser(MerchantFactory().owner)
    assert other.post(f"{URL}{prefix}/revoke/").status_code == 404
