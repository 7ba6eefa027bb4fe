"""The account forms: log in (the site's and the admin's, both behind accounts/throttle.py),
register, and the phone's (verify a number, reset the password by SMS code)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm, UsernameField
from django.contrib.auth.models import User
from django.utils.translation import gettext, gettext_lazy

from accounts.throttle import GuardedLoginMixin


class LoginForm(GuardedLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(GuardedLoginMixin, AdminAuthenticationForm):
    pass


# Service error codes that belong to one field of the register form (accounts.services);
# any other refusal is shown above the form (kamen_complaints.forms.add_domain_error).
FIELD_OF_CODE = {"username_taken": "username"}


class RegisterForm(UserCreationForm):
    email = forms.EmailField(label=gettext_lazy("E-mail"), max_length=254)

    class Meta:
        model = User
        fields = ("username", "email")
        field_classes = {"username": UsernameField}


# --- Phone (accounts/phones.py) -----------------------------------------------------------

# Service error codes that belong to one field of the phone forms; any other refusal (the
# number's SMS limit, the provider failing) is shown above the form.
PHONE_FIELD_OF_CODE = {
    "phone_invalid": "phone",
    "phone_code_wrong": "code",
    "password_invalid": "new_password1",
}


class PhoneField(forms.CharField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            label=gettext_lazy("Mobile number"),
            max_length=20,
            widget=forms.TextInput(
                attrs={"autocomplete": "tel-national", "inputmode": "tel", "placeholder": "138…"}
            ),
            **kwargs,  # type: ignore[arg-type]
        )


class CodeField(forms.CharField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            label=gettext_lazy("SMS code"),
            max_length=8,
            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
            **kwargs,  # type: ignore[arg-type]
        )


class PhoneForm(forms.Form):
    phone = PhoneField(
        help_text=gettext_lazy("A mainland mobile number; a 6-digit code is sent to it by SMS.")
    )


class PhoneCodeForm(forms.Form):
    code = CodeField()


class SmsResetRequestForm(forms.Form):
    phone = PhoneField(help_text=gettext_lazy("The verified mobile number of your account."))


class SmsResetForm(forms.Form):
    phone = PhoneField()
    code = CodeField()
    new_password1 = forms.CharField(
        label=gettext_lazy("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    new_password2 = forms.CharField(
        label=gettext_lazy("New password confirmation"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("new_password1"), data.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", gettext("The two password fields didn’t match."))
        return data
