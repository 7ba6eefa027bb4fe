"""The shape of what a shop or an order is given: identity numbers, phone numbers, visible names.

Shared by the shop's application (merchants), products (catalogue) and top-up orders (orders)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from kamen_complaints.errors import DomainError
from kamen_complaints.text import normalize_digits, validate_visible_text

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")


def validate_id_number(value: str) -> str:
    """A mainland resident identity number: 17 digits and a checksum (GB 11643-1999).
    Normalised first (kamen_complaints.text): `３１０１…` is `3101…`, so one identity has one
    fingerprint however it was typed."""
    value = normalize_digits(value).upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", value):
        raise DomainError(
            _("An identity number has 18 characters: 17 digits and a final digit or X."),
            code="id_number_invalid",
        )
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        raise DomainError(
            _("That identity number's check digit is wrong; please check it."),
            code="id_number_invalid",
        )
    return value


def check_visible_name(value: str, *, code: str) -> None:
    """A shop or product name holds no invisible character (kamen_complaints.text)."""
    try:
        validate_visible_text(value)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), code=code) from exc


def validate_phone(value: str) -> str:
    value = normalize_digits(value).replace(" ", "").replace("-", "")
    if value.startswith("+86"):
        value = value[3:]
    if not _PHONE_RE.match(value):
        raise DomainError(
            _("Enter a mainland mobile number of 11 digits starting with 1."),
            code="phone_invalid",
        )
    return value
