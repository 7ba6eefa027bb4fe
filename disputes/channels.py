"""Notification channels: where a notification goes, behind one small interface.

A channel says whether it can reach a user (`address`) and delivers one outbox row (`send`,
raising on failure so the row is retried). The row's `subject` and `body` are set before `send`
to the text disputes.notices.email made for it, in the platform's language (a row stores what
happened, not a sentence; several rows of one complaint go as one message). `immediate`
channels are delivered by the row being written — the in-app notification the user's pages
read — so they never go through Celery.

A channel may also carry only some notifications (`accepts`, asked when the outbox rows are
written): SMS carries a merchant's new complaint and last reminder and a buyer's outcome, and
nothing else.

The channels in use are `settings.NOTIFICATION_CHANNELS` (dotted paths). E-mail uses Django's
e-mail backend (the console backend in development); SMS goes through the provider
kamen_complaints.sms is set to (the sandbox in development, docs/sms.md). WeChat template
messages would be a new subclass with the same methods; `ConsoleChannel` stands in for them in
development.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.utils import translation
from django.utils.module_loading import import_string

from disputes.models import NotificationKind, Outcome, Role
from kamen_complaints import sms
from kamen_complaints.timefmt import SHORT_FORMAT, shanghai

if TYPE_CHECKING:
    from disputes.models import Notification

logger = logging.getLogger(__name__)

DEFAULT_CHANNELS = ["disputes.channels.InAppChannel", "disputes.channels.EmailChannel"]


class Channel:
    name: str = ""
    immediate: bool = False

    def accepts(self, kind: str, role: str, params: dict[str, Any]) -> bool:
        """Whether this channel carries a notification of `kind` to a recipient on `role`'s
        side (False: no row is written for it). Every channel but SMS carries everything."""
        return True

    def address(self, user: User) -> str | None:
        """Where this channel reaches the user; None: it cannot (no row is written)."""
        raise NotImplementedError

    def send(self, notification: Notification) -> None:
        """Deliver one row; raise on failure (the row is retried by the sweep)."""
        raise NotImplementedError


class InAppChannel(Channel):
    """Shown on the user's /notifications/ page: delivered by being written."""

    name = "inapp"
    immediate = True

    def address(self, user: User) -> str | None:
        return str(user.pk)

    def send(self, notification: Notification) -> None:
        return None


class EmailChannel(Channel):
    name = "email"

    def address(self, user: User) -> str | None:
        return user.email or None

    def send(self, notification: Notification) -> None:
        send_mail(notification.subject, notification.body, None, [notification.recipient.email])


class ConsoleChannel(Channel):
    """A development stand-in for WeChat template messages: logs the message. (SMS has its
    own channel, SmsChannel, whose development provider is the SMS sandbox.)"""

    name = "wechat"

    def address(self, user: User) -> str | None:
        return str(user.pk)

    def send(self, notification: Notification) -> None:
        logger.info(
            "[%s to user %s] %s", self.name, notification.recipient_id, notification.subject
        )


# --- SMS ------------------------------------------------------------------------------------

K = NotificationKind
# A buyer's outcome: the complaint ended, whoever or whatever ended it.
SMS_OUTCOMES = frozenset(
    {
        K.ACCEPTED,
        K.OFFER_ACCEPTED,
        K.OFFER_LAPSED,
        K.DEFAULT_JUDGMENT,
        K.REVIEW_EXPIRED,
        K.RULED,
        K.AUTO_DECIDED,
    }
)
# The merchant's last reminder before the default judgment (reminders carry their stage; one
# without a stage is the only, so the last).
LAST_REMINDER_STAGE = "1h"


def sms_kind(kind: str, role: str, params: dict[str, Any]) -> str | None:
    """The SMS message (kamen_complaints.sms) a notification goes as, or None: it does not go
    by SMS. Only a merchant's new complaint, the merchant's last reminder and a buyer's
    outcome do — an SMS costs money and interrupts; everything else is in-app and e-mail."""
    if role == Role.MERCHANT and kind == K.FILED:
        return sms.COMPLAINT_FILED
    if (
        role == Role.MERCHANT
        and kind == K.REMINDER_MERCHANT
        and (params.get("stage") or LAST_REMINDER_STAGE) == LAST_REMINDER_STAGE
    ):
        return sms.LAST_REMINDER
    if role == Role.BUYER and kind in SMS_OUTCOMES:
        return sms.COMPLAINT_OUTCOME
    return None


def _amount(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):.2f}"
    except (InvalidOperation, ValueError):
        return ""


def sms_figures(kind: str, params: dict[str, Any]) -> dict[str, str]:
    """The SMS variables of a notification, from its figures: the complaint number, the
    amount, the deadline (Shanghai, month-day hour:minute), the outcome in the platform's
    language. Nothing else of `params` (a message's line, evidence, …) is ever read."""
    outcome = params.get("outcome")
    with translation.override(settings.LANGUAGE_CODE):
        if outcome in Outcome.values:
            label = str(Outcome(outcome).label)
        else:
            label = str(NotificationKind(kind).label) if kind in K.values else ""
    return {
        "number": str(params.get("number") or ""),
        "amount": _amount(params.get("amount")),
        "due": shanghai(params.get("due"), SHORT_FORMAT),
        "outcome": label,
    }


class SmsChannel(Channel):
    """SMS to the recipient's verified phone (accounts: verified by a code on the account and
    security page), through kamen_complaints.sms: only what `sms_kind` names, as a
    provider-approved template with the complaint number, amount, deadline or outcome — never
    a card key, an identity number or free text. Each number's notice limit applies; a
    message over it waits for the sweep like any failed delivery."""

    name = "sms"

    def accepts(self, kind: str, role: str, params: dict[str, Any]) -> bool:
        return sms_kind(kind, role, params) is not None

    def address(self, user: User) -> str | None:
        return sms.verified_phone(user)

    def send(self, notification: Notification) -> None:
        params = notification.params or {}
        kind = sms_kind(notification.kind, notification.role, params)
        phone = sms.verified_phone(notification.recipient)
        if kind is None or phone is None:
            logger.info("notification %s: no SMS to send (number removed)", notification.pk)
            return
        sms.send(
            phone=phone,
            kind=kind,
            figures=sms_figures(notification.kind, params),
            purpose=sms.NOTICE,
        )


@cache
def channels() -> tuple[Channel, ...]:
    paths = getattr(settings, "NOTIFICATION_CHANNELS", None) or DEFAULT_CHANNELS
    return tuple(import_string(path)() for path in paths)


def channel(name: str) -> Channel | None:
    for candidate in channels():
        if candidate.name == name:
            return candidate
    return None
