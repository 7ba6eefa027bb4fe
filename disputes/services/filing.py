"""Filing a complaint (`dispute_file`) and the rules that may refuse it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.models import Dispute, EventType, NotificationKind, Policy, Reason, Role, Status
from disputes.selectors import policy_for
from disputes.services import money
from disputes.services.blacklist import complaint_ban
from disputes.services.evidence import (
    EvidenceUpload,
    check_count,
    check_uploads,
    store_evidence,
    store_platform_record,
    stored_files,
)
from disputes.services.formatting import local, yuan
from disputes.services.order_chat import attach_chat_record
from disputes.services.outbox import buyer_recipients, merchant_recipients, notify
from disputes.services.state_machine import record
from kamen_complaints.errors import DomainError, NotFound
from orders import crypto
from orders.models import CardKey, Order, Payment

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U

# Other apps may act on a complaint in its filing transaction (the clock issue: fast track).
# A hook receives the new complaint and its policy; registered at app ready.
AfterFiling = Callable[[Dispute, Policy], None]
_after_filing: list[AfterFiling] = []


def register_after_filing(hook: AfterFiling) -> None:
    if hook not in _after_filing:
        _after_filing.append(hook)


def _new_number() -> str:
    """TS (投诉) + date + 10 random characters (50 bits): readable, not guessable."""
    stamp = timezone.localtime().strftime("%y%m%d")
    for _attempt in range(5):
        number = "TS" + stamp + "".join(secrets.choice(_ALPHABET) for _ in range(10))
        if not Dispute.objects.filter(number=number).exists():
            break
    return number


def window_for(order: Order, reason: str, policy: Policy) -> tuple[datetime, str]:
    """When the complaint window closes, and the rule in words. Counted from delivery; for
    'not received' (and for an order not delivered yet) from payment."""
    hours = policy.complaint_window_hours
    assert order.paid_at is not None  # noqa: S101 - callers check payment first
    if reason != Reason.NOT_RECEIVED and order.delivered_at is not None:
        return order.delivered_at + timedelta(hours=hours), _("%(hours)s h after delivery") % {
            "hours": hours
        }
    return order.paid_at + timedelta(hours=hours), _("%(hours)s h after payment") % {"hours": hours}


def _check_filing(
    *,
    buyer: User,
    order: Order,
    reason: str,
    claimed_amount: Decimal,
    policy: Policy,
    blacklist: bool = True,
) -> datetime:
    """Every filing rule, cheapest first. Returns the window's closing time. `blacklist=False`:
    the blacklist was asked moments before in the same filing (the order's lock, under which
    the rules are asked again, is not one a blacklist write takes: asking it again there
    closes no race)."""
    if order.buyer_id != buyer.pk:
        raise NotFound(_("No such order."))
    if reason not in Reason.values:
        raise DomainError(
            _("Choose a reason: %(reasons)s.") % {"reasons": ", ".join(Reason.values)},
            code="reason_invalid",
        )
    now = timezone.now()
    entry = complaint_ban(buyer, at=now) if blacklist else None
    if entry is not None:
        raise DomainError(
            _("You may not file complaints until %(until)s: %(reason)s")
            % {"until": local(entry.expires_at), "reason": entry.reason},
            code="blacklisted",
            status_code=403,
            until=entry.expires_at.isoformat(),
        )
    if order.paid_at is None:
        raise DomainError(
            _("Order %(number)s was not paid; only a paid order can be complained about.")
            % {"number": order.number},
            code="not_allowed_in_state",
            status_code=409,
        )
    closes_at, rule = window_for(order, reason, policy)
    if now > closes_at:
        raise DomainError(
            _("The complaint window for this order closed at %(closed)s (%(rule)s).")
            % {"closed": local(closes_at), "rule": rule},
            code="window_closed",
            closed_at=closes_at.isoformat(),
        )
    # The order's live complaint and the withdrawn ones that paid out, in one read.
    earlier = list(
        Dispute.objects.filter(order=order)
        .filter(~Q(status=Status.WITHDRAWN) | Q(paid_out__gt=0))
        .order_by("filed_at", "id")
    )
    live = next((d for d in reversed(earlier) if d.status != Status.WITHDRAWN), None)
    if live is not None:
        raise _exists(live)
    kept = next((d for d in earlier if d.status == Status.WITHDRAWN), None)
    if kept is not None:
        # The buyer keeps a payout when they withdraw; the loss it paid for is not paid again
        # by a complaint filed afterwards (docs/money.md).
        raise DomainError(
            _(
                "Complaint %(number)s already paid you %(amount)s for order %(order)s and was "
                "withdrawn; the same loss is not paid twice, so no new complaint can be filed "
                "on this order."
            )
            % {"number": kept.number, "amount": yuan(kept.paid_out), "order": order.number},
            code="already_compensated",
            status_code=409,
            complaint=kept.number,
        )
    if order.refundable_amount <= 0:
        raise DomainError(
            _("Order %(number)s was refunded in full; there is nothing left to claim.")
            % {"number": order.number},
            code="not_allowed_in_state",
            status_code=409,
        )
    if claimed_amount <= 0 or claimed_amount > order.refundable_amount:
        raise DomainError(
            _(
                "The claimed amount must be above ¥0.00 and at most %(max)s "
                "(the order's %(amount)s less %(refunded)s already refunded)."
            )
            % {
                "max": yuan(order.refundable_amount),
                "amount": yuan(order.amount),
                # Refunds sent and compensations booked alike (Order.refundable_amount).
                "refunded": yuan(order.amount - order.refundable_amount),
            },
            code="amount_invalid",
        )
    return closes_at


def _exists(live: Dispute) -> DomainError:
    return DomainError(
        _(
            "Order %(order)s already has complaint %(number)s (%(status)s); one complaint per "
            "order, a new one only after a withdrawal."
        )
        % {"order": live.order.number, "number": live.number, "status": live.get_status_display()},
        code="complaint_exists",
        status_code=409,
        complaint=live.number,
    )


@dataclass(frozen=True)
class FilingState:
    """What the order page says about complaining, worked out by the filing rules themselves
    (`_check_filing`): the page never offers a button the service would refuse.

    `opens_at`/`closes_at`: the complaint window (counted as `window_for` counts it, from
    delivery, or from payment before delivery); `refusal`: the rule that would refuse a
    filing now, as the service words it; `complaint`: the order's latest complaint."""

    can_file: bool
    opens_at: datetime | None
    closes_at: datetime | None
    rule: str
    refusal: DomainError | None
    complaint: Dispute | None
    policy: Policy


def filing_state(*, buyer: User, order: Order) -> FilingState:
    """A read, beside the rules it reads: may `buyer` complain about `order` now?"""
    policy = policy_for(order.product.kind)
    complaint = Dispute.objects.filter(order=order).order_by("-filed_at", "-id").first()
    if order.paid_at is None:
        return FilingState(False, None, None, "", None, complaint, policy)
    closes_at, rule = window_for(order, Reason.OTHER, policy)
    opens_at = closes_at - timedelta(hours=policy.complaint_window_hours)
    refusal: DomainError | None = None
    try:
        _check_filing(
            buyer=buyer,
            order=order,
            reason=Reason.OTHER,
            claimed_amount=max(order.refundable_amount, Decimal("0.01")),
            policy=policy,
        )
    except DomainError as exc:
        refusal = exc
    return FilingState(refusal is None, opens_at, closes_at, rule, refusal, complaint, policy)


def _named_keys(order: Order, card_keys: Sequence[CardKey | int | str]) -> list[CardKey]:
    """The keys of `order` the buyer says failed, named however the buyer has them: a CardKey,
    its id, the full key text they were shown, or the masked form (`****7Q2K`, or just the
    last four characters). The page and the API both name keys through here.

    Full text is matched by its keyed fingerprint (orders.crypto.fingerprint, what the import
    stored) against this order's keys only: nothing is decrypted, and a key of another order
    matches nothing, so the answer never tells whether a text is a key somewhere else. A
    refusal echoes only the masked form of what was sent."""
    if not card_keys:
        return []
    keys = list(CardKey.objects.filter(order=order).order_by("id"))
    chosen: dict[int, CardKey] = {}
    for named in card_keys:
        matches = _matching_keys(keys, named)
        if not matches:
            shown = _shown(named)
            raise DomainError(
                _("Order %(number)s has no card key %(key)s.")
                % {"number": order.number, "key": shown},
                code="card_keys_invalid",
            )
        for key in matches:
            chosen[key.pk] = key
    return sorted(chosen.values(), key=lambda k: k.pk)


def _shown(named: CardKey | int | str) -> str:
    if isinstance(named, CardKey):
        return named.masked
    if isinstance(named, int):
        return f"#{named}"
    return crypto.mask(named.strip()[-4:])


def _matching_keys(keys: list[CardKey], named: CardKey | int | str) -> list[CardKey]:
    if isinstance(named, CardKey):
        return [k for k in keys if k.pk == named.pk]
    if isinstance(named, int):
        return [k for k in keys if k.pk == named]
    value = named.strip()
    if not value:
        return []
    # The full text first: a key may itself be all digits, and it is what the buyer copied.
    fingerprint = crypto.fingerprint(value)
    by_text = [k for k in keys if k.fingerprint == fingerprint]
    if by_text:
        return by_text
    if value.isdigit():
        return [k for k in keys if k.pk == int(value)]
    tail = value.lstrip("*")
    return [k for k in keys if tail and k.tail == tail]


def platform_records(order: Order) -> dict[str, Any]:
    """The platform's own evidence: the order, its payment, its delivery and every reveal of
    its card keys (time, IP, user agent — recorded by orders when the buyer looked)."""
    payment = Payment.objects.filter(reference=order.payment_reference).first()
    keys = list(order.card_keys.order_by("id"))
    reveals = order.reveals.prefetch_related("card_keys").order_by("at", "id")
    return {
        "captured_at": timezone.now(),
        "order": {
            "number": order.number,
            "created_at": order.created_at,
            "status": order.status,
            "product": {
                "id": order.product_id,
                "name": order.product.name,
                "kind": order.product.kind,
                "source": order.product.source,
            },
            "quantity": order.quantity,
            "unit_price": str(order.unit_price),
            "amount": str(order.amount),
            "refunded_amount": str(order.refunded_amount),
            "topup_target": order.topup_target,
        },
        "payment": {
            "reference": order.payment_reference,
            "channel": order.payment_channel,
            "paid_at": order.paid_at,
            "amount": str(payment.amount) if payment else None,
        },
        "delivery": {
            "delivered_at": order.delivered_at,
            "card_keys": [
                {"id": k.pk, "masked": k.masked, "delivered_at": k.delivered_at} for k in keys
            ],
        },
        "reveals": [
            {
                "at": r.at,
                "ip": r.ip,
                "user_agent": r.user_agent,
                "card_keys": [k.masked for k in r.card_keys.all()],
            }
            for r in reveals
        ],
    }


def dispute_file(
    *,
    buyer: User,
    order: Order,
    reason: str,
    claimed_amount: Decimal,
    description: str = "",
    card_keys: Sequence[CardKey | int | str] = (),
    evidence: Sequence[EvidenceUpload] = (),
    remedy_wanted: str = "refund",
) -> Dispute:
    """File a complaint. Only the order's buyer, only for a paid order not fully refunded,
    only inside the complaint window (72 h after delivery by default; for 'not received'
    counted from payment), never while blacklisted, one live complaint per order, claiming
    more than zero and at most what is still refundable.

    Filing holds the claimed amount on the merchant's deposit (as much as is available),
    starts the merchant's clock, attaches the platform's own records, writes the first
    timeline event and notifies the shop — all in one transaction. The automatic checks are
    registered in it too; the upstreams are asked after commit (disputes/services/auto.py).
    `remedy_wanted`: what the buyer would rather have if a key proves bad (refund/replace).
    """
    policy = policy_for(order.product.kind)
    # Cheap refusals before any image is decoded.
    _check_filing(
        buyer=buyer, order=order, reason=reason, claimed_amount=claimed_amount, policy=policy
    )
    if len(description) > 5000:
        raise DomainError(_("A description is at most 5000 characters."), code="invalid")
    if remedy_wanted not in ("refund", "replace"):
        raise DomainError(_("Choose a remedy: refund or replace."), code="remedy_invalid")
    check_count(None, Role.BUYER, len(evidence), policy=policy)
    checked = check_uploads(evidence, policy=policy)

    with stored_files() as files, transaction.atomic():
        # The order and its product locked as before; the shop read in the same statement
        # (not locked), for the hold on its deposit.
        order = (
            Order.objects.select_for_update(of=("self", "product"))
            .select_related("product", "merchant")
            .get(pk=order.pk)
        )
        closes_at = _check_filing(
            buyer=buyer,
            order=order,
            reason=reason,
            claimed_amount=claimed_amount,
            policy=policy,
            blacklist=False,
        )
        keys = _named_keys(order, card_keys)
        now = timezone.now()
        try:
            with transaction.atomic():
                dispute = Dispute.objects.create(
                    number=_new_number(),
                    order=order,
                    buyer=buyer,
                    merchant=order.merchant,
                    policy=policy if policy.pk else None,
                    reason=reason,
                    description=description.strip(),
                    claimed_amount=claimed_amount,
                    remedy_wanted=remedy_wanted,
                    status=Status.AWAITING_MERCHANT,
                    filed_at=now,
                    window_closes_at=closes_at,
                    merchant_response_due=now + timedelta(hours=policy.merchant_response_hours),
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError as exc:
            # A concurrent filing won the race to the partial unique constraint.
            live = Dispute.objects.filter(order=order).exclude(status=Status.WITHDRAWN).first()
            if live is None:
                raise
            raise _exists(live) from exc
        if keys:
            dispute.card_keys.set(keys)
        records = platform_records(order)
        dispute.platform_records = records
        dispute.save(update_fields=["platform_records"])
        event = record(
            dispute,
            type=EventType.FILED,
            actor=buyer,
            role=Role.BUYER,
            body=dispute.description,
            from_status="",
            data={
                "reason": reason,
                "claimed_amount": str(claimed_amount),
                "card_keys": [k.masked for k in keys],
                "merchant_response_due": dispute.merchant_response_due,
                "window_closes_at": closes_at,
            },
        )
        store_platform_record(dispute, records, files=files)
        for item in checked:
            store_evidence(dispute, item, user=buyer, role=Role.BUYER, files=files)
        # The order's chat with the shop, when the buyer wrote there: the chat-record proof.
        attach_chat_record(dispute, files=files)
        money.hold_place(dispute)
        # The buyer and the shop's team are told before the hooks, so a fast track's payment
        # is reported after (and above) the filing.
        notify(
            dispute,
            event,
            buyer_recipients(dispute) + merchant_recipients(dispute),
            NotificationKind.FILED,
            tell_actor=True,  # the buyer's receipt, with the merchant's deadline
            amount=claimed_amount,
        )
        for hook in _after_filing:
            hook(dispute, policy)
        if _after_filing:  # a hook may have changed the row (the fast track pays at once)
            dispute.refresh_from_db(fields=["fast_track", "paid_out", "recovered", "updated_at"])
    return dispute
