"""Notification channels: where a notification goes, behind one small interface.

A channel says whether it can reach a user (`address`) and delivers one outbox row (`send`,
raising on failure so the row is retried). The row's `subject` and `body` are set before `send`
to the text disputes.notices.email made for it, in the platform's language (a row stores what
happened, not a sentence; several rows of one complaint go as one message). `immediate`
channels are delivered by the row being written — the in-app notification the user's pages
read — so they never go through Celery.

The channels in use are `settings.NOTIFICATION_CHANNELS` (dotted paths). E-mail uses Django's
e-mail backend (the console backend in development). SMS or WeChat template messages are a new
subclass with the same two methods; `ConsoleChannel` stands in for them in development.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from disputes.models import Notification

logger = logging.getLogger(__name__)

DEFAULT_CHANNELS = ["disputes.channels.InAppChannel", "disputes.channels.EmailChannel"]


class Channel:
    name: str = ""
    immediate: bool = False

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
    """A development stand-in for SMS / WeChat template messages: logs the message."""

    name = "sms"

    def address(self, user: User) -> str | None:
        return str(user.pk)

    def send(self, notification: Notification) -> None:
        logger.info(
            "[%s to user %s] %s", self.name, notification.recipient_id, notification.subject
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
