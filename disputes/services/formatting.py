"""How the complaint services write times, amounts and event data: Asia/Shanghai to the
minute in refusals, yuan as the platform shows them, JSON with the platform's offset."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kamen_complaints.money import format_yuan
from kamen_complaints.timefmt import SHANGHAI
from kamen_complaints.timefmt import shanghai as local

__all__ = ["jsonable", "local", "yuan"]


def yuan(amount: Decimal | None) -> str:
    return format_yuan(amount)


def jsonable(value: Any) -> Any:
    """Event data as JSON, times with the platform's offset (+08:00) like the API's."""
    if isinstance(value, datetime):
        return timezone.localtime(value, SHANGHAI).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
