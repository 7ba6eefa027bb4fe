"""Error pages: JSON under /api/ (docs/api.md: never an HTML page), HTML elsewhere."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found."), "code": "not_found"}, status=404)
    return render(request, "404.html", status=404)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A page outside one's role: in the admin's look for staff pages (with the links the
    reader may follow), in the site's look elsewhere; translated like every page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": _("You do not have permission to do this."), "code": "permission_denied"},
            status=403,
        )
    if request.path.startswith("/admin/") and getattr(request.user, "is_staff", False):
        from django.contrib import admin

        context = {**admin.site.each_context(request), "title": _("Not part of your role")}
        return render(request, "admin/403.html", context, status=403)
    return render(request, "403.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": _("Something went wrong on our side."), "code": "server_error"},
            status=500,
        )
    return render(request, "500.html", status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's handler400: a body over DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig, which
    the CSRF check raises while reading a form) is a 413; anything else a 400. In the site's
    frame and translated, never Django's plain English page."""
    if isinstance(exception, RequestDataTooBig):
        return too_large_response(request, _("The request body is too large."))
    return bad_request_response(request, _("The request is malformed."))


def bad_request_response(request: HttpRequest, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": "bad_request"}, status=400)
    return render(request, "400.html", {"message": message}, status=400)


def too_large_response(request: HttpRequest, message: str) -> HttpResponse:
    """413: JSON under /api/ (docs/api.md), the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": "too_large"}, status=413)
    return render(request, "413.html", {"message": message}, status=413)
