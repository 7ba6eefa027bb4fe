"""Every write of the orders app: typed, keyword-only functions, one transaction each.

Pages, the API, the admin and Celery tasks all call these; nothing else saves these models.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kamen_complaints.audit import audit_record
from kamen_complaints.celery import enqueue
from kamen_complaints.errors import DomainError, Forbidden, NotFound
from kamen_complaints.models import AuditAction
from kamen_complaints.money import MAX_YUAN, from_fen, to_fen
from kamen_complaints.text import name_key, normalize_digits, validate_visible_text
from orders import conflicts, crypto, selectors
from orders.models import (
    CardKey,
    CardKeyReveal,
    CardKeyStatus,
    DuplicateKeyFlag,
    IdentityAccess,
    MemberRole,
    Merchant,
    MerchantMember,
    MerchantStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Product,
    ProductKind,
    Refund,
    StatusEvent,
    SuspensionReason,
)
from orders.payments import PaymentError, get_provider, get_topup_upstream

logger = logging.getLogger(__name__)

REVERIFICATION_PERIOD = timedelta(days=183)  # 实名认证 again every 6 months
MAX_QUANTITY = 100
# A card-key import: at most this many bytes and lines (a 10 MB paste is refused, not parsed).
MAX_IMPORT_BYTES = 1_000_000
MAX_IMPORT_LINES = 10_000
MIN_KEY_LENGTH = 4
MAX_KEY_LENGTH = 256
# A retry of a lost top-up task waits at least this long after payment.
TOPUP_RETRY_AFTER = timedelta(minutes=5)
# After this many real attempts the sweep stops re-sending a top-up: it stays
# `delivery_pending` (visible in the admin) for staff to settle with the upstream by hand,
# rather than refunding money the upstream may already have credited.
TOPUP_MAX_ATTEMPTS = 12

_ORDER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")
_KEY_RE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces


# --- Merchants ----------------------------------------------------------------------------

# Other apps may hold a merchant back when staff reactivate it (escrow: the deposit is short).
# A guard returns the suspension reason that still applies, or None. Registered at app ready,
# so orders never imports them (dependencies point one way).
ActivationGuard = Callable[[Merchant], SuspensionReason | None]
_activation_guards: list[ActivationGuard] = []


def register_activation_guard(guard: ActivationGuard) -> None:
    if guard not in _activation_guards:
        _activation_guards.append(guard)


def validate_id_number(value: str) -> str:
    """A mainland resident identity number: 17 digits and a checksum (GB 11643-1999).
    Normalised first (kamen_complaints.text): `３１０１…` is `3101…`, so one identity has one
    fingerprint however it was typed."""
    value = normalize_digits(value).upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", value):
        raise DomainError(
            _("An identity number has 18 characters: 17 digits and a final digit or X."),
            code="id_number_invalid",
        )
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        raise DomainError(
            _("That identity number's check digit is wrong; please check it."),
            code="id_number_invalid",
        )
    return value


def check_visible_name(value: str, *, code: str) -> None:
    """A shop or product name holds no invisible character (kamen_complaints.text)."""
    try:
        validate_visible_text(value)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), code=code) from exc


def validate_phone(value: str) -> str:
    value = normalize_digits(value).replace(" ", "").replace("-", "")
    if value.startswith("+86"):
        value = value[3:]
    if not _PHONE_RE.match(value):
        raise DomainError(
            _("Enter a mainland mobile number of 11 digits starting with 1."),
            code="phone_invalid",
        )
    return value


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


def _status_changed(
    subject: Merchant | Order,
    before: str,
    *,
    reason: str = "",
    actor: User | None = None,
    before_reason: str = "",
) -> None:
    """Write the status event of a shop or an order (orders.models.StatusEvent) in the
    caller's transaction, if its status (or a shop's suspension reason) really changed. The
    reason is the staff member's words, else the suspension reason's code."""
    if isinstance(subject, Merchant):
        if (subject.status, subject.suspension_reason) == (before, before_reason):
            return
        suspended = subject.status == MerchantStatus.SUSPENDED
        why = reason or (subject.suspension_reason if suspended else "")
        StatusEvent.objects.create(
            merchant=subject,
            from_status=before,
            to_status=subject.status,
            reason=why[:500],
            actor=actor,
        )
    elif subject.status != before:
        StatusEvent.objects.create(
            order=subject,
            from_status=before,
            to_status=subject.status,
            reason=reason[:500],
            actor=actor,
        )


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
    _status_changed(
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
    _status_changed(
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
    _status_changed(
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
    _status_changed(merchant, MerchantStatus.SUSPENDED, actor=staff, before_reason=before_reason)
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


# --- The shop's team ----------------------------------------------------------------------
# Team members answer complaints, manage stock and see orders; only the owner tops up,
# withdraws and manages the team (docs/rules.md "Shops, teams and deposits"). Each change is
# logged and written to the audit log (kamen_complaints.audit) in the same transaction.


def _require_owner(actor: User, merchant: Merchant, message: str) -> None:
    if not selectors.is_merchant_owner(actor, merchant):
        raise Forbidden(message)


# Audit actions of the team (kamen_complaints.audit). Plain strings: AuditAction's choices
# label them in the admin once they are added there (a choices change needs a migration).
AUDIT_TEAM_MEMBER_ADDED = "team_member_added"
AUDIT_TEAM_MEMBER_REMOVED = "team_member_removed"


def _audit_member(*, actor: User, member: MerchantMember, action: str, new_account: bool) -> None:
    values = {
        "merchant": member.merchant_id,
        "user": member.user.username,
        "role": member.role,
        "new_account": new_account,
    }
    added = action == AUDIT_TEAM_MEMBER_ADDED
    audit_record(
        actor=actor,
        action=action,
        obj=member,
        before=None if added else values,
        after=values if added else None,
    )
    logger.info(
        "merchant %s: %s %s team member %s%s",
        member.merchant_id,
        actor.username,
        "added" if added else "removed",
        member.user.username,
        " (new account)" if new_account else "",
    )


@conflicts.refusals_audited
@transaction.atomic
def merchant_member_add(
    *,
    merchant: Merchant,
    actor: User,
    username: str,
    email: str = "",
    password: str = "",
) -> MerchantMember:
    """The owner adds a team account (role `agent`): an existing account by its username, or
    — with an e-mail and a password — a new account created for the purpose.

    Refused for anyone but the owner (Forbidden), for an unknown username, a name already
    taken (new account), a password Django's validators refuse, a staff account (staff
    arbitrate complaints: they never act for a shop), a disabled account, and an account
    that already acts for a shop — this one or another (one shop per account)."""
    from django.contrib.auth import password_validation
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    _require_owner(actor, merchant, _("Only the shop's owner manages the team."))
    username = username.strip()
    if not username:
        raise DomainError(_("Enter a username."), code="username_required")
    email = email.strip()
    new_account = bool(email or password)
    if new_account:
        if not email:
            raise DomainError(_("A new account needs an e-mail address."), code="email_required")
        try:
            validate_email(email)
        except ValidationError as exc:
            raise DomainError(_("Enter a valid e-mail address."), code="email_invalid") from exc
        if not password:
            raise DomainError(_("A new account needs a password."), code="password_required")
        try:
            User._meta.get_field("username").run_validators(username)
        except ValidationError as exc:
            raise DomainError(" ".join(exc.messages), code="username_invalid") from exc
        if User.objects.filter(username__iexact=username).exists():
            raise DomainError(
                _("That username is taken. To add that account, leave e-mail and password empty."),
                code="username_taken",
                status_code=409,
            )
        candidate = User(username=username, email=email)
        try:
            password_validation.validate_password(password, candidate)
        except ValidationError as exc:
            raise DomainError(" ".join(exc.messages), code="password_invalid") from exc
        # The account itself, as accounts.services.buyer_register makes it (orders sits below
        # accounts, so it does not call it): a name taken a moment ago is a 409.
        try:
            with transaction.atomic():
                user = User.objects.create_user(username=username, email=email, password=password)
        except IntegrityError as exc:
            raise DomainError(
                _("That username is taken."), code="username_taken", status_code=409
            ) from exc
    else:
        found = User.objects.filter(username=username).first()
        if found is None:
            raise DomainError(
                _(
                    "No account is called %(username)s. Check the name, or give an e-mail and "
                    "a password to create it."
                )
                % {"username": username},
                code="user_not_found",
            )
        user = found
    conflicts.refuse_staff_in_shop(user=user, actor=actor, obj=merchant, adding=True)
    if not user.is_active:
        raise DomainError(_("That account is disabled."), code="account_disabled")
    existing = MerchantMember.objects.filter(user=user).select_related("merchant").first()
    if existing is not None:
        if existing.merchant_id == merchant.pk:
            raise DomainError(
                _("%(username)s is already on this shop's team.") % {"username": user.username},
                code="already_member",
                status_code=409,
            )
        raise DomainError(
            _("%(username)s already acts for another shop; an account belongs to one shop only.")
            % {"username": user.username},
            code="member_of_other_shop",
            status_code=409,
        )
    try:
        with transaction.atomic():
            member = MerchantMember.objects.create(
                merchant=merchant, user=user, role=MemberRole.AGENT
            )
    except IntegrityError as exc:  # added to a shop a moment ago
        raise DomainError(
            _("%(username)s already acts for another shop; an account belongs to one shop only.")
            % {"username": user.username},
            code="member_of_other_shop",
            status_code=409,
        ) from exc
    _audit_member(
        actor=actor, member=member, action=AUDIT_TEAM_MEMBER_ADDED, new_account=new_account
    )
    return member


@transaction.atomic
def merchant_member_remove(*, merchant: Merchant, actor: User, member_id: int) -> None:
    """The owner takes a team member off the shop. The account stays (it keeps its own
    orders and complaints as a buyer); it no longer acts for the shop. Everything the member
    did stays on the complaints' timelines under their name. The owner cannot remove
    themselves (a shop always has its owner). Another shop's member is a NotFound."""
    _require_owner(actor, merchant, _("Only the shop's owner manages the team."))
    member = (
        MerchantMember.objects.select_for_update()
        .select_related("user")
        .filter(pk=member_id, merchant=merchant)
        .first()
    )
    if member is None:
        raise NotFound(_("No such team member."))
    if member.role == MemberRole.OWNER or member.user_id == merchant.owner_id:
        raise DomainError(
            _("The owner cannot be removed from the shop's team."),
            code="owner_not_removable",
            status_code=409,
        )
    _audit_member(actor=actor, member=member, action=AUDIT_TEAM_MEMBER_REMOVED, new_account=False)
    member.delete()


# --- Products and card keys ---------------------------------------------------------------


def _check_product_fields(*, face_value: Decimal, price: Decimal, kind: str, source: str) -> None:
    if kind not in ProductKind.values:
        raise DomainError(_("Unknown product kind."), code="invalid")
    if face_value <= 0 or price <= 0:
        raise DomainError(_("Face value and price must be above zero."), code="amount_invalid")
    if not source.strip():
        raise DomainError(
            _("Say where the goods come from (upstream supplier, proof of origin)."),
            code="source_required",
        )


@transaction.atomic
def product_create(
    *,
    merchant: Merchant,
    name: str,
    kind: str,
    face_value: Decimal,
    price: Decimal,
    source: str,
    active: bool = True,
) -> Product:
    check_visible_name(name, code="name_invalid")
    _check_product_fields(face_value=face_value, price=price, kind=kind, source=source)
    return Product.objects.create(
        merchant=merchant,
        name=name.strip(),
        kind=kind,
        face_value=face_value,
        price=price,
        source=source.strip(),
        active=active,
    )


@transaction.atomic
def product_update(*, product: Product, **changes: object) -> Product:
    product = Product.objects.select_for_update().get(pk=product.pk)
    for name, value in changes.items():
        if name not in {"name", "kind", "face_value", "price", "source", "active"}:
            raise ValueError(name)
        setattr(product, name, value)
    check_visible_name(product.name, code="name_invalid")
    _check_product_fields(
        face_value=product.face_value, price=product.price, kind=product.kind, source=product.source
    )
    product.save()
    return product


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    problems: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "problems": self.problems,
        }


def _decode_import(data: bytes | str) -> str:
    if isinstance(data, str):
        # surrogatepass: a JSON body may carry lone surrogates ("\ud800"); those lines are
        # then rejected one by one instead of failing the whole request.
        if len(data.encode("utf-8", "surrogatepass")) > MAX_IMPORT_BYTES:
            raise DomainError(
                _("A card-key import is at most %(limit)s bytes; split it into smaller files.")
                % {"limit": MAX_IMPORT_BYTES},
                code="import_too_large",
            )
        return data
    if len(data) > MAX_IMPORT_BYTES:
        raise DomainError(
            _("A card-key import is at most %(limit)s bytes; split it into smaller files.")
            % {"limit": MAX_IMPORT_BYTES},
            code="import_too_large",
        )
    if b"\x00" in data:
        raise DomainError(
            _("That file is not text (it contains binary data); upload one key per line."),
            code="import_not_text",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DomainError(
            _("That file is not UTF-8 text; upload one key per line."), code="import_not_text"
        ) from exc


@transaction.atomic
def card_keys_import(*, product: Product, data: bytes | str) -> ImportReport:
    """Import one key per line. Blank lines are skipped; a key already on the platform (by
    fingerprint, any shop) is a duplicate and flagged to staff; a malformed one is rejected
    with its line number. Keys are encrypted before they touch the database.

    Only an active (verified) shop imports: the report tells whether a key is already on the
    platform, which an unverified or rejected shop must not be able to ask (the API also
    rate-limits imports, scope `import`)."""
    status = Merchant.objects.filter(pk=product.merchant_id).values_list("status", flat=True)
    current = status.first()
    if current != MerchantStatus.ACTIVE:
        raise DomainError(
            _("Only a verified, active shop imports card keys; this shop is %(status)s.")
            % {"status": MerchantStatus(current).label if current else "-"},
            code="merchant_inactive",
            status_code=403,
        )
    if not product.delivers_card_keys:
        raise DomainError(
            _("Phone top-ups are delivered by the upstream; they have no card keys."),
            code="invalid",
        )
    text = _decode_import(data)
    lines = text.splitlines()
    if len(lines) > MAX_IMPORT_LINES:
        raise DomainError(
            _("A card-key import is at most %(limit)s lines.") % {"limit": MAX_IMPORT_LINES},
            code="import_too_large",
        )
    report = ImportReport()
    seen: dict[str, int] = {}
    candidates: list[tuple[int, str, str]] = []
    for number, raw in enumerate(lines, start=1):
        key = raw.strip()
        if not key:
            continue
        if not (MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH) or not _KEY_RE.match(key):
            report.rejected += 1
            report.problems.append(
                {
                    "line": number,
                    "problem": "rejected",
                    "reason": _("A key is %(min)s to %(max)s printable characters without spaces.")
                    % {"min": MIN_KEY_LENGTH, "max": MAX_KEY_LENGTH},
                }
            )
            continue
        fp = crypto.fingerprint(key)
        if fp in seen:
            report.duplicates += 1
            report.problems.append(
                {
                    "line": number,
                    "problem": "duplicate",
                    "reason": _("The same key as line %(line)s.") % {"line": seen[fp]},
                }
            )
            continue
        seen[fp] = number
        candidates.append((number, key, fp))

    existing = {
        k.fingerprint: k
        for k in CardKey.objects.filter(fingerprint__in=[c[2] for c in candidates]).select_related(
            "product"
        )
    }
    new_keys: list[CardKey] = []
    flags: list[DuplicateKeyFlag] = []
    for number, key, fp in candidates:
        if fp in existing:
            other = existing[fp]
            cross_shop = other.product.merchant_id != product.merchant_id
            report.duplicates += 1
            report.problems.append(
                {
                    "line": number,
                    "problem": "duplicate",
                    "reason": _("This key is already on the platform."),
                }
            )
            flags.append(
                DuplicateKeyFlag(
                    fingerprint=fp,
                    existing_key=other,
                    attempted_by=product.merchant,
                    product=product,
                    cross_shop=cross_shop,
                )
            )
            continue
        new_keys.append(
            CardKey(
                product=product,
                secret_encrypted=crypto.encrypt(key),
                fingerprint=fp,
                tail=key[-4:],
            )
        )
    try:
        with transaction.atomic():
            CardKey.objects.bulk_create(new_keys, batch_size=1000)
    except IntegrityError as exc:
        # Another import added one of these keys between our check and our insert.
        raise DomainError(
            _("Another import added some of these keys at the same moment; import again."),
            code="conflict",
            status_code=409,
        ) from exc
    DuplicateKeyFlag.objects.bulk_create(flags)
    report.imported = len(new_keys)
    # Counts only: a key never reaches a log line.
    logger.info(
        "card keys imported for product %s: %s imported, %s duplicates, %s rejected",
        product.pk,
        report.imported,
        report.duplicates,
        report.rejected,
    )
    return report


# --- Orders -------------------------------------------------------------------------------


def _new_order_number() -> str:
    """KM + date + 10 random Crockford characters (50 bits): readable, not guessable."""
    stamp = timezone.localtime().strftime("%y%m%d")
    tail = "".join(secrets.choice(_ORDER_ALPHABET) for _ in range(10))
    return f"KM{stamp}{tail}"


@transaction.atomic
def order_create(*, buyer: User, product: Product, quantity: int, topup_target: str = "") -> Order:
    """An order awaiting payment. Only active products of active shops are sold."""
    product = Product.objects.select_related("merchant").get(pk=product.pk)
    if not product.active:
        raise DomainError(_("This product is not on sale."), code="product_inactive")
    if product.merchant.status != MerchantStatus.ACTIVE:
        raise DomainError(_("This shop is not selling at the moment."), code="merchant_inactive")
    if MerchantMember.objects.filter(merchant=product.merchant, user=buyer).exists():
        raise DomainError(_("You cannot buy from your own shop."), code="own_shop")
    if (
        not isinstance(quantity, int)
        or isinstance(quantity, bool)
        or not (1 <= quantity <= MAX_QUANTITY)
    ):
        raise DomainError(
            _("Quantity is a whole number from 1 to %(max)s.") % {"max": MAX_QUANTITY},
            code="quantity_invalid",
        )
    target = ""
    if product.kind == ProductKind.PHONE_TOPUP:
        if quantity != 1:
            raise DomainError(_("A phone top-up is bought one at a time."), code="quantity_invalid")
        if not topup_target:
            raise DomainError(_("Enter the phone number to top up."), code="topup_target_required")
        target = validate_phone(topup_target)
    elif topup_target:
        raise DomainError(_("Only phone top-ups take a phone number."), code="topup_target_invalid")
    amount = product.price * quantity
    if amount > MAX_YUAN:
        raise DomainError(
            _("An order is at most %(max)s yuan; buy fewer.") % {"max": MAX_YUAN},
            code="amount_invalid",
        )
    number = _new_order_number()
    while Order.objects.filter(number=number).exists():  # 50 random bits: practically never
        number = _new_order_number()
    return Order.objects.create(
        number=number,
        buyer=buyer,
        merchant=product.merchant,
        product=product,
        quantity=quantity,
        unit_price=product.price,
        amount=amount,
        topup_target=target,
    )


def _refund_order(
    order: Order,
    *,
    amount: Decimal,
    reason: str,
    key: str,
    keep_status: bool = False,
    reserved: bool = False,
) -> Refund:
    """Refund through the payment channel (a payment record, not the deposit ledger).

    A failed delivery keeps its status (`delivery_failed`, as the API says) with the money
    recorded back in `refunded_amount`, and so does a delivery still pending; other refunds
    move the order to `refunded` or `partially_refunded`. A `reserved` refund sends what was
    booked before (`orders_reserve_refunds`): the booking becomes a refund."""
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing:
        return existing
    payment = Payment.objects.get(reference=order.payment_reference)
    provider = get_provider(payment.channel)
    refund_id = provider.refund(reference=payment.reference, amount=amount, idempotency_key=key)
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        reason=reason,
        idempotency_key=key,
        provider_refund_id=refund_id,
    )
    order.refunded_amount += amount
    if reserved:
        order.refund_reserved -= amount
    # A top-up still on its way (or failed) keeps that status: the worker delivering it
    # decides only while it is `delivery_pending`, so a compensation sent meanwhile must not
    # take the order out of it — the delivery would then be neither made nor refunded.
    before = order.status
    if not keep_status and order.status not in (
        OrderStatus.DELIVERY_PENDING,
        OrderStatus.DELIVERY_FAILED,
    ):
        order.status = (
            OrderStatus.REFUNDED
            if order.refunded_amount >= order.amount
            else OrderStatus.PARTIALLY_REFUNDED
        )
    order.save(update_fields=["refunded_amount", "refund_reserved", "status"])
    _status_changed(order, before, reason=reason)
    return refund


def _fail_delivery(order: Order, *, note: str, reason: str) -> None:
    """The goods could not be delivered: `delivery_failed`, and what the buyer has not been
    given back yet refunded through the payment channel, once (`order:<number>:delivery-failed`).

    A compensation already booked for the order (a fast-tracked complaint on a top-up that
    failed late) is not refunded a second time: the buyer gets the price back exactly once
    (docs/money.md)."""
    before = order.status
    order.status = OrderStatus.DELIVERY_FAILED
    order.delivery_note = note
    order.save(update_fields=["status", "delivery_note"])
    _status_changed(order, before, reason=reason)
    if order.refundable_amount <= 0:
        return
    _refund_order(
        order,
        amount=order.refundable_amount,
        reason=reason,
        key=f"order:{order.number}:delivery-failed",
        keep_status=True,
    )


def _deliver_card_keys(order: Order) -> None:
    """Reserve keys under row locks; SKIP LOCKED lets concurrent buyers take different keys
    instead of queueing, and no key is ever handed to two orders."""
    keys = list(
        CardKey.objects.select_for_update(skip_locked=True)
        .filter(product_id=order.product_id, status=CardKeyStatus.AVAILABLE)
        .order_by("id")
        .values_list("pk", flat=True)[: order.quantity]
    )
    now = timezone.now()
    if len(keys) < order.quantity:
        _fail_delivery(order, note="out_of_stock", reason="out of stock")
        return
    updated = CardKey.objects.filter(pk__in=keys, status=CardKeyStatus.AVAILABLE).update(
        status=CardKeyStatus.DELIVERED, order=order, delivered_at=now
    )
    if updated != len(keys):  # cannot happen under the row locks; refuse rather than half-deliver
        raise RuntimeError("card key reservation lost its lock")
    before = order.status
    order.status = OrderStatus.DELIVERED
    order.delivered_at = now
    order.save(update_fields=["status", "delivered_at"])
    _status_changed(order, before)


@transaction.atomic
def order_payment_confirm(*, order: Order, reference: str, amount: Decimal, channel: str) -> Order:
    """The provider says `reference` paid `amount` for this order: mark it paid and deliver,
    in one transaction. A callback that arrives twice changes nothing the second time; a
    second, different payment for an order already paid is refunded at once."""
    order = Order.objects.select_for_update().select_related("product").get(pk=order.pk)
    known = Payment.objects.filter(reference=reference).first()
    if known is not None:
        if known.order_id != order.pk:
            raise DomainError(
                _("Payment %(reference)s belongs to another order.") % {"reference": reference},
                code="reference_conflict",
                status_code=409,
            )
        return order  # the same callback again: nothing changes (dujiaoka #97)
    if amount <= 0:
        raise DomainError(_("A payment is above zero."), code="amount_invalid")
    if order.status == OrderStatus.PENDING_PAYMENT and amount != order.amount:
        raise DomainError(
            _("The payment amount %(paid)s does not match the order amount %(amount)s.")
            % {"paid": amount, "amount": order.amount},
            code="amount_mismatch",
        )
    payment = Payment.objects.create(
        order=order,
        payer=order.buyer,
        purpose="order",
        channel=channel,
        reference=reference,
        amount=amount,
        status=PaymentStatus.SUCCEEDED,
    )
    if order.status != OrderStatus.PENDING_PAYMENT:
        # Paid twice through two references: give the second payment back.
        provider = get_provider(channel)
        key = f"payment:{reference}:duplicate"
        refund_id = provider.refund(reference=reference, amount=amount, idempotency_key=key)
        Refund.objects.create(
            payment=payment,
            amount=amount,
            reason="duplicate payment",
            idempotency_key=key,
            provider_refund_id=refund_id,
        )
        return order
    logger.info("order %s paid through %s", order.number, channel)
    order.status = OrderStatus.PAID
    order.paid_at = timezone.now()
    order.payment_channel = channel
    order.payment_reference = reference
    order.save(update_fields=["status", "paid_at", "payment_channel", "payment_reference"])
    _status_changed(order, OrderStatus.PENDING_PAYMENT, reason=f"{channel} {reference}")
    if order.product.delivers_card_keys:
        _deliver_card_keys(order)
    else:
        order.status = OrderStatus.DELIVERY_PENDING
        order.save(update_fields=["status"])
        _status_changed(order, OrderStatus.PAID)
        order_id = order.pk
        transaction.on_commit(lambda: _enqueue_topup(order_id), robust=True)
    return order


def _enqueue_topup(order_id: int) -> None:
    from orders.tasks import order_topup_deliver

    enqueue(order_topup_deliver, order_id)


def _already_paid(order: Order) -> DomainError:
    return DomainError(
        _("Order %(number)s is already paid.") % {"number": order.number},
        code="already_paid",
        status_code=409,
    )


def order_pay(*, order: Order, buyer: User, channel: str = "sandbox") -> Order:
    """Charge the buyer through the provider, then confirm (deliver) in one transaction.

    The charge happens outside any row lock (a gateway may be slow) with the idempotency key
    `order:<number>`, so two clicks are one charge. Should a second charge still get through
    (another reference), order_payment_confirm refunds it and the caller hears 409."""
    if order.buyer_id != buyer.pk:
        raise NotFound(_("No such order."))
    order.refresh_from_db()
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise _already_paid(order)
    try:
        provider = get_provider(channel)
    except PaymentError as exc:
        raise DomainError(
            _("Unknown payment channel %(channel)s.") % {"channel": channel},
            code="channel_invalid",
        ) from exc
    try:
        result = provider.charge(
            amount=order.amount,
            description=f"{order.product.name} x{order.quantity}",
            idempotency_key=f"order:{order.number}",
        )
    except PaymentError as exc:
        raise DomainError(
            _("The payment did not go through."), code="payment_failed", status_code=402
        ) from exc
    if not result.succeeded:
        raise DomainError(
            _("The payment did not go through."), code="payment_failed", status_code=402
        )
    confirmed = order_payment_confirm(
        order=order, reference=result.reference, amount=order.amount, channel=channel
    )
    if confirmed.payment_reference != result.reference:
        raise _already_paid(confirmed)
    return confirmed


def order_topup_deliver(*, order_id: int) -> Order | None:
    """Deliver a paid phone top-up through the upstream, exactly once.

    The upstream call happens outside any row lock (it may be slow) and is idempotent on the
    order number; the outcome is then written under the lock, only if still pending."""
    order = Order.objects.filter(pk=order_id, status=OrderStatus.DELIVERY_PENDING).first()
    if order is None:
        return None
    Order.objects.filter(pk=order_id).update(delivery_attempts=F("delivery_attempts") + 1)
    ok = get_topup_upstream().deliver(
        reference=order.number, target=order.topup_target, amount=order.amount
    )
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != OrderStatus.DELIVERY_PENDING:
            return order
        if ok:
            order.status = OrderStatus.DELIVERED
            order.delivered_at = timezone.now()
            order.save(update_fields=["status", "delivered_at"])
            _status_changed(order, OrderStatus.DELIVERY_PENDING)
        else:
            _fail_delivery(order, note="upstream_failed", reason="top-up failed upstream")
    return order


def orders_retry_pending_topups(*, now: datetime | None = None) -> int:
    """Hand again to the worker the top-ups whose task the broker lost (or whose worker died),
    5 minutes after payment; the upstream is idempotent on the order number, so a task that
    was only slow is harmless to repeat. Gives up after TOPUP_MAX_ATTEMPTS real attempts."""
    moment = now or timezone.now()
    ids = list(
        Order.objects.filter(
            status=OrderStatus.DELIVERY_PENDING,
            paid_at__lte=moment - TOPUP_RETRY_AFTER,
            delivery_attempts__lt=TOPUP_MAX_ATTEMPTS,
        )
        .order_by("paid_at")
        .values_list("pk", flat=True)[:500]
    )
    for order_id in ids:
        _enqueue_topup(order_id)
    return len(ids)


@transaction.atomic
def order_reveal_keys(
    *, order: Order, user: User, ip: str | None = None, user_agent: str = ""
) -> list[str]:
    """The order's card keys in clear, for its buyer only; every reveal is recorded (time, IP,
    user agent) as the platform's own evidence."""
    if order.buyer_id != user.pk:
        raise NotFound(_("No such order."))
    keys = list(order.card_keys.order_by("id"))
    if not keys:
        raise DomainError(_("This order has no card keys to show."), code="not_allowed_in_state")
    reveal = CardKeyReveal.objects.create(
        order=order, user=user, ip=ip, user_agent=user_agent[:400]
    )
    reveal.card_keys.set(keys)
    return [k.reveal() for k in keys]


@transaction.atomic
def order_refund(
    *, order: Order, amount: Decimal, reason: str, key: str, reserved: bool = False
) -> Refund:
    """Refund part or all of an order through its payment channel, once per `key`.

    Everything given back for an order — refunds sent and refunds booked — stays within what
    the buyer paid (a database constraint says so too). A `reserved` refund sends what
    `orders_reserve_refunds` booked earlier, so it is measured against the booking."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing:
        return existing
    limit = order.refund_reserved if reserved else order.refundable_amount
    if amount <= 0 or amount > limit:
        raise DomainError(
            _("A refund is above zero and at most %(max)s.") % {"max": limit},
            code="amount_invalid",
        )
    return _refund_order(order, amount=amount, reason=reason, key=key, reserved=reserved)


def orders_lock_refundable(order_ids: Iterable[int]) -> dict[int, int]:
    """Lock these orders (id order, like every other lock of them) for the caller's
    transaction and return what each may still give back, in fen: the amount paid less the
    refunds sent and booked. The caller books against it with `orders_reserve_refunds` before
    the transaction ends, so two bookings for one order never both see the same headroom."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    rows = (
        Order.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "amount", "refunded_amount", "refund_reserved")
    )
    return {pk: to_fen(amount - refunded - reserved) for pk, amount, refunded, reserved in rows}


def orders_reserve_refunds(amounts: dict[int, int]) -> None:
    """Book refunds (fen per order id) that an outbox will send later (`order_refund(…,
    reserved=True)`), in one statement. The caller holds the orders' locks
    (`orders_lock_refundable`) and has checked the headroom; the table's constraint refuses
    any booking beyond the amount paid all the same."""
    amounts = {pk: fen for pk, fen in amounts.items() if fen}
    if not amounts:
        return
    if any(fen < 0 for fen in amounts.values()):
        raise ValueError(f"negative refund booking: {amounts}")
    cast = "::numeric" if connection.vendor == "postgresql" else ""
    cases = " ".join([f"WHEN %s THEN %s{cast}"] * len(amounts))
    adapt = connection.ops.adapt_decimalfield_value
    table = Order._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET refund_reserved = refund_reserved + "  # noqa: S608
            f"CASE id {cases} END WHERE id IN ({', '.join(['%s'] * len(amounts))})",
            [v for pk, fen in amounts.items() for v in (pk, adapt(from_fen(fen), 12, 2))]
            + list(amounts),
        )
        if cursor.rowcount != len(amounts):
            raise RuntimeError(f"refund booking: {cursor.rowcount} of {len(amounts)} orders")


@transaction.atomic
def order_replace_card_key(*, order: Order) -> CardKey:
    """Deliver one fresh key of the same product to the order (a merchant's replacement)."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    key = (
        CardKey.objects.select_for_update(skip_locked=True)
        .filter(product_id=order.product_id, status=CardKeyStatus.AVAILABLE)
        .order_by("id")
        .first()
    )
    if key is None:
        raise DomainError(
            _("No card key of this product is in stock to replace it with."),
            code="out_of_stock",
        )
    key.status = CardKeyStatus.DELIVERED
    key.order = order
    key.delivered_at = timezone.now()
    key.save(update_fields=["status", "order", "delivered_at"])
    return key
