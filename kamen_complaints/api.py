"""API plumbing shared by every app: errors, pagination, throttles, money fields.

Every error leaves as JSON in the shape of docs/api.md: domain refusals as
`{"detail", "code"}`, field errors as DRF's `{"field": ["message"]}`. Never an HTML page.
"""

from __future__ import annotations

import logging
import math
import re
from decimal import Decimal
from typing import Any, cast

from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import exceptions, pagination, serializers, throttling
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from kamen_complaints.errors import DomainError
from kamen_complaints.money import MAX_YUAN, parse_yuan

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


def positive_query_int(request: Any, name: str) -> int | None:
    """A query parameter that must be a positive whole number in ASCII digits, or absent.

    `?page_size=null`, `?page_size=`, `?page=0` or `?page=١` are a 400 naming the parameter,
    not silently the default (docs/security/hostile-input.md)."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not (_POSITIVE_INT.fullmatch(raw) and int(raw) >= 1):
        raise exceptions.ValidationError(
            {name: [_("Enter a whole number of at least 1 (digits 0-9 only).")]}
        )
    return int(raw)


# Up to 18 digits: int() of a longer string is slow, and no page is that far.
_POSITIVE_INT = re.compile(r"[0-9]{1,18}")


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=` and `?page_size=` (default 20, at most 100: more is read as 100). Anything but a
    positive whole number is a 400; a page past the last one is a 404 (DRF's `invalid_page`)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Any) -> int:
        size = positive_query_int(request, self.page_size_query_param)
        if size is None:
            return self.page_size
        return min(size, self.max_page_size)

    def get_page_number(self, request: Any, paginator: Any) -> Any:
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw in self.last_page_strings:
            return raw
        return positive_query_int(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] in (self.page_query_param, self.page_size_query_param):
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
        return parameters


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, but a filter given empty (`?status=`) is a 400 instead of "no
    filter": a client that sends a blank value has a bug, and listing everything hides it
    (shared API contract: unknown filter values are refused with 400)."""

    def get_filterset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            for name in filterset.filters:
                values = request.query_params.getlist(name)
                if any(value.strip() == "" for value in values):
                    raise exceptions.ValidationError(
                        {name: [_("Give this filter a value, or leave it out.")]}
                    )
        return filterset


# For APIViews that paginate by hand: the query parameters and the answer's shape, as
# generics.ListAPIView would describe them.
PAGE_PARAMETERS = [
    OpenApiParameter("page", int, required=False, description="A page number (from 1)."),
    OpenApiParameter(
        "page_size", int, required=False, description="Results per page (default 20, at most 100)."
    ),
]


def paginated(serializer_class: type[serializers.Serializer], name: str) -> Any:
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )


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


def throttle_wait(request: Any, scope: str) -> int | None:
    """Seconds to wait when this request is over `scope`'s rates (per user and per IP), or
    None when it may go ahead; the request is counted. For pages: their counters are the
    API's, so a page is no way around the API's limits."""
    waits: list[float] = []
    for throttle_class in throttles(scope):
        throttle = throttle_class()
        # DRF's throttles read only .user and .META, which a Django request has too.
        if not throttle.allow_request(request, cast(Any, None)):
            waits.append(throttle.wait() or 0)
    if not waits:
        return None
    return max(1, math.ceil(max(waits)))


def throttled_message(wait: int) -> str:
    return _("Too many attempts; try again in %(seconds)s seconds.") % {"seconds": wait}


def _current(throttle: Any, request: Any) -> bool:
    """Load the throttle's history for this request (what allow_request does before deciding);
    False when the throttle does not apply (no rate, no key). `throttle` is a
    _LiveRateThrottle; Any because DRF sets `duration` and `num_requests` untyped."""
    if throttle.rate is None:
        return False
    throttle.key = throttle.get_cache_key(request, None)
    if throttle.key is None:
        return False
    throttle.history = throttle.cache.get(throttle.key, [])
    throttle.now = throttle.timer()
    while throttle.history and throttle.history[-1] <= throttle.now - throttle.duration:
        throttle.history.pop()
    return True


def throttle_peek(request: Any, scope: str) -> int | None:
    """Seconds to wait when `request` is already at `scope`'s rates, without counting it. For
    limits that count successes only (filing: accepted complaints): check with this before,
    `throttle_record` after success. Two requests at once may both pass the check; the limit
    is a brake, not an exact count."""
    waits: list[float] = []
    for throttle_class in throttles(scope):
        throttle: Any = throttle_class()
        if _current(throttle, request) and len(throttle.history) >= throttle.num_requests:
            waits.append(throttle.wait() or 0)
    return max(1, math.ceil(max(waits))) if waits else None


def throttle_record(request: Any, scope: str) -> None:
    """Count one success against `scope`'s rates (see throttle_peek)."""
    for throttle_class in throttles(scope):
        throttle: Any = throttle_class()
        if _current(throttle, request):
            throttle.throttle_success()


class TextField(serializers.CharField):
    """Text takes a JSON string, nothing else. DRF's CharField turns 0 or -2.5e16 into "0" and
    "-2.5e16", so a number sent for a message or a reason was stored as if typed; the API's
    fuzzing names that accepting a schema-violating request (docs/security/hostile-input.md).
    Form and multipart bodies carry only strings, so they are unaffected."""

    default_error_messages = {"not_text": gettext_lazy("Send text (a JSON string).")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_text")
        return super().to_internal_value(data)


class JSONBooleanField(serializers.BooleanField):
    """A yes/no takes JSON true or false. DRF's BooleanField also reads 0, 1, "yes", "off"…,
    which the API's fuzzing names accepting a schema-violating request."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


# Every CharField of the API's input serializers is a TextField: the ones written out in
# api.py modules (which use TextField by name) and the ones ModelSerializer makes for a model's
# CharField / TextField columns.
serializers.ModelSerializer.serializer_field_mapping[models.CharField] = TextField
serializers.ModelSerializer.serializer_field_mapping[models.TextField] = TextField


class MoneyField(serializers.DecimalField):
    """Yuan with 2 decimals: a string in responses; in requests a string of ASCII digits with at
    most 2 decimals ("12.50") or a JSON whole number (12), never a JSON float (12.5 is a binary
    fraction) — kamen_complaints.money.parse_yuan, docs/security/hostile-input.md."""

    default_error_messages = {
        "money": "{message}",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            amount = parse_yuan(data)
        except ValueError as exc:
            self.fail("money", message=str(exc))
        return super().to_internal_value(str(amount))


# What a client may send, in the schema too, so a schema fuzzer's "invalid" amounts are the ones
# parse_yuan refuses (a minus sign parses, then the services refuse it as `amount_invalid`).
AMOUNT_PATTERN = r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$"


class MoneyFieldSchema(OpenApiSerializerFieldExtension):
    target_class = MoneyField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        if direction == "response":
            return {"type": "string", "format": "decimal", "example": "12.50"}
        return {
            "oneOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN, "example": "12.50"},
                {"type": "integer", "minimum": -int(MAX_YUAN), "maximum": int(MAX_YUAN)},
            ],
            "description": 'Yuan: a string with at most 2 decimals ("12.50") or a whole number.',
        }
