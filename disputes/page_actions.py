"""One way a complaint page runs an action, for the buyer's page and the merchant's alike
(docs/style.md: views.py): validate the form, call the one service, then POST → redirect → GET
with a confirmation; a refusal re-renders the page with the service's words next to the
field and the input kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from disputes import presenting
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


@dataclass(frozen=True)
class ComplaintPage:
    """One reader's complaint page (the buyer's, the merchant's): how it loads a complaint,
    draws the page and names its URL. Its actions and its polled thread run here, once."""

    load: Callable[[HttpRequest, str], Dispute]
    page: Callable[..., HttpResponse]
    url_name: str

    def act(
        self,
        request: HttpRequest,
        number: str,
        form: forms.Form,
        name: str,
        call: Callable[[Dispute, dict[str, Any]], object],
        done: str,
        anchor: str = "",
        throttle: str | None = None,
    ) -> HttpResponse:
        return run_action(
            request,
            number,
            load=self.load,
            page=self.page,
            url_name=self.url_name,
            form=form,
            name=name,
            call=call,
            done=done,
            anchor=anchor,
            throttle=throttle,
        )

    def thread_part(
        self, request: HttpRequest, number: str, context: Callable[[Dispute], dict[str, Any]]
    ) -> HttpResponse:
        """The thread, for htmx polling: 204 while no new message since the version shown."""
        dispute = self.load(request, number)
        if request.GET.get("v") == presenting.thread_version(dispute):
            return HttpResponse(status=204)
        return render(request, "disputes/_thread.html", context(dispute))
