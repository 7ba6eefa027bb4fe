"""The buyer's pages of a complaint (README "Following a complaint"):

- /complaints/ — my complaints: status, the next deadline, the outcome; filter by status.
- /complaints/<number>/ — one complaint: the status in plain words and the clock that runs,
  the timeline, evidence, the message thread, the merchant's offer, and every action the
  buyer may take (each a POST to its own URL calling ONE service, then redirect → GET; a
  refusal re-renders the page with the error next to its field and the input kept).
- /complaints/<number>/live/status/ and /live/thread/ — the htmx partials the page polls, so
  a new offer or message shows without a reload (204 when nothing changed).
- /shops/<id>/ — a shop's complaint record (disputes.selectors.shop_record).

Only the complaint's buyer sees these complaint pages; anyone else gets the 404 page and an
anonymous visitor the login page."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from disputes import access, presenting, selectors, services
from disputes.buyer_forms import (
    FIELD_OF_CODE,
    AppealForm,
    EvidenceForm,
    MessageForm,
    RatingForm,
    RejectForm,
    StatusFilterForm,
    WithdrawForm,
)
from disputes.models import CORE_EVIDENCE, Dispute, EvidenceKind, Party, Role, Status
from disputes.page_actions import ComplaintPage
from disputes.services.rating import can_rate
from kamen_complaints.errors import DomainError
from kamen_complaints.files import private_file_response
from kamen_complaints.forms import add_domain_error

PAGE_SIZE = 20
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")


def _buyer(request: HttpRequest) -> User:
    return cast(User, request.user)


def _poll_seconds() -> int:
    # How often the open page asks for a new status or message (tests shorten it).
    return int(getattr(settings, "COMPLAINT_POLL_SECONDS", 10))


# --- My complaints ------------------------------------------------------------------------


@login_required
@require_GET
def my_complaints(request: HttpRequest) -> HttpResponse:
    filter_form = StatusFilterForm(request.GET)
    status_code = 200
    status = ""
    if filter_form.is_valid():
        status = filter_form.cleaned_data["status"]
    else:
        status_code = 400
    ids = selectors.buyer_complaints(_buyer(request), status=status or None).values_list(
        "pk", flat=True
    )
    page = Paginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for dispute in selectors.complaint_rows(page.object_list):
        due, due_label = presenting.next_deadline(dispute)
        rows.append({"dispute": dispute, "due": due, "due_label": due_label})
    context = {"page": page, "rows": rows, "filter_form": filter_form, "status": status}
    return render(request, "disputes/my_complaints.html", context, status=status_code)


# --- One complaint ------------------------------------------------------------------------


def _own(request: HttpRequest, number: str) -> Dispute:
    everything = request.GET.get("all") == "1"
    dispute = selectors.buyer_complaint(_buyer(request), number, everything=everything)
    if dispute is None:
        raise Http404(_("No such complaint."))
    return dispute


def _version(dispute: Dispute) -> str:
    """Changes whenever the status part of the page would: a transition, a clock, an event."""
    latest = [e.pk for e in presenting.recent_events(dispute)[:1]]
    latest += [e.pk for e in getattr(dispute, "recent_messages", [])[:1]]
    last = max(latest, default=0)
    return f"{dispute.updated_at.timestamp():.6f}-{last}"


def _status_context(request: HttpRequest, dispute: Dispute) -> dict[str, Any]:
    actions = set(access.actions(dispute, access.Viewer.buyer(_buyer(request))))
    payouts = selectors.complaint_payouts(dispute)
    info_from_me = (
        dispute.status == Status.UNDER_REVIEW
        and dispute.review_paused_at is not None
        and dispute.info_requested_from == Party.BUYER
    )
    rating = getattr(dispute, "rating", None)  # joined by the selector; None when unrated
    return {
        "dispute": dispute,
        "summary": presenting.status_summary(dispute),
        "actions": actions,
        "can_answer_offer": "accept-offer" in actions,
        "can_withdraw": "withdraw" in actions,
        "can_add_evidence": "evidence" in actions,
        "can_appeal": "appeal" in actions,
        "can_message": "messages" in actions,
        "can_rate": can_rate(dispute) and rating is None,
        "rating": rating,
        "info_from_me": info_from_me,
        "payout_lines": presenting.payout_lines(payouts),
        "reject_form": RejectForm(),
        "version": _version(dispute),
        "poll_seconds": _poll_seconds(),
    }


def _thread_context(dispute: Dispute) -> dict[str, Any]:
    return {
        "dispute": dispute,
        "thread": [(m, presenting.who(m.role)) for m in presenting.messages(dispute)],
        "thread_version": presenting.thread_version(dispute),
        "poll_seconds": _poll_seconds(),
    }


def _page(
    request: HttpRequest,
    dispute: Dispute,
    bound: dict[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    evidence = list(dispute.evidence.all())
    present = {e.kind for e in evidence if e.role == Role.BUYER}
    records = presenting.record_summaries(dispute, evidence)
    context: dict[str, Any] = {
        **_status_context(request, dispute),
        **_thread_context(dispute),
        "timeline": presenting.timeline(dispute),
        "recent_limit": selectors.RECENT_EVENTS,
        "showing_all": request.GET.get("all") == "1",
        "evidence": [
            {
                "item": e,
                "image": e.content_type in IMAGE_TYPES,
                "who": presenting.who(e.role),
                "record": records.get(e.pk),
            }
            for e in evidence
        ],
        "checklist": [
            {"label": EvidenceKind(k).label, "present": k in present} for k in CORE_EVIDENCE
        ],
        "message_form": MessageForm(),
        "evidence_form": EvidenceForm(),
        "appeal_form": AppealForm(),
        "rating_form": RatingForm(),
        "open_form": "",
    }
    for name, form in (bound or {}).items():
        context[name] = form
        context["open_form"] = name
    return render(request, "disputes/complaint.html", context, status=status)


@login_required
@require_GET
def complaint(request: HttpRequest, number: str) -> HttpResponse:
    return _page(request, _own(request, number))


@login_required
@require_GET
def complaint_status_part(request: HttpRequest, number: str) -> HttpResponse:
    """The status, clock, offer and actions block, for htmx polling: 204 (nothing to swap)
    while the complaint has not changed since the version the page holds."""
    dispute = _own(request, number)
    if request.GET.get("v") == _version(dispute):
        return HttpResponse(status=204)
    # The timeline travels with it (an out-of-band swap): a new status has a new event.
    context = {
        **_status_context(request, dispute),
        "timeline": presenting.timeline(dispute),
        "recent_limit": selectors.RECENT_EVENTS,
        "showing_all": False,
    }
    return render(request, "disputes/_complaint_status_part.html", context)


@login_required
@require_GET
def complaint_thread_part(request: HttpRequest, number: str) -> HttpResponse:
    return _complaint.thread_part(request, number, _thread_context)


_complaint = ComplaintPage(load=_own, page=_page, url_name="disputes:complaint")
_act = _complaint.act


@login_required
@require_POST
def complaint_message(request: HttpRequest, number: str) -> HttpResponse:
    user = _buyer(request)
    return _act(
        request,
        number,
        MessageForm(request.POST),
        "message_form",
        lambda d, data: services.dispute_message(dispute=d, user=user, body=data["body"]),
        _("Your message was sent."),
        "thread",
    )


@login_required
@require_POST
def complaint_evidence(request: HttpRequest, number: str) -> HttpResponse:
    user = _buyer(request)
    return _act(
        request,
        number,
        EvidenceForm(request.POST, request.FILES),
        "evidence_form",
        lambda d, data: services.dispute_add_evidence(
            dispute=d, user=user, kind=data["kind"], file=data["file"], note=data["note"]
        ),
        _("Your evidence was added."),
        "evidence",
        throttle="evidence",
    )


@login_required
@require_POST
def complaint_accept_offer(request: HttpRequest, number: str) -> HttpResponse:
    user = _buyer(request)
    return _act(
        request,
        number,
        forms.Form(request.POST),
        "accept_form",
        lambda d, data: services.dispute_accept_offer(dispute=d, buyer=user),
        _("You accepted the offer. The refund is on its way."),
    )


@login_required
@require_POST
def complaint_reject_offer(request: HttpRequest, number: str) -> HttpResponse:
    user = _buyer(request)
    return _act(
        request,
        number,
        RejectForm(request.POST),
        "reject_form",
        lambda d, data: services.dispute_reject_offer(
            dispute=d, buyer=user, message=data["message"]
        ),
        _("You rejected the offer. The platform now reviews the complaint."),
    )


@login_required
@require_POST
def complaint_appeal(request: HttpRequest, number: str) -> HttpResponse:
    user = _buyer(request)
    return _act(
        request,
        number,
        AppealForm(request.POST),
        "appeal_form",
        lambda d, data: services.dispute_appeal(dispute=d, user=user, reason=data["reason"]),
        _("Your appeal was sent. The platform reviews the complaint again."),
    )


@login_required
@require_POST
def complaint_rate(request: HttpRequest, number: str) -> HttpResponse:
    user = _buyer(request)
    return _act(
        request,
        number,
        RatingForm(request.POST),
        "rating_form",
        lambda d, data: services.dispute_rate(
            dispute=d, buyer=user, score=data["score"], comment=data["comment"]
        ),
        _("Thank you for your rating."),
        "rating",
    )


@login_required
@require_http_methods(["GET", "POST"])
def complaint_withdraw(request: HttpRequest, number: str) -> HttpResponse:
    """Withdrawing asks for a confirmation first (a ticked box), with or without JavaScript."""
    dispute = _own(request, number)
    status = 200
    if request.method == "POST":
        form = WithdrawForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                services.dispute_withdraw(
                    dispute=dispute, buyer=_buyer(request), message=form.cleaned_data["message"]
                )
            except DomainError as exc:
                add_domain_error(form, exc, fields=FIELD_OF_CODE)
                status = exc.status_code
            else:
                messages.success(request, _("You withdrew the complaint."))
                return redirect("disputes:complaint", number=number)
    else:
        form = WithdrawForm()
    context = {"dispute": dispute, "form": form}
    return render(request, "disputes/complaint_withdraw.html", context, status=status)


@login_required
@require_GET
def complaint_evidence_image(request: HttpRequest, number: str, pk: int) -> FileResponse:
    """An image the buyer's complaint holds, inline (the thumbnail and its full-size view).
    Images only — they were checked by content at upload — sandboxed and never cached by
    a shared cache; PDFs go through the review page (disputes.views.evidence_review)."""
    dispute = _own(request, number)
    evidence = next((e for e in dispute.evidence.all() if e.pk == pk), None)
    if evidence is None or evidence.content_type not in IMAGE_TYPES:
        raise Http404(_("No such evidence file."))
    return private_file_response(
        evidence.stored_name,
        content_type=evidence.content_type,
        filename=evidence.file_name,
        max_age=3600,
    )


# --- Shop record --------------------------------------------------------------------------


@require_GET
def shop(request: HttpRequest, pk: int) -> HttpResponse:
    merchant = selectors.public_shop(pk)
    if merchant is None:
        raise Http404(_("No such shop."))
    record = selectors.shop_record(merchant.pk)
    context = {
        "merchant": merchant,
        "record": record,
        "min_orders": selectors.SHOP_RECORD_MIN_ORDERS,
    }
    return render(request, "disputes/shop.html", context)
