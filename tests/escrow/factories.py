"""Escrow test helpers: money enters through the real services, so every balance in a test is
one the platform can reach."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command

from escrow import services
from escrow.models import Account, AccountKind
from orders.models import Merchant
from tests.factories import MerchantFactory, StaffFactory

FINANCE_PERMS = [
    "escrow.view_account",
    "escrow.post_adjustment",
    "escrow.view_ledgertransaction",
    "escrow.view_ledgerentry",
    "escrow.view_hold",
    "escrow.view_payout",
    "escrow.retry_payout",
    "escrow.view_withdrawal",
    "escrow.approve_withdrawal",
]


def finance_staff(**kwargs: Any) -> User:
    """A staff account in the `finance` group (made by migration 0002; re-made here when a
    transactional test flushed it)."""
    group, _created = Group.objects.get_or_create(name="finance")
    if not group.permissions.exists():
        for dotted in FINANCE_PERMS:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    user = StaffFactory(**kwargs)
    user.groups.add(group)
    return User.objects.get(pk=user.pk)  # fresh: no stale permission cache


def funded_merchant(deposit: Decimal | str = "1000.00", **kwargs: Any) -> Merchant:
    """An active shop whose owner topped up `deposit` through the sandbox provider."""
    merchant = MerchantFactory(**kwargs)
    if Decimal(deposit):
        services.deposit_topup(merchant=merchant, amount=Decimal(deposit), user=merchant.owner)
    merchant.refresh_from_db()
    return merchant


def balances(merchant: Merchant) -> dict[str, int]:
    """{"deposit", "held", "receivable"} in fen."""
    rows = {a.kind: a for a in Account.objects.filter(merchant=merchant)}
    deposit = rows.get(AccountKind.DEPOSIT)
    receivable = rows.get(AccountKind.RECEIVABLE)
    return {
        "deposit": deposit.balance if deposit else 0,
        "held": deposit.held if deposit else 0,
        "receivable": receivable.balance if receivable else 0,
    }


def platform(kind: str) -> int:
    account = Account.objects.filter(kind=kind, merchant__isnull=True).first()
    return account.balance if account else 0


def assert_ledger_clean() -> None:
    """`manage.py check_ledger` passes (it raises CommandError, exit 1, on any breach)."""
    call_command("check_ledger", stdout=_Sink())


class _Sink:
    def write(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self) -> None:
        pass


def recover_paid(merchant: Merchant, dispute_id: int, amount: Decimal) -> Any:
    """A recovery as the platform makes one: the buyer of an order of this shop was paid the
    amount first, since a merchant never bears more than its complaint paid out."""
    from tests.factories import ProductFactory
    from tests.helpers import paid_order

    order = paid_order(product=ProductFactory(merchant=merchant, price=Decimal(amount)))
    services.compensation_pay(dispute_id=dispute_id, order=order, amount=Decimal(amount))
    return services.compensation_recover(
        dispute_id=dispute_id, merchant=merchant, amount=Decimal(amount)
    )
