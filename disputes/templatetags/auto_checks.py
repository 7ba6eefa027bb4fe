"""The automatic checks (平台自动核验) of a complaint, in plain words, on the buyer's complaint
page, the merchant's complaint page and the staff case screen:
`{% load auto_checks %}{% auto_check_panel dispute %}`. Its one query reads the complaint's
checks; the words are disputes.presenting.auto_check_lines."""

from __future__ import annotations

from typing import Any

from django import template

from disputes.models import AutoCheck, Dispute
from disputes.presenting import auto_check_lines

register = template.Library()


def check_lines(dispute: Dispute) -> list[Any]:
    checks = list(
        AutoCheck.objects.filter(dispute_id=dispute.pk).select_related("card_key").order_by("id")
    )
    return auto_check_lines(checks, dispute)


def check_rows(dispute: Dispute) -> list[dict[str, Any]]:
    """The checks as the API shows them (disputes/api/common.py; prefetched by
    disputes.selectors.with_details)."""
    checks = sorted(dispute.auto_checks.all(), key=lambda c: c.pk)
    lines = auto_check_lines(checks, dispute)
    return [
        {
            "kind": c.kind,
            "card_key": c.card_key.masked if c.card_key else None,
            "status": c.status,
            "attempts": c.attempts,
            "answer": c.answer,
            "shows": c.rule,
            "decision": c.decision,
            "sha256": c.sha256,
            "answered_at": c.answered_at,
            "text": line.text,
        }
        for c, line in zip(checks, lines, strict=True)
    ]


@register.inclusion_tag("disputes/_auto_checks.html")
def auto_check_panel(dispute: Dispute, show_hash: bool = False, css: str = "") -> dict[str, Any]:
    return {"lines": check_lines(dispute), "show_hash": show_hash, "css": css}
