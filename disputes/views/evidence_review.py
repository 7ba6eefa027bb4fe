"""The review pages of a party's PDF evidence (/complaints/<number>/evidence/<id>/review/):
a warning before the original, and its first pages drawn as images (disputes/pdf_review.py;
docs/security/merchants-and-evidence.md)."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from disputes import access, pdf_review, selectors
from disputes.models import Evidence
from kamen_complaints.files import mark_private


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
    return mark_private(render(request, "disputes/evidence_review.html", context))


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
    return mark_private(response, sandbox=True)
