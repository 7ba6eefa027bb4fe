"""What typed text is before a rule reads it (docs/rules.md "Names and numbers").

- Numbers people type (identity numbers, phone numbers) are normalised before they are
  validated, stored or fingerprinted: Unicode NFKC (fullwidth `３１０１` becomes `3101`), every
  other Unicode decimal digit to its ASCII digit, surrounding space dropped. One identity then
  has one fingerprint however it was typed.
- Names shown to other people (shop and product names) may not hold characters that are not
  seen: zero-width and bidi controls (Unicode category Cf, e.g. U+200B-U+200F, U+202A-U+202E,
  U+2066-U+2069, U+FEFF), control characters, line separators, blank fillers. Otherwise two
  shops could look identical on screen.
- Two shop names are the same name when they are equal after `name_key`: NFKC, case folded,
  runs of white space as one space.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# Unicode categories never allowed in a name: format characters (zero-width, bidi controls,
# BOM, soft hyphen), controls, surrogates, private use, unassigned, line/paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cf", "Cc", "Cs", "Co", "Cn", "Zl", "Zp"})
# Letters that render as nothing (Hangul fillers, the combining grapheme joiner, braille blank).
_BLANK_LOOKALIKES = frozenset("\u034f\u115f\u1160\u3164\uffa0\u2800")


def normalize_digits(value: str) -> str:
    """NFKC, every Unicode decimal digit as its ASCII digit, no surrounding white space."""
    value = unicodedata.normalize("NFKC", value)
    out = []
    for char in value:
        digit = unicodedata.decimal(char, None) if not char.isascii() else None
        out.append(str(digit) if digit is not None else char)
    return "".join(out).strip()


def invisible_characters(value: str) -> list[str]:
    """The characters of `value` that are not seen, as `U+200B` code points (first 5)."""
    found: list[str] = []
    for char in value:
        if char in _BLANK_LOOKALIKES or unicodedata.category(char) in _REFUSED_CATEGORIES:
            code = f"U+{ord(char):04X}"
            if code not in found:
                found.append(code)
    return found[:5]


@deconstructible
class VisibleTextValidator:
    """Refuse text holding invisible characters (model fields, forms, serializers)."""

    message = _(
        "This name holds characters that are not seen (%(chars)s): zero-width, direction or "
        "control characters. Type it again without them."
    )
    code = "invisible_characters"

    def __call__(self, value: object) -> None:
        found = invisible_characters(str(value))
        if found:
            raise ValidationError(self.message, code=self.code, params={"chars": ", ".join(found)})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VisibleTextValidator)

    def __hash__(self) -> int:
        return hash(type(self))


validate_visible_text = VisibleTextValidator()


def name_key(value: str) -> str:
    """The form two names are compared in: NFKC, case folded, white space collapsed, any
    invisible character dropped (names stored before they were refused compare too)."""
    value = unicodedata.normalize("NFKC", value)
    value = "".join(
        char
        for char in value
        if not (char in _BLANK_LOOKALIKES or unicodedata.category(char) in _REFUSED_CATEGORIES)
        or char.isspace()
    )
    return " ".join(value.casefold().split())
