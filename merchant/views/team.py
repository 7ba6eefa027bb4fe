"""The merchant dashboard's team page, /merchant/team/ (README "Merchant dashboard"): the
shop's team. Everyone on it sees the list; only the owner gets the forms, and the POSTs call
orders.services merchant_member_add / merchant_member_remove, which refuse anyone else (a
team member posting by hand gets the 403 page).
"""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from kamen_complaints.errors import DomainError, Forbidden, NotFound
from kamen_complaints.forms import add_domain_error
from merchant.access import (
    MerchantRequest,
    current_merchant,
    merchant_required,
    owner_forbidden,
)
from merchant.forms import FIELD_OF_CODE, TeamAddForm
from orders import selectors, services


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _team_page(request: HttpRequest, form: TeamAddForm | None, status: int = 200) -> HttpResponse:
    merchant = current_merchant(request)
    is_owner = cast(MerchantRequest, request).merchant_is_owner
    return render(
        request,
        "merchant/team.html",
        {
            "members": list(selectors.merchant_team(merchant)),
            "form": form if is_owner else None,
            "is_owner": is_owner,
        },
        status=status,
    )


@merchant_required
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    """GET: the list (and, for the owner, the add form). POST: add a member."""
    if request.method == "GET":
        return _team_page(request, TeamAddForm())
    form = TeamAddForm(request.POST)
    if not form.is_valid():
        if not cast(MerchantRequest, request).merchant_is_owner:
            return owner_forbidden(request)
        return _team_page(request, form, status=400)
    try:
        member = services.merchant_member_add(
            merchant=current_merchant(request), actor=_user(request), **form.cleaned_data
        )
    except Forbidden:
        return owner_forbidden(request)
    except DomainError as exc:
        add_domain_error(form, exc, fields=FIELD_OF_CODE)
        return _team_page(request, form, status=400)
    messages.success(
        request,
        _(
            "%(username)s is on the team now: they can answer complaints, manage stock and "
            "see orders."
        )
        % {"username": member.user.username},
    )
    return redirect("merchant:team")


@merchant_required
@require_POST
def team_remove(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.merchant_member_remove(
            merchant=current_merchant(request), actor=_user(request), member_id=pk
        )
    except Forbidden:
        return owner_forbidden(request)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("merchant:team")
    messages.success(request, _("Removed from the team. The account itself is kept."))
    return redirect("merchant:team")
