"""Times as the platform shows them: Asia/Shanghai, whatever the server's or the request's
zone (docs/style.md: times shown in Asia/Shanghai). The one formatter the pages, the
template filters, the services' refusals and the notices all call."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M"  # pages, refusals, notices
SHORT_FORMAT = "%m-%d %H:%M"  # the complaint's sentences and the desk's compact rows


def shanghai(moment: datetime | str | None, fmt: str = TIME_FORMAT) -> str:
    """A time (a datetime or an ISO string) as `Y-m-d H:i` in Asia/Shanghai, or in `fmt`;
    empty for None or anything that is not a time. A naive time is read as Shanghai's."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return ""
    if not isinstance(moment, datetime):
        return ""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, SHANGHAI)
    return moment.astimezone(SHANGHAI).strftime(fmt)
