"""Account pages: log in, log out (POST only), register; and the admin's login, which goes
through the same throttle and per-account lockout (accounts/throttle.py). URLs: accounts/urls.py.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters

from accounts.forms import FIELD_OF_CODE, LoginForm, RegisterForm
from accounts.services import buyer_register
from accounts.throttle import refused
from kamen_complaints.api import throttle_wait, throttled_message
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
