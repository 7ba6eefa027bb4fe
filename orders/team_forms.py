"""Forms of the merchant's own pages about the shop: the application (/merchant/apply/) and
the team (/merchant/team/). They check shape; the rules stay in orders.services, whose
refusals are put next to the field they are about (`add_domain_error`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kamen_complaints.errors import DomainError
from kamen_complaints.text import validate_visible_text

# Service error codes that belong to one field; any other refusal is shown above the form.
_FIELD_OF_CODE = {
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


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show a service's refusal next to the field it is about, or above the form."""
    field = _FIELD_OF_CODE.get(exc.code)
    form.add_error(field if field in form.fields else None, exc.message)


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
            "a new account; tell its holder the password to change after the first login."
        ),
    )
