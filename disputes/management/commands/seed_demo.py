"""`manage.py seed_demo [--if-empty]`: a small demo marketplace, built through the services.

Staff, verified shops, products of every kind with card-key stock, buyers, orders paid and
delivered, and complaints in every state — every row made by the same services the pages,
the API and the clock call, so the demo only holds states the platform can reach.
Idempotent: each step looks for what it would make and skips what is there, so a second run
changes nothing (and says so). `--if-empty` seeds only a database without any user (what
`make run` uses).

Shops open the way real ones do: they apply, their owner tops up the deposit (保证金, through
escrow), staff verify them. Complaints are filed by the demo buyers with evidence files made
by disputes.demo.pictures (screenshots drawn with Pillow, one hand-written PDF) and taken to
their state by the parties, the arbitrator and the clock's own enforcement.

The data and the steps live in disputes.demo; this command runs them and prints the result.
The demo logins are printed by the command and listed in README.md ("Demo logins").
Never run this against a production database: the passwords are public.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from disputes.demo.catalogue import ADMIN, DEMO_EMAIL_DOMAIN, demo_logins
from disputes.demo.seeding import complaints_summary, seed_all
from disputes.models import Dispute
from orders.models import Merchant, MerchantStatus, Order, Product


class Command(BaseCommand):
    help = "Seed a demo marketplace (idempotent); --if-empty seeds only a database without users."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="seed only when the database has no users at all",
        )

    def handle(self, *args: Any, if_empty: bool = False, **options: Any) -> None:
        if if_empty and User.objects.exists():
            self.stdout.write("seed_demo --if-empty: the database already has users; not seeding.")
            self._print_logins()
            return
        created = seed_all()
        if created:
            active = Merchant.objects.filter(status=MerchantStatus.ACTIVE).count()
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo marketplace seeded: {created} objects created "
                    f"({active} active shops, {Product.objects.count()} products, "
                    f"{Order.objects.count()} orders, {Dispute.objects.count()} complaints: "
                    f"{complaints_summary()})."
                )
            )
        else:
            self.stdout.write("Demo data already present; nothing changed.")
        self._print_logins()

    def _print_logins(self) -> None:
        # Only when the demo accounts are there (not a real account that happens to be "admin").
        if not User.objects.filter(
            username=ADMIN.username, email__endswith=f"@{DEMO_EMAIL_DOMAIN}"
        ).exists():
            return
        self.stdout.write("Demo logins (demo data only; never use these passwords in production):")
        width = max(len(login.username) for login in demo_logins())
        for login in demo_logins():
            self.stdout.write(f"  {login.username:<{width}}  {login.password}  {login.role}")
