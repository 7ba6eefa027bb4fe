"""Forms of the merchant dashboard's products, card-key import and sales orders pages
(orders/shop_views.py), and the amount field the deposit page shares. They check shape; the
rules stay in the services, whose refusals are put next to the field they are about
(`add_domain_error`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from kamen_complaints.errors import DomainError
from kamen_complaints.money import parse_yuan
from kamen_complaints.text import validate_visible_text
from orders.models import OrderStatus, ProductKind
from orders.services import MAX_IMPORT_BYTES

# Service error codes that belong to one field; any other refusal is shown above the form.
_FIELD_OF_CODE = {
    "source_required": "source",
    "name_invalid": "name",
    "amount_invalid": "price",
    "import_too_large": "keys",
    "import_not_text": "file",
}


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    field = _FIELD_OF_CODE.get(exc.code)
    form.add_error(field if field in form.fields else None, exc.message)


class YuanField(forms.CharField):
    """An amount in yuan as a person types it ("12.5", "¥1,000.00"), read exactly
    (kamen_complaints.money.parse_yuan: never a float, at most 2 decimals, above zero)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 24)
        super().__init__(*args, **kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})

    def clean(self, value: Any) -> Decimal | None:  # type: ignore[override]
        text = super().clean(value)
        if not text:
            return None
        text = text.strip().lstrip("¥￥").replace(",", "").replace("，", "")
        try:
            amount = parse_yuan(text)
        except ValueError as exc:
            raise ValidationError(str(exc), code="amount_invalid") from exc
        if amount <= 0:
            raise ValidationError(_("Enter an amount above zero."), code="amount_invalid")
        return amount


class ProductForm(forms.Form):
    name = forms.CharField(
        label=_("Product name"), max_length=120, validators=[validate_visible_text]
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=ProductKind.choices)
    face_value = YuanField(
        label=_("Face value (yuan)"), help_text=_("What the card or top-up is worth.")
    )
    price = YuanField(label=_("Price (yuan)"), help_text=_("What the buyer pays."))
    source = forms.CharField(
        label=_("Declared source"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Where the goods come from: the upstream supplier and your proof of origin. "
            "Arbitrators read it when a buyer complains."
        ),
    )
    active = forms.BooleanField(
        label=_("On sale"),
        required=False,
        initial=True,
        help_text=_("Untick to take the product off the catalogue; its orders stay."),
    )


class CardKeyImportForm(forms.Form):
    keys = forms.CharField(
        label=_("Paste card keys, one per line"),
        required=False,
        strip=False,
        max_length=MAX_IMPORT_BYTES,
        widget=forms.Textarea(
            attrs={"rows": 8, "spellcheck": "false", "autocomplete": "off", "class": "mono"}
        ),
    )
    file = forms.FileField(
        label=_("Or upload a text file, one key per line"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".txt,.csv,text/plain"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        pasted = (data.get("keys") or "").strip()
        if not pasted and not data.get("file"):
            raise ValidationError(_("Paste keys (one per line) or upload a file."), code="required")
        if pasted and data.get("file"):
            raise ValidationError(
                _("Paste keys or upload a file, not both in one import."), code="invalid"
            )
        return data

    def payload(self) -> bytes | str:
        upload = self.cleaned_data.get("file")
        if upload is not None:
            # One byte past the limit is enough for the service to refuse it by its size.
            data: bytes = upload.read(MAX_IMPORT_BYTES + 1)
            return data
        keys: str = self.cleaned_data["keys"]
        return keys


class OrderFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Order number or payment reference"),
        required=False,
        max_length=64,
        widget=forms.TextInput(
            attrs={"type": "search", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All statuses")), *OrderStatus.choices], required=False
    )
    date_from = forms.DateField(
        label=_("Date from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data
