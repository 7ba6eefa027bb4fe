"""Refuse oversized bodies before anything reads them, and query strings carrying NUL: JSON
under /api/, the site's translated error pages elsewhere (kamen_complaints/views.py).

Body limits: MAX_REQUEST_BODY_SIZE on the declared Content-Length (checked here, before the
body is read), and Django's DATA_UPLOAD_MAX_MEMORY_SIZE on the non-file part of the body,
raised as RequestDataTooBig when something reads it — the CSRF check reads a form first, so
Django's handler400 (kamen_complaints.views.bad_request) answers it; `process_exception` here
and the API's exception handler answer it when a view raised it. Always a 413, never Django's
plain English 400.

A page that takes files in a form the buyer typed (the complaint form, marked with
`keeps_oversized_form`) is not refused outright when the files add up to more than
MAX_REQUEST_BODY_SIZE: up to OVERSIZED_FORM_FACTOR times that, the files are read and thrown
away unstored (DiscardFiles), the text fields are parsed, and the view answers with the form,
everything typed kept, saying why no file was attached (`request.too_large` holds the size).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from kamen_complaints.views import bad_request_response, too_large_response

OVERSIZED_FORM_FACTOR = 4

View = TypeVar("View", bound=Callable[..., Any])


def keeps_oversized_form(view: View) -> View:
    """Mark a page view that re-renders its form itself when the body was too large."""
    view.keeps_oversized_form = True  # type: ignore[attr-defined]
    return view


class DiscardFiles(FileUploadHandler):
    """Reads past every file of the body without keeping a byte of it."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        raise SkipFile

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        return None

    def file_complete(self, file_size: int) -> None:
        return None


class RequestTooLargeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MAX_REQUEST_BODY_SIZE
        if length > limit:
            multipart = request.content_type == "multipart/form-data"
            if (
                request.path.startswith("/api/")
                or not multipart
                or length > OVERSIZED_FORM_FACTOR * limit
            ):
                return too_large_response(request, _too_large_message(length, limit))
            request.upload_handlers = [DiscardFiles(request)]
            request.too_large = length  # type: ignore[attr-defined]
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        length = getattr(request, "too_large", None)
        if length is not None and not getattr(view_func, "keeps_oversized_form", False):
            return too_large_response(
                request, _too_large_message(length, settings.MAX_REQUEST_BODY_SIZE)
            )
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return too_large_response(request, _("The request body is too large."))
        return None


def _too_large_message(length: int, limit: int) -> str:
    return _("What was sent is %(size)s; at most %(limit)s can be sent at once.") % {
        "size": filesizeformat(length),
        "limit": filesizeformat(limit),
    }


class NulInQueryMiddleware:
    """A NUL character anywhere in the query string is a 400 before any view runs: no form,
    filter or admin changelist ever needs one, and PostgreSQL refuses NUL in a text value (a
    500 on every admin list filter and search before, e.g. `?status=a%00b`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return bad_request_response(
                request, _("The address holds a character that is not allowed (NUL).")
            )
        return self.get_response(request)
