"""Login (token), register and reveal are throttled per user and per IP: 429, code `throttled`.

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], read when a request runs, so the
`settings` fixture can lower them; the throttle history lives in the cache, which the
test-wide fixture clears."""

from __future__ import annotations

import copy

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    def set_rates(**scopes: str) -> None:
        rest = copy.deepcopy(settings.REST_FRAMEWORK)
        rest["DEFAULT_THROTTLE_RATES"].update(scopes)
        settings.REST_FRAMEWORK = rest
        cache.clear()

    return set_rates


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1


def test_token_requests_past_the_rate_are_429_even_with_the_right_password(rates):
    rates(login_ip="3/min", login_user="3/min")
    user = UserFactory()
    client = APIClient()
    for _ in range(3):
        response = client.post(
            "/api/v1/auth/token/", {"username": user.username, "password": "wrong"}, format="json"
        )
        assert response.status_code == 400
    assert_throttled(
        client.post(
            "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
        )
    )


def test_the_login_throttle_counts_per_ip(rates):
    rates(login_ip="2/min", login_user="100/min")
    body = {"username": "nobody", "password": "x"}
    here = APIClient(REMOTE_ADDR="192.0.2.1")
    there = APIClient(REMOTE_ADDR="192.0.2.2")
    for _ in range(2):
        here.post("/api/v1/auth/token/", body, format="json")
    assert_throttled(here.post("/api/v1/auth/token/", body, format="json"))
    assert there.post("/api/v1/auth/token/", body, format="json").status_code == 400


def test_registering_past_the_rate_is_429_and_creates_no_account(rates):
    rates(login_ip="2/min")
    client = APIClient()
    for i in range(2):
        response = client.post(
            "/api/v1/auth/register/",
            {"username": f"new{i}", "password": "a-long-enough-secret-9", "email": "n@e.com"},
            format="json",
        )
        assert response.status_code == 201
    response = client.post(
        "/api/v1/auth/register/",
        {"username": "new9", "password": "a-long-enough-secret-9", "email": "n@e.com"},
        format="json",
    )
    assert_throttled(response)
    from django.contrib.auth.models import User

    assert not User.objects.filter(username="new9").exists()


def test_reveals_past_the_rate_are_429_and_not_recorded(rates):
    from orders.models import CardKeyReveal

    rates(reveal_user="2/min", reveal_ip="100/min")
    order = paid_order()
    client = APIClient()
    client.force_authenticate(order.buyer)
    url = f"/api/v1/orders/{order.number}/reveal/"
    assert [client.post(url).status_code for _ in range(2)] == [200, 200]
    assert_throttled(client.post(url))
    assert CardKeyReveal.objects.count() == 2


def test_the_reveal_throttle_is_per_user(rates):
    rates(reveal_user="1/min", reveal_ip="100/min")
    first, second = paid_order(), paid_order()
    for order in (first, second):
        client = APIClient()
        client.force_authenticate(order.buyer)
        assert client.post(f"/api/v1/orders/{order.number}/reveal/").status_code == 200
