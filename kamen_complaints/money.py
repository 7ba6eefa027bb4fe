"""Money at the edges: `Decimal` yuan with 2 places; integers of fen (分) in ledger tables.

Never float. A value with more than 2 decimals is refused, not rounded: silently rounding a
claimed amount is a way to lose a buyer's money.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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


def parse_yuan(value: object) -> Decimal:
    """Parse user input ("12.5", 12.5, "12.50") into a 2-place Decimal or raise ValueError
    with a translated message."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(_("Enter an amount such as 12.50.")) from exc
    if not amount.is_finite():
        raise ValueError(_("Enter an amount such as 12.50."))
    # Size first: quantize() raises InvalidOperation beyond the context's 28 digits ("1e400").
    if abs(amount) > MAX_YUAN:
        raise ValueError(_("That amount is too large."))
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise ValueError(_("Amounts have at most 2 decimal places."))
    return amount.quantize(CENT)


def format_yuan(amount: Decimal | int | None) -> str:
    if amount is None:
        return ""
    return f"¥{Decimal(amount).quantize(CENT):,}"
