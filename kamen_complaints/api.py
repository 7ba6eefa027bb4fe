"""API plumbing shared by every app: errors, pagination, throttles, money fields.

Every error leaves as JSON in the shape of shared/API.md: domain refusals as
`{"detail", "code"}`, field errors as DRF's `{"field": ["message"]}`. Never an HTML page.
"""

from __future__ import annotations

import logging
import math
from decimal import Decimal
from typing import Any, cast

from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, pagination, serializers, throttling
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from kamen_complaints.errors import DomainError
from kamen_complaints.money import parse_yuan

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        # DRF reads JSON and form bodies through HttpRequest.body (DRF 3.18; encode/django-rest-
        # framework PR #10013) and
        # multipart through Django's parser: both raise this past DATA_UPLOAD_MAX_MEMORY_SIZE.
        return Response(
            {"detail": _("The request body is too large."), "code": "too_large"}, status=413
        )
    if isinstance(exc, SuspiciousOperation):
        return Response({"detail": _("The request is malformed."), "code": "bad_request"}, 400)
    # Django's own 404/403 (get_object_or_404, …) get the same {"detail", "code"} shape.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    if isinstance(exc, exceptions.Throttled):
        wait = math.ceil(getattr(exc, "wait", 0) or 0)
        return Response(
            {
                "detail": _("Too many requests; try again in %(seconds)s seconds.")
                % {"seconds": wait},
                "code": "throttled",
            },
            status=429,
            headers={"Retry-After": str(wait)},
        )
    response = drf_exception_handler(exc, context)
    if (
        response is not None
        and isinstance(response.data, dict)
        and "detail" in response.data
        and isinstance(exc, exceptions.APIException)
    ):
        codes = exc.get_codes()
        response.data["code"] = codes if isinstance(codes, str) else exc.default_code
    return response


def request_user(request: Any) -> User:
    """The authenticated caller (views that reach here require authentication)."""
    user = request.user
    if not user or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    return cast(User, user)


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class _LiveRateThrottle(throttling.SimpleRateThrottle):
    """Reads its rate when it runs, not at import (SimpleRateThrottle.THROTTLE_RATES is bound
    once), so a changed REST_FRAMEWORK setting — a test's `settings` fixture — takes effect."""

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        if self.scope not in rates:
            raise ImproperlyConfigured(f"No throttle rate for scope {self.scope!r}")
        return cast(str | None, rates[self.scope])


class _ScopedUserThrottle(_LiveRateThrottle):
    """Per authenticated user (or per IP for anonymous callers)."""

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class _ScopedIPThrottle(_LiveRateThrottle):
    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def throttles(scope: str) -> list[type[throttling.BaseThrottle]]:
    """Throttle classes for one scope, per user and per IP (rates in settings)."""
    user = type(f"{scope.title()}UserThrottle", (_ScopedUserThrottle,), {"scope": f"{scope}_user"})
    ip = type(f"{scope.title()}IPThrottle", (_ScopedIPThrottle,), {"scope": f"{scope}_ip"})
    return [user, ip]


class MoneyField(serializers.DecimalField):
    """Yuan with 2 decimals: a string in responses, a string or number in requests."""

    default_error_messages = {
        "money": "{message}",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or data is None or isinstance(data, list | dict):
            self.fail("invalid")
        try:
            amount = parse_yuan(data)
        except ValueError as exc:
            self.fail("money", message=str(exc))
        return super().to_internal_value(str(amount))
