"""Every write of the merchant app: the shop's API keys (docs/api-keys.md). The API
(merchant/api.py), the API keys page (merchant/views/api_keys.py) and the key's door
(merchant/api_keys.py) all call these."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kamen_complaints.audit import audit_record
from kamen_complaints.errors import DomainError, Forbidden, NotFound
from merchant.models import MerchantAPIKey, Scope
from orders import services as order_services
from orders.models import Merchant
from orders.selectors import is_merchant_owner

logger = logging.getLogger(__name__)

# Audit actions (kamen_complaints.audit.OTHER_ACTIONS words them).
AUDIT_KEY_CREATED = "api_key_created"
AUDIT_KEY_REVOKED = "api_key_revoked"
AUDIT_KEY_REFUSED = "api_key_refused"

# The name's length is the library's column (AbstractAPIKey.name).
MAX_NAME_LENGTH = 50
# Live (unrevoked) keys one shop may hold: one per system that calls the API is plenty.
MAX_LIVE_KEYS = 20
# The last use is written at most this often per key, and a refused use is audited at most
# this often per key and reason: a busy integration must not write a row per request.
LAST_USED_EVERY = timedelta(minutes=1)
REFUSAL_AUDIT_EVERY = timedelta(minutes=1)
# What a key's service account is called: the timeline, the staff desk, the evidence package
# and the audit log show it where they show a person's username (never a person's name).
SERVICE_ACCOUNT_NAME = "API 密钥 {name}（{prefix}）"


def require_key_manager(*, actor: User, merchant: Merchant) -> None:
    """Only the shop's owner sees and manages its API keys (403 for the team)."""
    if not is_merchant_owner(actor, merchant):
        raise Forbidden(_("Only the shop's owner manages the shop's API keys."))


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(scopes))
    if not chosen:
        raise DomainError(
            _("Choose at least one scope: %(scopes)s.") % {"scopes": ", ".join(Scope.values)},
            code="scopes_required",
        )
    unknown = [s for s in chosen if s not in Scope.values]
    if unknown:
        raise DomainError(
            _("Unknown scope %(scope)s; choose from %(scopes)s.")
            % {"scope": unknown[0], "scopes": ", ".join(Scope.values)},
            code="scope_unknown",
        )
    return [s for s in Scope.values if s in chosen]


@transaction.atomic
def api_key_create(
    *,
    merchant: Merchant,
    actor: User,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
) -> tuple[MerchantAPIKey, str]:
    """The owner makes a key for the shop's systems; returns the key and, this once, its
    secret. The database keeps its prefix and a SHA-512 digest of the whole key only.

    The key acts as the shop through a service account of its own (orders.services
    merchant_service_account_add: no password, no e-mail, never the owner), so it can never
    top up, withdraw or manage the team, and what it does is shown under "API 密钥 <name>".
    Refused: anyone but the owner (403); an empty name or one over 50 characters; no scope or
    an unknown one; an expiry not in the future; a shop already holding 20 live keys."""
    require_key_manager(actor=actor, merchant=merchant)
    name = " ".join((name or "").split())
    if not name:
        raise DomainError(_("Give the key a name."), code="name_required")
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(
            _("A key's name is at most %(max)s characters.") % {"max": MAX_NAME_LENGTH},
            code="name_too_long",
        )
    chosen = _clean_scopes(scopes)
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise DomainError(_("The expiry must be in the future."), code="expiry_past")
    # The shop's row is the lock that keeps two requests from both passing the limit.
    Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
    live = MerchantAPIKey.objects.filter(merchant=merchant, revoked=False).count()
    if live >= MAX_LIVE_KEYS:
        raise DomainError(
            _("A shop holds at most %(max)s API keys; revoke one you no longer use first.")
            % {"max": MAX_LIVE_KEYS},
            code="too_many_keys",
            status_code=409,
        )
    key = MerchantAPIKey(
        merchant=merchant, name=name, scopes=chosen, expiry_date=expires_at, created_by=actor
    )
    secret = MerchantAPIKey.objects.assign_key(key)
    key.user = order_services.merchant_service_account_add(
        merchant=merchant,
        actor=actor,
        username=SERVICE_ACCOUNT_NAME.format(name=name, prefix=key.prefix),
    )
    key.save()
    audit_record(
        actor=actor,
        action=AUDIT_KEY_CREATED,
        obj=key,
        object_id=key.prefix,
        after={
            "merchant": merchant.pk,
            "name": name,
            "prefix": key.prefix,
            "scopes": chosen,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    logger.info("merchant %s: %s created API key %s", merchant.pk, actor.username, key.prefix)
    return key, secret


@transaction.atomic
def api_key_revoke(*, merchant: Merchant, actor: User, prefix: str) -> MerchantAPIKey:
    """The owner revokes a key: from now on every request with it is a 401, and it cannot be
    undone. Its service account is disabled and stays on the shop, its name on what the key
    did. Another shop's key (or none) is a 404; revoking twice changes nothing."""
    require_key_manager(actor=actor, merchant=merchant)
    key = (
        MerchantAPIKey.objects.select_for_update()
        .filter(merchant=merchant, prefix=prefix)
        .select_related("user")
        .first()
    )
    if key is None:
        raise NotFound(_("No such API key."))
    if key.revoked:
        return key
    key.revoked = True
    key.revoked_at = timezone.now()
    key.revoked_by = actor
    key.save(update_fields=["revoked", "revoked_at", "revoked_by"])
    order_services.merchant_service_account_disable(user=key.user)
    audit_record(
        actor=actor,
        action=AUDIT_KEY_REVOKED,
        obj=key,
        object_id=key.prefix,
        before={"revoked": False},
        after={"revoked": True, "merchant": merchant.pk, "name": key.name},
    )
    logger.info("merchant %s: %s revoked API key %s", merchant.pk, actor.username, key.prefix)
    return key


def api_key_find(raw: str) -> MerchantAPIKey | None:
    """The key whose prefix and digest match `raw`, revoked and expired ones included (the
    caller says why it refuses them), or None."""
    prefix, dot, _secret = raw.partition(".")
    if not dot or not prefix:
        return None
    key = MerchantAPIKey.objects.select_related("user", "merchant").filter(prefix=prefix).first()
    if key is None or not MerchantAPIKey.objects.key_generator.verify(raw, key.hashed_key):
        return None
    return key


def api_key_touch(*, key: MerchantAPIKey, now: datetime) -> None:
    """Record that `key` was used now: one conditional UPDATE at most once a minute per key,
    whatever the number of requests or of workers."""
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_EVERY:
        return
    MerchantAPIKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_EVERY)
    ).update(last_used_at=now)
    key.last_used_at = now


def api_key_use_refused(
    *, key: MerchantAPIKey, reason: str, path: str, method: str | None, scope: str = ""
) -> None:
    """Write a refused use of a known key to the audit log (its own row, whatever becomes of
    the request), at most once a minute per key and reason."""
    if not cache.add(
        f"merchant:api-key-refused:{key.pk}:{reason}",
        1,
        int(REFUSAL_AUDIT_EVERY.total_seconds()),
    ):
        return
    after: dict[str, Any] = {"method": method or "", "path": path[:200]}
    if scope:
        after["scope"] = scope
    audit_record(
        actor=key.user,
        action=AUDIT_KEY_REFUSED,
        obj=key,
        object_id=key.prefix,
        reason=reason,
        after=after,
    )
    logger.warning("API key %s refused (%s): %s %s", key.prefix, reason, method, path[:200])
