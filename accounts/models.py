"""What accounts keeps beside Django's user: whether the holder must set their own password,
and which sessions are theirs (for the "account and security" page and "sign out everywhere")."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy


class AccountSecurity(models.Model):
    """One row per account that needs one. `must_set_password`: the account was created by
    someone else (a shop's owner adding a team member), who knows its password; its holder
    sets their own before anything else (accounts/middleware.py)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_security"
    )
    must_set_password = models.BooleanField(default=False)

    class Meta:
        verbose_name = gettext_lazy("account security")
        verbose_name_plural = gettext_lazy("account security")

    def __str__(self) -> str:
        return str(self.user)


class UserSession(models.Model):
    """A login session of an account, noted at login (Django's session table does not say
    whose a session is without decoding every row). Listed while its session lives."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_sessions"
    )
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField()
    ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = gettext_lazy("login session")
        verbose_name_plural = gettext_lazy("login sessions")

    def __str__(self) -> str:
        return f"{self.user} {self.created_at:%Y-%m-%d %H:%M}"


class AccountPhone(models.Model):
    """An account's verified mobile number, E.164 (+86 and 11 digits), proved by a code sent
    to it (accounts/phones.py). One account per number: SMS notices and password reset by SMS
    find the account by it. A number typed but not yet proved is only in its PhoneCode."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_phone"
    )
    phone = models.CharField(gettext_lazy("mobile number"), max_length=16, unique=True)
    verified_at = models.DateTimeField(gettext_lazy("verified at"))

    class Meta:
        verbose_name = gettext_lazy("account phone")
        verbose_name_plural = gettext_lazy("account phones")

    def __str__(self) -> str:
        return f"{self.user} {self.phone}"


class PhoneCodePurpose(models.TextChoices):
    VERIFY = "verify", gettext_lazy("verify the number")
    RESET = "reset", gettext_lazy("reset the password")


class PhoneCode(models.Model):
    """A 6-digit code sent by SMS: stored as a keyed hash, valid SMS_CODE_MINUTES, refused
    after SMS_CODE_TRIES wrong tries, used once. A new code of the same purpose replaces the
    account's earlier ones."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone_codes"
    )
    purpose = models.CharField(max_length=8, choices=PhoneCodePurpose.choices)
    phone = models.CharField(max_length=16)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("SMS code")
        verbose_name_plural = gettext_lazy("SMS codes")
        indexes = [models.Index(fields=["phone", "purpose"], name="accounts_phonecode_phone")]

    def __str__(self) -> str:
        return f"{self.user} {self.purpose} {self.created_at:%Y-%m-%d %H:%M}"
