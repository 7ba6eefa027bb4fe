"""System checks of the orders app (registered in OrdersConfig.ready()).

- Outside development (KAMEN_ENV is not "development"), the sandbox payment provider, the
  sandbox top-up upstream and the sandbox card-key verifier take no real money and verify
  nothing: starting with any of them is an error unless KAMEN_DEMO_DEPLOYMENT says the
  deployment is a demo (docs/payments.md).
- Every channel named in PAYMENT_CHANNELS must load: its settings set, its key and certificate
  files readable (the error names the setting, never the key).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error

SANDBOXES = {
    "PAYMENT_PROVIDER": "orders.payments.SandboxProvider",
    "TOPUP_UPSTREAM": "orders.payments.SandboxTopupUpstream",
    "CARD_KEY_VERIFIER": "orders.verifiers.SandboxCardKeyVerifier",
}


def sandbox_errors(config: Any) -> list[Error]:
    if getattr(config, "KAMEN_ENV", "production") == "development":
        return []
    if getattr(config, "KAMEN_DEMO_DEPLOYMENT", False):
        return []
    return [
        Error(
            f"{name} is the sandbox ({sandbox}), which moves no real money and checks nothing, "
            "and KAMEN_ENV is not 'development'.",
            hint=f"Set {name} to a real implementation (docs/payments.md), or, for a demo "
            "deployment only, set KAMEN_DEMO_DEPLOYMENT=true.",
            id="orders.E001",
        )
        for name, sandbox in SANDBOXES.items()
        if getattr(config, name, "") == sandbox
    ]


def channel_errors(config: Any) -> list[Error]:
    from orders.payments import CHANNEL_CLASSES, PaymentError, get_provider

    errors = []
    for channel in getattr(config, "PAYMENT_CHANNELS", []):
        if channel not in CHANNEL_CLASSES:
            errors.append(
                Error(
                    f"PAYMENT_CHANNELS names {channel!r}; the channels are "
                    f"{', '.join(sorted(CHANNEL_CLASSES))}.",
                    id="orders.E002",
                )
            )
            continue
        try:
            get_provider(channel)
        except PaymentError as exc:
            errors.append(
                Error(
                    f"Payment channel {channel} does not load: {exc}",
                    hint="docs/payments.md lists its settings and files.",
                    id="orders.E003",
                )
            )
    return errors


def check_payment_setup(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return sandbox_errors(settings) + channel_errors(settings)
