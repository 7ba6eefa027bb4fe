"""The account gate, after the authentication and OTP middleware: a signed-in account that
must pass the second step (accounts/twostep.py), set up an authenticator (staff, when
required) or set its own password (created by someone else) is sent to that page before
any other. The flags are read from the session, noted at login (accounts/security.py), so a
passing request costs no query."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _

from accounts import twostep
from accounts.services import account_must_set_password

MUST_SET_PASSWORD = "accounts.must_set_password"  # noqa: S105 (a session key)
HAS_DEVICE = "accounts.has_device"

# The pages open to an account held at each gate: that gate's own pages and logging out. (A
# password alone must not reach the set-up of a new authenticator, nor a password change.)
_LEAVING = {"logout", "admin:logout"}
_OPEN = {
    "twostep_verify": {"twostep_verify", *_LEAVING},
    "twostep_setup": {"twostep_setup", *_LEAVING},
    "password_change": {"password_change", "password_change_done", *_LEAVING},
}
_OPEN_PREFIXES = ("/static/", "/healthz", "/i18n/")


class AccountGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not request.path.startswith(_OPEN_PREFIXES):
            target = self._held_at(request)
            if target is not None and not self._open(request, target):
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {
                            "detail": _("Finish logging in on the site first."),
                            "code": "login_incomplete",
                        },
                        status=403,
                    )
                query = urlencode({"next": request.get_full_path()})
                return HttpResponseRedirect(f"{reverse(target)}?{query}")
        return self.get_response(request)

    @staticmethod
    def _held_at(request: HttpRequest) -> str | None:
        user = request.user
        session = request.session
        if HAS_DEVICE not in session:
            session[HAS_DEVICE] = twostep.has_device(user)
        if not user.is_verified():  # type: ignore[union-attr]
            if session[HAS_DEVICE] and not twostep.has_device(user):
                # Turned off meanwhile (accounts.services.twostep_turn_off, in another
                # session): no code could pass this one, so it is not held.
                session[HAS_DEVICE] = False
            if session[HAS_DEVICE]:
                return "twostep_verify"
            if twostep.required(user):
                return "twostep_setup"
        if MUST_SET_PASSWORD not in session:
            session[MUST_SET_PASSWORD] = account_must_set_password(user=user)  # type: ignore[arg-type]
        if session[MUST_SET_PASSWORD]:
            return "password_change"
        return None

    @staticmethod
    def _open(request: HttpRequest, target: str) -> bool:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        return match.view_name in _OPEN[target]
