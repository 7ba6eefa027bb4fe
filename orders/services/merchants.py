"""A shop's life: application, real-name verification, rejection, suspension and its lifting,
the minimum deposit, the identity number revealed to staff, and verifications expiring."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError, Forbidden
from kamen_complaints.models import AuditAction
from kamen_complaints.text import name_key
from orders import conflicts, crypto, selectors
from orders.models import (
    IdentityAccess,
    MemberRole,
    Merchant,
    MerchantMember,
    MerchantStatus,
    SuspensionReason,
)
from orders.services.events import status_changed
from orders.services.validation import check_visible_name, validate_id_number, validate_phone

REVERIFICATION_PERIOD = timedelta(days=183)  # 实名认证 again every 6 months


# --- Merchants ----------------------------------------------------------------------------

# Other apps may hold a merchant back when staff reactivate it (escrow: the deposit is short).
# A guard returns the suspension reason that still applies, or None. Registered at app ready,
# so orders never imports them (dependencies point one way).
ActivationGuard = Callable[[Merchant], SuspensionReason | None]
_activation_guards: list[ActivationGuard] = []


def register_activation_guard(guard: ActivationGuard) -> None:
    if guard not in _activation_guards:
        _activation_guards.append(guard)


@conflicts.refusals_audited
@transaction.atomic
def merchant_apply(
    *,
    user: User,
    shop_name: str,
    legal_name: str,
    id_number: str,
    phone: str,
    address: str,
    business_license: str = "",
) -> Merchant:
    """Open a shop awaiting real-name verification; the applicant becomes its owner.

    An identity number another shop already uses is accepted like any other, so the answer
    never tells whether a number is registered; merchant_verify refuses the duplicate and
    the admin flags it for the verifier."""
    conflicts.refuse_staff_in_shop(user=user, actor=user, obj=user, adding=False)
    if MerchantMember.objects.filter(user=user).exists():
        raise DomainError(_("This account already belongs to a shop."), code="already_merchant")
    shop_name = shop_name.strip()
    if not shop_name or not legal_name.strip() or not address.strip():
        raise DomainError(_("Shop name, legal name and address are required."), code="invalid")
    check_visible_name(shop_name, code="shop_name_invalid")
    if Merchant.objects.filter(shop_name_key=name_key(shop_name)).exists():
        raise DomainError(_("That shop name is taken."), code="shop_name_taken")
    id_number = validate_id_number(id_number)
    phone = validate_phone(phone)
    try:
        with transaction.atomic():
            merchant = Merchant.objects.create(
                owner=user,
                shop_name=shop_name,
                legal_name=legal_name.strip(),
                id_number_encrypted=crypto.encrypt(id_number),
                id_number_last4=id_number[-4:],
                id_number_fingerprint=crypto.fingerprint(id_number, purpose="identity"),
                phone=phone,
                address=address.strip(),
                business_license=business_license.strip(),
            )
            MerchantMember.objects.create(merchant=merchant, user=user, role=MemberRole.OWNER)
    except IntegrityError as exc:
        # Two applications at the same moment (same account or same shop name).
        raise DomainError(
            _("That shop name is taken, or this account already applied."),
            code="shop_name_taken",
            status_code=409,
        ) from exc
    return merchant


def _locked_merchant(merchant: Merchant) -> Merchant:
    return Merchant.objects.select_for_update().get(pk=merchant.pk)


def _guarded_status(merchant: Merchant) -> tuple[str, str]:
    for guard in _activation_guards:
        reason = guard(merchant)
        if reason:
            return MerchantStatus.SUSPENDED, reason
    return MerchantStatus.ACTIVE, ""


@conflicts.refusals_audited
@transaction.atomic
def merchant_verify(*, merchant: Merchant, staff: User) -> Merchant:
    """Real-name verification passed: the shop may sell for the next 6 months.

    Verifying again is how a `verification_expired` suspension is lifted. A deposit shortfall
    (escrow's guard) still holds the shop back.

    One identity, one shop: refused while another shop that is not rejected was opened with
    the same identity number (its fingerprint), so a suspended or banned seller cannot come
    back under a new shop name. The application itself was accepted without a word (refusing
    it would tell anyone whether an identity number is registered); the verifier sees the
    flag in the admin and rejects one of the two (docs/security/merchants-and-evidence.md)."""
    # Every shop with this identity, locked in primary-key order: two verifications of
    # look-alike shops queue one behind the other instead of both passing.
    list(
        Merchant.objects.select_for_update()
        .filter(id_number_fingerprint=merchant.id_number_fingerprint)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    merchant = _locked_merchant(merchant)
    conflicts.refuse_party(
        staff=staff, action="merchant_verify", obj=merchant, merchant_id=merchant.pk
    )
    others = list(selectors.merchants_sharing_identity(merchant))
    if others:
        raise DomainError(
            _(
                "Another shop was opened with the same identity number: %(shops)s. One identity "
                "holds one shop; reject the duplicate application before verifying."
            )
            % {
                "shops": ", ".join(
                    f"{other.shop_name} ({other.get_status_display()})" for other in others
                )
            },
            code="identity_duplicate",
            status_code=409,
        )
    if merchant.status == MerchantStatus.SUSPENDED and merchant.suspension_reason in (
        SuspensionReason.MANUAL,
        SuspensionReason.DEPOSIT,
    ):
        raise DomainError(
            _("This shop is suspended (%(reason)s); lift that first.")
            % {"reason": merchant.get_suspension_reason_display()},
            code="not_allowed_in_state",
        )
    now = timezone.now()
    before = {"status": merchant.status, "suspension_reason": merchant.suspension_reason}
    merchant.verified_by = staff
    merchant.verified_at = now
    merchant.reverification_due = now + REVERIFICATION_PERIOD
    merchant.status, merchant.suspension_reason = _guarded_status(merchant)
    merchant.status_note = ""
    merchant.save()
    status_changed(
        merchant, before["status"], actor=staff, before_reason=before["suspension_reason"]
    )
    audit_record(
        actor=staff,
        action=AuditAction.MERCHANT_VERIFIED,
        obj=merchant,
        before=before,
        after={
            "status": merchant.status,
            "suspension_reason": merchant.suspension_reason,
            "reverification_due": merchant.reverification_due,
        },
    )
    return merchant


@conflicts.refusals_audited
@transaction.atomic
def merchant_reject(*, merchant: Merchant, staff: User, reason: str) -> Merchant:
    merchant = _locked_merchant(merchant)
    conflicts.refuse_party(
        staff=staff, action="merchant_reject", obj=merchant, merchant_id=merchant.pk
    )
    if merchant.status != MerchantStatus.PENDING_VERIFICATION:
        raise DomainError(
            _("Only a shop awaiting verification can be rejected."), code="not_allowed_in_state"
        )
    if not reason.strip():
        raise DomainError(_("A reason is required."), code="reason_required")
    merchant.status = MerchantStatus.REJECTED
    merchant.status_note = reason.strip()
    merchant.save()
    status_changed(
        merchant, MerchantStatus.PENDING_VERIFICATION, reason=merchant.status_note, actor=staff
    )
    audit_record(
        actor=staff,
        action=AuditAction.MERCHANT_REJECTED,
        obj=merchant,
        reason=merchant.status_note,
        before={"status": MerchantStatus.PENDING_VERIFICATION},
        after={"status": merchant.status},
    )
    return merchant


@conflicts.refusals_audited
@transaction.atomic
def merchant_suspend(
    *,
    merchant: Merchant,
    reason: SuspensionReason | str,
    note: str = "",
    staff: User | None = None,
) -> Merchant:
    """Stop a shop selling. A manual suspension outranks the others: it is never replaced by
    an automatic one, and only staff lift it. Every suspension is in the audit log (by
    `staff`, or the system for the automatic ones)."""
    merchant = _locked_merchant(merchant)
    if staff is not None:
        conflicts.refuse_party(
            staff=staff, action="merchant_suspend", obj=merchant, merchant_id=merchant.pk
        )
    if merchant.status == MerchantStatus.SUSPENDED:
        if (
            merchant.suspension_reason == SuspensionReason.MANUAL
            or reason != SuspensionReason.MANUAL
        ):
            return merchant
    elif merchant.status != MerchantStatus.ACTIVE:
        raise DomainError(_("Only an active shop can be suspended."), code="not_allowed_in_state")
    if reason == SuspensionReason.MANUAL and not note.strip():
        raise DomainError(_("A reason is required."), code="reason_required")
    before = {"status": merchant.status, "suspension_reason": merchant.suspension_reason}
    merchant.status = MerchantStatus.SUSPENDED
    merchant.suspension_reason = reason
    merchant.status_note = note.strip()
    merchant.save()
    status_changed(
        merchant,
        before["status"],
        reason=merchant.status_note,
        actor=staff,
        before_reason=before["suspension_reason"],
    )
    audit_record(
        actor=staff,
        action=AuditAction.MERCHANT_SUSPENDED,
        obj=merchant,
        reason=merchant.status_note,
        before=before,
        after={"status": merchant.status, "suspension_reason": str(reason)},
    )
    return merchant


@transaction.atomic
def merchant_lift_suspension(
    *, merchant: Merchant, reason: SuspensionReason | str, staff: User | None = None
) -> Merchant:
    """Lift a suspension of exactly this reason (a top-up never lifts a manual one)."""
    merchant = _locked_merchant(merchant)
    if merchant.status != MerchantStatus.SUSPENDED or merchant.suspension_reason != reason:
        return merchant
    before_reason = merchant.suspension_reason
    merchant.status, merchant.suspension_reason = _guarded_status(merchant)
    if merchant.status == MerchantStatus.ACTIVE and (
        merchant.reverification_due and merchant.reverification_due <= timezone.now()
    ):
        merchant.status = MerchantStatus.SUSPENDED
        merchant.suspension_reason = SuspensionReason.VERIFICATION_EXPIRED
    merchant.status_note = ""
    merchant.save()
    status_changed(merchant, MerchantStatus.SUSPENDED, actor=staff, before_reason=before_reason)
    return merchant


def merchant_unsuspend(*, merchant: Merchant, staff: User) -> Merchant:
    """Staff lift a manual suspension. A deposit one is lifted by a top-up, an expired
    verification by verifying again: refused here with the way out."""
    merchant.refresh_from_db()
    conflicts.refuse_party(
        staff=staff, action="merchant_unsuspend", obj=merchant, merchant_id=merchant.pk
    )
    if merchant.status != MerchantStatus.SUSPENDED:
        raise DomainError(_("This shop is not suspended."), code="not_allowed_in_state")
    if merchant.suspension_reason == SuspensionReason.DEPOSIT:
        raise DomainError(
            _("This shop is suspended for its deposit; a top-up to the minimum lifts it."),
            code="not_allowed_in_state",
        )
    if merchant.suspension_reason == SuspensionReason.VERIFICATION_EXPIRED:
        raise DomainError(
            _("This shop's real-name verification expired; verify it again to lift it."),
            code="not_allowed_in_state",
        )
    lifted = merchant_lift_suspension(
        merchant=merchant, reason=SuspensionReason.MANUAL, staff=staff
    )
    audit_record(
        actor=staff,
        action=AuditAction.MERCHANT_UNSUSPENDED,
        obj=lifted,
        before={"status": MerchantStatus.SUSPENDED, "suspension_reason": SuspensionReason.MANUAL},
        after={"status": lifted.status, "suspension_reason": lifted.suspension_reason},
    )
    return lifted


@transaction.atomic
def merchant_set_minimum_deposit(*, merchant: Merchant, amount: Decimal) -> Merchant:
    """Store a shop's minimum deposit. Call escrow.services.deposit_set_minimum, which also
    suspends or reinstates the shop by the new minimum."""
    if amount < 0:
        raise DomainError(_("A minimum deposit is zero or more."), code="amount_invalid")
    merchant = _locked_merchant(merchant)
    merchant.minimum_deposit = amount
    merchant.save(update_fields=["minimum_deposit"])
    return merchant


def merchant_reveal_identity(
    *, merchant: Merchant, staff: User, ip: str | None = None, purpose: str = ""
) -> str:
    """The identity number in clear, for staff holding orders.view_identity; logged."""
    if not (staff.is_staff and staff.has_perm("orders.view_identity")):
        raise Forbidden(_("You may not see identity numbers."))
    IdentityAccess.objects.create(merchant=merchant, user=staff, ip=ip, purpose=purpose[:200])
    audit_record(
        actor=staff,
        action=AuditAction.IDENTITY_VIEWED,
        obj=merchant,
        reason=purpose,
        after={"ip": ip},
    )
    return crypto.decrypt(merchant.id_number_encrypted)


def merchants_expire_verifications(*, now: datetime | None = None) -> int:
    """Suspend active shops whose 6-month verification ran out (`verification_expired`)."""
    moment = now or timezone.now()
    due = Merchant.objects.filter(status=MerchantStatus.ACTIVE, reverification_due__lte=moment)
    count = 0
    for merchant in due.only("pk"):
        merchant_suspend(merchant=merchant, reason=SuspensionReason.VERIFICATION_EXPIRED)
        count += 1
    return count
