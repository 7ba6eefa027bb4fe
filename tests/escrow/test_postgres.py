"""PostgreSQL: concurrent postings under row locks, idempotency races, and the database's own
guards (the deferred balanced-legs trigger, immutability, the deposit check constraint)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from escrow import services
from escrow.models import (
    Account,
    AccountKind,
    Hold,
    HoldStatus,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutStatus,
    TransactionKind,
)
from orders.models import MerchantStatus, SuspensionReason
from tests.escrow.factories import assert_ledger_clean, balances, funded_merchant, platform
from tests.factories import ProductFactory, UserFactory
from tests.helpers import paid_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal


def run_concurrently(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Start every job at the same moment, each in its own thread (its own connection);
    return their results, re-raising the first failure."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def worker(index: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = job()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def test_fifty_concurrent_compensations_against_one_deposit_each_paid_once():
    merchant = funded_merchant("1000.00")
    buyer = UserFactory()
    product = ProductFactory(merchant=merchant, price=D("30.00"))
    orders = [paid_order(buyer=buyer, product=product) for _ in range(50)]
    # Complaints open first: holds of min(30.00, available) — 33 of 30.00, one of 10.00, 16 of 0.
    for i in range(50):
        services.deposit_hold(merchant=merchant, amount=D("30.00"), reference=f"dispute:{i}")
    assert balances(merchant)["held"] == 100000

    def compensate(i: int) -> Callable[[], None]:
        def job() -> None:
            for _retry in range(2):  # a sweep that runs twice moves money once
                with transaction.atomic():
                    services.compensation_pay(dispute_id=i, order=orders[i], amount=D("30.00"))
                    services.compensation_recover(
                        dispute_id=i, merchant=merchant, amount=D("30.00")
                    )

        return job

    run_concurrently([compensate(i) for i in range(50)])

    assert LedgerTransaction.objects.filter(kind=TransactionKind.COMPENSATION_PAYOUT).count() == 50
    assert LedgerTransaction.objects.filter(kind=TransactionKind.RECOVERY).count() == 50
    # 50 x 30.00 = 1500.00 recovered: 1000.00 from the deposit, 500.00 booked as receivable.
    assert balances(merchant) == {"deposit": 0, "held": 0, "receivable": -50000}
    assert platform(AccountKind.COMPENSATION_FUND) == 0
    assert not Hold.objects.filter(status=HoldStatus.ACTIVE).exists()
    deposit = Account.objects.get(merchant=merchant, kind=AccountKind.DEPOSIT)
    legs = LedgerEntry.objects.filter(account=deposit).order_by("id")
    assert sum(leg.amount for leg in legs) == deposit.balance
    assert min(leg.balance_after for leg in legs) >= 0  # never negative, at any step
    merchant.refresh_from_db()
    assert (merchant.status, merchant.suspension_reason) == (
        MerchantStatus.SUSPENDED,
        SuspensionReason.DEPOSIT,
    )
    # Every payout goes out through the channel exactly once.
    assert Payout.objects.count() == 50
    services.payouts_send_pending()
    assert Payout.objects.filter(status=PayoutStatus.SENT).count() == 50
    assert platform(AccountKind.BUYER_REFUNDS) == 0
    assert_ledger_clean()


def test_the_same_key_posted_by_eight_threads_at_once_moves_money_once():
    merchant = funded_merchant("1000.00")
    order = paid_order(product=ProductFactory(merchant=merchant, price=D("40.00")))

    def pay() -> int:
        return services.compensation_pay(dispute_id=77, order=order, amount=D("40.00")).pk

    def recover() -> int:
        return services.compensation_recover(dispute_id=77, merchant=merchant, amount=D("40.00")).pk

    paid = run_concurrently([pay] * 8)
    recovered = run_concurrently([recover] * 8)
    assert len(set(paid)) == 1 and len(set(recovered)) == 1
    assert Payout.objects.count() == 1
    assert platform(AccountKind.COMPENSATION_FUND) == 0
    assert balances(merchant)["deposit"] == 100000 - 4000
    assert_ledger_clean()


def test_the_same_top_up_confirmed_by_two_threads_is_credited_once():
    merchant = funded_merchant("0")

    def confirm() -> int:
        return services.deposit_topup_confirm(
            merchant=merchant,
            reference="SBXRACE",
            amount=D("250.00"),
            channel="sandbox",
            user=merchant.owner,
        ).pk

    assert len(set(run_concurrently([confirm, confirm]))) == 1
    assert balances(merchant)["deposit"] == 25000
    assert_ledger_clean()


def test_mixed_concurrent_postings_on_two_shops_never_deadlock_or_lose_an_update():
    shops = [funded_merchant("500.00", minimum_deposit=D("0")) for _ in range(2)]
    orders = [
        paid_order(product=ProductFactory(merchant=shops[i % 2], price=D("20.00")))
        for i in range(8)
    ]
    jobs: list[Callable[[], Any]] = []
    for i in range(8):
        shop = shops[i % 2]
        jobs.append(
            lambda i=i, shop=shop: services.deposit_hold(
                merchant=shop, amount=D("20.00"), reference=f"dispute:{i}"
            )
        )
        jobs.append(
            lambda shop=shop: services.deposit_topup(
                merchant=shop, amount=D("10.00"), user=shop.owner
            )
        )
    run_concurrently(jobs)

    # A recovery follows its payout (a merchant never bears more than the buyer was paid):
    # each settlement pays then recovers in one transaction, as disputes' settle does, while
    # the two shops' settlements race each other.
    def settle(i: int, shop: Any) -> None:
        with transaction.atomic():
            services.compensation_pay(dispute_id=i, order=orders[i], amount=D("20.00"))
            services.compensation_recover(dispute_id=i, merchant=shop, amount=D("20.00"))

    run_concurrently([lambda i=i: settle(i, shops[i % 2]) for i in range(8)])
    for shop in shops:
        # 500 + 4 x 10 topped up, 4 x 20 recovered
        assert balances(shop) == {"deposit": 46000, "held": 0, "receivable": 0}
    assert_ledger_clean()


def test_a_session_posts_again_after_the_transaction_that_prepared_its_statements_rolled_back():
    # The hot statements are prepared once per database session (ledger.execute_hot); a
    # prepared statement outlives the rollback of the transaction that prepared it, and the
    # session's next postings use it — the rolled-back one moved nothing.
    from escrow.services import ledger

    merchant = funded_merchant("100.00")
    order = paid_order(product=ProductFactory(merchant=merchant, price=D("40.00")))
    ledger._PREPARED.pop(connection.connection, None)
    with pytest.raises(RuntimeError, match="undone"), transaction.atomic():
        services.compensation_pay(dispute_id=5, order=order, amount=D("15.00"))
        services.compensation_recover(dispute_id=5, merchant=merchant, amount=D("15.00"))
        raise RuntimeError("undone")
    assert ledger._PREPARED[connection.connection]  # prepared, and kept past the rollback
    assert not LedgerTransaction.objects.filter(dispute_id=5).exists()
    assert Payout.objects.count() == 0
    with transaction.atomic():
        services.compensation_pay(dispute_id=5, order=order, amount=D("15.00"))
        services.compensation_recover(dispute_id=5, merchant=merchant, amount=D("15.00"))
    order.refresh_from_db()  # booked once (and sent once, if the payout went out on commit)
    assert order.refund_reserved + order.refunded_amount == D("15.00")
    assert Payout.objects.get().amount == 1500
    assert platform(AccountKind.COMPENSATION_FUND) == 0
    assert balances(merchant)["deposit"] == 10000 - 1500
    assert_ledger_clean()


# --- The database holds the line ----------------------------------------------------------


def _accounts() -> tuple[Account, Account]:
    merchant = funded_merchant("100.00")
    deposit = Account.objects.get(merchant=merchant, kind=AccountKind.DEPOSIT)
    bank = Account.objects.get(merchant__isnull=True, kind=AccountKind.BANK)
    return deposit, bank


def test_an_unbalanced_transaction_written_directly_is_refused_at_commit():
    deposit, bank = _accounts()
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        tx = LedgerTransaction.objects.create(
            key="bug:1", kind=TransactionKind.ADJUSTMENT, created_at=timezone.now()
        )
        LedgerEntry.objects.create(transaction=tx, account=deposit, amount=500, balance_after=0)
        LedgerEntry.objects.create(transaction=tx, account=bank, amount=-400, balance_after=0)
    assert not LedgerTransaction.objects.filter(key="bug:1").exists()


def test_a_transaction_without_legs_is_refused_at_commit():
    _accounts()
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        LedgerTransaction.objects.create(
            key="bug:2", kind=TransactionKind.ADJUSTMENT, created_at=timezone.now()
        )


def test_a_leg_added_later_to_a_balanced_transaction_is_refused():
    deposit, _bank = _accounts()
    tx = LedgerTransaction.objects.get(kind=TransactionKind.TOPUP)
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        LedgerEntry.objects.create(transaction=tx, account=deposit, amount=1, balance_after=0)


def test_ledger_rows_cannot_be_updated_or_deleted_in_the_database():
    _accounts()
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        LedgerEntry.objects.update(amount=1)
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        LedgerTransaction.objects.filter(kind=TransactionKind.TOPUP).update(memo="edited")
    with (
        pytest.raises(IntegrityError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM escrow_ledgerentry")


def test_a_negative_deposit_is_refused_by_the_database():
    deposit, _bank = _accounts()
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=deposit.pk).update(balance=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=deposit.pk).update(held=deposit.balance + 1)
    # The platform's fund may go below zero: the platform always pays.
    fund, _created = Account.objects.get_or_create(
        merchant=None, kind=AccountKind.COMPENSATION_FUND
    )
    assert Account.objects.filter(pk=fund.pk).update(balance=-100) == 1
