"""Alipay and WeChat Pay configured as in production, each against its emulator on a loopback
server: key files written to a temporary directory, the gateway settings pointing at the
emulators, the sandbox still on beside them (as in a demo)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.test import Client

from orders.models import Product
from tests.factories import (
    CardKeyFactory,
    MerchantFactory,
    OrderFactory,
    ProductFactory,
    UserFactory,
)
from tests.loopback import loopback_server
from tests.payments.emulators import (
    AlipayGateway,
    KeyPair,
    WechatPayGateway,
    new_key,
    self_signed_certificate,
)

# RSA keys take a moment to make: once per session (they are the tests' own, never real).
_KEYS: dict[str, KeyPair] = {}


def key(name: str) -> KeyPair:
    if name not in _KEYS:
        _KEYS[name] = new_key()
    return _KEYS[name]


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alipay(settings: Any, tmp_path: Path) -> Iterator[AlipayGateway]:
    gateway = AlipayGateway(
        app_id="2021000000000001", app_key=key("alipay-app"), alipay_key=key("alipay")
    )
    (tmp_path / "alipay-app.key").write_text(gateway.app_key.private_pem)
    (tmp_path / "alipay.pub").write_text(gateway.alipay_key.public_pem)
    with loopback_server() as server:
        server.handler = gateway.handle
        gateway.url = server.url
        settings.PAYMENT_CHANNELS = [*settings.PAYMENT_CHANNELS, "alipay"]
        settings.ALIPAY_APP_ID = gateway.app_id
        settings.ALIPAY_APP_PRIVATE_KEY_FILE = str(tmp_path / "alipay-app.key")
        settings.ALIPAY_PUBLIC_KEY_FILE = str(tmp_path / "alipay.pub")
        settings.ALIPAY_GATEWAY = f"{server.url}/gateway.do"
        settings.PAYMENT_HTTP_TIMEOUT_SECONDS = 1.0
        settings.SITE_URL = "https://kamen.test"
        yield gateway


@pytest.fixture
def wechatpay(settings: Any, tmp_path: Path) -> Iterator[WechatPayGateway]:
    platform = key("wechat-platform")
    cert = self_signed_certificate(platform, "Tenpay.com Root CA (test)")
    gateway = WechatPayGateway(
        app_id="wxd678efh567hg6787",
        mch_id="1230000109",
        apiv3_key=secrets.token_hex(16),  # 32 characters, as the merchant platform asks
        merchant_key=key("wechat-merchant"),
        merchant_serial="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        platform_key=platform,
        platform_cert=cert,
    )
    certs = tmp_path / "wechatpay-certs"
    certs.mkdir()
    (certs / f"{gateway.platform_serial}.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
    )
    (tmp_path / "apiclient_key.pem").write_text(gateway.merchant_key.private_pem)
    with loopback_server() as server:
        server.handler = gateway.handle
        gateway.url = server.url
        settings.PAYMENT_CHANNELS = [*settings.PAYMENT_CHANNELS, "wechatpay"]
        settings.WECHATPAY_APP_ID = gateway.app_id
        settings.WECHATPAY_MCH_ID = gateway.mch_id
        settings.WECHATPAY_PRIVATE_KEY_FILE = str(tmp_path / "apiclient_key.pem")
        settings.WECHATPAY_CERT_SERIAL_NO = gateway.merchant_serial
        settings.WECHATPAY_APIV3_KEY = gateway.apiv3_key
        settings.WECHATPAY_PLATFORM_CERT_DIR = str(certs)
        settings.WECHATPAY_GATEWAY = server.url
        settings.PAYMENT_HTTP_TIMEOUT_SECONDS = 1.0
        settings.SITE_URL = "https://kamen.test"
        yield gateway


@pytest.fixture
def product(db: Any) -> Product:
    product = ProductFactory(merchant=MerchantFactory())
    CardKeyFactory.create_batch(3, product=product)
    return product


@pytest.fixture
def buyer(db: Any) -> Any:
    return UserFactory()


@pytest.fixture
def order(product: Product, buyer: Any) -> Any:
    return OrderFactory(product=product, merchant=product.merchant, buyer=buyer)


@pytest.fixture
def buyer_client(buyer: Any) -> Client:
    client = Client()
    client.force_login(buyer)
    return client
