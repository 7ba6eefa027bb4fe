"""Forms of the merchant dashboard (merchant/views/): the complaint pages, products, card-key
import and sales orders, the shop application and team, and the deposit page. They check
shape; the rules stay in the services, whose refusals are put next to the field they are
named in FIELD_OF_CODE (kamen_complaints.forms.add_domain_error)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from disputes.buyer_forms import EvidenceForm, MessageForm, _text
from disputes.forms import MultipleFileField, MultipleFileInput
from disputes.models import OPEN_STATUSES, UPLOADABLE_EVIDENCE, EvidenceKind, Reason, Status
from kamen_complaints.forms import YuanField
from kamen_complaints.text import validate_visible_text
from merchant.models import Scope
from orders.models import OrderStatus, Product, ProductKind
from orders.services import MAX_DELIVERY_MINUTES, MAX_IMPORT_BYTES

__all__ = [
    "AcceptRefundForm",
    "ApiKeyForm",
    "AcceptReplaceForm",
    "CardKeyImportForm",
    "ContestForm",
    "EvidenceForm",
    "InboxFilterForm",
    "MerchantApplyForm",
    "MessageForm",
    "OfferForm",
    "OrderFilterForm",
    "ProductForm",
    "TeamAddForm",
    "TopupForm",
    "WithdrawalForm",
    "YuanField",
]

# Service error codes that belong to one field; any other refusal is shown above the form.
# (The complaint pages map theirs in disputes.buyer_forms.FIELD_OF_CODE.)
FIELD_OF_CODE = {
    # Products and card-key import (orders.services).
    "source_required": "source",
    "name_invalid": "name",
    "amount_invalid": "price",
    "delivery_minutes_invalid": "delivery_minutes",
    "import_too_large": "keys",
    "import_not_text": "file",
    # The shop application and the team (orders.services).
    "shop_name_taken": "shop_name",
    "shop_name_invalid": "shop_name",
    "id_number_invalid": "id_number",
    "phone_invalid": "phone",
    "username_required": "username",
    "username_taken": "username",
    "username_invalid": "username",
    "user_not_found": "username",
    "staff_account": "username",
    "account_disabled": "username",
    "already_member": "username",
    "member_of_other_shop": "username",
    "email_required": "email",
    "email_invalid": "email",
    "password_required": "password",
    "password_invalid": "password",
}


# --- Products, card-key import, sales orders (merchant/views/products.py, sales.py) --------


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
    description = forms.CharField(
        label=_("Description (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What the buyer gets and how to use it; shown on the product page."),
    )
    delivery_minutes = forms.IntegerField(
        label=_("Promised delivery time (minutes)"),
        required=False,
        min_value=0,
        max_value=MAX_DELIVERY_MINUTES,
        initial=0,
        help_text=_(
            "0: at once, automatically. A complaint that the order was delivered late is "
            "judged against this promise."
        ),
    )

    def clean_delivery_minutes(self) -> int:
        return self.cleaned_data.get("delivery_minutes") or 0

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
        label=_("Order number (or part of it), payment reference or buyer"),
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


# --- The complaint pages (merchant/views/complaints.py) ------------------------------------

OPEN_CHOICES = [(s.value, s.label) for s in OPEN_STATUSES]
CLOSED_CHOICES = [(s.value, s.label) for s in Status if s not in OPEN_STATUSES]


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
    file = MultipleFileField(
        label=_("Counter-evidence files"),
        required=False,
        help_text=_(
            "Images (PNG, JPEG, WebP) or PDFs, e.g. the upstream's redemption record; choose "
            "several at once if you have them."
        ),
        widget=MultipleFileInput(
            attrs={"accept": "image/png,image/jpeg,image/webp,application/pdf"}
        ),
    )
    note = forms.CharField(label=_("Note on the files (optional)"), required=False, max_length=500)

    def __init__(self, *args: Any, has_evidence: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.has_evidence = has_evidence

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.has_evidence and "file" not in self.errors and not data.get("file"):
            self.add_error(
                "file",
                _("Contesting needs at least one piece of counter-evidence: attach a file."),
            )
        return data


# --- The shop application and the team (merchant/views/application.py, team.py) ----------


class NeverEchoedInput(forms.TextInput):
    """A text input that never renders a submitted value: an identity number typed once is
    not sent back to the browser in clear (a refused form asks for it again)."""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        return super().get_context(name, None, attrs)


class MerchantApplyForm(forms.Form):
    """The fields of POST /api/v1/merchant/apply/ (orders.api.MerchantApplySerializer)."""

    shop_name = forms.CharField(
        label=_("Shop name"),
        max_length=80,
        validators=[validate_visible_text],
        help_text=_("Shown to buyers on every product and order."),
    )
    legal_name = forms.CharField(
        label=_("Legal name"),
        max_length=120,
        help_text=_("The person or company on the identity document or business licence."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    id_number = forms.CharField(
        label=_("Identity number"),
        max_length=32,
        help_text=_(
            "18 characters, mainland resident identity card. Stored encrypted; only the "
            "platform's verifiers see it, and you only its last 4 characters."
        ),
        widget=NeverEchoedInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"inputmode": "tel", "autocomplete": "tel-national", "placeholder": "13800138000"}
        ),
    )
    address = forms.CharField(
        label=_("Address"),
        max_length=255,
        help_text=_("Where the business is run; it goes into evidence packages for 12315."),
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    business_license = forms.CharField(
        label=_("Business licence number"),
        max_length=64,
        required=False,
        help_text=_("The unified social credit code; individuals without one leave it empty."),
    )


class TeamAddForm(forms.Form):
    """An existing account by its username, or a new one with an e-mail and a password."""

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    email = forms.EmailField(
        label=_("E-mail (new account only)"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    password = forms.CharField(
        label=_("Password (new account only)"),
        max_length=128,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Leave e-mail and password empty to add an existing account. Give both to create "
            "a new account; tell its holder this first password: at the first login they must "
            "set their own before anything else."
        ),
    )


# --- The deposit page (merchant/views/deposit.py): escrow.services' refusals (open
# complaints, not enough available, under the minimum) are shown next to the amount. -------


class TopupForm(forms.Form):
    action = forms.CharField(widget=forms.HiddenInput, initial="topup")
    amount = YuanField(label=_("Top-up amount (yuan)"))


class WithdrawalForm(forms.Form):
    action = forms.CharField(widget=forms.HiddenInput, initial="withdraw")
    amount = YuanField(
        label=_("Withdrawal amount (yuan)"),
        help_text=_(
            "At most what open complaints, pending withdrawals, the minimum deposit and any "
            "debt leave free (below). Finance staff then pay it out."
        ),
    )


# --- The API keys page (merchant/views/api_keys.py): merchant.services.api_key_create's
# refusals are mapped to their field there. ------------------------------------------------


class ApiKeyForm(forms.Form):
    """A new key: its name, its scopes and, if it should stop working by itself, the last day
    it works (Asia/Shanghai)."""

    name = forms.CharField(
        label=_("Key name"),
        max_length=50,
        help_text=_('What uses the key, e.g. "ERP sync". Its actions show this name.'),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Give a key only what its system needs."),
    )
    expires_on = forms.DateField(
        label=_("Last day it works (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Leave empty for a key that works until you revoke it."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.MultipleChoiceField, self.fields["scopes"]).choices = [
            (value, f"{value} — {label}") for value, label in Scope.choices
        ]
