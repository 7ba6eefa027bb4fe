"""The system check that keeps the sandbox out of a real deployment, the channels' own load
check, and the finance view of the notices."""

from __future__ import annotations

from types import SimpleNamespace

from django.urls import reverse

from orders.checks import channel_errors, sandbox_errors
from orders.models import PaymentNotice, PaymentNoticeOutcome
from tests.factories import StaffFactory

SANDBOX = SimpleNamespace(
    PAYMENT_PROVIDER="orders.payments.SandboxProvider",
    TOPUP_UPSTREAM="orders.payments.SandboxTopupUpstream",
    CARD_KEY_VERIFIER="orders.verifiers.SandboxCardKeyVerifier",
)


def config(**values):
    return SimpleNamespace(**{**vars(SANDBOX), **values})


def test_outside_development_each_sandbox_is_an_error_naming_its_setting():
    errors = sandbox_errors(config(KAMEN_ENV="production", KAMEN_DEMO_DEPLOYMENT=False))
    assert [e.id for e in errors] == ["orders.E001"] * 3
    named = " ".join(e.msg for e in errors)
    for name in ("PAYMENT_PROVIDER", "TOPUP_UPSTREAM", "CARD_KEY_VERIFIER"):
        assert name in named
    assert "KAMEN_DEMO_DEPLOYMENT" in errors[0].hint


def test_a_demo_deployment_and_development_may_run_the_sandbox():
    assert sandbox_errors(config(KAMEN_ENV="production", KAMEN_DEMO_DEPLOYMENT=True)) == []
    assert sandbox_errors(config(KAMEN_ENV="development", KAMEN_DEMO_DEPLOYMENT=False)) == []


def test_real_implementations_pass_outside_development():
    real = config(
        KAMEN_ENV="production",
        KAMEN_DEMO_DEPLOYMENT=False,
        PAYMENT_PROVIDER="",
        TOPUP_UPSTREAM="supplier.upstream.Topups",
        CARD_KEY_VERIFIER="supplier.issuer.Verifier",
    )
    assert sandbox_errors(real) == []


def test_a_channel_that_does_not_load_is_an_error_naming_the_setting(settings, tmp_path):
    settings.PAYMENT_CHANNELS = ["alipay", "paypal"]
    settings.ALIPAY_APP_ID = "2021000000000001"
    settings.ALIPAY_APP_PRIVATE_KEY_FILE = str(tmp_path / "missing.key")
    errors = channel_errors(settings)
    assert [e.id for e in errors] == ["orders.E003", "orders.E002"]
    assert "ALIPAY_APP_PRIVATE_KEY_FILE" in errors[0].msg
    assert "BEGIN" not in errors[0].msg  # never a key


def test_configured_channels_load_cleanly(alipay, wechatpay, settings):
    assert channel_errors(settings) == []


def test_finance_reads_the_notices_not_acted_on(client, db):
    PaymentNotice.objects.create(
        channel="alipay",
        notice_id="n-1",
        out_trade_no="KM000000UNKNOWN",
        outcome=PaymentNoticeOutcome.UNKNOWN,
        detail="no payment with this trade number",
    )
    client.force_login(StaffFactory(perms=["orders.view_paymentnotice"]))
    url = reverse("admin:orders_paymentnotice_changelist") + "?outcome=unknown"
    page = client.get(url)
    assert page.status_code == 200
    assert "KM000000UNKNOWN" in page.content.decode()
