"""What an SMS may say: our message kinds, each a provider-approved template with named
variables of a fixed shape.

SMS in mainland China go out only through templates the provider approved; we send a template
code (settings.SMS_TEMPLATES maps each kind to it) and the variables. Every variable has a
shape — a 6-digit code, a count, a complaint number, an amount, a time, a short label — and a
value that does not fit its shape is refused before anything is sent, so no SMS ever carries
a card key, an identity number or free text (docs/sms.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Our message kinds (settings.SMS_TEMPLATES names them).
VERIFY_CODE = "verify_code"
RESET_CODE = "reset_code"
COMPLAINT_FILED = "complaint_filed"
LAST_REMINDER = "last_reminder"
COMPLAINT_OUTCOME = "complaint_outcome"

# A variable's shape. `label`: at most four short words, no digit, no capital Latin letter (an
# outcome such as 全额退款): nothing a card key or an identity number could pass as.
SHAPES: dict[str, re.Pattern[str]] = {
    "code": re.compile(r"[0-9]{6}"),
    "count": re.compile(r"[0-9]{1,3}"),
    "complaint": re.compile(r"TS[0-9A-Z]{6,22}"),
    "amount": re.compile(r"[0-9]{1,9}\.[0-9]{2}"),
    "time": re.compile(r"[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}"),
    "label": re.compile(r"[^\W\dA-Z_]+(?: [^\W\dA-Z_]+){0,3}"),
}
LABEL_MAX = 20


@dataclass(frozen=True)
class Template:
    """One message kind: its variables in the template's order (Tencent passes them as a list,
    Aliyun by name) with their shapes, and the wording to register with the provider (also
    what the development sandbox writes)."""

    variables: tuple[tuple[str, str], ...]
    text: Promise


TEMPLATES: dict[str, Template] = {
    VERIFY_CODE: Template(
        (("code", "code"), ("minutes", "count")),
        _(
            "Your verification code is ${code}, valid for ${minutes} minutes. Never tell it "
            "to anyone, platform staff included."
        ),
    ),
    RESET_CODE: Template(
        (("code", "code"), ("minutes", "count")),
        _(
            "Your code to reset the password is ${code}, valid for ${minutes} minutes. If you "
            "did not ask for it, ignore this message."
        ),
    ),
    COMPLAINT_FILED: Template(
        (("number", "complaint"), ("amount", "amount"), ("due", "time")),
        _(
            "New complaint ${number} claims ${amount} yuan. Answer it by ${due}, or the buyer "
            "wins by default."
        ),
    ),
    LAST_REMINDER: Template(
        (("number", "complaint"), ("due", "time")),
        _(
            "Last reminder: complaint ${number} must be answered by ${due}, or the buyer wins "
            "by default and is compensated from your deposit."
        ),
    ),
    COMPLAINT_OUTCOME: Template(
        (("number", "complaint"), ("outcome", "label")),
        _("Your complaint ${number} is decided: ${outcome}. The details are on the site."),
    ),
}


class MessageRefused(ValueError):
    """A message that may not be sent as it is: an unknown kind, a missing variable, or a
    value that does not have its variable's shape."""


@dataclass(frozen=True)
class Message:
    kind: str
    template_code: str
    params: dict[str, str]  # in the template's order

    def text(self) -> str:
        """The message as the provider renders it from the registered wording (for the log and
        the development sandbox)."""
        text = str(TEMPLATES[self.kind].text)
        for name, value in self.params.items():
            text = text.replace("${" + name + "}", value)
        return text


def template_code(kind: str) -> str:
    code = (getattr(settings, "SMS_TEMPLATES", None) or {}).get(kind, "")
    if not code:
        raise ImproperlyConfigured(f"SMS_TEMPLATES has no template code for {kind!r}")
    return str(code)


def build(kind: str, figures: dict[str, object]) -> Message:
    """The message of `kind` with its variables taken from `figures` (anything else in
    `figures` is left out), each checked against its shape."""
    template = TEMPLATES.get(kind)
    if template is None:
        raise MessageRefused(f"unknown SMS kind {kind!r}")
    params: dict[str, str] = {}
    for name, shape in template.variables:
        value = str(figures.get(name, "")).strip()
        if not SHAPES[shape].fullmatch(value) or (shape == "label" and len(value) > LABEL_MAX):
            raise MessageRefused(f"SMS {kind}: {name} is not a {shape}")
        params[name] = value
    return Message(kind=kind, template_code=template_code(kind), params=params)
