"""An account's mobile number, proved by an SMS code, and the password reset by SMS code
(docs/sms.md). Every write of the phone lives here; the pages (accounts/views.py) and the task
(accounts/tasks.py) call these.

A code is 6 digits, stored as a keyed hash (HMAC with SECRET_KEY, bound to the number and
the purpose), valid settings.SMS_CODE_MINUTES, dead after settings.SMS_CODE_TRIES wrong tries,
used once; a new code replaces the account's earlier ones of that purpose. Each number gets at
most so many codes per minute, hour and day (kamen_complaints/sms/limits.py).

A number belongs to one account: proving it on a second account moves it there (numbers are
recycled by the carriers; whoever receives the code holds the number now).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from accounts.models import AccountPhone, PhoneCode, PhoneCodePurpose
from accounts.services import account_password_set
from kamen_complaints import sms
from kamen_complaints.errors import DomainError
from orders.services.validation import validate_phone

logger = logging.getLogger(__name__)


def phone_e164(value: str) -> str:
    """A mainland mobile number as E.164 (+86 and 11 digits); DomainError `phone_invalid`
    otherwise (the shape is orders.services.validation's, the shop's own number's)."""
    return "+86" + validate_phone(value)


masked = sms.masked


def verified_phone(user: User) -> str | None:
    """The account's verified number (registered with kamen_complaints.sms at start-up)."""
    if not user.pk:
        return None
    return AccountPhone.objects.filter(user_id=user.pk).values_list("phone", flat=True).first()


def verified_phones(user_ids: Collection[int]) -> dict[int, str]:
    """The verified numbers of these accounts in one query (kamen_complaints.sms.phones_known)."""
    if not user_ids:
        return {}
    return dict(
        AccountPhone.objects.filter(user_id__in=list(user_ids))
        .order_by("-id")
        .values_list("user_id", "phone")
    )


def _code_hash(phone: str, purpose: str, code: str) -> str:
    return salted_hmac(
        "accounts.phones.code", f"{purpose}:{phone}:{code}", algorithm="sha256"
    ).hexdigest()


def _new_code(*, user: User, phone: str, purpose: str) -> str:
    """A fresh code for `user` (its earlier codes of `purpose` stop working)."""
    now = timezone.now()
    PhoneCode.objects.filter(user=user, purpose=purpose).delete()
    code = f"{secrets.randbelow(10**6):06d}"
    PhoneCode.objects.create(
        user=user,
        purpose=purpose,
        phone=phone,
        code_hash=_code_hash(phone, purpose, code),
        created_at=now,
        expires_at=now + timedelta(minutes=settings.SMS_CODE_MINUTES),
    )
    return code


def _send_code(*, phone: str, kind: str, code: str, counted: bool = False) -> None:
    try:
        sms.send(
            phone=phone,
            kind=kind,
            figures={"code": code, "minutes": settings.SMS_CODE_MINUTES},
            purpose=sms.CODE,
            counted=counted,
        )
    except sms.SmsNotSent as exc:
        logger.warning("SMS code to %s not sent: %s", masked(phone), exc)
        raise sms.SmsUnavailable() from exc


def _wrong_code() -> DomainError:
    return DomainError(
        _("That code is wrong or has expired. Ask for a new code if you need one."),
        code="phone_code_wrong",
    )


def _match(row: PhoneCode | None, code: str) -> bool | None:
    """True: the code is right; False: wrong (a try is counted); None: there is no live code
    (none sent, used, expired or out of tries)."""
    if (
        row is None
        or row.used_at is not None
        or row.expires_at <= timezone.now()
        or row.attempts >= settings.SMS_CODE_TRIES
    ):
        return None
    given = "".join(code.split())
    if constant_time_compare(row.code_hash, _code_hash(row.phone, row.purpose, given)):
        return True
    row.attempts += 1
    row.save(update_fields=["attempts"])
    return False


# --- Verifying the account's number -------------------------------------------------------


@transaction.atomic
def phone_code_send(*, user: User, phone: str) -> str:
    """Send a code to `phone` to prove it is the account's. Returns the number as E.164.
    Refused: a number of the wrong shape (`phone_invalid`), the number's limit
    (`sms_rate_limited`), the provider failing (`sms_unavailable`); nothing is kept then."""
    number = phone_e164(phone)
    code = _new_code(user=user, phone=number, purpose=PhoneCodePurpose.VERIFY)
    _send_code(phone=number, kind=sms.VERIFY_CODE, code=code)
    return number


def phone_code_pending(*, user: User) -> str | None:
    """The number a verification code was last sent to and may still be entered, or None."""
    return (
        PhoneCode.objects.filter(
            user=user,
            purpose=PhoneCodePurpose.VERIFY,
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
            attempts__lt=settings.SMS_CODE_TRIES,
        )
        .values_list("phone", flat=True)
        .first()
    )


def phone_verify(*, user: User, code: str) -> AccountPhone:
    """The code sent by `phone_code_send`: right, the number is the account's verified phone
    (replacing an earlier one, and taken from any other account that had it). Wrong: the try
    is counted (the last of SMS_CODE_TRIES ends the code) and `phone_code_wrong` raised."""
    with transaction.atomic():
        row = (
            PhoneCode.objects.select_for_update()
            .filter(user=user, purpose=PhoneCodePurpose.VERIFY)
            .order_by("-created_at", "-pk")
            .first()
        )
        matched = _match(row, code)
        if matched and row is not None:
            now = timezone.now()
            row.used_at = now
            row.save(update_fields=["used_at"])
            AccountPhone.objects.filter(phone=row.phone).exclude(user=user).delete()
            account_phone, _created = AccountPhone.objects.update_or_create(
                user=user, defaults={"phone": row.phone, "verified_at": now}
            )
            return account_phone
    raise _wrong_code()  # after the commit, so the counted try stays counted


@transaction.atomic
def phone_remove(*, user: User) -> bool:
    """The account no longer has a verified phone (no SMS, no reset by SMS)."""
    deleted, _rows = AccountPhone.objects.filter(user=user).delete()
    return bool(deleted)


# --- Password reset by SMS code -----------------------------------------------------------


def password_reset_sms_send(*, phone: str) -> None:
    """Send a reset code to `phone` (E.164) if an active account with a usable password has
    it as its verified number; nothing otherwise. Run by a task (accounts/tasks.py), so the
    page does the same work for every number; the page has counted the number's limit."""
    account = (
        AccountPhone.objects.select_related("user")
        .filter(phone=phone, user__is_active=True)
        .first()
    )
    if account is None or not account.user.has_usable_password():
        return
    with transaction.atomic():
        code = _new_code(user=account.user, phone=phone, purpose=PhoneCodePurpose.RESET)
        _send_code(phone=phone, kind=sms.RESET_CODE, code=code, counted=True)


def password_reset_sms_confirm(*, phone: str, code: str, password: str) -> User:
    """Set a new password with the reset code sent to `phone`. A wrong code, an unknown
    number, an expired or used code all answer the same `phone_code_wrong` (a wrong try is
    counted); a right code with a password the validators refuse raises `password_invalid`
    and keeps the code. The password change ends the account's API tokens
    (accounts/tokens.py) and its sessions (Django's session hash)."""
    number = phone_e164(phone)
    with transaction.atomic():
        row = (
            PhoneCode.objects.select_for_update()
            .select_related("user")
            .filter(
                phone=number,
                purpose=PhoneCodePurpose.RESET,
                user__is_active=True,
                user__account_phone__phone=number,  # still the account's number
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        matched = _match(row, code)
        if matched and row is not None:
            user = row.user
            try:
                password_validation.validate_password(password, user)
            except ValidationError as exc:
                raise DomainError(" ".join(exc.messages), code="password_invalid") from exc
            user.set_password(password)
            user.save()
            account_password_set(user=user)
            PhoneCode.objects.filter(user=user, purpose=PhoneCodePurpose.RESET).delete()
            return user
    raise _wrong_code()
