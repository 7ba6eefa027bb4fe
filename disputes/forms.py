"""Forms of the complaint pages. They check shape only; the rules stay in the services, whose
DomainError lands next to the field named in FIELD_OF_CODE
(kamen_complaints.forms.add_domain_error)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from disputes.models import CORE_EVIDENCE, EvidenceKind, Reason
from kamen_complaints.money import format_yuan, parse_yuan
from orders.models import Order

# One line under each reason: what it means, in the buyer's words.
REASON_HELP = {
    Reason.INVALID_CARD_KEY: _(
        "The key was refused when you redeemed it: invalid, already used, or the wrong value."
    ),
    Reason.NOT_RECEIVED: _("You paid but received no card key or top-up."),
    Reason.LATE_DELIVERY: _("It arrived, but much later than the shop promised."),
    Reason.WRONG_ITEM: _("You received a different product, value or region than you bought."),
    Reason.ACCOUNT_STOLEN: _("The account or item you bought was taken back after delivery."),
    Reason.OTHER: _("Something else went wrong; describe it below."),
}

# The evidence inputs of the form, the three core proofs (三证) first, each with how to get it.
EVIDENCE_KINDS = (
    EvidenceKind.ORDER_SCREENSHOT,
    EvidenceKind.PAYMENT_PROOF,
    EvidenceKind.CHAT_RECORD,
    EvidenceKind.REDEMPTION_RECORD,
    EvidenceKind.OTHER,
)
EVIDENCE_HELP = {
    EvidenceKind.ORDER_SCREENSHOT: _(
        "A screenshot of this order page showing the order number, product, amount and time."
    ),
    EvidenceKind.PAYMENT_PROOF: _(
        "In Alipay or WeChat Pay open Bills, tap this payment and take a screenshot of its "
        "details (amount, time, transaction number)."
    ),
    EvidenceKind.CHAT_RECORD: _(
        "Screenshots of your chat with the shop's customer service, with the times visible; "
        "if they never answered, a screenshot of your unanswered messages."
    ),
    EvidenceKind.REDEMPTION_RECORD: _(
        "A screenshot of the error the game or platform showed when you redeemed the key."
    ),
    EvidenceKind.OTHER: _("Anything else that helps, such as a bank statement (PDF)."),
}
ACCEPT = "image/*,application/pdf"

# Service error codes that belong to one field; the rest are about the whole form.
FIELD_OF_CODE = {
    "amount_invalid": "claimed_amount",
    "reason_invalid": "reason",
    "card_keys_invalid": "card_keys",
}


def evidence_field(kind: str) -> str:
    return f"evidence_{kind}"


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name. Contents are checked by the view with the evidence
    check the service uses (disputes.evidence_files), not here."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [f for f in files if f]


class ComplaintForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("What went wrong?"), choices=Reason.choices, widget=forms.RadioSelect
    )
    card_keys = forms.TypedMultipleChoiceField(
        label=_("Which card keys failed?"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Tick the keys that did not work; tick none if all of them failed."),
    )
    claimed_amount = forms.CharField(
        label=_("Amount you claim"),
        max_length=16,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    remedy_wanted = forms.ChoiceField(
        label=_("If the platform's automatic check proves a key bad"),
        choices=[("refund", _("refund me")), ("replace", _("send me a new key from stock"))],
        required=False,
        initial="refund",
        widget=forms.RadioSelect,
        help_text=_("Without stock you are refunded."),
    )
    description = forms.CharField(
        label=_("What happened"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("When you redeemed it, what the error said, what the shop told you."),
    )

    def __init__(self, *args: Any, order: Order, draft_ids: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order = order
        keys = list(order.card_keys.order_by("id"))
        if len(keys) > 1:
            field = cast(forms.TypedMultipleChoiceField, self.fields["card_keys"])
            field.choices = [(k.pk, k.masked) for k in keys]
        else:
            del self.fields["card_keys"]
        refundable: Decimal = order.refundable_amount
        self.fields["claimed_amount"].initial = f"{max(refundable, Decimal(0)):.2f}"
        self.fields["claimed_amount"].help_text = _(
            "At most %(max)s: what this order may still give back."
        ) % {"max": format_yuan(max(refundable, Decimal(0)))}
        # "Delivered late" names what the shop promised for this product (Product.delivery_minutes).
        reason = cast(forms.ChoiceField, self.fields["reason"])
        reason.choices = [
            (
                value,
                _("%(reason)s (promised: %(promise)s)")
                % {"reason": label, "promise": order.product.delivery_promise}
                if value == Reason.LATE_DELIVERY
                else label,
            )
            for value, label in Reason.choices
        ]
        if order.product.delivers_card_keys:
            self.fields["reason"].initial = Reason.INVALID_CARD_KEY
        else:
            del self.fields["remedy_wanted"]  # a top-up has no key to replace
        for kind in EVIDENCE_KINDS:
            self.fields[evidence_field(kind)] = MultipleFileField(
                label=EvidenceKind(kind).label,
                required=False,
                help_text=EVIDENCE_HELP[kind],
                widget=MultipleFileInput(
                    attrs={"multiple": True, "accept": ACCEPT, "data-evidence-kind": kind}
                ),
            )
        self.fields["remove_draft"] = forms.MultipleChoiceField(
            required=False, choices=[(i, i) for i in draft_ids], widget=forms.MultipleHiddenInput
        )

    def clean_claimed_amount(self) -> Decimal:
        raw = self.cleaned_data["claimed_amount"].strip().lstrip("¥￥").replace(",", "")
        try:
            return parse_yuan(raw)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="amount_invalid") from exc

    def evidence_fields(self) -> list[forms.BoundField]:
        return [self[evidence_field(kind)] for kind in EVIDENCE_KINDS]

    def core_kinds(self) -> tuple[str, ...]:
        return tuple(CORE_EVIDENCE)
