"""Forms of the merchant dashboard's complaint pages. They check shape; the rules stay in the
services (disputes.services), whose refusals land next to the field they are about
(`disputes.buyer_forms.add_domain_error`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from disputes.buyer_forms import EvidenceForm, MessageForm, _text
from disputes.models import UPLOADABLE_EVIDENCE, EvidenceKind, Reason, Status
from orders.models import Product

__all__ = [
    "AcceptRefundForm",
    "AcceptReplaceForm",
    "ContestForm",
    "EvidenceForm",
    "InboxFilterForm",
    "MessageForm",
    "OfferForm",
]

OPEN_CHOICES = [
    (Status.AWAITING_MERCHANT.value, Status.AWAITING_MERCHANT.label),
    (Status.AWAITING_BUYER.value, Status.AWAITING_BUYER.label),
    (Status.UNDER_REVIEW.value, Status.UNDER_REVIEW.label),
]
CLOSED_CHOICES = [
    (Status.RESOLVED.value, Status.RESOLVED.label),
    (Status.WITHDRAWN.value, Status.WITHDRAWN.label),
]


class InboxFilterForm(forms.Form):
    """The inbox's filters (GET). `tab` picks open or closed complaints."""

    tab = forms.ChoiceField(
        choices=[("open", _("Open")), ("closed", _("Resolved")), ("", "")],
        required=False,
        widget=forms.HiddenInput,
    )
    q = forms.CharField(
        label=_("Complaint or order number"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    status = forms.ChoiceField(label=_("Status"), required=False)
    reason = forms.ChoiceField(
        label=_("Reason"), required=False, choices=[("", _("All reasons")), *Reason.choices]
    )
    product = forms.TypedChoiceField(
        label=_("Product"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args: Any, products: list[Product], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        closed = self.data.get("tab") == "closed"
        status_choices = CLOSED_CHOICES if closed else OPEN_CHOICES
        cast(forms.ChoiceField, self.fields["status"]).choices = [
            ("", _("All statuses")),
            *status_choices,
        ]
        cast(forms.ChoiceField, self.fields["product"]).choices = [
            ("", _("All products")),
            *[(p.pk, p.name) for p in products],
        ]

    def clean_q(self) -> str:
        value = str(self.cleaned_data.get("q") or "").strip()
        if value and not value.isalnum():
            raise forms.ValidationError(
                _("A complaint or order number has only letters and digits.")
            )
        return value


class AcceptRefundForm(forms.Form):
    message = _text(_("Message to the buyer (optional)"), required=False, rows=2)


class AcceptReplaceForm(forms.Form):
    message = _text(_("Message to the buyer (optional)"), required=False, rows=2)


class OfferForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount offered (¥)"),
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    message = _text(_("Message to the buyer (optional)"), required=False, rows=2)

    def __init__(self, *args: Any, claimed: Decimal | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if claimed is not None:
            self.fields["amount"].widget.attrs["max"] = str(claimed - Decimal("0.01"))
            self.fields["amount"].help_text = _("Below the claimed amount.")


class ContestForm(forms.Form):
    """A statement and the counter-evidence, in one form (disputes.services.dispute_contest).
    A file is needed unless the shop already added counter-evidence."""

    message = _text(_("Your statement"), rows=4)
    kind = forms.ChoiceField(
        label=_("Kind of counter-evidence"),
        choices=[(k, EvidenceKind(k).label) for k in UPLOADABLE_EVIDENCE],
        initial=EvidenceKind.REDEMPTION_RECORD,
    )
    file = forms.FileField(
        label=_("Counter-evidence file"),
        required=False,
        help_text=_("An image (PNG, JPEG, WebP) or a PDF, e.g. the upstream's redemption record."),
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/webp,application/pdf"}
        ),
    )
    note = forms.CharField(label=_("Note on the file (optional)"), required=False, max_length=500)

    def __init__(self, *args: Any, has_evidence: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.has_evidence = has_evidence
        if not has_evidence:
            self.fields["file"].required = True
            self.fields["file"].error_messages["required"] = _(
                "Contesting needs at least one piece of counter-evidence: attach a file."
            )
