"""The django-hordak side of `python -m bench hordak` (bench/bench_hordak.py), run by the
virtualenv .venv/hordak (requirements-hordak.txt) — never imported by the project.

    .venv/hordak/bin/python bench/hordak_side.py <database url>

Migrates hordak into that (scratch) database, makes a fund, a refunds account and 50 shop
deposits, prints `ready`, then for every line `<n>` on stdin makes n compensations — each
two transfers in one database transaction, as the ledger's compensation is a payout and a
recovery: fund → buyer refunds, shop deposit → fund, `Account.transfer_to` (hordak's
transaction and its two legs, checked balanced by hordak's own triggers) — and prints the
seconds they took."""

from __future__ import annotations

import sys
import time
from urllib.parse import urlparse

import django
from django.conf import settings

SHOPS = 50


def main(url: str) -> None:
    parts = urlparse(url)
    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": parts.path.lstrip("/"),
                "USER": parts.username or "postgres",
                "PASSWORD": parts.password or "",
                "HOST": parts.hostname or "127.0.0.1",
                "PORT": parts.port or 5432,
                "CONN_MAX_AGE": None,
            }
        },
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "mptt",
            "djmoney",
            "hordak",
        ],
        USE_TZ=True,
        DEFAULT_CURRENCY="CNY",
        CURRENCIES=["CNY"],
        HORDAK_CURRENCIES=["CNY"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from djmoney.money import Money
    from hordak.models import Account

    call_command("migrate", verbosity=0)

    def account(name: str, code: str, kind: str) -> Account:
        return Account.objects.create(name=name, code=code, type=kind, currencies=["CNY"])

    fund = account("compensation fund", "1", Account.TYPES.asset)
    refunds = account("buyer refunds", "2", Account.TYPES.asset)
    bank = account("bank", "3", Account.TYPES.asset)
    deposits = [account(f"deposit {i}", f"4{i:02d}", Account.TYPES.asset) for i in range(SHOPS)]
    for deposit in deposits:
        bank.transfer_to(deposit, Money("9000000.00", "CNY"))
    amount = Money("12.34", "CNY")
    done = 0
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        began = time.perf_counter()
        for i in range(done, done + n):
            with transaction.atomic():
                fund.transfer_to(refunds, amount, description=f"dispute:{i}:payout")
                deposits[i % SHOPS].transfer_to(fund, amount, description=f"dispute:{i}:recovery")
        done += n
        print(f"{time.perf_counter() - began:.6f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
