"""One way a complaint page runs an action, for the buyer's page and the merchant's alike
(docs/style.md: views.py): validate the form, call the one service, then POST → redirect → GET
with a confirmation; a refusal re-renders the page with the service's words next to the
field and the input kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from disputes.buyer_forms import FIELD_OF_CODE
from disputes.models import Dispute
from kamen_complaints.api import throttle_wait, throttled_message
from kamen_complaints.errors import DomainError
from kamen_complaints.forms import add_domain_error


def run_action(
    request: HttpRequest,
    number: str,
    *,
    load: Callable[[HttpRequest, str], Dispute],
    page: Callable[..., HttpResponse],
    url_name: str,
    form: forms.Form,
    name: str,
    call: Callable[[Dispute, dict[str, Any]], object],
    done: str,
    anchor: str = "",
    throttle: str | None = None,
) -> HttpResponse:
    """`throttle`: a rate scope (kamen_complaints.api.throttles) every attempt counts against,
    checked before the form is read (evidence: each upload is decoded)."""
    dispute = load(request, number)
    status = 400
    wait = throttle_wait(request, throttle) if throttle else None
    if wait is not None:
        form.add_error(None, throttled_message(wait))
        response = page(request, dispute, {name: form}, status=429)
        response["Retry-After"] = str(wait)
        return response
    if form.is_valid():
        try:
            call(dispute, form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc, fields=FIELD_OF_CODE)
            status = exc.status_code
            dispute = load(request, number)  # as it is now, after the refusal
        else:
            messages.success(request, done)
            url = reverse(url_name, args=[number])
            return redirect(f"{url}#{anchor}" if anchor else url)
    return page(request, dispute, {name: form}, status=status)
