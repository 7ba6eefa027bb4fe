"""The shop's deposit: top-ups through the payment channel and the minimum deposit."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _

from escrow.models import AccountKind, LedgerTransaction, TransactionKind
from escrow.services.ledger import amount_fen, lock_by_kind, post, require_perm, sync_suspension
from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError, Forbidden
from kamen_complaints.models import AuditAction
from kamen_complaints.money import from_fen, to_fen
from orders import payments
from orders import services as order_services
from orders.models import Merchant, Payment, PaymentIntent, PaymentStatus
from orders.payments import TradeState
from orders.selectors import is_merchant_owner
from orders.services import payments as payment_services

logger = logging.getLogger(__name__)

# --- Top-ups ------------------------------------------------------------------------------


def deposit_topup(
    *, merchant: Merchant, amount: Decimal, user: User, channel: str = "sandbox"
) -> LedgerTransaction:
    """The shop's owner pays into the deposit through the payment provider. The charge
    happens first (outside the transaction, as for orders), then `deposit_topup_confirm`
    credits it once per payment reference."""
    if not is_merchant_owner(user, merchant):
        raise Forbidden(_("Only the shop's owner tops up the deposit."))
    fen = amount_fen(amount)
    result = payments.charge(
        channel=channel,
        amount=from_fen(fen),
        description=f"deposit top-up {merchant.shop_name}",
        idempotency_key=f"topup:{merchant.pk}:{uuid.uuid4().hex}",
    )
    return deposit_topup_confirm(
        merchant=merchant,
        reference=result.reference,
        amount=from_fen(fen),
        channel=channel,
        user=user,
    )


def deposit_topup_start(
    *,
    merchant: Merchant,
    amount: Decimal,
    user: User,
    channel: str,
    scene: str = "",
    return_url: str = "",
    client_ip: str = "",
) -> PaymentIntent:
    """The owner tops up through a real channel (Alipay, WeChat Pay): a payment is asked and
    nothing is credited until the channel confirms it (its notice or the sweep's query), when
    `deposit_topup_paid` credits it once, as `deposit_topup_confirm`."""
    if not is_merchant_owner(user, merchant):
        raise Forbidden(_("Only the shop's owner tops up the deposit."))
    fen = amount_fen(amount)
    return payment_services.payment_start(
        channel=channel,
        purpose="topup",
        # At most 32 characters, letters and digits (WeChat Pay's out_trade_no).
        out_trade_no=f"TU{merchant.pk}X{uuid.uuid4().hex}"[:32],
        amount=from_fen(fen),
        description=f"deposit top-up {merchant.shop_name}",
        payer=user,
        scene=scene,
        return_url=return_url,
        client_ip=client_ip,
        merchant=merchant,
    )


def deposit_topup_paid(intent: PaymentIntent, state: TradeState) -> bool:
    """A channel confirmed a top-up (registered with orders as the `topup` payment purpose;
    called in the transaction that marks the payment paid): credited once per reference."""
    assert intent.merchant is not None  # noqa: S101 - a top-up always names its shop
    deposit_topup_confirm(
        merchant=intent.merchant,
        reference=state.reference,
        amount=intent.amount,
        channel=intent.channel,
        user=intent.payer,
    )
    return True


@transaction.atomic
def deposit_topup_confirm(
    *, merchant: Merchant, reference: str, amount: Decimal, channel: str, user: User
) -> LedgerTransaction:
    """Credit a top-up the provider confirmed (`topup:<payment ref>`, once): bank → the
    receivable first (a debt is paid before anything else), the rest → the deposit. Lifts a
    `deposit` suspension when this cures it."""
    fen = amount_fen(amount)
    accounts = lock_by_kind(merchant.pk, (AccountKind.BANK,))
    deposit = accounts[AccountKind.DEPOSIT]
    receivable = accounts[AccountKind.RECEIVABLE]
    to_receivable = min(fen, -receivable.balance)
    tx, created = post(
        key=f"topup:{reference}",
        kind=TransactionKind.TOPUP,
        legs=[
            (accounts[AccountKind.BANK], -fen),
            (receivable, to_receivable),
            (deposit, fen - to_receivable),
        ],
        merchant_id=merchant.pk,
        user=user,
    )
    if created:
        Payment.objects.get_or_create(
            reference=reference,
            defaults={
                "payer": user,
                "purpose": "topup",
                "channel": channel,
                "amount": from_fen(fen),
                "status": PaymentStatus.SUCCEEDED,
            },
        )
        sync_suspension(deposit, receivable, lowered=False)
    return tx


@transaction.atomic
def deposit_set_minimum(
    *, merchant: Merchant, amount: Decimal, reason: str, staff: User
) -> Merchant:
    """Change a shop's minimum deposit (finance, with a reason). The shop's standing follows at
    once: a minimum raised above its balance suspends it (`deposit`); one lowered to what it
    holds lifts a deposit suspension (never a manual one)."""
    require_perm(staff, "escrow.post_adjustment")
    if not reason.strip():
        raise DomainError(_("A reason is required."), code="reason_required")
    fen = amount_fen(amount, allow_zero=True)
    accounts = lock_by_kind(merchant.pk)
    deposit = accounts[AccountKind.DEPOSIT]
    receivable = accounts[AccountKind.RECEIVABLE]
    assert deposit.merchant is not None  # noqa: S101 - lock_by_kind joins the merchant
    old = to_fen(deposit.merchant.minimum_deposit)
    merchant = order_services.merchant_set_minimum_deposit(merchant=merchant, amount=from_fen(fen))
    logger.info(
        "minimum deposit of merchant %s: %s -> %s by %s (%s)",
        merchant.pk,
        from_fen(old),
        from_fen(fen),
        staff.pk,
        reason.strip()[:200],
    )
    deposit.merchant.minimum_deposit = merchant.minimum_deposit
    audit_record(
        actor=staff,
        action=AuditAction.MINIMUM_DEPOSIT,
        obj=merchant,
        reason=reason,
        before={"minimum_deposit": str(from_fen(old))},
        after={"minimum_deposit": str(from_fen(fen))},
    )
    # "lowered" means the shop's standing can only have got worse: a higher minimum.
    sync_suspension(deposit, receivable, lowered=fen > old)
    merchant.refresh_from_db()
    return merchant
