"""The complaint form (/orders/<number>/complain/, README "Filing a complaint in the
browser"): a Django form, files kept as a draft (disputes/drafts.py), one service
(`dispute_file`, as the API)."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from disputes import services
from disputes.drafts import Draft
from disputes.evidence_files import clean_evidence_file, sanitise_original_name
from disputes.forms import (
    EVIDENCE_KINDS,
    FIELD_OF_CODE,
    REASON_HELP,
    ComplaintForm,
    evidence_field,
)
from disputes.models import CORE_EVIDENCE, EvidenceKind
from disputes.services.clock import fast_track_buyer_refusals, fast_track_refusal_text
from disputes.services.filing import FilingState, filing_state
from disputes.services.order_chat import chat_record_messages
from kamen_complaints.api import (
    throttle_peek,
    throttle_record,
    throttle_wait,
    throttled_message,
)
from kamen_complaints.errors import DomainError
from kamen_complaints.files import private_file_response
from kamen_complaints.forms import add_domain_error
from kamen_complaints.middleware import keeps_oversized_form
from kamen_complaints.money import format_yuan
from kamen_complaints.timefmt import shanghai
from orders.models import Order


def _complainable_order(request: HttpRequest, number: str) -> Order:
    """The caller's own paid order; 404 for anyone else's (no existence leak)."""
    order = (
        Order.objects.filter(number=number, buyer_id=request.user.pk)
        .select_related("product", "merchant")
        .first()
    )
    if order is None:
        raise Http404(_("No such order."))
    return order


def _store_uploads(request: HttpRequest, form: ComplaintForm, draft: Draft, policy: Any) -> None:
    """Check each new file by content now (the service's own check) and keep the good ones
    in the draft; a bad file is named next to its kind and not kept."""
    for kind in EVIDENCE_KINDS:
        name = evidence_field(kind)
        for upload in request.FILES.getlist(name):
            if len(draft.files) >= policy.max_evidence_files:
                form.add_error(
                    name,
                    _("A party attaches at most %(max)s evidence files to a complaint.")
                    % {"max": policy.max_evidence_files},
                )
                break
            try:
                clean = clean_evidence_file(upload, max_bytes=policy.max_evidence_bytes)
            except DomainError as exc:
                form.add_error(name, f"{_shown_name(upload.name or '')}: {exc.message}")
                continue
            draft.add(kind, clean)


def _shown_name(name: str) -> str:
    """The uploader's file name, made safe to show, with the extension it came with."""
    _stem, dot, suffix = name.rpartition(".")
    extension = suffix if dot and suffix.isalnum() and len(suffix) <= 10 else "file"
    return sanitise_original_name(name, extension=extension)


def _too_large_message(size: int) -> str:
    return _(
        "The files sent together were %(size)s, more than the %(limit)s one sending can carry, "
        "so none of them was attached. What you typed is kept below: attach fewer files at a "
        "time or smaller photos (files already marked attached stay attached)."
    ) % {"size": filesizeformat(size), "limit": filesizeformat(settings.MAX_REQUEST_BODY_SIZE)}


@keeps_oversized_form
@login_required
@require_http_methods(["GET", "POST"])
def complaint_file(request: HttpRequest, number: str) -> HttpResponse:
    """The complaint form. POST checks and keeps the uploaded files as a draft first
    (disputes/drafts.py), then files through `dispute_file` — the service the API calls — and
    goes to the complaint; a refusal re-renders the form with the error next to its field,
    everything typed kept and every accepted file still attached."""
    order = _complainable_order(request, number)
    buyer = cast(User, request.user)
    if order.paid_at is None:
        messages.info(
            request,
            _("Order %(number)s was not paid; only a paid order can be complained about.")
            % {"number": order.number},
        )
        return redirect("orders:order", number=order.number)
    state = filing_state(buyer=buyer, order=order)
    live = state.complaint if state.complaint and state.complaint.status != "withdrawn" else None
    if live is not None:
        messages.info(request, _("This order already has a complaint; here it is."))
        return redirect("disputes:complaint", number=live.number)
    draft = Draft(request, order.number)
    policy = state.policy
    status = 200
    evidence_errors: list[str] = []
    if request.method == "POST":
        form = ComplaintForm(
            request.POST, request.FILES, order=order, draft_ids=[f.id for f in draft.files]
        )
        wait = throttle_wait(request, "filing_attempt")
        if wait is not None:
            form.add_error(None, throttled_message(wait))
            response = _complaint_form_page(request, order, form, draft, state, evidence_errors)
            response.status_code = 429
            response["Retry-After"] = str(wait)
            return response
        too_large = getattr(request, "too_large", None)
        if too_large is not None:
            # The body was over the limit: its files were read past and thrown away
            # (kamen_complaints/middleware.py); the typed text is here, so the form comes back
            # with it and says why nothing new was attached.
            evidence_errors.append(_too_large_message(too_large))
            response = _complaint_form_page(request, order, form, draft, state, evidence_errors)
            response.status_code = 413
            return response
        draft.remove(request.POST.getlist("remove_draft"))
        _store_uploads(request, form, draft, policy)
        if form.is_valid():
            wait = throttle_peek(request, "filing")
            if wait is not None:
                form.add_error(None, throttled_message(wait))
                status = 429
        if form.is_valid():
            try:
                dispute = services.dispute_file(
                    buyer=buyer,
                    order=order,
                    reason=form.cleaned_data["reason"],
                    claimed_amount=form.cleaned_data["claimed_amount"],
                    description=form.cleaned_data["description"],
                    card_keys=form.cleaned_data.get("card_keys") or [],
                    remedy_wanted=form.cleaned_data.get("remedy_wanted") or "refund",
                    evidence=draft.uploads(),
                )
            except DomainError as exc:
                if exc.code == "evidence_invalid":
                    evidence_errors.append(exc.message)
                else:
                    add_domain_error(form, exc, fields=FIELD_OF_CODE)
                status = exc.status_code
            else:
                throttle_record(request, "filing")
                draft.discard()
                if dispute.fast_track:
                    messages.success(
                        request,
                        _(
                            "Complaint %(number)s is filed. The platform has paid you %(amount)s "
                            "at once (fast track); it goes back to where you paid from."
                        )
                        % {"number": dispute.number, "amount": format_yuan(dispute.paid_out)},
                    )
                else:
                    messages.success(
                        request,
                        _("Complaint %(number)s is filed; the shop must answer by %(due)s.")
                        % {
                            "number": dispute.number,
                            "due": shanghai(dispute.merchant_response_due),
                        },
                    )
                return redirect("disputes:complaint", number=dispute.number)
        elif status == 200:
            status = 400
    else:
        form = ComplaintForm(order=order, draft_ids=[f.id for f in draft.files])
    response = _complaint_form_page(request, order, form, draft, state, evidence_errors)
    response.status_code = status
    if status == 429:
        response["Retry-After"] = str(throttle_peek(request, "filing") or 60)
    return response


def _complaint_form_page(
    request: HttpRequest,
    order: Order,
    form: ComplaintForm,
    draft: Draft,
    state: FilingState,
    evidence_errors: list[str],
) -> HttpResponse:
    policy = state.policy
    # The order chat filing attaches as the chat record (disputes.services.order_chat).
    chat_messages = chat_record_messages(order)
    evidence = [
        {
            "field": form[evidence_field(kind)],
            "kind": kind,
            "core": kind in CORE_EVIDENCE,
            "drafts": draft.of_kind(kind),
            "chat_messages": chat_messages if kind == EvidenceKind.CHAT_RECORD else 0,
        }
        for kind in EVIDENCE_KINDS
    ]
    attached = {f.kind for f in draft.files} | (
        {EvidenceKind.CHAT_RECORD} if chat_messages else set()
    )
    # What the fast-track box promises is the filing rule's own answer for this buyer; the
    # script only ticks off the proofs still missing (static/js/complaint_form.js).
    buyer = cast(User, request.user)
    fast_track_refusals = [
        fast_track_refusal_text(code, policy) for code in fast_track_buyer_refusals(buyer, policy)
    ]
    context = {
        "order": order,
        "form": form,
        "state": state,
        "fast_track_refusals": fast_track_refusals,
        "policy": policy,
        "evidence": evidence,
        "evidence_errors": evidence_errors,
        "reasons": [(radio, REASON_HELP.get(radio.data["value"], "")) for radio in form["reason"]],
        "core_kinds": [(kind, EvidenceKind(kind).label) for kind in CORE_EVIDENCE],
        "core_present": attached,
        "core_missing": [
            EvidenceKind(kind).label for kind in CORE_EVIDENCE if kind not in attached
        ],
        "max_mb": policy.max_evidence_bytes // (1024 * 1024),
        "max_request_bytes": settings.MAX_REQUEST_BODY_SIZE,
    }
    response = render(request, "disputes/complaint_form.html", context)
    add_never_cache_headers(response)
    return response


@login_required
@require_GET
def complaint_draft_file(request: HttpRequest, number: str, file_id: str) -> FileResponse:
    """A file of the caller's own draft (a thumbnail on the form), to its uploader's session
    only: images inline (pixels the platform re-encoded), anything else as a download."""
    order = _complainable_order(request, number)
    item = Draft(request, order.number).get(file_id)
    if item is None:
        raise Http404
    return private_file_response(
        item.stored,
        content_type=item.content_type,
        filename=item.name,
        as_attachment=not item.is_image,
    )
