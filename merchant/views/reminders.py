"""The merchant dashboard's reminders page, /merchant/reminders/ (README "Reminders"): when the
shop is reminded of its deadlines. Everyone on the team sees the settings; only the owner
gets the form, whose POST calls disputes.services.reminders.reminder_settings_update (the one
service that changes them; it refuses anyone else, and a team member posting by hand gets the
403 page).

The form lives here rather than in merchant/forms.py because it is this page's alone and says
nothing the services do not check again."""

from __future__ import annotations

from datetime import time
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from disputes.models import ReminderSettings
from disputes.services import reminders
from kamen_complaints.errors import DomainError, Forbidden
from kamen_complaints.forms import add_domain_error
from merchant.access import MerchantRequest, current_merchant, merchant_required, owner_forbidden

FIELD_OF_CODE = {"quiet_hours_empty": "quiet_end"}


class ReminderSettingsForm(forms.Form):
    quiet_hours = forms.BooleanField(
        label=gettext_lazy("Quiet hours"),
        required=False,
        help_text=gettext_lazy(
            "During quiet hours the 12-hour and 4-hour reminders wait until they end; the "
            "1-hour reminder always goes."
        ),
    )
    quiet_start = forms.TimeField(
        label=gettext_lazy("Quiet from"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=["%H:%M"],
        help_text=gettext_lazy("Beijing time, e.g. 23:00."),
    )
    quiet_end = forms.TimeField(
        label=gettext_lazy("Quiet until"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=["%H:%M"],
        help_text=gettext_lazy("Beijing time; may be on the next morning, e.g. 08:00."),
    )
    digest = forms.BooleanField(
        label=gettext_lazy("Daily digest at 10:00"),
        required=False,
        help_text=gettext_lazy("Every morning, the shop's open complaints by deadline."),
    )

    def clean_quiet_start(self) -> time:
        return cast(time, self.cleaned_data["quiet_start"]).replace(second=0, microsecond=0)

    def clean_quiet_end(self) -> time:
        return cast(time, self.cleaned_data["quiet_end"]).replace(second=0, microsecond=0)


def _initial(choice: ReminderSettings) -> dict[str, Any]:
    return {
        "quiet_hours": choice.quiet_hours,
        "quiet_start": choice.quiet_start,
        "quiet_end": choice.quiet_end,
        "digest": choice.digest,
    }


def _page(
    request: HttpRequest, form: ReminderSettingsForm | None, status: int = 200
) -> HttpResponse:
    merchant = current_merchant(request)
    is_owner = cast(MerchantRequest, request).merchant_is_owner
    choice = reminders.reminder_settings_of([merchant.pk])[merchant.pk]
    return render(
        request,
        "merchant/reminders.html",
        {
            "choice": choice,
            "form": form if is_owner else None,
            "is_owner": is_owner,
            "stages": ("12", "4", "1"),
        },
        status=status,
    )


@merchant_required
@require_http_methods(["GET", "POST"])
def reminders_page(request: HttpRequest) -> HttpResponse:
    """GET: the settings (and, for the owner, the form). POST: change them."""
    merchant = current_merchant(request)
    if request.method == "GET":
        choice = reminders.reminder_settings_of([merchant.pk])[merchant.pk]
        return _page(request, ReminderSettingsForm(initial=_initial(choice)))
    if not cast(MerchantRequest, request).merchant_is_owner:
        return owner_forbidden(request)
    form = ReminderSettingsForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        reminders.reminder_settings_update(
            merchant=merchant, actor=cast(User, request.user), **form.cleaned_data
        )
    except Forbidden:
        return owner_forbidden(request)
    except DomainError as exc:
        add_domain_error(form, exc, fields=FIELD_OF_CODE)
        return _page(request, form, status=400)
    messages.success(request, _("Saved. Reminders follow the new settings from now on."))
    return redirect("merchant:reminders")
