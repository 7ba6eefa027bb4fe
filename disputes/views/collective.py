"""The "我也遇到了" join: a buyer of a collective case's batch or channel joins it from their order
page (the notice of disputes/templatetags/collective_tags.py), in one POST without
JavaScript. The core's service files the complaint carrying the case's evidence, so the three
proofs are not asked again (docs/collective-cases.md); the page then opens the new complaint.
A refusal (not a buyer of the batch, already complained, the case closed) comes back to the
order page as a translated message; nothing is lost, there was nothing to type."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from disputes.services.collective import collective_join
from kamen_complaints.errors import DomainError
from orders.models import Order


@login_required
@require_POST
def collective_join_view(request: HttpRequest, number: str) -> HttpResponse:
    order = Order.objects.filter(number=number, buyer_id=request.user.pk).first()
    if order is None:
        raise Http404(_("No such order."))
    try:
        complaint = collective_join(user=cast(User, request.user), order=order)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("orders:order", number)
    messages.success(
        request,
        _("You joined the collective case: complaint %(number)s carries its evidence.")
        % {"number": complaint.number},
    )
    return redirect("disputes:complaint", number=complaint.number)
