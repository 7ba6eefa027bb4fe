"""The shop's collective cases (README "Merchant dashboard", docs/collective-cases.md):
/merchant/cases/<id>/ shows one case with its figures — keys, delivered, found bad, refunded,
recovered — the complaints in it and the orders the platform refunded without one; the
dashboard's home lists the open ones. The shop answers once for the whole batch: names the
supplier and the lot, withdraws the rest of the batch from sale, replaces the bad keys from
good stock — one POST calling the core's service (disputes.services.collective
`collective_case_answer`), which is the one home of who may answer (the shop's team) and
refuses anyone else."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from disputes import selectors
from disputes.services.collective import collective_case_answer
from kamen_complaints.errors import DomainError, Forbidden
from kamen_complaints.forms import add_domain_error
from merchant.access import current_merchant, merchant_required


class CollectiveAnswerForm(forms.Form):
    supplier = forms.CharField(
        label=gettext_lazy("Supplier"),
        max_length=120,
        help_text=gettext_lazy("Who sold the shop these keys."),
    )
    lot = forms.CharField(
        label=gettext_lazy("Supplier's lot"),
        max_length=120,
        required=False,
        help_text=gettext_lazy("The supplier's lot or order number, if it has one."),
    )
    note = forms.CharField(
        label=gettext_lazy("Your answer"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "What happened, in a few words; staff and the buyers' complaints read it."
        ),
    )
    withdraw_rest = forms.BooleanField(
        label=gettext_lazy("Withdraw the rest of the batch from sale"),
        required=False,
        initial=True,
    )
    replace = forms.BooleanField(
        label=gettext_lazy("Replace the bad keys from good stock"),
        required=False,
        help_text=gettext_lazy(
            "Each buyer whose key was found bad and who was not refunded gets a key of the same "
            "product from another import."
        ),
    )


def _page(
    request: HttpRequest, pk: int, form: CollectiveAnswerForm | None, status: int = 200
) -> HttpResponse:
    merchant = current_merchant(request)
    case = selectors.collective_case(pk, merchant_id=merchant.pk)
    if case is None:
        raise Http404(_("No such collective case."))
    answerable = case.answered_at is None and case.status != "closed"
    return render(
        request,
        "merchant/collective_case.html",
        {
            "case": case,
            "members": list(selectors.collective_members(case.pk)),
            "refunds": list(selectors.collective_refunds_without_complaint(case.pk)),
            "form": form if answerable else None,
            "answerable": answerable,
        },
        status=status,
    )


@merchant_required
@require_http_methods(["GET", "POST"])
def collective_case(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the case (and, while unanswered and open, the answer form). POST: answer."""
    merchant = current_merchant(request)
    if request.method == "GET":
        return _page(request, pk, CollectiveAnswerForm())
    case = selectors.collective_case(pk, merchant_id=merchant.pk)
    if case is None:
        raise Http404(_("No such collective case."))
    form = CollectiveAnswerForm(request.POST)
    if not form.is_valid():
        return _page(request, pk, form, status=400)
    try:
        collective_case_answer(case=case, user=cast(User, request.user), **form.cleaned_data)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        add_domain_error(form, exc, fields={"supplier_required": "supplier", "invalid": "note"})
        return _page(request, pk, form, status=exc.status_code)
    messages.success(request, _("Your answer for the batch is recorded."))
    return redirect("merchant:collective_case", pk=pk)
