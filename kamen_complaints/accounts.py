"""Account pages: log in, log out (POST only), register; the page-side throttle; and the
admin's login, which goes through the same throttle and per-account lockout.

Included from kamen_complaints/urls.py under /accounts/. URL names are not namespaced because
settings.LOGIN_URL is "login".
"""

from __future__ import annotations

import math
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm, UsernameField
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView, LogoutView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from accounts.services import buyer_register
from kamen_complaints import logins
from kamen_complaints.api import throttles
from kamen_complaints.errors import DomainError
from orders.selectors import merchant_for_user


def throttle_wait(request: HttpRequest, scope: str) -> int | None:
    """Seconds to wait when this request is over `scope`'s rates (per user and per IP), or
    None when it may go ahead. The counters are the API's (kamen_complaints.api.throttles), so
    a page is no way around the API's limits."""
    waits: list[float] = []
    for throttle_class in throttles(scope):
        throttle = throttle_class()
        # DRF's throttles read only .user and .META, which a Django request has too.
        if not throttle.allow_request(cast(Any, request), cast(Any, None)):
            waits.append(throttle.wait() or 0)
    if not waits:
        return None
    return max(1, math.ceil(max(waits)))


def throttled_message(wait: int) -> str:
    return _("Too many attempts; try again in %(seconds)s seconds.") % {"seconds": wait}


class _GuardedLoginMixin:
    """In front of the password check of a login form: the login throttle (per client), then
    the per-account lockout (kamen_complaints/logins.py). Either refuses without trying the
    password, with the seconds to wait in `retry_after` (the view answers 429)."""

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        assert self.request is not None  # noqa: S101 (the login views always pass it)
        wait = throttle_wait(self.request, "login")
        if wait is not None:
            self.retry_after = wait
            raise ValidationError(throttled_message(wait), code="throttled")
        username = self.cleaned_data.get("username") or ""
        wait = logins.login_lockout_wait(self.request, username=username)
        if wait is not None:
            self.retry_after = wait
            raise ValidationError(logins.login_lockout_message(wait), code="locked_out")
        return cast(dict[str, Any], super().clean())  # type: ignore[misc]


class LoginForm(_GuardedLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(_GuardedLoginMixin, AdminAuthenticationForm):
    pass


def _refused(response: HttpResponse, form: Any) -> HttpResponse:
    """429 with Retry-After when the form was refused by the throttle or the lockout."""
    wait = getattr(form, "retry_after", None)
    if wait is not None:
        response.status_code = 429
        response["Retry-After"] = str(wait)
    return response


class RegisterForm(UserCreationForm):
    email = forms.EmailField(label=gettext_lazy("E-mail"), max_length=254)

    class Meta:
        model = User
        fields = ("username", "email")
        field_classes = {"username": UsernameField}


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
        return _refused(response, form)

    def get_default_redirect_url(self) -> str:
        """Without a `next`: a shop's owner or team member lands on the merchant dashboard,
        everyone else on the catalogue (settings.LOGIN_REDIRECT_URL)."""
        if merchant_for_user(self.request.user) is not None:
            return resolve_url("merchant:home")
        return super().get_default_redirect_url()


def admin_login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """The admin site's login (its form is AdminLoginForm, set in kamen_complaints/admin.py),
    answering 429 with Retry-After like the login page when the throttle or lockout refuses."""
    response = admin.site.login(request, extra_context)
    form = (getattr(response, "context_data", None) or {}).get("form")
    return _refused(response, form)


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
                form.add_error("username", exc.message)
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


urlpatterns = [
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", MessageLogoutView.as_view(), name="logout"),
    path("register/", register, name="register"),
]
