"""Account pages: log in, log out (POST only), register; and the admin's login, which goes
through the same throttle and per-account lockout (accounts/throttle.py). URLs: accounts/urls.py.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.contrib.auth.views import (
    LoginView,
    LogoutView,
    PasswordChangeDoneView,
    PasswordChangeView,
    PasswordResetCompleteView,
    PasswordResetConfirmView,
    PasswordResetDoneView,
    PasswordResetView,
)
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from accounts import phones, selectors, services, tasks, twostep
from accounts.forms import FIELD_OF_CODE, LoginForm, RegisterForm
from accounts.middleware import HAS_DEVICE, MUST_SET_PASSWORD
from accounts.services import account_password_set, buyer_register
from accounts.throttle import refused
from kamen_complaints.api import throttle_wait, throttled_message
from kamen_complaints.celery import enqueue
from kamen_complaints.errors import DomainError
from kamen_complaints.forms import add_domain_error
from orders.selectors import merchant_for_user


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


class ThrottledLoginView(LoginView):
    """Django's login, with the API's login throttle and the per-account lockout in front of
    every attempt (LoginForm)."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True
    authentication_form = LoginForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = self.render_to_response(self.get_context_data(form=form), status=400)
        return refused(response, form)

    def get_default_redirect_url(self) -> str:
        """Without a `next`: a shop's owner or team member lands on the merchant dashboard,
        everyone else on the catalogue (settings.LOGIN_REDIRECT_URL)."""
        if merchant_for_user(self.request.user) is not None:
            return resolve_url("merchant:home")
        return super().get_default_redirect_url()


def admin_login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """The admin site's login (its form is AdminLoginForm, set in accounts/admin.py),
    answering 429 with Retry-After like the login page when the throttle or lockout refuses."""
    response = admin.site.login(request, extra_context)
    form = (getattr(response, "context_data", None) or {}).get("form")
    return refused(response, form)


class MessageLogoutView(LogoutView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You are logged out."))
        return response


@sensitive_post_parameters("password1", "password2")
def register(request: HttpRequest) -> HttpResponse:
    """A buyer account. Merchants apply for a shop from their account afterwards."""
    next_url = _safe_next(request)
    if request.user.is_authenticated:
        return HttpResponseRedirect(next_url or resolve_url("orders:catalogue"))
    status = 200
    if request.method == "POST":
        wait = throttle_wait(request, "login")
        if wait is not None:
            form = RegisterForm(initial={"username": request.POST.get("username", "")})
            response = render(
                request,
                "registration/register.html",
                {"form": form, "next": next_url, "throttled": throttled_message(wait)},
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
        form = RegisterForm(request.POST)
        user = None
        if form.is_valid():
            try:
                user = buyer_register(
                    username=form.cleaned_data["username"],
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password1"],
                )
            except DomainError as exc:
                add_domain_error(form, exc, fields=FIELD_OF_CODE)
        if user is not None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, _("Welcome, %(username)s. Your account is ready.") % {"username": user}
            )
            return HttpResponseRedirect(next_url or resolve_url("orders:catalogue"))
        status = 400
    else:
        form = RegisterForm()
    return render(
        request, "registration/register.html", {"form": form, "next": next_url}, status=status
    )


# --- Passwords: change (and the first password of an account made by someone else), reset --


class PasswordChangeFirstView(PasswordChangeView):
    """Django's password change. An account created by someone else (a team member) is sent
    here by the account gate (accounts/middleware.py) until its holder sets their own."""

    template_name = "registration/password_change_form.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["must_set"] = bool(self.request.session.get(MUST_SET_PASSWORD))
        context["next"] = _safe_next(self.request)
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        account_password_set(user=form.user)
        self.request.session[MUST_SET_PASSWORD] = False
        messages.success(self.request, _("Your password has been changed."))
        next_url = _safe_next(self.request)
        return HttpResponseRedirect(next_url) if next_url else response


class PasswordChangeDoneFrameView(PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"


def _email_reset_wait(email: str) -> int | None:
    """Seconds until another reset e-mail may go to `email` (PASSWORD_RESET_PER_EMAIL_PER_HOUR,
    whoever asks), or None; an allowed request is counted. Known and unknown addresses are
    counted alike, so the limit says nothing about whether an account exists."""
    key = "password-reset:email:" + hashlib.sha256(email.strip().casefold().encode()).hexdigest()
    now = time.time()
    history = [t for t in cache.get(key, []) if t > now - 3600]
    if len(history) >= settings.PASSWORD_RESET_PER_EMAIL_PER_HOUR:
        return max(1, math.ceil(min(history) + 3600 - now))
    cache.set(key, [*history, now], timeout=3600)
    return None


class ThrottledPasswordResetView(PasswordResetView):
    """Django's password reset, with no account-existence oracle: every accepted request
    answers the same "check your e-mail" page, and the e-mail (or nothing, for an unknown
    address) is sent by a task, so the page does the same work either way. Throttled per
    client (the `password_reset` rates) and per e-mail address."""

    template_name = "registration/password_reset_form.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["reset_hours"] = max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        email = form.cleaned_data["email"]
        wait = throttle_wait(self.request, "password_reset") or _email_reset_wait(email)
        if wait is not None:
            form.add_error(None, throttled_message(wait))
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(wait)
            return response
        enqueue(
            tasks.password_reset_send,
            email=email,
            domain=self.request.get_host(),
            use_https=self.request.is_secure(),
            language=get_language(),
        )
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetDoneFrameView(PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmFrameView(PasswordResetConfirmView):
    """The link's page: a new password, once; the link then stops working (the token is
    bound to the password hash) and expires after PASSWORD_RESET_TIMEOUT anyway. The new
    password is the holder's own, so a "set your own password" flag is cleared."""

    template_name = "registration/password_reset_confirm.html"

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        account_password_set(user=form.user)
        return response


class PasswordResetCompleteFrameView(PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


# --- Account and security -----------------------------------------------------------------


@login_required
def security(request: HttpRequest) -> HttpResponse:
    """账号与安全: this account's live sessions and API tokens, sign out everywhere, two-step
    login."""
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (login_required)
    return render(
        request,
        "registration/security.html",
        {
            "sessions": selectors.live_sessions(user=user),
            "current_key": request.session.session_key,
            "tokens": selectors.live_tokens(user=user),
            "has_device": twostep.has_device(user),
            "twostep_required": twostep.required(user),
            "twostep_may_turn_off": twostep.may_turn_off(user),
            "phone": phones.masked(number) if (number := phones.verified_phone(user)) else "",
        },
    )


@login_required
@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (login_required)
    ended, revoked = services.sign_out_everywhere(
        user=user, keep_session_key=request.session.session_key
    )
    messages.success(
        request,
        _(
            "Signed out everywhere else: %(sessions)s other sessions ended, "
            "%(tokens)s API tokens revoked."
        )
        % {"sessions": ended, "tokens": revoked},
    )
    return HttpResponseRedirect(resolve_url("security"))


# --- Two-step login -----------------------------------------------------------------------


class TokenForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


@login_required
def twostep_setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator: scan the otpauth URI or type the secret, confirm with a code;
    the ten recovery codes are shown once, on the answer to that POST."""
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (login_required)
    next_url = _safe_next(request)
    if twostep.has_device(user) and not user.is_verified():  # type: ignore[attr-defined]
        # A new authenticator replaces the old one: only after the second step with it.
        return HttpResponseRedirect(resolve_url("twostep_verify"))
    status = 200
    if request.method == "POST":
        form = TokenForm(request.POST)
        if form.is_valid():
            try:
                device, codes = services.totp_setup_confirm(
                    user=user, token=form.cleaned_data["token"]
                )
            except DomainError as exc:
                add_domain_error(form, exc, fields={"twostep_wrong_code": "token"})
            else:
                otp_login(request, device)
                request.session[HAS_DEVICE] = True
                return render(
                    request,
                    "registration/twostep_codes.html",
                    {"codes": codes, "next": next_url or resolve_url("security")},
                )
        status = 400
        device = user.totpdevice_set.filter(confirmed=False).first()  # type: ignore[attr-defined]
        if device is None:
            device = services.totp_setup_start(user=user)
    else:
        form = TokenForm()
        device = services.totp_setup_start(user=user)
    return render(
        request,
        "registration/twostep_setup.html",
        {
            "form": form,
            "next": next_url,
            "uri": twostep.otpauth_uri(device),
            "qr": twostep.otpauth_qr(
                device, title=_("QR code of the key for an authenticator app")
            ),
            "secret": twostep.base32_secret(device),
            "required": twostep.required(user) and not twostep.has_device(user),
        },
        status=status,
    )


class TwostepOffForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    token = forms.CharField(
        label=gettext_lazy("Code from your authenticator app (or a recovery code)"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


@sensitive_post_parameters("password")
@login_required
def twostep_off(request: HttpRequest) -> HttpResponse:
    """Turn two-step login off, confirmed with the password and a current code
    (accounts.services.twostep_turn_off; who may: accounts.twostep.may_turn_off)."""
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (login_required)
    if not twostep.may_turn_off(user):
        return HttpResponseRedirect(resolve_url("security"))
    status = 200
    if request.method == "POST":
        form = TwostepOffForm(request.POST)
        wait = throttle_wait(request, "login")
        if wait is not None:
            form.is_valid()
            form.add_error(None, throttled_message(wait))
            response = render(request, "registration/twostep_off.html", {"form": form}, status=429)
            response["Retry-After"] = str(wait)
            return response
        if form.is_valid():
            try:
                services.twostep_turn_off(
                    user=user,
                    password=form.cleaned_data["password"],
                    token=form.cleaned_data["token"],
                )
            except DomainError as exc:
                add_domain_error(
                    form,
                    exc,
                    fields={"wrong_password": "password", "twostep_wrong_code": "token"},
                )
            else:
                request.session[HAS_DEVICE] = False
                messages.success(
                    request,
                    _(
                        "Two-step login is off: a login now needs your password only. "
                        "Your authenticator and recovery codes no longer work."
                    ),
                )
                return HttpResponseRedirect(resolve_url("security"))
        status = 400
    else:
        form = TwostepOffForm()
    return render(request, "registration/twostep_off.html", {"form": form}, status=status)


@login_required
def twostep_verify(request: HttpRequest) -> HttpResponse:
    """The second step of a login: the authenticator's code or a recovery code (used up)."""
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (login_required)
    next_url = _safe_next(request)
    if getattr(user, "is_verified", lambda: False)():
        return HttpResponseRedirect(next_url or resolve_url("security"))
    status = 200
    if request.method == "POST":
        form = TokenForm(request.POST)
        wait = throttle_wait(request, "login")
        if wait is not None:
            form.is_valid()
            form.add_error(None, throttled_message(wait))
            response = render(
                request,
                "registration/twostep_verify.html",
                {"form": form, "next": next_url},
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
        if form.is_valid():
            device = services.twostep_match(user=user, token=form.cleaned_data["token"])
            if device is not None:
                otp_login(request, device)
                return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
            form.add_error("token", _("That code is wrong or has expired."))
        status = 400
    else:
        form = TokenForm()
    return render(
        request,
        "registration/twostep_verify.html",
        {"form": form, "next": next_url},
        status=status,
    )
