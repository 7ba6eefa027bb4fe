"""The merchant dashboard's API keys page, /merchant/api-keys/ (owner only; README "Merchant
API keys"): the shop's keys without their secret, a form to create one and a button to revoke
each, through merchant.services api_key_create / api_key_revoke — the API's services.

A new key is shown once, in the answer to the POST that created it, not after a redirect:
the platform keeps only its digest, so there is nothing to show on a later GET (and a session
would write the key to the database). The answer is marked `no-store`."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kamen_complaints.errors import DomainError, NotFound
from kamen_complaints.forms import add_domain_error
from merchant import selectors, services
from merchant.access import current_merchant, owner_required
from merchant.forms import ApiKeyForm
from merchant.models import MerchantAPIKey

# merchant.services.api_key_create's refusals that belong to one field.
FIELD_OF_CODE = {
    "name_required": "name",
    "name_too_long": "name",
    "scopes_required": "scopes",
    "scope_unknown": "scopes",
    "expiry_past": "expires_on",
}


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _expires_at(day: date | None) -> datetime | None:
    """The key works through `day` (Asia/Shanghai): it expires when the next day begins."""
    if day is None:
        return None
    zone = ZoneInfo(settings.TIME_ZONE)
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def _page(
    request: HttpRequest,
    form: ApiKeyForm,
    *,
    created: tuple[MerchantAPIKey, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    keys = list(selectors.shop_api_keys(current_merchant(request)))
    response = render(
        request,
        "merchant/api_keys.html",
        {"keys": keys, "form": form, "created": created},
        status=status,
    )
    add_never_cache_headers(response)
    return response


@owner_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    """GET: the keys and the form. POST: create a key and show it, this once."""
    if request.method == "GET":
        return _page(request, ApiKeyForm())
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    data = form.cleaned_data
    try:
        created = services.api_key_create(
            merchant=current_merchant(request),
            actor=_user(request),
            name=data["name"],
            scopes=data["scopes"],
            expires_at=_expires_at(data["expires_on"]),
        )
    except DomainError as exc:
        add_domain_error(form, exc, fields=FIELD_OF_CODE)
        return _page(request, form, status=400)
    return _page(request, ApiKeyForm(), created=created)


@owner_required
@require_POST
def api_key_revoke(request: HttpRequest, prefix: str) -> HttpResponse:
    try:
        key = services.api_key_revoke(
            merchant=current_merchant(request), actor=_user(request), prefix=prefix
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("merchant:api_keys")
    messages.success(
        request,
        _("The key %(name)s (%(prefix)s…) is revoked: it no longer works.")
        % {"name": key.name, "prefix": key.prefix},
    )
    return redirect("merchant:api_keys")
