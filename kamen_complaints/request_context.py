"""The request id: one per web request, carried into every log line the request writes and into
the Celery tasks it enqueues, so an operator follows one request from the web log to the
worker's (docs/operations.md "Logs").

The id comes from the client's (or the proxy's) `X-Request-ID` header when it is a sane token
(letters, digits, `-`, `_`, `.`, at most 64), else it is made here; the response carries it
back in `X-Request-ID`. It lives in a context variable, so threads and tasks never share it:
`kamen_complaints/celery.py` puts it in the headers of each task published while it is set and
sets it again in the worker before the task runs.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
# What a client may choose as its id: anything else (too long, spaces, control characters,
# an attempt to forge a log line) is replaced by one of ours.
SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

request_id_var: ContextVar[str | None] = ContextVar("kamen_request_id", default=None)
_request_var: ContextVar[HttpRequest | None] = ContextVar("kamen_request", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def choose_request_id(offered: str | None) -> str:
    """The client's id when it is sane, else a new one."""
    if offered and SANE_ID.fullmatch(offered):
        return offered
    return new_request_id()


@contextmanager
def request_id_set(value: str | None) -> Iterator[None]:
    """Run a block with this request id (a task in the worker, a management command)."""
    token = request_id_var.set(value)
    try:
        yield
    finally:
        request_id_var.reset(token)


class RequestIdMiddleware:
    """First in MIDDLEWARE, so every later middleware's and view's log line carries the id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = choose_request_id(request.META.get(META_KEY))
        request.request_id = request_id  # type: ignore[attr-defined]
        id_token = request_id_var.set(request_id)
        request_token = _request_var.set(request)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(id_token)
            _request_var.reset(request_token)
        response[HEADER] = request_id
        return response


def _user_id(request: HttpRequest) -> Any:
    """The signed-in user's id, if the request already knows who it is. Never makes the lazy
    user load (a log line must not run a query): Django's session user once something used
    it, or the user DRF authenticated (it assigns the plain object)."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        wrapped = user._wrapped  # type: ignore[attr-defined]
        if wrapped is empty:
            return None
        user = wrapped
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


class RequestContextFilter(logging.Filter):
    """Adds `request_id`, `user_id` and `path` to every record (None outside a request), for
    both the JSON and the console format. Attached to the handlers, so records of every
    logger (Django's, Celery's, ours) get them."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs a 4xx or 5xx answer after the middleware returned, passing the request.
        passed = getattr(record, "request", None)
        request = passed if isinstance(passed, HttpRequest) else _request_var.get()
        if not hasattr(record, "request_id"):
            record.request_id = (
                getattr(request, "request_id", None) if passed is request else None
            ) or request_id_var.get()
        if not hasattr(record, "user_id"):
            record.user_id = _user_id(request) if request is not None else None
        if not hasattr(record, "path"):
            record.path = request.path if request is not None else None
        return True
