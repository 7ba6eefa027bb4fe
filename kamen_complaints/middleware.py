"""Refuse oversized bodies before anything reads them, with a JSON 413 for the API.

Two limits: MAX_REQUEST_BODY_SIZE on the declared Content-Length (checked here, before the
body is read), and Django's DATA_UPLOAD_MAX_MEMORY_SIZE on the non-file part of the body,
raised as RequestDataTooBig when a view reads it. DRF views answer that one in
kamen_complaints.api.exception_handler; `process_exception` below answers it for any other
view (413, not Django's generic 400 page)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _


class JsonRequestTooLargeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MAX_REQUEST_BODY_SIZE
        if length > limit:
            message = _("The request body is too large (%(size)s bytes; at most %(limit)s).") % {
                "size": length,
                "limit": limit,
            }
            return _too_large(request, message)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return _too_large(request, _("The request body is too large."))
        return None


def _too_large(request: HttpRequest, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": "too_large"}, status=413)
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
