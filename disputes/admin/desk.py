"""The arbitration desk in the admin (docs/admin.md): the review queue's columns and filters,
and the complaint screen — the whole case on one page with the actions an arbitrator takes.
Every action calls the same disputes service as the API; a refusal is an admin message and
the form keeps what was typed, never a 500. Mounted by DisputeAdmin.get_urls()."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Avg, Count, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from disputes import access, presenting, services
from disputes.models import (
    OPEN_STATUSES,
    AutoCheck,
    Dispute,
    DisputeEvent,
    DisputeRating,
    EventType,
    Evidence,
    EvidenceKind,
    Outcome,
    Party,
    Role,
    Status,
    Visibility,
)
from disputes.outcomes import IN_BUYERS_FAVOUR
from disputes.permissions import ARBITRATE
from disputes.selectors import UNRATED_OUTCOMES, with_origin
from disputes.services.staff import (
    Bears,
    approval_threshold,
    case_holder_id,
    take_cutoff,
    take_lapses_at,
)
from kamen_complaints.errors import DomainError
from kamen_complaints.files import private_file_response
from kamen_complaints.models import Approval, ApprovalStatus
from orders.models import OrderStatus, ProductKind

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
AMBER = timedelta(hours=8)
RED = timedelta(hours=2)


# --- The queue ------------------------------------------------------------------------------


def in_queue(qs: QuerySet[Dispute]) -> QuerySet[Dispute]:
    """What waits for an arbitrator: complaints under review, and those the platform paid
    first whose recovery is still to decide."""
    return qs.filter(Q(status=Status.UNDER_REVIEW) | Q(recovery_pending=True))


class QueueFilter(admin.SimpleListFilter):
    """The review queue is the default view; "all complaints" shows the rest."""

    title = gettext_lazy("view")
    parameter_name = "view"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("all", gettext_lazy("All complaints"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
        if self.value() == "all":
            return queryset
        return in_queue(queryset)

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("Review queue"),
        }
        yield {
            "selected": self.value() == "all",
            "query_string": changelist.get_query_string({self.parameter_name: "all"}),
            "display": _("All complaints"),
        }


class TakenFilter(admin.SimpleListFilter):
    """ "My cases" (taken by me, not lapsed) and the cases nobody holds (docs/admin.md)."""

    title = gettext_lazy("taken by")
    parameter_name = "taken"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("mine", gettext_lazy("My cases")), ("free", gettext_lazy("Not taken"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
        cutoff = take_cutoff()
        if self.value() == "mine":
            return queryset.filter(taken_by_id=request.user.pk, taken_at__gt=cutoff)
        if self.value() == "free":
            return queryset.filter(
                Q(taken_by__isnull=True) | Q(taken_at__isnull=True) | Q(taken_at__lte=cutoff)
            )
        return queryset


class DueFilter(admin.SimpleListFilter):
    title = gettext_lazy("review deadline")
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("overdue", gettext_lazy("Overdue")),
            ("8h", gettext_lazy("Due in under 8 hours")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
        now = timezone.now()
        if self.value() == "overdue":
            return queryset.filter(status=Status.UNDER_REVIEW, review_due__lte=now)
        if self.value() == "8h":
            return queryset.filter(
                status=Status.UNDER_REVIEW, review_due__gt=now, review_due__lte=now + AMBER
            )
        return queryset


AMOUNT_BANDS = {
    "small": (None, Decimal("100.00")),
    "mid": (Decimal("100.00"), Decimal("1000.00")),
    "large": (Decimal("1000.00"), Decimal("5000.00")),
    "huge": (Decimal("5000.00"), None),
}


class AmountFilter(admin.SimpleListFilter):
    title = gettext_lazy("claimed amount")
    parameter_name = "amount"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("small", "≤ ¥100"),
            ("mid", "¥100 – ¥1,000"),
            ("large", "¥1,000 – ¥5,000"),
            ("huge", "> ¥5,000"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
        band = AMOUNT_BANDS.get(self.value() or "")
        if band is None:
            return queryset
        low, high = band
        if low is not None:
            queryset = queryset.filter(claimed_amount__gt=low)
        if high is not None:
            queryset = queryset.filter(claimed_amount__lte=high)
        return queryset


class AppealedFilter(admin.SimpleListFilter):
    title = gettext_lazy("appealed")
    parameter_name = "appealed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("1", gettext_lazy("Yes")), ("0", gettext_lazy("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
        if self.value() == "1":
            return queryset.filter(appealed_at__isnull=False)
        if self.value() == "0":
            return queryset.filter(appealed_at__isnull=True)
        return queryset


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)s d %(h)s h") % {"d": days, "h": hours}
    return _("%(h)s h %(m)s min") % {"h": hours, "m": mins}


def countdown(dispute: Dispute, now: Any = None) -> dict[str, str]:
    """The review clock as the desk shows it: text and a colour (amber under 8 h, red under
    2 h or overdue)."""
    now = now or timezone.now()
    if dispute.status != Status.UNDER_REVIEW:
        if dispute.recovery_pending:
            return {"text": _("recovery to decide"), "tone": "amber"}
        return {"text": "—", "tone": ""}
    if dispute.review_paused_at is not None:
        return {"text": _("paused: information requested"), "tone": "paused"}
    if dispute.review_due is None:
        return {"text": "—", "tone": ""}
    left = dispute.review_due - now
    if left <= timedelta(0):
        return {"text": _("overdue by %(span)s") % {"span": _span(left)}, "tone": "red"}
    tone = "red" if left < RED else "amber" if left < AMBER else "ok"
    return {"text": _("%(span)s left") % {"span": _span(left)}, "tone": tone}


def countdown_html(dispute: Dispute) -> str:
    clock = countdown(dispute)
    return format_html(
        '<span class="desk-due desk-due--{}">{}</span>', clock["tone"], clock["text"]
    )


# --- The complaint screen: what it shows ----------------------------------------------------


def _rows(pairs: list[tuple[Any, Any]]) -> list[tuple[str, str]]:
    return [(str(label), "—" if value in (None, "") else str(value)) for label, value in pairs]


def _label(choices: Any, value: Any) -> str:
    """A stored code as its translated label (the code itself if it is no longer a choice)."""
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")


def record_tables(dispute: Dispute) -> dict[str, Any]:
    """The platform's own records captured at filing, as labelled rows (never JSON)."""
    records = dispute.platform_records or {}
    order = records.get("order") or {}
    payment = records.get("payment") or {}
    delivery = records.get("delivery") or {}
    product = order.get("product") or {}
    return {
        "captured_at": presenting.short_time(records.get("captured_at")),
        "order": _rows(
            [
                (_("order number"), order.get("number")),
                (_("created at"), presenting.short_time(order.get("created_at"))),
                (_("status"), _label(OrderStatus, order.get("status"))),
                (_("product"), product.get("name")),
                (_("product kind"), _label(ProductKind, product.get("kind"))),
                (_("declared source of the goods"), product.get("source")),
                (_("quantity"), order.get("quantity")),
                (_("unit price"), presenting.money(order.get("unit_price"))),
                (_("amount"), presenting.money(order.get("amount"))),
                (_("refunded"), presenting.money(order.get("refunded_amount"))),
                (_("top-up phone number"), order.get("topup_target")),
            ]
        ),
        "payment": _rows(
            [
                (_("payment reference"), payment.get("reference")),
                (_("payment channel"), payment.get("channel")),
                (_("paid at"), presenting.short_time(payment.get("paid_at"))),
                (_("amount"), presenting.money(payment.get("amount"))),
            ]
        ),
        "delivered_at": presenting.short_time(delivery.get("delivered_at")),
        "keys": [
            (k.get("masked", ""), presenting.short_time(k.get("delivered_at")))
            for k in delivery.get("card_keys") or []
        ],
        "reveals": [
            (
                presenting.short_time(r.get("at")),
                r.get("ip") or "—",
                (r.get("user_agent") or "")[:80],
                ", ".join(r.get("card_keys") or []),
            )
            for r in records.get("reveals") or []
        ],
    }


def _outcomes(qs: QuerySet[Dispute]) -> dict[str, Any]:
    rows = qs.aggregate(
        total=Count("id"),
        open=Count(
            "id",
            filter=Q(status__in=OPEN_STATUSES),
        ),
        for_buyer=Count(
            "id",
            filter=Q(outcome__in=IN_BUYERS_FAVOUR),
        ),
        rejected=Count("id", filter=Q(outcome=Outcome.REJECTED)),
        malicious=Count("id", filter=Q(outcome=Outcome.REJECTED_MALICIOUS)),
        withdrawn=Count("id", filter=Q(status=Status.WITHDRAWN)),
    )
    return rows


def party_history(dispute: Dispute) -> dict[str, Any]:
    """Both parties' records: complaints filed (the buyer) and received (the shop), their
    outcomes, malicious rulings, satisfaction. Aggregates only: a fixed number of queries."""
    buyer = _outcomes(Dispute.objects.filter(buyer_id=dispute.buyer_id).exclude(pk=dispute.pk))
    shop = _outcomes(Dispute.objects.filter(merchant_id=dispute.merchant_id).exclude(pk=dispute.pk))
    given = DisputeRating.objects.filter(buyer_id=dispute.buyer_id).aggregate(avg=Avg("score"))
    received = (
        DisputeRating.objects.filter(dispute__merchant_id=dispute.merchant_id)
        .exclude(dispute__outcome__in=UNRATED_OUTCOMES)  # as the shop record counts them
        .aggregate(avg=Avg("score"), n=Count("id"))
    )
    return {
        "buyer": {**buyer, "satisfaction_given": given["avg"]},
        "merchant": {**shop, "satisfaction": received["avg"], "ratings": received["n"]},
    }


def case_dispute(pk: int) -> Dispute:
    qs = (
        with_origin(Dispute.objects.all())
        .select_related("order__product", "merchant", "buyer", "decided_by_user", "policy")
        .prefetch_related(
            "evidence",
            "card_keys",
        )
    )
    return get_object_or_404(qs, pk=pk)


def evidence_items(dispute: Dispute) -> list[dict[str, Any]]:
    """The case's evidence as the desk shows it: a party's upload as its picture or file; a
    platform record (the records at filing, an automatic check's answer: JSON the platform
    stored) as a summary — what it is, the answer, its key figures, when, its SHA-256 —
    never a bare file tile. Two queries at most, whatever the number of files."""
    files = list(dispute.evidence.all())
    summaries = presenting.record_summaries(dispute, files)
    checks = (
        {
            c.evidence_id: c
            for c in AutoCheck.objects.filter(
                dispute_id=dispute.pk, evidence_id__in=list(summaries)
            ).select_related("card_key")
        }
        if any(e.kind == EvidenceKind.AUTO_CHECK for e in files if e.pk in summaries)
        else {}
    )
    return [
        {
            "item": e,
            "image": e.content_type in IMAGE_TYPES,
            "pdf": e.content_type == "application/pdf",
            "who": presenting.who(e.role, Role.STAFF),
            "record": summaries.get(e.pk),
            "figures": (record_figures(dispute, e, checks.get(e.pk)) if e.pk in summaries else []),
        }
        for e in files
    ]


def record_figures(dispute: Dispute, record: Evidence, check: AutoCheck | None) -> list[Any]:
    """The key figures of a platform record, as (label, value) rows: an automatic check's
    key and attempts; the filing record's amount, payment, delivery and reveals (its full
    tables: record_tables). Each with the file's SHA-256, as the evidence package lists it."""
    rows: list[tuple[str, Any]] = []
    if check is not None:
        rows += [
            (_("card key"), check.card_key.masked if check.card_key else ""),
            (_("attempts"), check.attempts),
        ]
    elif record.kind == EvidenceKind.PLATFORM_RECORD:
        records = dispute.platform_records or {}
        order = records.get("order") or {}
        payment = records.get("payment") or {}
        delivery = records.get("delivery") or {}
        rows += [
            (_("amount"), presenting.money(order.get("amount"))),
            (_("paid at"), presenting.short_time(payment.get("paid_at"))),
            (_("delivered at"), presenting.short_time(delivery.get("delivered_at"))),
            (_("card keys delivered"), len(delivery.get("card_keys") or [])),
            (_("key reveals"), len(records.get("reveals") or [])),
        ]
    rows.append(("SHA-256", f"{record.sha256[:16]}…"))
    return [(label, value) for label, value in rows if value not in (None, "")]


def case_context(dispute: Dispute) -> dict[str, Any]:
    events = list(
        DisputeEvent.objects.filter(dispute=dispute)
        .select_related("actor")
        .order_by("created_at", "id")
    )
    labels = presenting.event_labels()
    timeline = [
        {
            "event": e,
            "label": labels.get(e.type) or e.get_type_display(),
            "sentence": presenting.event_sentence(e, Role.STAFF),
            "who": presenting.who(e.role, Role.STAFF),
            "staff_only": e.visibility == Visibility.STAFF,
        }
        for e in events
        if e.type not in (EventType.MESSAGE, EventType.NOTE)
    ]
    thread = [e for e in events if e.type == EventType.MESSAGE]
    notes = [e for e in events if e.type == EventType.NOTE]
    statements = [e for e in events if e.type == EventType.CONTESTED]
    evidence = evidence_items(dispute)
    by_role: dict[str, list[dict[str, Any]]] = {Role.BUYER: [], Role.MERCHANT: [], "other": []}
    for item in evidence:
        by_role.get(str(getattr(item["item"], "role", "")), by_role["other"]).append(item)
    holder_id = case_holder_id(dispute)
    pending = list(
        Approval.objects.filter(
            object_type="disputes.dispute",
            object_id=str(dispute.pk),
            status=ApprovalStatus.PENDING,
        ).select_related("requested_by")
    )
    return {
        "dispute": dispute,
        "clock": countdown(dispute),
        "summary": presenting.status_summary(dispute),
        "records": record_tables(dispute),
        "history": party_history(dispute),
        "timeline": timeline,
        "thread": [(m, presenting.who(m.role, Role.STAFF)) for m in thread],
        "notes": notes,
        "evidence": evidence,
        "buyer_evidence": by_role[Role.BUYER],
        "merchant_evidence": by_role[Role.MERCHANT],
        "other_evidence": by_role["other"],
        # The merchant's statement: what they wrote when they contested (the latest last).
        "statements": statements,
        "holder": dispute.taken_by if holder_id is not None else None,
        "holder_until": take_lapses_at(dispute) if holder_id is not None else None,
        "pending_approvals": pending,
        "threshold": approval_threshold(dispute),
        "can_rule": access.staff_may_rule(dispute) and not pending,
        "can_ask": access.staff_may_ask(dispute),
        "decided_automatically": any(e.type == EventType.AUTO_DECIDED for e in events),
        "can_recover": access.staff_may_decide_recovery(dispute),
    }


# --- The complaint screen: its forms --------------------------------------------------------


class RuleForm(forms.Form):
    # No outcome preset: the arbitrator chooses one (docs/admin.md).
    outcome = forms.ChoiceField(
        label=gettext_lazy("outcome"),
        choices=[("", gettext_lazy("— choose an outcome —")), *Outcome.choices],
        error_messages={"required": gettext_lazy("Choose an outcome.")},
    )
    amount = forms.DecimalField(
        label=gettext_lazy("amount (partial refund only, yuan)"),
        max_digits=12,
        decimal_places=2,
        required=False,
        min_value=Decimal("0.01"),
    )
    recover_from_merchant = forms.TypedChoiceField(
        label=gettext_lazy("recover from the merchant"),
        choices=[
            ("1", gettext_lazy("Yes: the merchant bears it")),
            ("0", gettext_lazy("No: the platform bears it")),
        ],
        coerce=lambda v: v == "1",
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
    )
    replacement_bad = forms.BooleanField(
        label=gettext_lazy(
            "the replacement keys handed over are bad too (refund them in money; otherwise they "
            "count as given back)"
        ),
        required=False,
    )
    reason = forms.CharField(
        label=gettext_lazy("reason (shown to both parties)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("outcome") == Outcome.PARTIALLY_REFUNDED and data.get("amount") is None:
            self.add_error("amount", _("Give the amount of the partial refund."))
        outcome = data.get("outcome")
        if data.get("recover_from_merchant") is None:
            if outcome and outcome not in (Outcome.REJECTED, Outcome.REJECTED_MALICIOUS):
                self.add_error(
                    "recover_from_merchant", _("Say who bears it: the merchant or the platform.")
                )
            data["recover_from_merchant"] = True  # a rejection pays nothing: no one bears it
        return data


class InfoForm(forms.Form):
    party = forms.ChoiceField(
        label=gettext_lazy("ask"),
        choices=[
            (Party.BUYER, gettext_lazy("the buyer")),
            (Party.MERCHANT, gettext_lazy("the merchant")),
        ],
        widget=forms.RadioSelect,
    )
    question = forms.CharField(
        label=gettext_lazy("question"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000
    )


class NoteForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("internal note (staff only)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
    )


class RecoveryForm(forms.Form):
    bears = forms.ChoiceField(
        label=gettext_lazy("who bears the payout"),
        choices=[
            (Bears.MERCHANT, gettext_lazy("The merchant bears it (recover from the deposit)")),
            (Bears.PLATFORM, gettext_lazy("The platform bears it (release the hold)")),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=gettext_lazy("reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000
    )


class TakeForm(forms.Form):
    """ "I'll handle it" and "put it back": no fields, the button is the whole form."""


FORMS: dict[str, type[forms.Form]] = {
    "take": TakeForm,
    "release": TakeForm,
    "rule": RuleForm,
    "info": InfoForm,
    "note": NoteForm,
    "recovery": RecoveryForm,
}


def _staff(request: HttpRequest) -> User:
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def _act(action: str, dispute: Dispute, staff: User, data: dict[str, Any]) -> str:
    """Call the one service the action maps to; returns the success message."""
    if action == "take":
        taken = services.dispute_take(dispute=dispute, staff=staff)
        return _("The case is yours until %(until)s; it returns to the queue then.") % {
            "until": presenting.short_time(take_lapses_at(taken))
        }
    if action == "release":
        services.dispute_release(dispute=dispute, staff=staff)
        return _("The case is back in the queue.")
    if action == "rule":
        if services.ruling_needs_approval(
            dispute=dispute, outcome=data["outcome"], amount=data.get("amount")
        ):
            services.dispute_rule_propose(dispute=dispute, staff=staff, **data)
            return _(
                "The ruling is above %(threshold)s: recorded, it is carried out when a second "
                "arbitrator approves it."
            ) % {"threshold": presenting.money(approval_threshold(dispute))}
        services.dispute_rule(dispute=dispute, staff=staff, **data)
        return _("Ruled: %(outcome)s.") % {"outcome": Outcome(data["outcome"]).label}
    if action == "info":
        services.dispute_request_info(dispute=dispute, staff=staff, **data)
        return _("Asked; the review clock is paused until they answer.")
    if action == "note":
        services.dispute_note(dispute=dispute, staff=staff, body=data["body"])
        return _("Note added.")
    services.dispute_decide_recovery(dispute=dispute, staff=staff, **data)
    return _("Recovery decided.")


class CaseViews:
    """The complaint screen's views, bound to DisputeAdmin (its admin site and permissions)."""

    def __init__(self, model_admin: admin.ModelAdmin) -> None:
        self.model_admin = model_admin

    def _render(
        self,
        request: HttpRequest,
        dispute: Dispute,
        bound: dict[str, forms.Form] | None = None,
    ) -> HttpResponse:
        arbitrator = request.user.has_perm(ARBITRATE)
        context = {
            **self.model_admin.admin_site.each_context(request),
            **case_context(dispute),
            "title": _("Complaint %(number)s") % {"number": dispute.number},
            "opts": Dispute._meta,
            "arbitrator": arbitrator,
            "forms": {name: form() for name, form in FORMS.items()},
            "open": "",
        }
        for name, form in (bound or {}).items():
            context["forms"][name] = form
            context["open"] = name
        return TemplateResponse(request, "admin/disputes/dispute/case.html", context)

    def case(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.model_admin.has_view_permission(request):
            raise PermissionDenied
        return self._render(request, case_dispute(pk))

    def action(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        if not self.model_admin.has_view_permission(request) or action not in FORMS:
            raise PermissionDenied
        if not request.user.has_perm(ARBITRATE):
            raise PermissionDenied
        dispute = case_dispute(pk)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:disputes_dispute_case", args=[pk]))
        form = FORMS[action](request.POST)
        if not form.is_valid():
            messages.error(request, _("Please correct the errors below."))
            return self._render(request, dispute, {action: form})
        try:
            done = _act(action, dispute, _staff(request), form.cleaned_data)
        except DomainError as exc:
            messages.error(request, exc.message)
            return self._render(request, case_dispute(pk), {action: form})
        messages.success(request, done)
        return HttpResponseRedirect(reverse("admin:disputes_dispute_case", args=[pk]))

    def evidence_image(self, request: HttpRequest, pk: int, evidence_pk: int) -> FileResponse:
        """An image of the case, inline and sandboxed (thumbnails and the full-size view)."""
        if not self.model_admin.has_view_permission(request):
            raise PermissionDenied
        evidence = Evidence.objects.filter(dispute_id=pk, pk=evidence_pk).first()
        if evidence is None or evidence.content_type not in IMAGE_TYPES:
            raise Http404(_("No such evidence file."))
        return private_file_response(
            evidence.stored_name,
            content_type=evidence.content_type,
            filename=evidence.file_name,
            max_age=3600,
        )
