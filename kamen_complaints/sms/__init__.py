"""Text messages (SMS) behind a provider interface (docs/sms.md).

    sms.send(phone="+8613800138000", kind=sms.VERIFY_CODE,
             figures={"code": "123456", "minutes": 10}, purpose=sms.CODE)

builds the provider-approved template's message (kamen_complaints/sms/messages.py: every
variable has a fixed shape, so no card key or identity number can travel), counts it against
the number's limits (limits.py) and hands it to the provider settings.SMS_PROVIDER names
(providers.py: sandbox, aliyun, tencent).

Who has which verified phone is the accounts app's: it registers the lookup at start-up
(`register_phone_lookup`), so the notification channel (disputes) and the merchant dashboard
ask `verified_phone(user)` without importing accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.auth.models import User
from django.utils.translation import gettext as _

from kamen_complaints.errors import DomainError
from kamen_complaints.sms import checks, limits, messages, providers  # noqa: F401 (checks)
from kamen_complaints.sms.limits import CODE, NOTICE
from kamen_complaints.sms.messages import (
    COMPLAINT_FILED,
    COMPLAINT_OUTCOME,
    LAST_REMINDER,
    RESET_CODE,
    VERIFY_CODE,
    MessageRefused,
)
from kamen_complaints.sms.providers import SmsNotSent

__all__ = [
    "CODE",
    "COMPLAINT_FILED",
    "COMPLAINT_OUTCOME",
    "LAST_REMINDER",
    "NOTICE",
    "RESET_CODE",
    "VERIFY_CODE",
    "MessageRefused",
    "SmsNotSent",
    "SmsRateLimited",
    "SmsUnavailable",
    "masked",
    "phones_known",
    "register_bulk_phone_lookup",
    "register_phone_lookup",
    "send",
    "verified_phone",
]


class SmsRateLimited(DomainError):
    """The number has had its share of messages for now (limits.py)."""

    code = "sms_rate_limited"
    status_code = 429

    def __init__(self, wait: int) -> None:
        super().__init__(limits.wait_message(wait), retry_after=wait)
        self.retry_after = wait


class SmsUnavailable(DomainError):
    """The provider did not take a message a person is waiting for (a code)."""

    code = "sms_unavailable"
    status_code = 503

    def __init__(self) -> None:
        super().__init__(
            _("The text message could not be sent just now; please try again in a few minutes.")
        )


def send(
    *, phone: str, kind: str, figures: dict[str, Any], purpose: str, counted: bool = False
) -> str:
    """Send the `kind` message to `phone` (E.164). Returns the provider's message id.
    Raises MessageRefused (a variable without its shape: a bug, nothing is sent),
    SmsRateLimited (the number's `purpose` limit, nothing is sent) or SmsNotSent (the
    provider). `counted`: the caller has already counted this message against the limits
    (`limits.take`), as a page that must answer the same for every number does."""
    message = messages.build(kind, figures)
    wait = None if counted else limits.take(phone, purpose)
    if wait is not None:
        raise SmsRateLimited(wait)
    return providers.provider().send(phone, message.template_code, message.params)


# --- Verified phones (registered by accounts) ----------------------------------------------

PhoneLookup = Callable[[User], "str | None"]
_phone_lookups: list[PhoneLookup] = []


def register_phone_lookup(lookup: PhoneLookup) -> None:
    if lookup not in _phone_lookups:
        _phone_lookups.append(lookup)


# The same for many accounts in one query: {user id: verified number} of those that have one.
BulkPhoneLookup = Callable[[Collection[int]], "dict[int, str]"]
_bulk_phone_lookups: list[BulkPhoneLookup] = []
_known_phones: ContextVar[dict[int, str | None] | None] = ContextVar(
    "sms_known_phones", default=None
)


def register_bulk_phone_lookup(lookup: BulkPhoneLookup) -> None:
    if lookup not in _bulk_phone_lookups:
        _bulk_phone_lookups.append(lookup)


@contextmanager
def phones_known(user_ids: Iterable[int]) -> Iterator[None]:
    """Within this block, `verified_phone` answers for these accounts from one look-up made
    here: a batch that tells many people (the clock's batches, the reminders) asks the
    SMS channel's addresses once, not once per recipient."""
    ids = {i for i in user_ids if i}
    found: dict[int, str] = {}
    for lookup in _bulk_phone_lookups:
        found.update(lookup([i for i in ids if i not in found]))
    token = _known_phones.set({i: found.get(i) for i in ids})
    try:
        yield
    finally:
        _known_phones.reset(token)


def verified_phone(user: User) -> str | None:
    """The user's verified mobile number (E.164), or None."""
    known = _known_phones.get()
    if known is not None and user.pk in known:
        return known[user.pk]
    for lookup in _phone_lookups:
        phone = lookup(user)
        if phone:
            return phone
    return None


def masked(phone: str) -> str:
    """+8613812345678 as 138****5678: what a page shows of a number."""
    digits = phone.removeprefix("+86")
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) == 11 else digits
