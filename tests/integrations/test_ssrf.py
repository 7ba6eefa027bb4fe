"""Which URLs the platform will call (integrations/net.py): only http(s), no credentials, and
no loopback, private or link-local address after DNS resolution — at registration and again on
every delivery, connecting to the very address that was checked."""

from __future__ import annotations

import socket

import pytest
from django.utils import translation

from integrations import events, net, services
from integrations.models import Delivery, Endpoint
from kamen_complaints.errors import DomainError
from tests.factories import MerchantFactory
from tests.loopback import loopback_server

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """The refusals are read in English here (zh-hans is the platform's default)."""
    with translation.override("en"):
        yield


def _resolving(monkeypatch, *addresses: str) -> None:
    """Every host name resolves to `addresses` (the DNS answer an attacker controls)."""

    def fake(host, port, *args, **kwargs):
        family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(net.socket, "getaddrinfo", fake)


def _refused(url: str) -> str:
    with pytest.raises(DomainError) as refusal:
        net.check(url)
    assert refusal.value.code == "url_refused"
    return refusal.value.message


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "file:///etc/passwd",
        "gopher://hooks.example.com/",
        "https://user:pw@hooks.example.com/x",
        "https://token@hooks.example.com/x",
        "https:///nohost",
        "not a url",
        "http://[::1",
    ],
)
def test_only_plain_http_urls_without_credentials(url):
    _refused(url)


def test_loopback_and_private_addresses_are_refused_without_the_setting():
    assert "only public addresses" in _refused("http://127.0.0.1:8000/hook")
    assert "only public addresses" in _refused("http://10.0.0.7/hook")
    assert "only public addresses" in _refused("http://192.168.1.2/hook")
    assert "only public addresses" in _refused("http://[::1]/hook")
    assert "only public addresses" in _refused("http://[::ffff:127.0.0.1]/hook")
    _refused("http://0.0.0.0/hook")


def test_link_local_is_refused_even_with_the_setting(settings):
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = True
    assert "Link-local" in _refused("http://169.254.169.254/latest/meta-data/")
    assert "Link-local" in _refused("http://[fe80::1]/hook")
    net.check("http://127.0.0.1:8000/hook")  # loopback: allowed by the setting
    net.check("http://10.0.0.7/hook")


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch):
    _resolving(monkeypatch, "10.1.2.3")
    assert "10.1.2.3" in _refused("https://hooks.example.com/x")
    # One private address among public ones is enough to refuse.
    _resolving(monkeypatch, "93.184.216.34", "169.254.169.254")
    assert "Link-local" in _refused("https://hooks.example.com/x")
    _resolving(monkeypatch, "93.184.216.34")
    net.check("https://hooks.example.com/x")


def test_the_check_runs_again_at_delivery_time(monkeypatch):
    """Registered while the name resolved to a public address; by delivery it resolves to the
    loopback (DNS rebinding): nothing is sent, the try is a failure."""
    merchant = MerchantFactory()
    with loopback_server() as internal:
        port = internal.url.rsplit(":", 1)[1]
        _resolving(monkeypatch, "93.184.216.34")
        services.endpoint_create(
            actor=merchant.owner, merchant=merchant, url=f"http://hooks.example.com:{port}/x"
        )
        _resolving(monkeypatch, "127.0.0.1")
        events.emit(merchant_id=merchant.pk, type="complaint.filed", data={}, key="r")
        services.deliveries_sweep()
        assert internal.requests == []
    row = Delivery.objects.get()
    assert row.attempts == 1 and row.last_status is None
    assert "only public addresses" in row.last_error


def test_the_request_goes_to_the_checked_address_with_the_host_name(monkeypatch, settings):
    """The socket connects to the address that was checked; the Host header keeps the name."""
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = True
    merchant = MerchantFactory()
    with loopback_server() as receiver:
        port = int(receiver.url.rsplit(":", 1)[1])
        _resolving(monkeypatch, "127.0.0.1")
        services.endpoint_create(
            actor=merchant.owner, merchant=merchant, url=f"http://erp.shop.example:{port}/in"
        )
        events.emit(merchant_id=merchant.pk, type="complaint.filed", data={}, key="h")
        services.deliveries_sweep()
        request = receiver.wait_for(1)[0]
    assert request.headers["Host"] == f"erp.shop.example:{port}"
    assert request.path == "/in"


def test_registration_refuses_and_keeps_nothing():
    merchant = MerchantFactory()
    with pytest.raises(DomainError):
        services.endpoint_create(
            actor=merchant.owner, merchant=merchant, url="http://169.254.169.254/"
        )
    assert not Endpoint.objects.exists()
