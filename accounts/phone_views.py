"""The phone pages (docs/sms.md): the account's mobile number, verified by an SMS code (on the
account and security page), and the password reset by SMS code (an option of the
forgotten-password page). Every write goes through accounts/phones.py; URLs: accounts/urls.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts import phones, tasks
from accounts.forms import (
    PHONE_FIELD_OF_CODE,
    PhoneCodeForm,
    PhoneForm,
    SmsResetForm,
    SmsResetRequestForm,
)
from kamen_complaints.api import throttle_wait, throttled_message
from kamen_complaints.celery import enqueue
from kamen_complaints.errors import DomainError
from kamen_complaints.forms import add_domain_error
from kamen_complaints.sms import limits
from orders.selectors import merchant_for_user

# The number a reset code was asked for, so the code page can offer it.
RESET_PHONE = "sms_reset_phone"


def _refused(response: HttpResponse, exc: DomainError) -> HttpResponse:
    """429 with Retry-After for the number's SMS limit; the status the refusal names
    otherwise."""
    response.status_code = exc.status_code
    if "retry_after" in exc.extra:
        response["Retry-After"] = str(exc.extra["retry_after"])
    return response


def _code_rules() -> dict[str, Any]:
    return {"minutes": settings.SMS_CODE_MINUTES, "tries": settings.SMS_CODE_TRIES}


def _throttled(response: HttpResponse, wait: int) -> HttpResponse:
    response.status_code = 429
    response["Retry-After"] = str(wait)
    return response


# --- The account's number -----------------------------------------------------------------


def _phone_page(
    request: HttpRequest,
    user: User,
    *,
    form: PhoneForm | None = None,
    code_form: PhoneCodeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    verified = phones.verified_phone(user)
    pending = phones.phone_code_pending(user=user)
    if form is None:
        merchant = merchant_for_user(user)
        shop_phone = merchant.phone if merchant is not None and merchant.owner_id == user.pk else ""
        form = PhoneForm(initial={"phone": "" if verified else shop_phone})
    return render(
        request,
        "registration/phone.html",
        {
            "form": form,
            "code_form": code_form or PhoneCodeForm(),
            "verified": phones.masked(verified) if verified else "",
            "pending": phones.masked(pending) if pending else "",
            **_code_rules(),
        },
        status=status,
    )


@login_required
def phone(request: HttpRequest) -> HttpResponse:
    """手机号: the verified number (SMS notices, password reset by SMS), and sending a code to
    a new one."""
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (login_required)
    if request.method != "POST":
        return _phone_page(request, user)
    form = PhoneForm(request.POST)
    if not form.is_valid():
        return _phone_page(request, user, form=form, status=400)
    wait = throttle_wait(request, "password_reset")
    if wait is not None:
        form.add_error(None, throttled_message(wait))
        return _throttled(_phone_page(request, user, form=form), wait)
    try:
        number = phones.phone_code_send(user=user, phone=form.cleaned_data["phone"])
    except DomainError as exc:
        add_domain_error(form, exc, fields=PHONE_FIELD_OF_CODE)
        return _refused(_phone_page(request, user, form=form), exc)
    messages.success(
        request,
        _("A 6-digit code was sent to %(phone)s. Enter it below.")
        % {"phone": phones.masked(number)},
    )
    return HttpResponseRedirect(resolve_url("phone"))


@login_required
@require_POST
def phone_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (login_required)
    code_form = PhoneCodeForm(request.POST)
    if code_form.is_valid():
        try:
            account_phone = phones.phone_verify(user=user, code=code_form.cleaned_data["code"])
        except DomainError as exc:
            add_domain_error(code_form, exc, fields=PHONE_FIELD_OF_CODE)
        else:
            messages.success(
                request,
                _("Your mobile number %(phone)s is verified.")
                % {"phone": phones.masked(account_phone.phone)},
            )
            return HttpResponseRedirect(resolve_url("security"))
    return _phone_page(request, user, code_form=code_form, status=400)


@login_required
@require_POST
def phone_remove(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (login_required)
    if phones.phone_remove(user=user):
        messages.success(
            request,
            _("The mobile number was removed: no more text messages, and no reset by SMS."),
        )
    return HttpResponseRedirect(resolve_url("security"))


# --- Password reset by SMS code -----------------------------------------------------------


def password_reset_sms(request: HttpRequest) -> HttpResponse:
    """Ask for a reset code by SMS. No account-existence oracle, as with the e-mail reset: a
    number of the right shape always gets the same answer (the code page), the lookup and the
    SMS happen in a task, and the number's limit counts known and unknown numbers alike.
    Throttled per client (the `password_reset` rates) and per number."""
    status = 200
    if request.method == "POST":
        form = SmsResetRequestForm(request.POST)
        number = None
        if form.is_valid():
            try:
                number = phones.phone_e164(form.cleaned_data["phone"])
            except DomainError as exc:
                add_domain_error(form, exc, fields=PHONE_FIELD_OF_CODE)
        if number is not None:
            wait = throttle_wait(request, "password_reset")
            message: Callable[[int], str] = throttled_message
            if wait is None:
                wait, message = limits.take(number, limits.CODE), limits.wait_message
            if wait is not None:
                form.add_error(None, message(wait))
                page = render(request, "registration/password_reset_sms.html", {"form": form})
                return _throttled(page, wait)
            enqueue(tasks.password_reset_sms_send, phone=number)
            request.session[RESET_PHONE] = number
            return HttpResponseRedirect(resolve_url("password_reset_sms_code"))
        status = 400
    else:
        form = SmsResetRequestForm()
    return render(request, "registration/password_reset_sms.html", {"form": form}, status=status)


@sensitive_post_parameters("code", "new_password1", "new_password2")
def password_reset_sms_code(request: HttpRequest) -> HttpResponse:
    """The code and a new password. Every wrong answer reads the same, whether the number has
    an account or not; each wrong code is counted on the code (SMS_CODE_TRIES), and the page is
    behind the login throttle."""
    status = 200
    if request.method == "POST":
        form = SmsResetForm(request.POST)
        wait = throttle_wait(request, "login")
        if wait is not None:
            form.is_valid()
            form.add_error(None, throttled_message(wait))
            page = render(
                request,
                "registration/password_reset_sms_code.html",
                {"form": form, **_code_rules()},
            )
            return _throttled(page, wait)
        if form.is_valid():
            try:
                phones.password_reset_sms_confirm(
                    phone=form.cleaned_data["phone"],
                    code=form.cleaned_data["code"],
                    password=form.cleaned_data["new_password1"],
                )
            except DomainError as exc:
                add_domain_error(form, exc, fields=PHONE_FIELD_OF_CODE)
            else:
                request.session.pop(RESET_PHONE, None)
                return HttpResponseRedirect(resolve_url("password_reset_complete"))
        status = 400
    else:
        number = request.session.get(RESET_PHONE, "")
        form = SmsResetForm(initial={"phone": number.removeprefix("+86")})
    return render(
        request,
        "registration/password_reset_sms_code.html",
        {"form": form, **_code_rules()},
        status=status,
    )
