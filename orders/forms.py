"""Forms of the buyer's pages. They check shape (types, ranges); the rules stay in services,
whose DomainError messages are put next to the field named in FIELD_OF_CODE
(kamen_complaints.forms.add_domain_error)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kamen_complaints.text import name_key
from orders.models import Merchant, Product, ProductKind
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


class ShopField(forms.CharField):
    """A shop chosen by typing it — its number (id) or its name, compared as names are
    (kamen_complaints.text.name_key, the unique shop_name_key) — instead of a drop-down of
    every shop, which grows with the platform (the finance forms of the escrow admin). One
    indexed look-up whatever the number of shops; works without JavaScript."""

    default_error_messages = {
        "unknown": _("No shop has this name or number."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 100)
        kwargs.setdefault(
            "help_text", _("Type the shop's name exactly as it is registered, or its number.")
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Merchant):
            return value.shop_name
        return value

    def clean(self, value: Any) -> Merchant | None:
        text = super().clean(value)
        if not text:
            return None
        text = str(text).strip()
        shop = None
        if text.isdigit():
            shop = Merchant.objects.filter(pk=int(text)).first()
        if shop is None:
            shop = Merchant.objects.filter(shop_name_key=name_key(text)).first()
        if shop is None:
            raise forms.ValidationError(self.error_messages["unknown"], code="unknown")
        return shop
