"""docs/rules.md cannot drift from the code it describes: the transition table there is read
back and compared with `ALLOWED` (disputes/services/state_machine.py), the one table every
path checks."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from disputes.models import Status
from disputes.services.state_machine import ALLOWED

RULES = Path(settings.BASE_DIR) / "docs" / "rules.md"


def _documented_transitions(text: str) -> dict[str, set[str]]:
    """The markdown table that follows the sentence naming `ALLOWED`: `from` → `may go to`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "`ALLOWED`" in line)
    header = next(i for i in range(start, len(lines)) if lines[i].startswith("| from |"))
    table: dict[str, set[str]] = {}
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 2, line
        [source] = re.findall(r"`([a-z_]+)`", cells[0])
        assert source not in table, f"{source} is listed twice"
        # Only the statuses in backticks count; a gloss in parentheses ("the appeal") does not.
        table[source] = set(re.findall(r"`([a-z_]+)`", cells[1]))
        if not table[source]:
            assert cells[1] == "nothing", line
    return table


def test_the_transition_table_in_docs_rules_md_is_allowed():
    documented = _documented_transitions(RULES.read_text(encoding="utf-8"))
    in_code = {str(source): {str(to) for to in targets} for source, targets in ALLOWED.items()}
    assert documented == in_code


def test_every_status_has_its_row():
    assert set(ALLOWED) == set(Status.values)


def test_the_parser_sees_a_drift():
    """The comparison is not vacuous: a table with one target more or less is told apart."""
    text = RULES.read_text(encoding="utf-8")
    drifted = text.replace(
        "| `under_review` | `resolved`, `withdrawn` |", "| `under_review` | `resolved` |"
    )
    assert drifted != text
    table = _documented_transitions(drifted)
    assert table[Status.UNDER_REVIEW] == {Status.RESOLVED} != ALLOWED[Status.UNDER_REVIEW]


def test_every_test_file_the_code_and_docs_cite_exists():
    """A comment or a page that says "proved by tests/…" names a file that is there (clock.py
    once cited a tests/disputes/test_settlement.py that never existed)."""
    root = Path(settings.BASE_DIR)
    sources = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    for app in ("disputes", "escrow", "orders", "kamen_complaints"):
        sources += sorted(p for p in (root / app).rglob("*.py") if "migrations" not in p.parts)
    cited = {
        (source.relative_to(root), path)
        for source in sources
        for path in re.findall(r"\btests/[\w/]+\.py\b", source.read_text(encoding="utf-8"))
    }
    assert len(cited) > 20  # the scan sees the citations
    missing = sorted((str(source), path) for source, path in cited if not (root / path).is_file())
    assert missing == []
