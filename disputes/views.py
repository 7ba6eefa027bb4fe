"""The user's in-app notifications (/notifications/): every change that concerns them —
a new complaint, an answer, an offer, a ruling, a payment — and the clock's reminders, in the
reader's language (disputes/notices.py). Opening a page of them marks those read; "mark all
as read" (POST) the rest.

And the review pages of a party's PDF evidence (/complaints/<number>/evidence/<id>/review/):
a warning before the original, and its first pages drawn as images (disputes/pdf_review.py).

And the complaint form (/orders/<number>/complain/, README "Filing a complaint in the
browser"): a Django form, files kept as a draft (disputes/drafts.py), one service
(`dispute_file`, as the API)."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from disputes import access, pdf_review, selectors, services
from disputes.drafts import Draft
from disputes.evidence_files import clean_evidence_file, sanitise_original_name
from disputes.forms import EVIDENCE_KINDS, REASON_HELP, ComplaintForm, evidence_field
from disputes.models import CORE_EVIDENCE, Evidence, EvidenceKind
from disputes.services.filing import FilingState, filing_state
from kamen_complaints.api import (
    throttle_peek,
    throttle_record,
    throttle_wait,
    throttled_message,
)
from kamen_complaints.errors import DomainError
from kamen_complaints.middleware import keeps_oversized_form
from kamen_complaints.money import format_yuan
from orders.models import Order
from orders.templatetags.kamen import shanghai

PAGE_SIZE = 20


@login_required
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    """One line per complaint and minute, in the reader's language, each linking to its
    complaint. Looking changes nothing (a GET never writes): a line is read when its reader
    says so, by its own "Mark as read" button or "Mark all as read" (`notifications_read`)."""
    user = cast(User, request.user)
    page = Paginator(selectors.inbox_groups(user), PAGE_SIZE).get_page(request.GET.get("page"))
    lines = selectors.inbox_lines(user, list(page.object_list))
    context = {"page": page, "lines": lines, "unread": selectors.unread_count(user)}
    return render(request, "disputes/notifications.html", context)


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    """POST: mark read the notifications named in `ids` (one line's button), or all of the
    reader's (no `ids`); only the reader's own are touched. Back to the page it came from."""
    raw = request.POST.getlist("ids")
    ids = [int(value) for value in raw if value.isascii() and value.isdigit() and len(value) < 19]
    if raw and not ids:
        return redirect("disputes:notifications")  # nothing recognisable named: nothing read
    services.notifications_mark_read(user=cast(User, request.user), ids=ids if raw else None)
    page = request.POST.get("page", "")
    url = reverse("disputes:notifications")
    if page.isascii() and page.isdigit() and page != "1" and len(page) < 9:
        url += f"?page={page}"
    return redirect(url)


# --- Reviewing a party's PDF before opening it (docs/security/merchants-and-evidence.md) ---


def _pdf_evidence(request: HttpRequest, number: str, pk: int) -> Evidence:
    """The PDF evidence file, for exactly who may download it (disputes.api.EvidenceFileView):
    the parties and staff holding disputes.view_dispute; a merchant never gets the platform's
    own record. Anyone else, and any file that is not a PDF, is a 404."""
    dispute = selectors.disputes_visible_to(request.user).filter(number=number).first()
    if dispute is None:
        raise Http404
    visible = access.visible_evidence(dispute, access.Viewer.of(request).role(dispute))
    evidence = next((e for e in visible if e.pk == pk), None)
    if evidence is None or evidence.content_type != "application/pdf":
        raise Http404
    return evidence


def _pdf_bytes(evidence: Evidence) -> bytes:
    if evidence.size > pdf_review.MAX_INPUT_BYTES:
        raise pdf_review.ReviewUnavailable(
            _("This PDF is too large for a review copy (at most %(mb)s MB).")
            % {"mb": pdf_review.MAX_INPUT_BYTES // (1024 * 1024)},
            kept=True,
        )
    with default_storage.open(evidence.stored_name, "rb") as stored:
        return cast(bytes, stored.read(pdf_review.MAX_INPUT_BYTES + 1))


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def evidence_review(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    """The warning page a PDF link leads to: what the file is (its SHA-256), that it was
    uploaded by a party and may carry active content, and two ways on: the review copy (the
    pages as images) or the byte-exact original as a download."""
    evidence = _pdf_evidence(request, number, pk)
    show_pages = request.GET.get("pages") == "1"
    pages: list[int] = []
    total = 0
    problem = ""
    if not pdf_review.available():
        problem = _(
            "No review copy can be made here: poppler-utils (pdftoppm) is not installed. "
            "Download the original only if you must, and open it in a sandboxed viewer."
        )
    elif show_pages:
        try:
            total = pdf_review.kept_page_count(evidence.stored_name, lambda: _pdf_bytes(evidence))
        except pdf_review.ReviewUnavailable as exc:
            problem = exc.message
        pages = list(range(1, min(total, pdf_review.MAX_PAGES) + 1))
    context = {
        "evidence": evidence,
        "number": number,
        "download_url": reverse("api-dispute-evidence-file", args=[number, evidence.pk]),
        "show_pages": show_pages,
        "pages": pages,
        "total": total,
        "more": total > len(pages),
        "max_pages": pdf_review.MAX_PAGES,
        "problem": problem,
        "review_available": pdf_review.available(),
    }
    return _private(render(request, "disputes/evidence_review.html", context))


@login_required
@require_GET
def evidence_review_page(request: HttpRequest, number: str, pk: int, page: int) -> HttpResponse:
    """One page of the review copy, drawn by pdftoppm the first time and kept: an image the
    platform made, served inline but sandboxed, never the PDF itself."""
    evidence = _pdf_evidence(request, number, pk)
    try:
        png = pdf_review.kept_page(evidence.stored_name, lambda: _pdf_bytes(evidence), page)
    except pdf_review.ReviewUnavailable as exc:
        response = HttpResponse(exc.message, status=404, content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(png, content_type="image/png")
        stem = evidence.file_name.rsplit(".", 1)[0]
        response["Content-Disposition"] = f'inline; filename="{stem}-page-{page}.png"'
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return _private(response)


# --- Filing a complaint in the browser (/orders/<number>/complain/) -------------------------


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
                    form.add_domain_error(exc)
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
    evidence = [
        {
            "field": form[evidence_field(kind)],
            "kind": kind,
            "core": kind in CORE_EVIDENCE,
            "drafts": draft.of_kind(kind),
        }
        for kind in EVIDENCE_KINDS
    ]
    context = {
        "order": order,
        "form": form,
        "state": state,
        "policy": policy,
        "evidence": evidence,
        "evidence_errors": evidence_errors,
        "reasons": [(radio, REASON_HELP.get(radio.data["value"], "")) for radio in form["reason"]],
        "core_kinds": [(kind, EvidenceKind(kind).label) for kind in CORE_EVIDENCE],
        "core_present": {f.kind for f in draft.files},
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
    response = FileResponse(
        default_storage.open(item.stored, "rb"),
        as_attachment=not item.is_image,
        filename=item.name,
        content_type=item.content_type,
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
