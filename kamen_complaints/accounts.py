"""Account pages: log in, log out (POST only), register; and the page-side throttle.

Included from kamen_complaints/urls.py under /accounts/. URL names are not namespaced because
settings.LOGIN_URL is "login".
"""

from __future__ import annotations

import math
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm, UsernameField
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from kamen_complaints.api import throttles
from kamen_complaints.errors import DomainError
from orders import services


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
    """Django's login, with the API's login throttle in front of every attempt."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = throttle_wait(request, "login")
        if wait is None:
            return super().post(request, *args, **kwargs)
        # An unbound form: validating the bound one would try the password anyway.
        form = AuthenticationForm(request, initial={"username": request.POST.get("username")})
        context = self.get_context_data(form=form, throttled=throttled_message(wait))
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


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
                user = services.buyer_register(
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
