"""Every write of accounts: typed, keyword-only functions, one transaction each.

The register page and the API both call these (docs/architecture.md "one path per action")."""

from __future__ import annotations

from importlib import import_module
from typing import cast

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_otp import match_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import tokens, twostep
from accounts.models import AccountSecurity, UserSession
from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError

# The audit log's action for a holder turning two-step login off (its words:
# kamen_complaints.audit.OTHER_ACTIONS).
TWOSTEP_TURNED_OFF = "twostep_turned_off"


def buyer_register(*, username: str, email: str, password: str) -> User:
    """A buyer account, for the register page and the API alike. The caller's form or
    serializer has validated the password (Django's validators) and the name's shape."""
    try:
        with transaction.atomic():
            return User.objects.create_user(username=username, email=email, password=password)
    except IntegrityError as exc:  # the same name registered a moment ago
        raise DomainError(
            _("That username is taken."), code="username_taken", status_code=409
        ) from exc


# --- Passwords set by their holder --------------------------------------------------------


def account_require_password_set(*, user: User) -> None:
    """The account was created by someone else, who knows its password: its holder must set
    their own at the first login (accounts/middleware.py). Registered with
    orders.services.register_member_account_created (a team member added by the owner)."""
    AccountSecurity.objects.update_or_create(user=user, defaults={"must_set_password": True})


def account_must_set_password(*, user: User) -> bool:
    return AccountSecurity.objects.filter(user=user, must_set_password=True).exists()


def account_password_set(*, user: User) -> None:
    """The holder has set their own password (the password-change or reset page saved it)."""
    AccountSecurity.objects.filter(user=user, must_set_password=True).update(
        must_set_password=False
    )


# --- Sessions and sign out everywhere -----------------------------------------------------


def session_note(*, user: User, session_key: str, ip: str, user_agent: str) -> None:
    """Note a new login session of `user` (the user_logged_in receiver, accounts/security.py)."""
    UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={
            "user": user,
            "created_at": timezone.now(),
            "ip": ip[:45],
            "user_agent": user_agent[:200],
        },
    )


def _sessions_of(user: User) -> set[str]:
    """The keys of every live session logged in as `user`, noted or not: a session opened
    before logins were noted (UserSession) is found by reading the session itself. Decodes
    each live session once, in chunks; a session that does not decode is nobody's."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    pk = str(user.pk)
    live = Session.objects.filter(expire_date__gt=timezone.now()).values_list(
        "session_key", "session_data"
    )
    return {
        key
        for key, data in live.iterator(chunk_size=2000)
        if str(store().decode(data).get(SESSION_KEY)) == pk
    }


@transaction.atomic
def sign_out_everywhere(*, user: User, keep_session_key: str | None) -> tuple[int, int]:
    """End every session of `user` but the one asking (`keep_session_key`) — the ones noted
    at login and any opened before logins were noted — and revoke every API token. Returns
    (sessions ended, tokens revoked)."""
    keep = keep_session_key or ""
    live = _sessions_of(user) - {keep}
    noted = UserSession.objects.filter(user=user).exclude(session_key=keep)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in live | set(noted.values_list("session_key", flat=True)):
        store(session_key=key).delete()  # through the engine: a cached copy goes too
    noted.delete()
    revoked = tokens.tokens_revoke_all(user=user)
    return len(live), revoked


# --- Two-step login (TOTP and recovery codes; accounts/twostep.py) ------------------------

RECOVERY_CODES = 10


@transaction.atomic
def totp_setup_start(*, user: User) -> TOTPDevice:
    """A new, unconfirmed authenticator for `user` (replacing an unconfirmed one left from an
    earlier attempt); it counts only once a code from it is confirmed."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


@transaction.atomic
def totp_setup_confirm(*, user: User, token: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending authenticator with a code from it; it replaces any earlier one.
    Returns the device and RECOVERY_CODES new one-time recovery codes (shown once; the old
    ones stop working)."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None:
        raise DomainError(
            _("Start the set-up again: no authenticator is waiting for a code."),
            code="twostep_not_started",
        )
    if not device.verify_token(token.strip()):
        raise DomainError(
            _("That code is wrong or has expired; enter the current 6-digit code."),
            code="twostep_wrong_code",
        )
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _n in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    return device, codes


def twostep_match(*, user: User, token: str) -> Device | None:
    """The confirmed device `token` belongs to — a current authenticator code, or a recovery
    code, which is used up — or None. django-otp throttles wrong codes per device."""
    token = token.strip().replace(" ", "")
    if not token:
        return None
    return cast(Device | None, match_token(user, token))


def twostep_turn_off(*, user: User, password: str, token: str) -> None:
    """Turn two-step login off for `user`, who confirms it with their password and a code of
    the authenticator (or a recovery code): the authenticator and the recovery codes are
    deleted, and the audit log notes it. Refused when it is required of them (staff while
    STAFF_REQUIRE_2FA is on, accounts/twostep.py) or already off. The checks run before the
    transaction, so a wrong code counts against django-otp's per-device throttle."""
    if not twostep.may_turn_off(user):
        if twostep.required(user):
            raise DomainError(
                _("Staff accounts must keep two-step login on; it cannot be turned off."),
                code="twostep_required",
                status_code=403,
            )
        raise DomainError(_("Two-step login is already off."), code="twostep_off")
    if not user.check_password(password):
        raise DomainError(_("That password is wrong."), code="wrong_password")
    if twostep_match(user=user, token=token) is None:
        raise DomainError(
            _("That code is wrong or has expired; enter the current 6-digit code."),
            code="twostep_wrong_code",
        )
    with transaction.atomic():
        totp, _per_model = TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit_record(
            actor=user,
            action=TWOSTEP_TURNED_OFF,
            obj=user,
            before={"two_step": True},
            after={"two_step": False, "authenticators_deleted": totp},
        )


# --- Password reset -----------------------------------------------------------------------


def password_reset_send(*, email: str, domain: str, use_https: bool, language: str) -> None:
    """Mail a single-use reset link (Django's token: it stops working once the password
    changes, and after settings.PASSWORD_RESET_TIMEOUT) to every active account with this
    address and a usable password; nothing to an unknown address. Run by a task
    (accounts/tasks.py), so the page does the same work whether the address is known or not."""
    from django.contrib.auth.forms import PasswordResetForm

    with translation.override(language):
        form = PasswordResetForm({"email": email})
        if form.is_valid():
            form.save(
                domain_override=domain,
                use_https=use_https,
                subject_template_name="registration/password_reset_subject.txt",
                email_template_name="registration/password_reset_email.txt",
            )
