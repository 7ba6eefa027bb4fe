"""The domain error every service raises: a stable code plus a translated sentence.

One DRF exception handler (kamen_complaints.api) and one page helper turn it into a response,
so a refusal reads the same in the API, on a page and in the admin.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule refused the action. `message` names the rule and its numbers, already translated
    (services build it with gettext, so it follows the request's language)."""

    code: str = "invalid"
    status_code: int = 400

    def __init__(
        self,
        message: Any,
        *,
        code: str | None = None,
        status_code: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(str(message))
        self.message = str(message)
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        return {"detail": self.message, "code": self.code, **self.extra}


class NotFound(DomainError):
    """The caller may not see it: answered as 404, never as 403 (no existence leak)."""

    code = "not_found"
    status_code = 404


class Forbidden(DomainError):
    """The caller sees the resource but its role may not take this action."""

    code = "permission_denied"
    status_code = 403
