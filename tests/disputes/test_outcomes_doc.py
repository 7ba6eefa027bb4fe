"""docs/rules.md "Money per outcome" cannot drift from the code: its table is read back and
compared with `MONEY` (disputes/outcomes.py), the one table every settlement takes its figures
from; and the figures each ending gives are the ones the table names."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings

from disputes.models import Outcome
from disputes.outcomes import MONEY, Ending, Share, decided, targets

RULES = Path(settings.BASE_DIR) / "docs" / "rules.md"


def _documented_money(text: str) -> dict[str, tuple[str, str]]:
    """The table under "Money per outcome": ending (the code in parentheses at the end of the
    first cell) → the first term in backticks of the buyer's and of the merchant's cell."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line == "## Money per outcome")
    header = next(
        i for i in range(start, len(lines)) if lines[i].startswith("| how the complaint ends |")
    )
    table: dict[str, tuple[str, str]] = {}
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 4, line
        [ending] = re.findall(r"\(`([a-z_]+)`\)$", cells[0])
        assert ending not in table, f"{ending} is listed twice"
        buyer = re.findall(r"`([a-z_]+)`", cells[1])[0]
        merchant = re.findall(r"`([a-z_]+)`", cells[2])[0]
        table[ending] = (buyer, merchant)
    return table


def test_the_money_table_in_docs_rules_md_is_money():
    documented = _documented_money(RULES.read_text(encoding="utf-8"))
    in_code = {str(ending): (str(b), str(m)) for ending, (b, m) in MONEY.items()}
    assert documented == in_code


def test_every_ending_has_its_row():
    assert set(MONEY) == set(Ending)


def test_the_parser_sees_a_drift():
    text = RULES.read_text(encoding="utf-8")
    drifted = text.replace(
        "(`default_judgment`) | `claim` | `claim` |", "(`default_judgment`) | `claim` | `nothing` |"
    )
    assert drifted != text
    table = _documented_money(drifted)
    assert table[Ending.DEFAULT_JUDGMENT] == ("claim", "nothing")
    assert MONEY[Ending.DEFAULT_JUDGMENT] != (Share.CLAIM, Share.NOTHING)


def _dispute(**kwargs: Any) -> Any:
    fields = {"claimed_amount": Decimal("80.00"), "paid_out": Decimal("30.00"), **kwargs}
    return SimpleNamespace(**fields)


@pytest.mark.parametrize(
    ("ending", "expected"),
    [
        (Ending.ACCEPTED_REFUND, (Decimal("80.00"), Decimal("80.00"))),
        (Ending.ACCEPTED_REPLACEMENT, (Decimal("30.00"), Decimal("0.00"))),
        (Ending.OFFER_ACCEPTED, (Decimal("25.00"), Decimal("25.00"))),
        (Ending.DECIDED_PAID_PLATFORM_BEARS, (Decimal("25.00"), Decimal("0.00"))),
        (Ending.REVIEW_EXPIRED, (Decimal("80.00"), None)),
        (Ending.RECOVERY_MERCHANT, (Decimal("30.00"), Decimal("30.00"))),
        (Ending.WITHDRAWN_AFTER_PAYOUT, (Decimal("30.00"), None)),
    ],
)
def test_targets_give_the_figures_the_row_names(ending, expected):
    """`claim` is the claim, `amount` the amount decided, `paid` and the buyer's `nothing`
    what the buyer already has, the merchant's `nothing` zero, `later` None."""
    assert targets(ending, _dispute(), amount=Decimal("25.00")) == expected


def test_an_ending_with_an_amount_needs_it():
    with pytest.raises(ValueError):
        targets(Ending.OFFER_ACCEPTED, _dispute())


@pytest.mark.parametrize(
    ("outcome", "merchant_bears", "ending"),
    [
        (Outcome.REFUNDED, True, Ending.DECIDED_PAID),
        (Outcome.PARTIALLY_REFUNDED, False, Ending.DECIDED_PAID_PLATFORM_BEARS),
        (Outcome.REPLACED, True, Ending.DECIDED_UNPAID),
        (Outcome.REJECTED, False, Ending.DECIDED_UNPAID),
        (Outcome.REJECTED_MALICIOUS, True, Ending.DECIDED_UNPAID),
    ],
)
def test_a_decision_ends_by_its_outcome(outcome, merchant_bears, ending):
    assert decided(outcome, merchant_bears=merchant_bears) == ending
