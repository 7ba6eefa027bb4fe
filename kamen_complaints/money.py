"""Money at the edges: `Decimal` yuan with 2 places; integers of fen (分) in ledger tables.

Never float. A value with more than 2 decimals is refused, not rounded: silently rounding a
claimed amount is a way to lose a buyer's money.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.utils.translation import gettext as _

CENT = Decimal("0.01")
# 10^10 yuan: far above any order or deposit; stops overflow of 64-bit fen columns.
MAX_YUAN = Decimal("9999999999.99")


def to_fen(amount: Decimal) -> int:
    """Exact conversion of a yuan Decimal with at most 2 places to integer fen."""
    if amount != amount.quantize(CENT):
        raise ValueError(f"{amount} has more than 2 decimal places")
    return int((amount * 100).to_integral_value())


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(CENT)


# The one spelling of an amount a client may send (docs/security/hostile-input.md): ASCII digits,
# at most 2 decimals. `Decimal()` alone also reads "1_0.00", "1E-2", " 5 ", fullwidth "１２" and
# Arabic-Indic "١٢", none of which a person types as a price. A leading "-" is read, so that a
# negative amount reaches the rule that refuses it by name (code `amount_invalid`).
_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]{1,2})?")
_DECIMALS = re.compile(r"-?[0-9]+\.[0-9]{3,}")


def parse_yuan(value: object) -> Decimal:
    """Parse an amount from a client into a 2-place Decimal, or raise ValueError with a
    translated message.

    Accepted: a string of ASCII digits with at most 2 decimals ("12", "12.5", "12.50"), an
    integer (a JSON whole number: exact) or a Decimal with at most 2 places. Refused: floats (a
    JSON 12.5 is a binary fraction, never exactly 12.50), booleans, exponents, underscores,
    spaces, signs other than "-", and digits of other scripts."""
    if isinstance(value, bool | float):
        raise ValueError(_('Send an amount as a string such as "12.50" (or a whole number).'))
    if isinstance(value, int):
        if abs(value) > MAX_YUAN:  # before str(): Python refuses to print a 5,000-digit int
            raise ValueError(_("That amount is too large."))
        text = str(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(_("Enter an amount such as 12.50."))
        text = f"{value:f}"
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(_("Enter an amount such as 12.50."))
    if len(text) > 40:  # longer than any amount; keeps the regex and Decimal() cheap
        raise ValueError(_("That amount is too large."))
    if not _AMOUNT.fullmatch(text):
        if _DECIMALS.fullmatch(text):
            raise ValueError(_("Amounts have at most 2 decimal places."))
        raise ValueError(_("Enter an amount such as 12.50."))
    amount = Decimal(text)
    if abs(amount) > MAX_YUAN:
        raise ValueError(_("That amount is too large."))
    return amount.quantize(CENT)


def format_yuan(amount: Decimal | int | None) -> str:
    if amount is None:
        return ""
    return f"¥{Decimal(amount).quantize(CENT):,}"
