"""The desk's collective cases (docs/collective-cases.md, docs/admin.md): the list with each
case's figures, and a case screen with the same figures, the money at risk the case wrote
before the platform paid (what the refunds come to, the deposit available then, what it will
not cover), the shop's answer, the member complaints, the orders refunded without a
complaint, and what the rule left open for people (orders the issuer never answered about).
An arbitrator decides those and closes the case through the core's service
(disputes.services.collective `collective_case_close`, the one home of who may). Read-only
otherwise: a case is never added, edited or deleted here."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from disputes import selectors
from disputes.models import CollectiveCase, CollectiveStatus
from disputes.services.collective import collective_case_close
from kamen_complaints.errors import DomainError
from kamen_complaints.forms import add_domain_error
from kamen_complaints.money import format_yuan


class CloseForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("What was decided"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "The orders the issuer never answered about, the shop's answer: what staff "
            "decided. Kept on the case; the case closes, and a new one may open on the batch."
        ),
    )


@admin.register(CollectiveCase)
class CollectiveCaseAdmin(admin.ModelAdmin):
    list_display = [
        "case_link",
        "merchant",
        "subject",
        "status",
        "opened_at",
        "keys_count",
        "delivered_count",
        "bad_count",
        "refunded",
        "recovered",
        "at_risk",
    ]
    list_display_links = None
    list_filter = ["status", "kind"]
    search_fields = ["merchant__shop_name", "product__name"]
    list_select_related = ["merchant", "product", "batch"]
    ordering = ["-opened_at", "-id"]
    list_per_page = 50

    @admin.display(description=gettext_lazy("collective case"), ordering="id")
    def case_link(self, obj: CollectiveCase) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:disputes_collectivecase_case", args=[obj.pk]),
            obj.number,
        )

    @admin.display(description=gettext_lazy("batch or channel"))
    def subject(self, obj: CollectiveCase) -> str:
        return subject_text(obj)

    @admin.display(description=gettext_lazy("refunded"), ordering="refunded_amount")
    def refunded(self, obj: CollectiveCase) -> str:
        return f"{obj.refunded_count} · {format_yuan(obj.refunded_amount)}"

    @admin.display(description=gettext_lazy("recovered"), ordering="recovered_amount")
    def recovered(self, obj: CollectiveCase) -> str:
        return format_yuan(obj.recovered_amount)

    @admin.display(description=gettext_lazy("not covered by the deposit"))
    def at_risk(self, obj: CollectiveCase) -> str:
        return format_yuan(obj.shortfall_amount) if obj.shortfall_amount else "—"

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [
            path(
                "<int:pk>/case/",
                site.admin_view(self.case_view),
                name="disputes_collectivecase_case",
            ),
            path(
                "<int:pk>/case/close/",
                site.admin_view(self.close_view),
                name="disputes_collectivecase_close",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """A case opens on its case screen."""
        if not object_id.isdigit():
            raise Http404
        return HttpResponseRedirect(reverse("admin:disputes_collectivecase_case", args=[object_id]))

    def _render(
        self,
        request: HttpRequest,
        case: CollectiveCase,
        form: CloseForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        can_close = (
            request.user.has_perm("disputes.arbitrate") and case.status != CollectiveStatus.CLOSED
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Collective case %(number)s") % {"number": case.number},
            "case": case,
            "subject": subject_text(case),
            "members": list(selectors.collective_members(case.pk)),
            "refunds": list(selectors.collective_refunds_without_complaint(case.pk)),
            "left_open": list(selectors.collective_left_to_people(case.pk)),
            "close_form": (form or CloseForm()) if can_close else None,
        }
        return TemplateResponse(
            request, "admin/disputes/collectivecase/case.html", context, status=status
        )

    def _case(self, request: HttpRequest, pk: int) -> CollectiveCase:
        if not self.has_view_permission(request):
            raise Http404
        case = selectors.collective_case(pk)
        if case is None:
            raise Http404
        return cast(CollectiveCase, case)

    def case_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(request, self._case(request, pk))

    def close_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _close(self, request, pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _close(model_admin: CollectiveCaseAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    """Staff decide what the rule left open and close the case (one service; POST only)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    case = model_admin._case(request, pk)
    form = CloseForm(request.POST)
    if not form.is_valid():
        return model_admin._render(request, case, form, status=400)
    try:
        collective_case_close(
            case=case, staff=cast(User, request.user), note=form.cleaned_data["note"]
        )
    except DomainError as exc:
        add_domain_error(form, exc, fields={"note_required": "note"})
        return model_admin._render(request, case, form, status=exc.status_code)
    messages.success(request, _("The collective case is closed."))
    return HttpResponseRedirect(reverse("admin:disputes_collectivecase_case", args=[pk]))


def subject_text(case: CollectiveCase) -> str:
    """`<product>: card-key import #<id> (<n> keys)` or `<product>: top-ups through <upstream>`."""
    if case.batch is not None:
        return _("%(product)s: card-key import #%(batch)s (%(count)s keys)") % {
            "product": case.product.name,
            "batch": case.batch_id,
            "count": case.batch.count,
        }
    return _("%(product)s: top-ups through %(upstream)s") % {
        "product": case.product.name,
        "upstream": case.upstream,
    }
