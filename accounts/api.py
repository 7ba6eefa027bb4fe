"""The account API (docs/api.md, auth): register, an API token for a username and password,
and logging a token out. URLs: accounts/api_urls.py, under /api/v1/auth/."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, password_validation, user_logged_in
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from knox.views import LogoutAllView as KnoxLogoutAllView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import logins, tokens, twostep
from accounts.services import account_must_set_password, buyer_register, twostep_match
from kamen_complaints.api import TextField, throttles
from kamen_complaints.errors import DomainError


class RegisterSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = TextField(write_only=True, max_length=128)
    email = serializers.EmailField()

    def validate_username(self, value: str) -> str:
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError(_("That username is taken."))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = User(username=attrs["username"], email=attrs["email"])
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class TokenSerializer(serializers.Serializer):
    username = TextField(max_length=150)
    password = TextField(max_length=128, write_only=True)
    otp_token = TextField(max_length=16, required=False, write_only=True)


class RegisterView(APIView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = throttles("login")

    @extend_schema(request=RegisterSerializer, responses={201: None})
    def post(self, request: Request) -> Response:
        data = RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = buyer_register(
            username=data.validated_data["username"],
            email=data.validated_data["email"],
            password=data.validated_data["password"],
        )
        return Response({"id": user.pk, "username": user.username}, status=201)


def _second_step(user: User, otp_token: str) -> None:
    """What the site's account gate asks (accounts/middleware.py), asked of a token too: an
    account that must set its own password gets none, and one with two-step login (or staff,
    when required) needs `otp_token`, a current authenticator code or a recovery code."""
    if account_must_set_password(user=user):
        raise DomainError(
            _("Set your own password on the site first."),
            code="password_must_be_set",
            status_code=403,
        )
    if twostep.has_device(user):
        if twostep_match(user=user, token=otp_token) is None:
            raise DomainError(
                _("Two-step login is on: give otp_token, the current code or a recovery code."),
                code="otp_required",
                status_code=403,
            )
    elif twostep.required(user):
        raise DomainError(
            _("Set up two-step login on the site first."),
            code="twostep_setup_required",
            status_code=403,
        )


class TokenView(APIView):
    """A new API token (hashed at rest, expiring; accounts/tokens.py) for a username
    and password, behind the login throttle and the per-account lockout."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = throttles("login")

    @extend_schema(
        request=TokenSerializer,
        responses=inline_serializer(
            "Token", {"token": TextField(), "expiry": serializers.DateTimeField()}
        ),
    )
    def post(self, request: Request) -> Response:
        data = TokenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data["username"]
        wait = logins.login_lockout_wait(request._request, username=username)
        if wait is not None:
            return Response(
                {"detail": logins.login_lockout_message(wait), "code": "locked_out"},
                status=429,
                headers={"Retry-After": str(wait)},
            )
        # A failure is counted by the user_login_failed receiver (accounts/logins.py).
        user = authenticate(
            request._request, username=username, password=data.validated_data["password"]
        )
        if user is None:
            raise DomainError(
                _("Wrong username or password."), code="authentication_failed", status_code=400
            )
        _second_step(user, str(request.data.get("otp_token") or ""))
        token, expiry = tokens.token_issue(user=user)
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        expiry_text = serializers.DateTimeField().to_representation(expiry)
        return Response({"token": token, "expiry": expiry_text})


class LogoutView(KnoxLogoutView):
    """Revokes the token this request came with (a session is logged out by the page)."""

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Token revoked.")})
    def post(self, request: Request, format: Any = None) -> Response:
        return super().post(request, format)


class LogoutAllView(KnoxLogoutAllView):
    """Revokes every token of the caller."""

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Tokens revoked.")})
    def post(self, request: Request, format: Any = None) -> Response:
        return super().post(request, format)
