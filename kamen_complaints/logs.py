"""The logging configuration settings.py installs (docs/operations.md "Logs").

`LOG_FORMAT=json` (the production default): one JSON object per line on stderr with `time`
(ISO 8601, UTC), `level`, `logger`, `message`, `request_id`, `user_id`, `path`, whatever the
call passed in `extra`, and `exc_info` for a traceback — what a log shipper (Loki, ELK,
CloudWatch) indexes without a parsing rule. `LOG_FORMAT=console` (development's default): one
readable line, still with the request id.
"""

from __future__ import annotations

from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

FORMATS = ("json", "console")

# Django's request logger passes the request object itself in `extra`: its repr carries the
# query string (a reset token, a search) and adds nothing the id and path do not say.
JSON_SKIPPED = [*RESERVED_ATTRS, "request", "taskName"]


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    if log_format not in FORMATS:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(FORMATS)}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "kamen_complaints.request_context.RequestContextFilter"}},
        "formatters": {
            "console": {
                "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            },
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s %(path)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
                "reserved_attrs": JSON_SKIPPED,
                "json_ensure_ascii": False,
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "pikepdf": {"level": "WARNING"},  # an INFO line at import, nothing worth reading
        },
    }
