"""A shop's endpoints: its webhook receivers and group robots (docs/integrations.md).

Only the shop's owner registers, changes or removes them (Forbidden for a team member, the
same rule as the team and the deposit, docs/rules.md); the page and the API call these.
A URL passes the SSRF check (integrations.net) when it is registered and when it is enabled
again; the delivery checks it once more on every try."""

from __future__ import annotations

import secrets as random_secrets
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations import events as kinds
from integrations import net, signing
from integrations.models import DisabledReason, Endpoint, EndpointKind
from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError, Forbidden, NotFound
from orders.crypto import encrypt
from orders.models import Merchant
from orders.selectors import is_merchant_owner

# How many endpoints and robots a shop may have (a listing, not a broadcast service).
MAX_ENDPOINTS = 10
MAX_SECRET_LENGTH = 200

AUDIT_CREATED = "integration_endpoint_created"
AUDIT_DELETED = "integration_endpoint_deleted"
AUDIT_SECRET_ROTATED = "integration_secret_rotated"  # noqa: S105 (an action name)
AUDIT_ENABLED = "integration_endpoint_enabled"
AUDIT_DISABLED = "integration_endpoint_disabled"


@dataclass(frozen=True, slots=True)
class Created:
    endpoint: Endpoint
    # The webhook's signing secret, shown this once (empty for a robot: the merchant pasted it).
    secret: str


def _require_owner(actor: User, merchant: Merchant) -> None:
    if not is_merchant_owner(actor, merchant):
        raise Forbidden(_("Only the shop's owner may manage its webhooks and robots."))


def _owned(merchant: Merchant, endpoint_id: int) -> Endpoint:
    """The shop's endpoint, locked; another shop's is not found (never 403: no leak)."""
    endpoint = (
        Endpoint.objects.select_for_update().filter(pk=endpoint_id, merchant=merchant).first()
    )
    if endpoint is None:
        raise NotFound(_("No such webhook or robot."))
    return endpoint


def clean_events(requested: list[str] | None) -> list[str]:
    """The event types asked for, in the documented order; none: all of them."""
    chosen = [str(e).strip() for e in (requested or []) if str(e).strip()]
    unknown = sorted(set(chosen) - set(kinds.EVENT_TYPES))
    if unknown:
        raise DomainError(
            _("Unknown event type(s): %(types)s. Known types: %(known)s.")
            % {"types": ", ".join(unknown), "known": ", ".join(kinds.EVENT_TYPES)},
            code="unknown_event_type",
        )
    return [e for e in kinds.EVENT_TYPES if e in chosen]


@transaction.atomic
def endpoint_create(
    *,
    actor: User,
    merchant: Merchant,
    url: str,
    events: list[str] | None = None,
    kind: str = EndpointKind.WEBHOOK,
    secret: str = "",
) -> Created:
    """Register a webhook (the platform makes its signing secret, returned this once) or a
    group robot (its URL and, for DingTalk and Feishu, the secret the merchant pasted)."""
    _require_owner(actor, merchant)
    if kind not in EndpointKind.values:
        raise DomainError(_("Unknown kind of endpoint."), code="invalid")
    wanted = clean_events(events)
    net.check(url)
    Merchant.objects.select_for_update().filter(pk=merchant.pk).first()  # one at a time
    if Endpoint.objects.filter(merchant=merchant).count() >= MAX_ENDPOINTS:
        raise DomainError(
            _("A shop may have at most %(count)d webhooks and robots; remove one first.")
            % {"count": MAX_ENDPOINTS},
            code="too_many_endpoints",
        )
    secret = (secret or "").strip()
    if kind == EndpointKind.WEBHOOK:
        secret = signing.new_secret()
    elif kind == EndpointKind.WECOM:
        secret = ""  # a WeChat Work robot is not signed: its key is in the URL
    elif len(secret) > MAX_SECRET_LENGTH:
        raise DomainError(
            _("The secret is too long (at most %(count)d characters).")
            % {"count": MAX_SECRET_LENGTH},
            code="invalid",
        )
    endpoint = Endpoint.objects.create(
        merchant=merchant,
        kind=kind,
        url_encrypted=encrypt(url.strip()),
        url_hint=net.hint(url),
        events=wanted,
        secret_encrypted=encrypt(secret) if secret else "",
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action=AUDIT_CREATED,
        obj=endpoint,
        after={"merchant": merchant.pk, "kind": kind, "url": endpoint.url_hint, "events": wanted},
    )
    return Created(endpoint=endpoint, secret=secret if kind == EndpointKind.WEBHOOK else "")


@transaction.atomic
def endpoint_rotate_secret(*, actor: User, merchant: Merchant, endpoint_id: int) -> str:
    """A new signing secret for a webhook, returned this once; the old one stops at once."""
    _require_owner(actor, merchant)
    endpoint = _owned(merchant, endpoint_id)
    if endpoint.kind != EndpointKind.WEBHOOK:
        raise DomainError(
            _("A robot's secret is the one its chat app shows; add the robot again to change it."),
            code="invalid",
        )
    secret = signing.new_secret()
    endpoint.secret_encrypted = encrypt(secret)
    endpoint.save(update_fields=["secret_encrypted"])
    audit_record(actor=actor, action=AUDIT_SECRET_ROTATED, obj=endpoint)
    return secret


@transaction.atomic
def endpoint_set_enabled(
    *, actor: User, merchant: Merchant, endpoint_id: int, enabled: bool
) -> Endpoint:
    """Turn an endpoint off, or on again (its URL checked again; its failing streak forgotten)."""
    _require_owner(actor, merchant)
    endpoint = _owned(merchant, endpoint_id)
    if endpoint.enabled == enabled:
        return endpoint
    if enabled:
        from orders.crypto import decrypt

        net.check(decrypt(endpoint.url_encrypted))
        endpoint.disabled_reason = ""
        endpoint.failing_since = None
    else:
        endpoint.disabled_reason = DisabledReason.OWNER
    endpoint.enabled = enabled
    endpoint.save(update_fields=["enabled", "disabled_reason", "failing_since"])
    audit_record(actor=actor, action=AUDIT_ENABLED if enabled else AUDIT_DISABLED, obj=endpoint)
    return endpoint


@transaction.atomic
def endpoint_delete(*, actor: User, merchant: Merchant, endpoint_id: int) -> None:
    """Remove an endpoint with its delivery log."""
    _require_owner(actor, merchant)
    endpoint = _owned(merchant, endpoint_id)
    audit_record(
        actor=actor,
        action=AUDIT_DELETED,
        obj=endpoint,
        before={"kind": endpoint.kind, "url": endpoint.url_hint},
    )
    endpoint.delete()


@transaction.atomic
def endpoint_test(*, actor: User, merchant: Merchant, endpoint_id: int) -> str:
    """Send a `ping` event to one endpoint, whatever it subscribed to; returns its event id.
    A disabled endpoint is refused (turn it on first)."""
    _require_owner(actor, merchant)
    endpoint = _owned(merchant, endpoint_id)
    if not endpoint.enabled:
        raise DomainError(
            _("This endpoint is turned off; turn it on before sending a test event."),
            code="endpoint_disabled",
            status_code=409,
        )
    key = f"ping:{endpoint.pk}:{random_secrets.token_hex(8)}"
    kinds.record_for_endpoint(
        endpoint,
        type=kinds.PING,
        data={"shop": merchant.shop_name, "at": timezone.now()},
        key=key,
    )
    return kinds.event_id(key)
