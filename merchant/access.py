"""Who may open the merchant dashboard (README "Merchant dashboard").

- `merchant_required`: the caller's shop (owner or team member, orders.selectors
  `merchant_for_user`) is put on `request.merchant`; an anonymous visitor goes to the login
  page, an account without a shop to the shop application (`merchant:apply`) with a message.
- `owner_required`: as `merchant_required`, and a team member gets the 403 page. Pages only;
  the services refuse the same callers (docs/rules.md: only the owner tops up, withdraws
  and manages the team).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from orders.models import Merchant
from orders.selectors import is_merchant_owner, merchant_for_user

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


class MerchantRequest(HttpRequest):
    """For type checkers: a request that went through `merchant_required`."""

    merchant: Merchant
    merchant_is_owner: bool


def current_merchant(request: HttpRequest) -> Merchant:
    return cast(MerchantRequest, request).merchant


def apply_url() -> str:
    """The shop application page, or the catalogue while it does not exist."""
    try:
        return reverse("merchant:apply")
    except NoReverseMatch:
        return reverse("orders:catalogue")


def _resolve(request: HttpRequest) -> HttpResponse | None:
    """Set request.merchant / merchant_is_owner, or answer what a non-merchant gets."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    merchant = merchant_for_user(request.user)
    if merchant is None:
        messages.info(
            request,
            _("Your account has no shop yet. Apply to open one; the team then verifies it."),
        )
        return HttpResponseRedirect(apply_url())
    request.merchant = merchant  # type: ignore[attr-defined]
    request.merchant_is_owner = is_merchant_owner(  # type: ignore[attr-defined]
        cast(User, request.user), merchant
    )
    return None


def merchant_required(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refusal = _resolve(request)
        if refusal is not None:
            return refusal
        return view(request, *args, **kwargs)

    return cast(View, wrapped)


def owner_forbidden(request: HttpRequest) -> HttpResponse:
    """The translated 403 page a team member gets on an owner-only page."""
    return render(request, "merchant/403.html", status=403)


def owner_required(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refusal = _resolve(request)
        if refusal is not None:
            return refusal
        if not cast(MerchantRequest, request).merchant_is_owner:
            return owner_forbidden(request)
        return view(request, *args, **kwargs)

    return cast(View, wrapped)
