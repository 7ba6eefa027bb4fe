"""Automatic checks (平台自动核验) and the automatic outcomes they allow.

The design, and why, is docs/automatic-checks.md. In short:

- **At filing** (`checks_register`, an after-filing hook inside the filing transaction) only
  local work: one `AutoCheck` row per question — the top-up with its supplier, each named
  card key with its issuer, and each key's deliveries on the platform (a key that reached two
  orders, from local records). On commit a task (`disputes.tasks.dispute_auto_checks`) asks
  them; a filing never waits for an upstream.
- **Asking** (`checks_claim`, `check_ask`, `check_answer`): a check is claimed under its row
  lock with SKIP LOCKED and leased (`next_attempt_at` moves past the call's timeout), the
  upstream is called outside any transaction with a bounded timeout, and the answer is
  written under the lock only if the check is still pending — so a task delivered twice, the
  task racing the sweep or two sweepers ask at most once each and record one answer. No
  answer (timeout, error, "still in progress") leaves the check pending with a back-off; the
  sweep asks again (`auto_checks_sweep`) until AUTO_CHECK_MAX_ATTEMPTS, then staff decide.
- **Evidence**: every answer is stored as a platform-record evidence file (JSON, its SHA-256
  on the file and on the check), written on the timeline, and so in the evidence package.
- **Deciding** (`dispute_auto_decide`): under the complaint's row lock the rules look at the
  answers. A top-up the upstream reports failed or not credited, a key redeemed before it
  was delivered or unknown to its issuer, a key also delivered to an earlier order: the
  complaint is resolved by `system` through `resolve` and `money.settle` — the services every
  other outcome uses — refunded (recovered from the deposit) or, for a bad key when the buyer
  chose replacement and stock exists, replaced. Exactly once: the state is re-checked under
  the lock (a complaint the merchant already settled, withdrawn, or appealed gets no second
  outcome) and each answer is considered once (`decided_at`). A key redeemed after the buyer
  revealed it decides nothing: the record is evidence and the normal clock runs. Each rule
  can be switched off per product kind in the policy (`Policy.auto_*`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes import outcomes
from disputes.models import (
    DECIDING_RULES,
    OPEN_STATUSES,
    AutoCheck,
    CheckDecision,
    CheckKind,
    CheckRule,
    CheckStatus,
    DecidedBy,
    Dispute,
    EventType,
    EvidenceKind,
    NotificationKind,
    Outcome,
    Policy,
    Role,
)
from disputes.selectors import policy_for
from disputes.services import money
from disputes.services.evidence import StoredFiles, store_platform_record, stored_files
from disputes.services.formatting import jsonable
from disputes.services.outbox import buyer_recipients, merchant_recipients, notify, publish
from disputes.services.state_machine import locked, record
from orders.models import CardKey, CardKeyReveal, CardKeyStatus, Order, ProductKind
from orders.payments import TopupStatus, UpstreamError, get_topup_upstream
from orders.verifiers import KeyStatus, card_key_verify

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
# Beyond the call's own timeout, how long a claimed check stays with the worker that claimed
# it before another may ask again (a worker that died mid-call).
LEASE_MARGIN = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)

# The policy switch of each deciding rule.
RULE_SWITCH = {
    CheckRule.TOPUP_NOT_CREDITED: "auto_topup_failed",
    CheckRule.KEY_REDEEMED_BEFORE_DELIVERY: "auto_key_redeemed_before_delivery",
    CheckRule.KEY_UNKNOWN: "auto_key_unknown",
    CheckRule.KEY_DELIVERED_TWICE: "auto_key_delivered_twice",
}


def _timeout() -> float:
    return float(getattr(settings, "UPSTREAM_CHECK_TIMEOUT_SECONDS", 5.0))


def _max_attempts() -> int:
    return max(1, int(getattr(settings, "AUTO_CHECK_MAX_ATTEMPTS", 10)))


def backoff(attempts: int) -> timedelta:
    """When to ask again after `attempts` unanswered tries: one sweep interval, doubling, at
    most an hour."""
    base = timedelta(seconds=max(1, int(getattr(settings, "SWEEP_INTERVAL_SECONDS", 60))))
    return min(base * (2 ** max(0, attempts - 1)), MAX_BACKOFF)


def rule_enabled(policy: Policy, rule: str) -> bool:
    switch = RULE_SWITCH.get(CheckRule(rule)) if rule in CheckRule.values else None
    return bool(switch and getattr(policy, switch, True))


# --- At filing ------------------------------------------------------------------------------


def checks_register(dispute: Dispute, policy: Policy) -> None:
    """The after-filing hook (inside the filing transaction): only the rows of the checks to
    make. They are asked by the task on commit (`dispute_auto_checks`), else by the sweep."""
    order = dispute.order
    now = timezone.now()
    rows: list[AutoCheck] = []
    keys: list[CardKey] = []
    if order.product.kind == ProductKind.PHONE_TOPUP:
        rows.append(AutoCheck(dispute=dispute, kind=CheckKind.TOPUP, next_attempt_at=now))
    else:
        keys = list(dispute.card_keys.order_by("id")) or list(order.card_keys.order_by("id"))
        for key in keys:
            rows.append(
                AutoCheck(
                    dispute=dispute, kind=CheckKind.CARD_KEY, card_key=key, next_attempt_at=now
                )
            )
    if not rows:
        return
    # The deliveries of every key this order's buyer received — its own, and any key shown to
    # its buyer (a fault may have shown them another order's key) — from local records only;
    # answered by the task with the others.
    if keys:
        received = {k.pk for k in keys}
        received |= set(CardKey.objects.filter(reveals__order=order).values_list("pk", flat=True))
        for key_id in sorted(received):
            rows.append(
                AutoCheck(
                    dispute=dispute,
                    kind=CheckKind.DELIVERED_TWICE,
                    card_key_id=key_id,
                    next_attempt_at=now,
                )
            )
    AutoCheck.objects.bulk_create(rows)
    dispute_id = dispute.pk
    transaction.on_commit(lambda: _publish_run(dispute_id), robust=True)


def _publish_run(dispute_id: int) -> None:
    from disputes.tasks import dispute_auto_checks

    publish(dispute_auto_checks, dispute_id)


def _mask_number(number: str) -> str:
    return f"{number[:4]}…{number[-4:]}" if len(number) > 8 else number


def _received_at(order: Order, key: CardKey) -> datetime | None:
    """When `order`'s buyer got `key`: the key's own delivery to that order (a replacement is
    delivered after the order), never before the order's own delivery (a key moved between
    orders by hand keeps its first delivery time). None: not delivered yet."""
    times = [order.delivered_at, key.delivered_at if key.order_id == order.pk else None]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _deliveries(dispute: Dispute, order: Order, key: CardKey) -> tuple[str, dict[str, Any]]:
    """Which orders the platform's records say received this key (by its fingerprint): the
    order a key row is delivered to, and any order whose buyer was shown it. A fingerprint is
    unique in stock, so a second order is a fault (a key moved between orders by hand, a
    restored backup): the buyer who got it later is refunded."""
    fingerprint = key.fingerprint
    order_ids = set(
        CardKey.objects.filter(fingerprint=fingerprint, status=CardKeyStatus.DELIVERED)
        .exclude(order_id=order.pk)
        .values_list("order_id", flat=True)
    )
    order_ids |= set(
        CardKeyReveal.objects.filter(card_keys__fingerprint=fingerprint)
        .exclude(order_id=order.pk)
        .values_list("order_id", flat=True)
    )
    others = list(
        Order.objects.filter(pk__in=order_ids).only("pk", "number", "delivered_at", "paid_at")
    )

    def received(o: Order) -> tuple[datetime, int]:
        return (_received_at(o, key) or o.paid_at or timezone.now(), o.pk)

    mine = received(order)
    earlier = [o for o in others if received(o) < mine]
    rule = CheckRule.KEY_DELIVERED_TWICE if earlier else CheckRule.NOT_DELIVERED_TWICE
    return str(rule), {
        "source": "platform records (card-key deliveries and reveals)",
        "card_key": key.masked,
        "this_order": {"number": order.number, "delivered_at": order.delivered_at},
        "other_orders": [
            {
                "number": _mask_number(o.number),
                "delivered_at": o.delivered_at,
                "earlier": o in earlier,
            }
            for o in sorted(others, key=received)
        ],
    }


# --- Asking ---------------------------------------------------------------------------------


def checks_claim(*, now: datetime, limit: int, dispute_id: int | None = None) -> list[int]:
    """Claim up to `limit` checks due to be asked (oldest first), `FOR UPDATE SKIP LOCKED` so
    concurrent claimers take different rows, and lease them past the call's timeout: another
    claimer sees them only if this one dies. Returns their ids."""
    with transaction.atomic():
        qs = AutoCheck.objects.filter(status=CheckStatus.PENDING, next_attempt_at__lte=now)
        if dispute_id is not None:
            qs = qs.filter(dispute_id=dispute_id)
        ids = list(
            qs.order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            lease = timezone.now() + timedelta(seconds=_timeout()) + LEASE_MARGIN
            AutoCheck.objects.filter(pk__in=ids).update(
                attempts=F("attempts") + 1, next_attempt_at=lease
            )
    return ids


@dataclass(frozen=True)
class Asked:
    answer: str  # the upstream's word: credited, failed, pending, unknown, valid, redeemed
    rule: str  # what it shows (CheckRule); "" while pending
    result: dict[str, Any]


def check_ask(check_id: int) -> Asked:
    """Ask the upstream, outside any transaction and row lock, bounded by
    UPSTREAM_CHECK_TIMEOUT_SECONDS. Raises UpstreamError when it does not answer."""
    check = AutoCheck.objects.select_related("dispute__order", "card_key").get(pk=check_id)
    order = check.dispute.order
    timeout = _timeout()
    started = time.monotonic()
    if check.kind == CheckKind.TOPUP:
        topup = get_topup_upstream().query(reference=order.number, timeout=timeout)
        _bounded(started, timeout)
        result: dict[str, Any] = {"source": "top-up supplier", "record": topup.record}
        if topup.status == TopupStatus.FAILED:
            return Asked(topup.status, CheckRule.TOPUP_NOT_CREDITED, result)
        if topup.status == TopupStatus.CREDITED:
            return Asked(topup.status, CheckRule.TOPUP_CREDITED, result)
        return Asked(TopupStatus.PENDING, "", result)
    if check.kind == CheckKind.CARD_KEY:
        assert check.card_key is not None  # noqa: S101 - a card-key check names its key
        key = check.card_key
        verdict = card_key_verify(card_key_id=key.pk, timeout=timeout)
        _bounded(started, timeout)
        result = {
            "source": "card issuer",
            "card_key": key.masked,
            "delivered_at": key.delivered_at,
            "redeemed_at": verdict.redeemed_at,
            "record": verdict.record,
        }
        return Asked(verdict.status, _key_rule(check.dispute, key, verdict), result)
    if check.kind == CheckKind.DELIVERED_TWICE:
        assert check.card_key is not None  # noqa: S101 - a delivery check names its key
        rule, result = _deliveries(check.dispute, order, check.card_key)
        return Asked(rule, rule, result)
    raise ValueError(f"check {check.pk}: unknown kind {check.kind}")


def _bounded(started: float, timeout: float) -> None:
    """An answer that came after the timeout is not trusted to be current: asked again."""
    if time.monotonic() - started > timeout + 1:
        raise UpstreamError(f"answer after {time.monotonic() - started:.1f}s (timeout {timeout}s)")


def _key_rule(dispute: Dispute, key: CardKey, verdict: Any) -> str:
    if verdict.status == KeyStatus.UNKNOWN:
        return CheckRule.KEY_UNKNOWN
    if verdict.status == KeyStatus.VALID:
        return CheckRule.KEY_VALID
    redeemed_at = verdict.redeemed_at
    if redeemed_at is None:
        # "Redeemed" without a time proves nothing about who redeemed it: evidence only.
        return CheckRule.KEY_REDEEMED_TIME_UNKNOWN
    delivered_at = _received_at(dispute.order, key)
    if delivered_at is None or redeemed_at < delivered_at:
        return CheckRule.KEY_REDEEMED_BEFORE_DELIVERY
    first_reveal = (
        CardKeyReveal.objects.filter(order_id=dispute.order_id, card_keys=key)
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    )
    if first_reveal is not None and redeemed_at >= first_reveal:
        return CheckRule.KEY_REDEEMED_AFTER_REVEAL
    return CheckRule.KEY_REDEEMED_UNREVEALED


def check_answer(check_id: int, asked: Asked | None, error: str = "") -> bool:
    """Write what the upstream said (or that it did not answer) under the check's lock, only
    if the check is still pending. Returns True when a final answer was recorded."""
    now = timezone.now()
    dispute_id = AutoCheck.objects.filter(pk=check_id).values_list("dispute_id", flat=True).get()
    with stored_files() as files, transaction.atomic():
        # The complaint first, then the check: the order `dispute_auto_decide` takes them in
        # (the timeline row written here needs the complaint's row anyway).
        dispute = locked(dispute_id)
        check = (
            AutoCheck.objects.select_for_update(of=("self",))
            .select_related("card_key")
            .get(pk=check_id)
        )
        check.dispute = dispute
        if check.status != CheckStatus.PENDING:
            return False
        if asked is not None and asked.rule:
            _store_answer(
                check, answer=asked.answer, rule=asked.rule, result=asked.result, files=files
            )
            return True
        # No final answer: a timeout, an error, or "still in progress".
        check.last_error = (error or _("the upstream says: still in progress"))[:255]
        if asked is not None:
            check.answer = asked.answer
        if check.attempts >= _max_attempts():
            rule = CheckRule.TOPUP_PENDING if asked is not None else CheckRule.NO_ANSWER
            result = asked.result if asked is not None else {"error": check.last_error}
            _store_answer(
                check,
                answer=check.answer or "none",
                rule=rule,
                result=result,
                files=files,
                status=CheckStatus.GAVE_UP,
            )
            return True
        check.next_attempt_at = now + backoff(check.attempts)
        check.save(update_fields=["last_error", "answer", "next_attempt_at"])
        return False


def _store_answer(
    check: AutoCheck,
    *,
    answer: str,
    rule: str,
    result: dict[str, Any],
    files: StoredFiles,
    status: str = CheckStatus.ANSWERED,
) -> None:
    """The answer as platform evidence (a JSON file, its SHA-256), on the check and on the
    timeline. The caller holds the check's lock (or just created it)."""
    dispute = check.dispute
    now = timezone.now()
    document = {
        "check": check.kind,
        "complaint": dispute.number,
        "order": dispute.order.number,
        "card_key": check.card_key.masked if check.card_key_id and check.card_key else None,
        "answer": answer,
        "shows": rule,
        "attempts": check.attempts,
        "answered_at": now,
        **jsonable(result),
    }
    evidence = store_platform_record(
        dispute,
        jsonable(document),
        files=files,
        kind=EvidenceKind.AUTO_CHECK,
        original_name=f"auto-check-{check.kind}-{check.pk}.json",
        note=str(CheckRule(rule).label) if rule in CheckRule.values else "",
    )
    sha256 = evidence.sha256
    check.status = status
    check.answer = answer[:16]
    check.rule = rule
    check.result = jsonable(result)
    check.sha256 = sha256
    check.evidence = evidence
    check.answered_at = now
    check.next_attempt_at = None
    check.save()
    record(
        dispute,
        type=EventType.AUTO_CHECK,
        actor=None,
        role=Role.SYSTEM,
        data={
            "check": check.kind,
            "check_id": check.pk,
            "answer": answer,
            "rule": rule,
            "card_key": document["card_key"],
            "redeemed_at": result.get("redeemed_at"),
            "attempts": check.attempts,
            "sha256": sha256,
            "evidence": evidence.file_name,
        },
    )


def _ask_and_answer(check_id: int) -> bool:
    try:
        asked = check_ask(check_id)
    except UpstreamError as exc:
        return check_answer(check_id, None, error=str(exc))
    except Exception as exc:  # an upstream's bug is its error, never a lost check
        logger.exception("automatic check %s: the upstream call failed", check_id)
        return check_answer(check_id, None, error=f"{exc.__class__.__name__}: {exc}")
    return check_answer(check_id, asked)


def auto_checks_run(*, dispute_id: int) -> dict[str, int]:
    """The task on commit: ask this complaint's due checks, then apply the rules."""
    ids = checks_claim(now=timezone.now(), limit=50, dispute_id=dispute_id)
    answered = sum(1 for pk in ids if _ask_and_answer(pk))
    decided = int(dispute_auto_decide(dispute_id=dispute_id))
    return {"asked": len(ids), "answered": answered, "decided": decided}


# --- Deciding -------------------------------------------------------------------------------


def _amount(dispute: Dispute, checks: list[AutoCheck]) -> Decimal:
    if dispute.order.product.kind == ProductKind.PHONE_TOPUP:
        return dispute.claimed_amount
    bad = {c.card_key_id for c in checks}
    return min(dispute.claimed_amount, dispute.order.unit_price * len(bad))


def dispute_auto_decide(*, dispute_id: int) -> bool:
    """Apply the automatic rules to this complaint's answered checks, exactly once: the
    complaint's row is locked and its state re-checked; each answer is considered once.
    Returns True when an outcome was made."""
    with transaction.atomic():
        dispute = locked(dispute_id)
        checks = list(
            AutoCheck.objects.select_for_update().filter(dispute_id=dispute_id).order_by("id")
        )
        fresh = [c for c in checks if c.decided_at is None and c.status != CheckStatus.PENDING]
        if not fresh:
            return False
        order = Order.objects.select_related("product").get(pk=dispute.order_id)
        dispute.order = order
        policy = policy_for(order.product.kind, at=dispute.filed_at)
        deciding = [c for c in fresh if c.rule in DECIDING_RULES]
        enabled = [c for c in deciding if rule_enabled(policy, c.rule)]
        decidable = (
            dispute.status in OPEN_STATUSES
            and dispute.resolved_at is None
            and dispute.appealed_at is None
        )
        pending = any(c.status == CheckStatus.PENDING for c in checks)
        if enabled and decidable and pending and _amount(dispute, enabled) < dispute.claimed_amount:
            return False  # more keys to hear about first: decide once, on all of them
        now = timezone.now()
        applied = False
        if enabled and decidable:
            _apply(dispute, enabled)
            applied = True
        for check in fresh:
            if check in enabled and applied:
                check.decision = CheckDecision.APPLIED
            elif check in enabled:
                check.decision = CheckDecision.ALREADY_DECIDED
            elif check in deciding:
                check.decision = CheckDecision.POLICY_OFF
            else:
                check.decision = CheckDecision.EVIDENCE
            check.decided_at = now
            check.save(update_fields=["decision", "decided_at"])
        if enabled and not decidable:
            record(
                dispute,
                type=EventType.AUTO_CHECK,
                actor=None,
                role=Role.SYSTEM,
                data={
                    "rule": enabled[0].rule,
                    "decision": CheckDecision.ALREADY_DECIDED,
                    "status": dispute.status,
                },
                visibility="staff",
            )
        return applied


def _stock(order: Order) -> int:
    return CardKey.objects.filter(
        product_id=order.product_id, status=CardKeyStatus.AVAILABLE
    ).count()


def _apply(dispute: Dispute, checks: list[AutoCheck]) -> None:
    """The outcome, through the services every outcome uses: `resolve` (the transition,
    decided by `system`, the rule and the evidence named on the timeline) and `money.settle`
    (paid by the platform fund, recovered from the merchant's deposit), then the parties are
    told."""
    from disputes.services.conversation import replace_keys, resolve

    order = dispute.order
    rules = sorted({c.rule for c in checks})
    amount = _amount(dispute, checks)
    bad_keys = sorted({c.card_key_id for c in checks if c.card_key_id})
    replace = (
        dispute.remedy_wanted == "replace"
        and order.product.kind != ProductKind.PHONE_TOPUP
        and CheckRule.KEY_DELIVERED_TWICE not in rules
        and not dispute.fast_track
        and dispute.paid_out == ZERO
        and _stock(order) >= len(bad_keys)
        # Keys given back count like money against the order (docs/money.md): a replacement
        # that would give back more than was paid is a refund instead.
        and min(order.unit_price * len(bad_keys), order.amount)
        <= money.headroom(dispute) + dispute.replaced_value
    )
    data: dict[str, object] = {
        "rule": rules[0] if len(rules) == 1 else rules,
        "rules": rules,
        "evidence": [c.sha256 for c in checks],
        "checks": [c.pk for c in checks],
        "remedy": "replace" if replace else "refund",
        "automatic": True,
    }
    words = "; ".join(str(CheckRule(r).label) for r in rules)
    if replace:
        outcome, resolved = Outcome.REPLACED, ZERO
        reason = _("Platform automatic check: %(what)s; the card key is replaced from stock.") % {
            "what": words
        }
    else:
        outcome = (
            Outcome.REFUNDED if amount >= dispute.claimed_amount else Outcome.PARTIALLY_REFUNDED
        )
        resolved = amount
        reason = _("Platform automatic check: %(what)s; refunded automatically.") % {"what": words}
    event = resolve(
        dispute,
        outcome=outcome,
        amount=resolved,
        decided_by=DecidedBy.SYSTEM,
        user=None,
        role=Role.SYSTEM,
        reason=reason,
        event_type=EventType.AUTO_DECIDED,
        data=data,
    )
    if replace:
        replace_keys(
            dispute, actor=None, role=Role.SYSTEM, count=len(bad_keys), data={"automatic": True}
        )
        money.settle(dispute, ending=outcomes.decided(outcome))
    else:
        money.settle(dispute, ending=outcomes.decided(outcome), amount=amount)
    notify(
        dispute,
        event,
        buyer_recipients(dispute) + merchant_recipients(dispute),
        NotificationKind.AUTO_DECIDED,
        amount=dispute.resolved_amount,
        outcome=dispute.outcome,
        rule=rules[0],
    )


# --- The sweep's step -----------------------------------------------------------------------


def auto_checks_sweep(*, now: datetime, size: int, deadline: float | None = None) -> dict[str, int]:
    """The sweep's step: ask the checks due (a lost task's, a timed-out or still-pending
    one's after its back-off) in batches of `size`, claimed with SKIP LOCKED; then apply the
    rules to every complaint with answers not yet considered. Stops taking batches at
    `deadline` (time.monotonic()); the rest waits for the next sweep."""
    counts = {"asked": 0, "answered": 0, "decided": 0}
    touched: set[int] = set()
    while deadline is None or time.monotonic() < deadline:
        ids = checks_claim(now=now, limit=size)
        if not ids:
            break
        for pk in ids:
            counts["asked"] += 1
            counts["answered"] += int(_ask_and_answer(pk))
        touched |= set(AutoCheck.objects.filter(pk__in=ids).values_list("dispute_id", flat=True))
        if len(ids) < size:
            break
    touched |= set(
        AutoCheck.objects.filter(decided_at__isnull=True)
        .exclude(status=CheckStatus.PENDING)
        .order_by("dispute_id")
        .values_list("dispute_id", flat=True)
        .distinct()[:size]
    )
    for dispute_id in sorted(touched):
        try:
            counts["decided"] += int(dispute_auto_decide(dispute_id=dispute_id))
        except Exception:
            logger.exception(
                "complaint %s: automatic outcome failed; the next sweep retries", dispute_id
            )
    return counts
