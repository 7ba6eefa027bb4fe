"""Forms of the buyer's pages. They check shape (types, ranges); the rules stay in services,
whose DomainError messages are put next to the field named in FIELD_OF_CODE
(kamen_complaints.forms.add_domain_error)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from orders.models import Product, ProductKind
from orders.services import MAX_QUANTITY

# Service error codes that belong to one field of the form; any other is a form-wide error.
FIELD_OF_CODE = {
    "quantity_invalid": "quantity",
    "topup_target_required": "topup_target",
    "topup_target_invalid": "topup_target",
    "phone_invalid": "topup_target",
}


class KindFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("All kinds")), *ProductKind.choices], required=False
    )


class BuyForm(forms.Form):
    """Quantity for card keys; the phone number for a top-up (which is bought one at a time)."""

    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, max_value=MAX_QUANTITY, initial=1
    )
    topup_target = forms.CharField(
        label=_("Phone number to top up"),
        max_length=32,
        required=False,
        widget=forms.TextInput(
            attrs={"inputmode": "tel", "autocomplete": "tel-national", "placeholder": "13800138000"}
        ),
    )

    def __init__(self, *args: Any, product: Product, in_stock: int | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.product = product
        self.in_stock = in_stock
        if product.kind == ProductKind.PHONE_TOPUP:
            self.fields["quantity"].widget = forms.HiddenInput()
            self.fields["quantity"].initial = 1
            self.fields["topup_target"].required = True
        else:
            del self.fields["topup_target"]
            self.fields["quantity"].widget.attrs.update({"inputmode": "numeric"})
            if in_stock is not None:
                self.fields["quantity"].widget.attrs["max"] = max(min(in_stock, MAX_QUANTITY), 1)

    def clean_quantity(self) -> int:
        quantity: int = self.cleaned_data["quantity"]
        # A friendly early refusal; delivery re-checks stock under row locks and refunds when
        # another buyer took the last keys in between.
        if self.in_stock is not None and self.product.delivers_card_keys:
            if self.in_stock < 1:
                raise forms.ValidationError(_("This product is sold out."), code="out_of_stock")
            if quantity > self.in_stock:
                raise forms.ValidationError(
                    _("Only %(count)s in stock."),
                    code="out_of_stock",
                    params={"count": self.in_stock},
                )
        return quantity
