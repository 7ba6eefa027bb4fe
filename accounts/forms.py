"""The account forms: log in (the site's and the admin's, both behind accounts/throttle.py) and
register."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm, UsernameField
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy

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
