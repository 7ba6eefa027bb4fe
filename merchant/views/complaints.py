"""The merchant dashboard's complaint pages (README "Merchant dashboard").

- /merchant/complaints/ — the inbox: open complaints by the nearest deadline (a countdown
  that turns amber under 4 h and red under 1 h), counts per status, filters by status,
  reason and product, search by complaint or order number; resolved ones in a second tab.
- /merchant/complaints/<number>/ — one complaint: the buyer's claim and evidence, the
  platform's own records (delivery, key reveals: times only), the timeline, the messages and
  the answer forms. Each form is a plain POST to its own URL calling ONE service (the API's),
  then redirect → GET; a refusal re-renders the page with the error next to its field.

The shop's owner and its team members alike (merchant.access.merchant_required); a
complaint of another shop is the 404 page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from disputes import access, deadlines, presenting, selectors, services
from disputes.models import (
    OPEN_STATUSES,
    DecidedBy,
    Dispute,
    Party,
    Role,
    Status,
)
from disputes.page_actions import ComplaintPage
from escrow.selectors import deposit_summary
from kamen_complaints.files import private_file_response
from kamen_complaints.forms import own_ids
from kamen_complaints.money import format_yuan
from merchant.access import current_merchant, merchant_required
from merchant.forms import (
    AcceptRefundForm,
    AcceptReplaceForm,
    ContestForm,
    EvidenceForm,
    InboxFilterForm,
    MessageForm,
    OfferForm,
)
from orders import selectors as order_selectors
from orders.models import ProductKind

PAGE_SIZE = 20
# The inbox's countdowns turn amber, then red, when this little time is left (hours).
AMBER_HOURS = 4
RED_HOURS = 1
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _poll_seconds() -> int:
    return int(getattr(settings, "COMPLAINT_POLL_SECONDS", 10))


# --- How a complaint reads to its merchant ---------------------------------------------------


def deadline_label(dispute: Dispute) -> str:
    """Whose deadline the row's countdown is (which one runs: disputes.deadlines)."""
    column = deadlines.running_field(dispute)
    if column == "merchant_response_due":
        return _("Answer by")
    if column == "buyer_response_due":
        return _("The buyer answers your offer by")
    if column == "info_due":
        if dispute.info_requested_from == Party.MERCHANT:
            return _("Your information is due by")
        return _("The buyer's information is due by")
    if column == "review_due":
        return _("The platform decides by")
    return ""


def _decided_by(dispute: Dispute) -> str:
    if dispute.decided_by == DecidedBy.MERCHANT:
        return _("you agreed")
    if dispute.decided_by == DecidedBy.BUYER:
        return _("the buyer accepted your offer")
    if dispute.decided_by == DecidedBy.STAFF:
        return _("decided by the platform")
    if dispute.decided_by == DecidedBy.SYSTEM:
        if presenting.decided_automatically(dispute):
            return _("decided by the platform's automatic check")
        return _("decided by the platform's clock")
    return ""


def status_sentence(dispute: Dispute) -> str:
    """The status in one plain sentence, as the merchant reads it."""
    s = dispute.status
    due = presenting.short_time(deadlines.running_deadline(dispute))
    claimed = format_yuan(dispute.claimed_amount)
    if s == Status.AWAITING_MERCHANT:
        if dispute.fast_track:
            return _(
                "A small claim: the platform already paid the buyer %(paid)s. Answer by "
                "%(due)s — accepting, or no answer, recovers it from your deposit; contest if "
                "the complaint is wrong."
            ) % {"paid": format_yuan(dispute.paid_out), "due": due}
        return _(
            "Answer by %(due)s. Without an answer in time the buyer wins by default and "
            "%(amount)s is deducted from your deposit."
        ) % {"due": due, "amount": claimed}
    if s == Status.AWAITING_BUYER:
        return _(
            "You offered %(amount)s. The buyer answers by %(due)s; without an answer the offer "
            "counts as accepted."
        ) % {"amount": format_yuan(dispute.offer_amount), "due": due}
    if s == Status.UNDER_REVIEW:
        if dispute.review_paused_at is not None and dispute.info_requested_from == Party.MERCHANT:
            return _(
                "The platform asked you for information by %(due)s. Answer with a message or "
                "evidence below; the review resumes when you do."
            ) % {"due": due}
        if dispute.review_paused_at is not None:
            return _(
                "The platform asked the buyer for information by %(due)s; the review is paused "
                "until then."
            ) % {"due": due}
        return _("The platform reviews the complaint and decides by %(due)s.") % {"due": due}
    if s == Status.RESOLVED:
        return _("Resolved: %(outcome)s (%(decided)s).") % {
            "outcome": presenting.outcome_text(dispute.outcome, dispute.resolved_amount),
            "decided": _decided_by(dispute),
        }
    return _("The buyer withdrew the complaint.")


def _window(dispute: Dispute) -> timedelta | None:
    """The length of the merchant's answer window (for the bar); None for other clocks."""
    if dispute.status == Status.AWAITING_MERCHANT and dispute.merchant_response_due:
        return dispute.merchant_response_due - dispute.filed_at
    return None


def inbox_row(dispute: Dispute) -> dict[str, Any]:
    return {
        "dispute": dispute,
        "due": deadlines.running_deadline(dispute),
        "due_label": deadline_label(dispute),
        "window": _window(dispute),
    }


# --- Inbox ---------------------------------------------------------------------------------


@merchant_required
@require_GET
def complaints(request: HttpRequest) -> HttpResponse:
    merchant = current_merchant(request)
    products = list(order_selectors.merchant_products(merchant))
    form = InboxFilterForm(request.GET, products=products)
    status_code = 200
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {
            "status": data["status"],
            "reason": data["reason"],
            "product_id": data["product"],
            "search": data["q"],
        }
    else:
        status_code = 400
    tab = selectors.INBOX_CLOSED if request.GET.get("tab") == "closed" else selectors.INBOX_OPEN
    qs = selectors.merchant_inbox(merchant.pk, tab=tab, **filters)
    counts = selectors.merchant_status_counts(merchant.pk)
    open_count = sum(counts[s] for s in OPEN_STATUSES)
    closed_count = counts[Status.RESOLVED] + counts[Status.WITHDRAWN]
    paginator = Paginator(qs, PAGE_SIZE)
    filtered = any(filters.values())
    if not filtered:
        # The tab's size is already in the per-status counts: no second COUNT of the shop's
        # complaints (docs/benchmarks.md: the inbox at 10,000 open complaints).
        paginator.count = open_count if tab == selectors.INBOX_OPEN else closed_count
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "form": form,
        "tab": tab,
        "page": page,
        "rows": [inbox_row(d) for d in page.object_list],
        "counts": [{"status": s.value, "label": s.label, "count": counts[s.value]} for s in Status],
        "open_count": open_count,
        "closed_count": closed_count,
        "filtered": filtered,
        "query": _query_without_page(request),
        "amber_hours": AMBER_HOURS,
        "red_hours": RED_HOURS,
    }
    return render(request, "merchant/complaints.html", context, status=status_code)


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# --- One complaint -------------------------------------------------------------------------


def _own(request: HttpRequest, number: str) -> Dispute:
    dispute = selectors.merchant_complaint(
        current_merchant(request).pk, number, everything=request.GET.get("all") == "1"
    )
    if dispute is None:
        raise Http404(_("No such complaint."))
    return dispute


def _replacements_needed(dispute: Dispute) -> int:
    return len(dispute.card_keys.all()) or dispute.order.quantity


def _deposit_notes(dispute: Dispute, stock: int) -> dict[str, str]:
    """What each answer does to the deposit, said before it is submitted."""
    summary = deposit_summary(dispute.merchant)
    available = format_yuan(summary.available)
    claimed = format_yuan(dispute.claimed_amount)
    if dispute.fast_track:
        refund = _(
            "The platform already paid the buyer %(paid)s; it is recovered from your deposit. "
            "Available balance %(available)s."
        ) % {"paid": format_yuan(dispute.paid_out), "available": available}
    else:
        refund = _(
            "%(amount)s will be deducted from your deposit; available balance %(available)s."
        ) % {"amount": claimed, "available": available}
    return {
        "refund": refund,
        "replace": _(
            "Nothing is deducted from your deposit. %(needed)s card key(s) from stock go to "
            "the buyer (%(stock)s in stock)."
        )
        % {"needed": _replacements_needed(dispute), "stock": stock},
        "offer": _(
            "If the buyer accepts, the amount offered is deducted from your deposit (available "
            "balance %(available)s); if the buyer rejects it, the platform reviews the "
            "complaint."
        )
        % {"available": available},
        "contest": _(
            "%(amount)s stays held on your deposit until the platform decides; it is deducted "
            "only if the platform decides for the buyer."
        )
        % {"amount": claimed}
        if not dispute.fast_track
        else _(
            "If the platform decides for the buyer, the %(paid)s already paid is recovered from "
            "your deposit; if it decides for you, nothing is."
        )
        % {"paid": format_yuan(dispute.paid_out)},
    }


def _thread_context(dispute: Dispute) -> dict[str, Any]:
    return {
        "dispute": dispute,
        "thread": [
            (m, presenting.who(m.role, Role.MERCHANT)) for m in presenting.messages(dispute)
        ],
        "thread_version": presenting.thread_version(dispute),
        "thread_url": reverse("merchant:complaint_thread_part", args=[dispute.number]),
        "poll_seconds": _poll_seconds(),
    }


def _page(
    request: HttpRequest,
    dispute: Dispute,
    bound: dict[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    # The platform's own record (IP addresses, browsers) stays between buyer and platform;
    # the merchant sees delivery and reveal times below instead (disputes.access).
    evidence = access.visible_evidence(dispute, Role.MERCHANT)
    has_own_evidence = any(e.role == Role.MERCHANT for e in evidence)
    records = presenting.record_summaries(dispute, list(evidence))
    can_answer = access.merchant_may_answer(dispute, now)
    is_open = access.is_open(dispute)
    keyless = dispute.order.product.kind == ProductKind.PHONE_TOPUP
    stock = 0 if keyless else order_selectors.product_stock(dispute.order.product_id)
    due = deadlines.running_deadline(dispute)
    context: dict[str, Any] = {
        **_thread_context(dispute),
        "sentence": status_sentence(dispute),
        "due": due,
        "due_label": deadline_label(dispute),
        "window": _window(dispute),
        "amber_hours": AMBER_HOURS,
        "red_hours": RED_HOURS,
        "timeline": presenting.timeline(dispute, Role.MERCHANT),
        "recent_limit": selectors.RECENT_EVENTS,
        "showing_all": request.GET.get("all") == "1",
        "evidence": [
            {
                "item": e,
                "image": e.content_type in IMAGE_TYPES,
                "who": presenting.who(e.role, Role.MERCHANT),
                "record": records.get(e.pk),
            }
            for e in evidence
        ],
        "reveal_times": order_selectors.reveal_times(dispute.order_id),
        "can_answer": can_answer,
        "can_replace": can_answer and not keyless and not dispute.fast_track,
        "replace_refusal": (
            _("A phone top-up has no card key to replace.")
            if keyless
            else _("The buyer of a fast-tracked complaint was already paid; no replacement.")
            if dispute.fast_track
            else ""
        ),
        "can_offer": access.merchant_may_offer(dispute, now),
        "is_open": is_open,
        "can_message": dispute.status != Status.WITHDRAWN,
        "info_from_me": (
            dispute.status == Status.UNDER_REVIEW
            and dispute.review_paused_at is not None
            and dispute.info_requested_from == Party.MERCHANT
        ),
        "stock": stock,
        "needed": _replacements_needed(dispute),
        "notes": _deposit_notes(dispute, stock) if can_answer else {},
        "refund_form": AcceptRefundForm(),
        "replace_form": AcceptReplaceForm(),
        "offer_form": OfferForm(claimed=dispute.claimed_amount),
        "contest_form": ContestForm(has_evidence=has_own_evidence),
        "message_form": MessageForm(),
        "evidence_form": EvidenceForm(),
        "open_form": "",
    }
    for name, form in (bound or {}).items():
        context[name] = form
        context["open_form"] = name
    return render(request, "merchant/complaint.html", own_ids(context), status=status)


@merchant_required
@require_GET
def complaint(request: HttpRequest, number: str) -> HttpResponse:
    return _page(request, _own(request, number))


@merchant_required
@require_GET
def complaint_thread_part(request: HttpRequest, number: str) -> HttpResponse:
    return _complaint.thread_part(request, number, _thread_context)


_complaint = ComplaintPage(load=_own, page=_page, url_name="merchant:complaint")
_act = _complaint.act


@merchant_required
@require_POST
def complaint_accept_refund(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
    return _act(
        request,
        number,
        AcceptRefundForm(request.POST),
        "refund_form",
        lambda d, data: services.dispute_respond(
            dispute=d,
            merchant_user=user,
            action=services.Action.ACCEPT,
            remedy=services.Remedy.REFUND,
            message=data["message"],
        ),
        _("You accepted the complaint. The buyer is refunded."),
    )


@merchant_required
@require_POST
def complaint_accept_replace(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
    return _act(
        request,
        number,
        AcceptReplaceForm(request.POST),
        "replace_form",
        lambda d, data: services.dispute_respond(
            dispute=d,
            merchant_user=user,
            action=services.Action.ACCEPT,
            remedy=services.Remedy.REPLACE,
            message=data["message"],
        ),
        _("You accepted the complaint. The buyer received a new card key."),
    )


@merchant_required
@require_POST
def complaint_offer(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
    dispute = _own(request, number)
    return _act(
        request,
        number,
        OfferForm(request.POST, claimed=dispute.claimed_amount),
        "offer_form",
        lambda d, data: services.dispute_respond(
            dispute=d,
            merchant_user=user,
            action=services.Action.OFFER,
            amount=cast(Decimal, data["amount"]),
            message=data["message"],
        ),
        _("Your offer was sent to the buyer."),
    )


@merchant_required
@require_POST
def complaint_contest(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
    dispute = _own(request, number)
    has_evidence = any(
        e.role == Role.MERCHANT for e in access.visible_evidence(dispute, Role.MERCHANT)
    )

    def contest(d: Dispute, data: dict[str, Any]) -> object:
        uploads = [
            services.EvidenceUpload(kind=data["kind"], file=upload, note=data["note"])
            for upload in data.get("file") or []
        ]
        return services.dispute_contest(
            dispute=d, merchant_user=user, message=data["message"], evidence=uploads
        )

    return _act(
        request,
        number,
        ContestForm(request.POST, request.FILES, has_evidence=has_evidence),
        "contest_form",
        contest,
        _("You contested the complaint. The platform now reviews it."),
    )


@merchant_required
@require_POST
def complaint_message(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
    return _act(
        request,
        number,
        MessageForm(request.POST),
        "message_form",
        lambda d, data: services.dispute_message(dispute=d, user=user, body=data["body"]),
        _("Your message was sent."),
        "thread",
    )


@merchant_required
@require_POST
def complaint_evidence(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
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


@merchant_required
@require_GET
def complaint_evidence_image(request: HttpRequest, number: str, pk: int) -> FileResponse:
    """An image of the complaint, inline (thumbnail and full size), as the buyer's page serves
    it; never the platform's own record."""
    dispute = _own(request, number)
    evidence = next(
        (e for e in access.visible_evidence(dispute, Role.MERCHANT) if e.pk == pk), None
    )
    if evidence is None or evidence.content_type not in IMAGE_TYPES:
        raise Http404(_("No such evidence file."))
    return private_file_response(
        evidence.stored_name,
        content_type=evidence.content_type,
        filename=evidence.file_name,
        max_age=3600,
    )
