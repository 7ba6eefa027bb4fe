"""Error reporting to Sentry (docs/operations.md "Error reporting"), only when SENTRY_DSN is set.

Nothing personal or secret may leave: `send_default_pii` is off (no cookies, no user's
address or name), and every event and breadcrumb passes `scrub` first, which blanks

- by key, at any depth (request data and headers, `extra`, contexts, the local variables of
  every stack frame, breadcrumb data): card keys, identity numbers, phone numbers, tokens and
  API keys, passwords, secrets and signing keys, verification codes, the Authorization and
  Cookie headers;
- by value, in every string (messages, exception values, SQL in breadcrumbs, a request's repr
  in a frame): an 18-character identity number, whatever follows `Token `, `Bearer ` or
  `Api-Key `, and the value of a query parameter with a sensitive name (`?token=…`).

A card key has no fixed shape, so only its name gives it away (`keys`, `secret`, `card_key`,
…), and a local variable may hold one under any name. So by default neither request bodies nor
frame locals are sent at all (`SENTRY_SEND_LOCALS=true` sends the locals, scrubbed by name);
headers, the query string, messages, tags and breadcrumbs are sent scrubbed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Event, Hint

FILTERED = "[Filtered]"

# Lower-cased key names, and fragments: a key containing any fragment is blanked.
SENSITIVE_KEYS = frozenset(
    {
        "keys",
        "key",
        "code",
        "codes",
        "otp",
        "phone",
        "mobile",
        "authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "csrfmiddlewaretoken",
        "sessionid",
        "csrftoken",
        "dsn",
    }
)
SENSITIVE_FRAGMENTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "card_key",
    "cardkey",
    "id_number",
    "idnumber",
    "identity",
    "id_card",
    "signing",
    "private",
    "fernet",
    "credential",
    "session",
    "auth",
    "cookie",
    "plaintext",
    "keys",
)

# A mainland identity number (17 digits and a digit or X); a credential after its scheme.
VALUE_PATTERNS = (
    re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])"),
    # The header schemes as written (not `token = …` in a line of source code).
    re.compile(r"\b(Token|Bearer|bearer|Api-Key)(\s+)[^\s'\",;]+"),
    # A sensitive name in a query string inside any text (a request's repr in a frame).
    re.compile(
        r"(?i)([?&;][a-z0-9_.-]*(?:token|key|secret|password|passwd|code|id_number|phone|auth)"
        r"[a-z0-9_.-]*=)[^&\s'\"<>]*"
    ),
)


def is_sensitive_key(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    name = key.strip().lower()
    return name in SENSITIVE_KEYS or any(fragment in name for fragment in SENSITIVE_FRAGMENTS)


def scrub_text(value: str) -> str:
    value = VALUE_PATTERNS[0].sub(FILTERED, value)
    value = VALUE_PATTERNS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}{FILTERED}", value)
    return VALUE_PATTERNS[2].sub(lambda m: f"{m.group(1)}{FILTERED}", value)


def scrub(value: Any) -> Any:
    """A copy of `value` with every sensitive key's value and sensitive text blanked."""
    if isinstance(value, Mapping):
        return {
            key: (FILTERED if is_sensitive_key(key) and item is not None else scrub(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        # Headers and query strings arrive as [name, value] pairs.
        if len(value) == 2 and is_sensitive_key(value[0]):
            return [value[0], FILTERED]
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def before_send(event: Event, hint: Hint) -> Event:
    scrubbed = scrub(event)
    request = scrubbed.get("request")
    if isinstance(request, dict):
        # The query string is one string: blank the values of sensitive names in it too.
        query = request.get("query_string")
        if isinstance(query, str) and query:
            request["query_string"] = _scrub_query(query)
        request.pop("cookies", None)
    return cast("Event", scrubbed)


def before_breadcrumb(crumb: Breadcrumb, hint: BreadcrumbHint) -> Breadcrumb:
    return cast("Breadcrumb", scrub(crumb))


def _scrub_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        name, sep, _value = part.partition("=")
        parts.append(f"{name}={FILTERED}" if sep and is_sensitive_key(name) else scrub_text(part))
    return "&".join(parts)


def init_sentry(
    *,
    dsn: str,
    environment: str,
    release: str = "",
    traces_sample_rate: float = 0.0,
    send_locals: bool = False,
    request_bodies: str = "never",
) -> bool:
    """Start reporting to `dsn` (False and nothing done when it is empty). `send_locals` and
    `request_bodies` ("never", "small", "medium", "always") send more, scrubbed by name."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        # A body or a local may hold a card key under any name (a free-text description, an
        # import): not sent unless asked for (module docstring).
        max_request_body_size=request_bodies,
        include_local_variables=send_locals,
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        traces_sample_rate=traces_sample_rate,
    )
    return True
