"""The merchant dashboard's integrations page, /merchant/integrations/ (README "Integrations",
docs/integrations.md): the shop's webhooks and group robots, each with its delivery log, and
the forms to add, test, turn off and on, rotate and remove them. The owner's page only (a team
member gets the 403 page); each POST calls one integrations.services function, which refuses
anyone else too. A new webhook's secret is shown once, in the answer to the POST that made it.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from integrations import selectors, services
from integrations.models import EndpointKind
from kamen_complaints.errors import DomainError, Forbidden, NotFound
from kamen_complaints.forms import add_domain_error, own_ids
from merchant.access import current_merchant, owner_forbidden, owner_required
from merchant.integration_forms import FIELD_OF_CODE, RobotForm, WebhookForm


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _page(
    request: HttpRequest,
    *,
    webhook_form: WebhookForm | None = None,
    robot_form: RobotForm | None = None,
    secret: tuple[Any, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    merchant = current_merchant(request)
    webhooks = list(selectors.shop_endpoints(merchant, kind=EndpointKind.WEBHOOK))
    robots = list(selectors.shop_endpoints(merchant, kind="robot"))
    logs = selectors.recent_deliveries([*webhooks, *robots])
    context = own_ids(
        {
            "webhooks": [(e, logs.get(e.pk, [])) for e in webhooks],
            "robots": [(e, logs.get(e.pk, [])) for e in robots],
            "webhook_form": webhook_form or WebhookForm(),
            "robot_form": robot_form or RobotForm(),
            "secret": secret,
        }
    )
    return render(request, "merchant/integrations.html", context, status=status)


@owner_required
@require_GET
def integrations(request: HttpRequest) -> HttpResponse:
    return _page(request)


@owner_required
@require_POST
def webhook_add(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return _page(request, webhook_form=form, status=400)
    try:
        created = services.endpoint_create(
            actor=_user(request),
            merchant=current_merchant(request),
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
        )
    except Forbidden:
        return owner_forbidden(request)
    except DomainError as exc:
        add_domain_error(form, exc, fields=FIELD_OF_CODE)
        return _page(request, webhook_form=form, status=400)
    messages.success(request, _("Webhook added. Send it a test event to see it work."))
    return _page(request, secret=(created.endpoint, created.secret))


@owner_required
@sensitive_post_parameters("secret", "url")
@require_POST
def robot_add(request: HttpRequest) -> HttpResponse:
    form = RobotForm(request.POST)
    if not form.is_valid():
        return _page(request, robot_form=form, status=400)
    try:
        services.endpoint_create(
            actor=_user(request),
            merchant=current_merchant(request),
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            kind=form.cleaned_data["kind"],
            secret=form.cleaned_data["secret"],
        )
    except Forbidden:
        return owner_forbidden(request)
    except DomainError as exc:
        add_domain_error(form, exc, fields=FIELD_OF_CODE)
        return _page(request, robot_form=form, status=400)
    messages.success(request, _("Group robot added. Send it a test message to see it work."))
    return redirect("merchant:integrations")


def _act(request: HttpRequest, action: Any, done: str, **kwargs: Any) -> HttpResponse:
    """Run one service on one of the shop's endpoints, then back to the page with the outcome."""
    try:
        action(actor=_user(request), merchant=current_merchant(request), **kwargs)
    except Forbidden:
        return owner_forbidden(request)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("merchant:integrations")
    messages.success(request, done)
    return redirect("merchant:integrations")


@owner_required
@require_POST
def endpoint_test(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        services.endpoint_test,
        _("Test event sent. Its delivery shows in the log below within a few seconds."),
        endpoint_id=pk,
    )


@owner_required
@require_POST
def endpoint_enabled(request: HttpRequest, pk: int) -> HttpResponse:
    enabled = request.POST.get("enabled") == "1"
    return _act(
        request,
        services.endpoint_set_enabled,
        _("Turned on: events are delivered again.") if enabled else _("Turned off."),
        endpoint_id=pk,
        enabled=enabled,
    )


@owner_required
@require_POST
def endpoint_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, services.endpoint_delete, _("Removed, with its log."), endpoint_id=pk)


@owner_required
@require_POST
def endpoint_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    merchant = current_merchant(request)
    try:
        secret = services.endpoint_rotate_secret(
            actor=_user(request), merchant=merchant, endpoint_id=pk
        )
    except Forbidden:
        return owner_forbidden(request)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("merchant:integrations")
    endpoint = selectors.shop_endpoints(merchant).get(pk=pk)
    messages.success(request, _("New secret made. The old one no longer signs anything."))
    return _page(request, secret=(endpoint, secret))
