"""The merchant dashboard's pages about the shop's standing (README "Merchant dashboard"):

- /merchant/apply/ — apply to open a shop (orders.services.merchant_apply, the service
  POST /api/v1/merchant/apply/ calls). For any logged-in account without a shop.
- /merchant/verification/ — the application's status in plain words, what is missing or why
  it was rejected, the re-verification due date (warned a month ahead) and what a
  suspension means. Owner and team.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from kamen_complaints import sms
from kamen_complaints.errors import DomainError
from kamen_complaints.forms import add_domain_error
from merchant.access import current_merchant, merchant_required
from merchant.forms import FIELD_OF_CODE, MerchantApplyForm
from orders import selectors, services
from orders.models import Merchant, MerchantStatus, SuspensionReason

# How long before the re-verification date the pages warn (issue: "a month ahead").
REVERIFICATION_WARNING = timedelta(days=30)


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


@login_required
@sensitive_post_parameters("id_number")
@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest) -> HttpResponse:
    if selectors.merchant_for_user(request.user) is not None:
        messages.info(request, _("Your account already belongs to a shop."))
        return redirect("merchant:verification")
    status = 200
    if request.method == "POST":
        form = MerchantApplyForm(request.POST)
        if form.is_valid():
            try:
                services.merchant_apply(user=_user(request), **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc, fields=FIELD_OF_CODE)
            else:
                messages.success(
                    request,
                    _(
                        "Application received. The platform checks your identity; this page "
                        "shows how it goes."
                    ),
                )
                return redirect("merchant:verification")
        status = 400
        # The number is never rendered back (NeverEchoedInput): say so where it is typed.
        form.fields["id_number"].help_text = _(
            "For your safety the identity number is not shown again: enter it once more."
        )
    else:
        form = MerchantApplyForm()
    minimum = Merchant._meta.get_field("minimum_deposit").default
    return render(
        request,
        "merchant/apply.html",
        {"form": form, "minimum_deposit": minimum},
        status=status,
    )


# --- Verification -------------------------------------------------------------------------


def verification_state(merchant: Merchant, now: Any = None) -> dict[str, Any]:
    """What the verification page (and the dashboard) says about the shop's standing: a
    tone (`ok`, `waiting`, `warning`, `danger`), a headline, and the checklist of what the
    application holds."""
    now = now or timezone.now()
    due = merchant.reverification_due
    days_left = None
    if due is not None:
        days_left = max((due - now).days, 0)
    state: dict[str, Any] = {
        "due": due,
        "days_left": days_left,
        "due_soon": bool(
            merchant.status == MerchantStatus.ACTIVE
            and due is not None
            and now < due <= now + REVERIFICATION_WARNING
        ),
    }
    if merchant.status == MerchantStatus.PENDING_VERIFICATION:
        state.update(tone="waiting", headline=_("Your application is waiting for verification."))
    elif merchant.status == MerchantStatus.ACTIVE:
        state.update(
            tone="warning" if state["due_soon"] else "ok",
            headline=_("Your shop is verified and selling."),
        )
    elif merchant.status == MerchantStatus.REJECTED:
        state.update(tone="danger", headline=_("Your application was rejected."))
    else:
        state.update(tone="danger", headline=_("Your shop is suspended."))
    state["checklist"] = [
        {"label": _("Shop name"), "value": merchant.shop_name, "ok": True},
        {"label": _("Legal name"), "value": merchant.legal_name, "ok": True},
        {"label": _("Identity number"), "value": merchant.id_number_masked, "ok": True},
        {"label": _("Mobile phone"), "value": merchant.phone, "ok": True},
        _sms_phone_item(merchant),
        {"label": _("Address"), "value": merchant.address, "ok": True},
        {
            "label": _("Business licence number"),
            "value": merchant.business_license
            or _("not given — companies should give the unified social credit code"),
            "ok": bool(merchant.business_license),
        },
    ]
    return state


def _sms_phone_item(merchant: Merchant) -> dict[str, Any]:
    """Where the shop's text messages go: the owner's account phone, verified by an SMS code
    on the account and security page (docs/sms.md)."""
    phone = sms.verified_phone(merchant.owner)
    if phone:
        return {
            "label": _("Phone for text messages"),
            "value": _("%(phone)s, verified by SMS") % {"phone": sms.masked(phone)},
            "ok": True,
        }
    return {
        "label": _("Phone for text messages"),
        "value": _(
            "not verified: the owner verifies a mobile number by SMS code under Account and "
            "security, and then hears of each new complaint and its last reminder by SMS"
        ),
        "ok": False,
        "url": reverse("phone"),
        "link": _("Verify the number"),
    }


@merchant_required
@require_GET
def verification(request: HttpRequest) -> HttpResponse:
    merchant = current_merchant(request)
    return render(
        request,
        "merchant/verification.html",
        {
            "merchant": merchant,
            "state": verification_state(merchant),
            "reasons": SuspensionReason,
            "statuses": MerchantStatus,
        },
    )
