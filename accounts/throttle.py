"""What stands in front of every password check of a page: the login throttle (per client,
the API's counters: kamen_complaints.api.throttle_wait), then the per-account lockout
(accounts/logins.py). Either refuses without trying the password; the view answers 429 with
Retry-After."""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from accounts import logins
from kamen_complaints.api import throttle_wait, throttled_message


class GuardedLoginMixin:
    """In front of the password check of a login form: the login throttle (per client), then
    the per-account lockout (accounts/logins.py). Either refuses without trying the
    password, with the seconds to wait in `retry_after` (the view answers 429)."""

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        assert self.request is not None  # noqa: S101 (the login views always pass it)
        wait = throttle_wait(self.request, "login")
        if wait is not None:
            self.retry_after = wait
            raise ValidationError(throttled_message(wait), code="throttled")
        username = self.cleaned_data.get("username") or ""
        wait = logins.login_lockout_wait(self.request, username=username)
        if wait is not None:
            self.retry_after = wait
            raise ValidationError(logins.login_lockout_message(wait), code="locked_out")
        return cast(dict[str, Any], super().clean())  # type: ignore[misc]


def refused(response: HttpResponse, form: Any) -> HttpResponse:
    """429 with Retry-After when the form was refused by the throttle or the lockout."""
    wait = getattr(form, "retry_after", None)
    if wait is not None:
        response.status_code = 429
        response["Retry-After"] = str(wait)
    return response
