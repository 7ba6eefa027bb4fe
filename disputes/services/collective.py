"""Collective cases (集体案件): when a batch goes bad. The design and why: docs/collective-cases.md.

The one home of the rule. In short:

- **Counting** (`collective_cases_open_due`): complaints upheld (an outcome in the buyer's
  favour, disputes.outcomes.IN_BUYERS_FAVOUR) within the policy's window against keys of one
  import (`KeyBatch`), or against top-ups of one product through one upstream, not yet part
  of a case. At the policy's threshold (per product kind, `Policy.collective_threshold` within
  `collective_window_hours`) a case opens. Asked by the task each upheld outcome publishes on
  commit (`collective_consider`) and by every sweep; the partial unique constraints make two
  sweepers and a task delivered twice open one case.
- **Opening** (`collective_case_open`, one transaction): the batch's keys still in stock are
  withdrawn and the product goes off sale when nothing else is in stock (a channel: the
  product off sale), through orders' services; the complaints counted and any other on an
  order of the batch become members; one `CollectiveOrder` row per delivered order of the
  batch or channel; the shop is told (notification, integrations event
  `collective_case.opened`); after commit a task asks the issuer.
- **Checking** (`collective_case_check`): rows claimed in chunks (SKIP LOCKED, leased), the
  issuer asked about the chunk's keys in one batch call (orders.verifiers.card_keys_verify)
  or the upstream about each top-up, the answers written set-based; no answer is asked again
  with a back-off, up to AUTO_CHECK_MAX_ATTEMPTS.
- **Settling** (`collective_case_settle`, one transaction, once): every order whose key the
  issuer reports unknown or redeemed before delivery (a top-up not credited) is refunded by
  the platform and recovered from the deposit — without a complaint, through the settlement
  every complaint uses (escrow.batch.compensations_post, key `collective:<case>:<order>:…`),
  bounded by what the order may still give back (disputes.services.money.headroom_fen: a
  buyer already paid by a complaint is not paid again). The money at risk, the deposit
  available and what it will not cover are written on the case first. Every buyer of the
  batch is told what was found about their order.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.channels import channels
from disputes.models import (
    BAD_FINDINGS,
    OPEN_STATUSES,
    CollectiveCase,
    CollectiveKind,
    CollectiveOrder,
    CollectiveOrderStatus,
    CollectiveStatus,
    Dispute,
    EventType,
    EvidenceKind,
    Finding,
    NotificationKind,
    Policy,
    Reason,
    Role,
    Status,
    Visibility,
)
from disputes.outcomes import IN_BUYERS_FAVOUR
from disputes.selectors import policy_for
from disputes.services.evidence import store_platform_record, stored_files
from disputes.services.formatting import jsonable
from disputes.services.money import headroom_fen
from disputes.services.outbox import (
    OutboxRow,
    notify_shop,
    outbox_insert,
    publish,
    publish_notifications,
    render,
)
from disputes.services.state_machine import record
from escrow import selectors as escrow_selectors
from escrow.batch import Compensation, compensations_post
from integrations import events as integrations_events
from kamen_complaints.errors import DomainError, Forbidden, NotFound
from kamen_complaints.money import from_fen, to_fen
from orders import services as order_services
from orders.models import (
    CardKey,
    CardKeyStatus,
    KeyBatch,
    MerchantMember,
    Order,
    OrderStatus,
    ProductKind,
)
from orders.payments import TopupStatus, UpstreamError, get_topup_upstream
from orders.verifiers import KeyStatus, card_keys_verify

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
# Orders asked about per claim (one batch call to the issuer).
CHECK_CHUNK = 500
LEASE_MARGIN = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
# The orders of a top-up channel a case looks at: delivered within this long before it opened
# (the policy's complaint window is added: a buyer who may still complain is looked at).
CHANNEL_LOOKBACK_MIN = timedelta(hours=24)
# Statuses of an order that got its goods (and may have been partly refunded since).
DELIVERED_STATUSES = (OrderStatus.DELIVERED, OrderStatus.PARTIALLY_REFUNDED)


def _timeout() -> float:
    return float(getattr(settings, "UPSTREAM_CHECK_TIMEOUT_SECONDS", 5.0))


def _max_attempts() -> int:
    return max(1, int(getattr(settings, "AUTO_CHECK_MAX_ATTEMPTS", 10)))


def _backoff(attempts: int) -> timedelta:
    base = timedelta(seconds=max(1, int(getattr(settings, "SWEEP_INTERVAL_SECONDS", 60))))
    return min(base * (2 ** max(0, attempts - 1)), MAX_BACKOFF)


# --- Counting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A batch or channel that reached its threshold, with the complaints that counted."""

    kind: str
    product_id: int
    merchant_id: int
    batch_id: int | None
    upstream: str
    dispute_ids: tuple[int, ...]
    policy: Policy


def _upheld(kind: str, policy: Policy, now: datetime) -> Q:
    since = now - timedelta(hours=policy.collective_window_hours)
    return Q(
        outcome__in=IN_BUYERS_FAVOUR,
        resolved_at__gte=since,
        resolved_at__lte=now,
        collective_case__isnull=True,
        order__product__kind=kind,
    )


def collective_candidates(*, now: datetime, dispute_id: int | None = None) -> list[Candidate]:
    """The batches and channels whose upheld complaints within the window reached the
    threshold (each product kind's policy), that have no open case. `dispute_id`: only the
    batches or channel of that complaint (the task after an outcome). Set-based: one grouped
    query per product kind."""
    found: list[Candidate] = []
    only_batches: set[int] | None = None
    only_channel: tuple[int, str] | None = None
    if dispute_id is not None:
        dispute = Dispute.objects.select_related("order__product").filter(pk=dispute_id).first()
        if dispute is None or dispute.outcome not in IN_BUYERS_FAVOUR:
            return []
        order = dispute.order
        if order.product.kind == ProductKind.PHONE_TOPUP:
            only_channel = (order.product_id, order.topup_upstream)
        else:
            only_batches = set(
                CardKey.objects.filter(
                    order_id=order.pk, batch__isnull=False, delivered_at__lte=dispute.filed_at
                ).values_list("batch_id", flat=True)
            )
    open_batches = CollectiveCase.objects.filter(
        kind=CollectiveKind.KEY_BATCH, batch__isnull=False
    ).exclude(status=CollectiveStatus.CLOSED)
    open_channels = set(
        CollectiveCase.objects.filter(kind=CollectiveKind.TOPUP_CHANNEL)
        .exclude(status=CollectiveStatus.CLOSED)
        .values_list("product_id", "upstream")
    )
    for kind in ProductKind.values:
        policy = policy_for(kind, at=now)
        upheld = Dispute.objects.filter(_upheld(kind, policy, now))
        if kind == ProductKind.PHONE_TOPUP:
            if only_batches is not None:
                continue
            rows = upheld.exclude(order__topup_upstream="")
            if only_channel is not None:
                rows = rows.filter(
                    order__product_id=only_channel[0], order__topup_upstream=only_channel[1]
                )
            groups: dict[tuple[int, str, int], list[int]] = {}
            for pk, product_id, upstream, merchant_id in rows.values_list(
                "pk", "order__product_id", "order__topup_upstream", "merchant_id"
            ):
                groups.setdefault((product_id, upstream, merchant_id), []).append(pk)
            for (product_id, upstream, merchant_id), ids in sorted(groups.items()):
                if len(ids) >= policy.collective_threshold and (
                    (product_id, upstream) not in open_channels
                ):
                    found.append(
                        Candidate(
                            CollectiveKind.TOPUP_CHANNEL,
                            product_id,
                            merchant_id,
                            None,
                            upstream,
                            tuple(sorted(ids)),
                            policy,
                        )
                    )
            continue
        if only_channel is not None:
            continue
        # The keys the order had when the complaint was filed (a later replacement key is
        # another batch's, and did not fail).
        keys = CardKey.objects.filter(
            batch__isnull=False,
            order__product__kind=kind,
            order__disputes__in=upheld,
            delivered_at__lte=F("order__disputes__filed_at"),
        ).exclude(batch_id__in=open_batches.values("batch_id"))
        if only_batches is not None:
            keys = keys.filter(batch_id__in=only_batches)
        batch_groups: dict[int, set[int]] = {}
        for batch_id, pk in keys.values_list("batch_id", "order__disputes").distinct():
            batch_groups.setdefault(batch_id, set()).add(pk)
        reached = {
            b: ids for b, ids in batch_groups.items() if len(ids) >= policy.collective_threshold
        }
        if not reached:
            continue
        batches = KeyBatch.objects.in_bulk(list(reached))
        for batch_id, members in sorted(reached.items()):
            batch = batches[batch_id]
            found.append(
                Candidate(
                    CollectiveKind.KEY_BATCH,
                    batch.product_id,
                    batch.merchant_id,
                    batch_id,
                    "",
                    tuple(sorted(members)),
                    policy,
                )
            )
    return found


def collective_cases_open_due(*, now: datetime | None = None, dispute_id: int | None = None) -> int:
    """Open a case for every batch or channel at its threshold (the sweep's step, and the
    task after an upheld outcome). Returns how many this call opened."""
    moment = now or timezone.now()
    opened = 0
    for candidate in collective_candidates(now=moment, dispute_id=dispute_id):
        try:
            opened += int(collective_case_open(candidate=candidate, now=moment) is not None)
        except Exception:
            logger.exception(
                "collective case for %s failed to open; the next sweep retries", candidate
            )
    return opened


# --- Opening --------------------------------------------------------------------------------


def collective_case_open(
    *, candidate: Candidate, now: datetime | None = None
) -> CollectiveCase | None:
    """Open the case (see the module doc), in one transaction. None when a case for the batch
    or channel is already open (another sweeper or task won: the partial unique constraint)."""
    moment = now or timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                case = CollectiveCase.objects.create(
                    kind=candidate.kind,
                    merchant_id=candidate.merchant_id,
                    product_id=candidate.product_id,
                    batch_id=candidate.batch_id,
                    upstream=candidate.upstream,
                    opened_at=moment,
                    policy=candidate.policy if candidate.policy.pk else None,
                    threshold=candidate.policy.collective_threshold,
                    window_hours=candidate.policy.collective_window_hours,
                )
        except IntegrityError:
            return None
        # Stop the sale at once.
        if case.batch_id is not None:
            withdrawn = order_services.card_key_batch_withdraw(batch_id=case.batch_id)
            case.withdrawn_count = withdrawn.keys
            case.product_off_sale = withdrawn.product_off_sale
        else:
            case.product_off_sale = order_services.product_take_off_sale(product_id=case.product_id)
        # The orders to ask about: a row each.
        if case.batch_id is not None:
            per_order = dict(
                CardKey.objects.filter(batch_id=case.batch_id, status=CardKeyStatus.DELIVERED)
                .values("order_id")
                .annotate(n=Count("id"))
                .values_list("order_id", "n")
            )
            case.keys_count = CardKey.objects.filter(batch_id=case.batch_id).count()
            case.delivered_count = sum(per_order.values())
        else:
            lookback = max(
                CHANNEL_LOOKBACK_MIN,
                timedelta(hours=candidate.policy.complaint_window_hours),
            )
            per_order = dict.fromkeys(
                Order.objects.filter(
                    product_id=case.product_id,
                    topup_upstream=case.upstream,
                    status__in=DELIVERED_STATUSES,
                    delivered_at__gte=moment - lookback,
                ).values_list("pk", flat=True),
                1,
            )
            # Those the counted complaints are about, whatever their order's status now.
            per_order.update(
                dict.fromkeys(
                    Dispute.objects.filter(pk__in=candidate.dispute_ids).values_list(
                        "order_id", flat=True
                    ),
                    1,
                )
            )
            case.keys_count = case.delivered_count = len(per_order)
        CollectiveOrder.objects.bulk_create(
            [
                CollectiveOrder(case=case, order_id=order_id, keys=n, next_attempt_at=moment)
                for order_id, n in sorted(per_order.items())
            ],
            batch_size=2000,
        )
        # The orders' complaints (the live one of each order), and the members.
        live = dict(
            Dispute.objects.filter(order_id__in=list(per_order))
            .exclude(status=Status.WITHDRAWN)
            .values_list("order_id", "pk")
        )
        if live:
            rows = list(CollectiveOrder.objects.filter(case=case, order_id__in=list(live)))
            for row in rows:
                row.dispute_id = live[row.order_id]
            CollectiveOrder.objects.bulk_update(rows, ["dispute"], batch_size=2000)
        _add_members(case, set(candidate.dispute_ids), how="counted")
        _add_members(case, set(live.values()), how="on_the_batch")
        case.save()
        _tell_shop_opened(case)
        case_id = case.pk
        transaction.on_commit(lambda: _publish_check(case_id), robust=True)
    logger.info("collective case %s opened (%s orders)", case, case.delivered_count)
    return case


def _add_members(case: CollectiveCase, dispute_ids: set[int], *, how: str) -> None:
    """The complaints become part of the case, each with a line on its timeline."""
    members = list(
        Dispute.objects.select_for_update()
        .filter(pk__in=sorted(dispute_ids), collective_case__isnull=True)
        .order_by("pk")
    )
    for dispute in members:
        dispute.collective_case = case
        dispute.save(update_fields=["collective_case"])
        record(
            dispute,
            type=EventType.COLLECTIVE,
            actor=None,
            role=Role.SYSTEM,
            data={"case": case.number, "case_id": case.pk, "how": how},
            visibility=Visibility.ALL,
        )


def _case_figures(case: CollectiveCase) -> dict[str, Any]:
    batch = case.batch
    return {
        "case": case.number,
        "case_id": case.pk,
        "case_kind": case.kind,
        "product": case.product.name,
        "batch": batch.pk if batch else None,
        "imported_at": batch.imported_at if batch else None,
        "upstream": case.upstream,
        "keys": case.keys_count,
        "delivered": case.delivered_count,
        "withdrawn": case.withdrawn_count,
        "product_off_sale": case.product_off_sale,
        "threshold": case.threshold,
        "window_hours": case.window_hours,
    }


def _tell_shop_opened(case: CollectiveCase) -> None:
    figures = _case_figures(case)
    notify_shop(
        case.merchant,
        key=f"collective:{case.pk}:opened",
        kind=NotificationKind.COLLECTIVE_OPENED,
        **figures,
    )
    integrations_events.emit(
        merchant_id=case.merchant_id,
        type=integrations_events.COLLECTIVE_CASE_OPENED,
        data=jsonable(figures),
        key=f"collective:{case.pk}:opened",
    )


def _publish_check(case_id: int) -> None:
    from disputes.tasks import collective_case_check

    publish(collective_case_check, case_id)


def _publish_consider(dispute_id: int) -> None:
    from disputes.tasks import collective_consider

    publish(collective_consider, dispute_id)


def after_upheld(dispute: Dispute) -> None:
    """Called where an outcome is recorded (conversation.resolve): after commit, a task asks
    whether the complaint's batch or channel reached its threshold (the sweep asks too)."""
    if dispute.outcome in IN_BUYERS_FAVOUR:
        dispute_id = dispute.pk
        transaction.on_commit(lambda: _publish_consider(dispute_id), robust=True)


# --- Checking -------------------------------------------------------------------------------


def _claim(case_id: int | None, *, now: datetime, limit: int) -> list[int]:
    with transaction.atomic():
        qs = CollectiveOrder.objects.filter(
            status=CollectiveOrderStatus.PENDING, next_attempt_at__lte=now
        )
        if case_id is not None:
            qs = qs.filter(case_id=case_id)
        ids = list(
            qs.order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            lease = timezone.now() + timedelta(seconds=_timeout()) + LEASE_MARGIN
            CollectiveOrder.objects.filter(pk__in=ids).update(
                attempts=F("attempts") + 1, next_attempt_at=lease
            )
    return ids


@dataclass
class _Answer:
    finding: str = ""  # "" while there is no answer
    bad_keys: int = 0
    result: list[dict[str, Any]] | None = None
    error: str = ""


def _ask_keys(rows: list[CollectiveOrder], batch_id: int) -> dict[int, _Answer]:
    """One batch call to the issuer for the chunk's keys; a finding per order: bad when a key
    is unknown or was redeemed before it was delivered, else redeemed after, else valid."""
    keys = list(
        CardKey.objects.filter(
            batch_id=batch_id,
            order_id__in=[r.order_id for r in rows],
            status=CardKeyStatus.DELIVERED,
        ).only("pk", "order_id", "delivered_at", "tail")
    )
    answers = card_keys_verify(card_key_ids=[k.pk for k in keys], timeout=_timeout())
    per_order: dict[int, _Answer] = {r.order_id: _Answer(result=[]) for r in rows}
    missing: dict[int, str] = {}
    for key in keys:
        got = answers.get(key.pk, "no answer")
        order_id = int(key.order_id or 0)  # delivered: it has its order
        entry = per_order[order_id]
        if isinstance(got, str):
            missing[order_id] = got
            continue
        if got.status == KeyStatus.UNKNOWN:
            finding = Finding.KEY_UNKNOWN
        elif got.status == KeyStatus.VALID:
            finding = Finding.KEY_VALID
        elif got.redeemed_at is not None and (
            key.delivered_at is None or got.redeemed_at < key.delivered_at
        ):
            finding = Finding.KEY_REDEEMED_BEFORE_DELIVERY
        else:
            finding = Finding.KEY_REDEEMED_AFTER_DELIVERY
        assert entry.result is not None  # noqa: S101 - set above
        entry.result.append(
            {
                "card_key": f"****{key.tail}",
                "finding": str(finding),
                "delivered_at": key.delivered_at,
                "redeemed_at": got.redeemed_at,
                "record": got.record,
            }
        )
        if finding in BAD_FINDINGS:
            entry.bad_keys += 1
    rank = [
        Finding.KEY_UNKNOWN,
        Finding.KEY_REDEEMED_BEFORE_DELIVERY,
        Finding.KEY_REDEEMED_AFTER_DELIVERY,
        Finding.KEY_VALID,
    ]
    for order_id, entry in per_order.items():
        if order_id in missing:
            per_order[order_id] = _Answer(error=missing[order_id][:255])
            continue
        seen = {r["finding"] for r in entry.result or []}
        entry.finding = next((str(f) for f in rank if f in seen), str(Finding.KEY_VALID))
    return per_order


def _ask_topups(rows: list[CollectiveOrder]) -> dict[int, _Answer]:
    upstream = get_topup_upstream()
    numbers = dict(
        Order.objects.filter(pk__in=[r.order_id for r in rows]).values_list("pk", "number")
    )
    out: dict[int, _Answer] = {}
    for row in rows:
        try:
            answer = upstream.query(reference=numbers[row.order_id], timeout=_timeout())
        except UpstreamError as exc:
            out[row.order_id] = _Answer(error=str(exc)[:255] or "no answer")
            continue
        if answer.status == TopupStatus.FAILED:
            out[row.order_id] = _Answer(
                str(Finding.TOPUP_NOT_CREDITED), 1, [{"record": answer.record}]
            )
        elif answer.status == TopupStatus.CREDITED:
            out[row.order_id] = _Answer(str(Finding.TOPUP_CREDITED), 0, [{"record": answer.record}])
        else:
            out[row.order_id] = _Answer(error=_("the upstream says: still in progress"))
    return out


def _write_answers(ids: list[int], answers: dict[int, _Answer]) -> int:
    """Under the rows' locks, only rows still pending: the answers (set-based), or a later
    try; after AUTO_CHECK_MAX_ATTEMPTS, no answer is a finding of its own (staff decide)."""
    now = timezone.now()
    done = 0
    with transaction.atomic():
        rows = list(
            CollectiveOrder.objects.select_for_update()
            .filter(pk__in=ids, status=CollectiveOrderStatus.PENDING)
            .order_by("pk")
        )
        for row in rows:
            answer = answers.get(row.order_id) or _Answer(error="no answer")
            if answer.finding:
                row.status = CollectiveOrderStatus.ANSWERED
                row.finding = answer.finding
                row.bad_keys = answer.bad_keys
                row.result = jsonable(answer.result or [])
                row.answered_at = now
                row.next_attempt_at = None
                row.last_error = ""
                done += 1
            elif row.attempts >= _max_attempts():
                row.status = CollectiveOrderStatus.GAVE_UP
                row.finding = Finding.NO_ANSWER
                row.last_error = answer.error[:255]
                row.answered_at = now
                row.next_attempt_at = None
                done += 1
            else:
                row.last_error = answer.error[:255]
                row.next_attempt_at = now + _backoff(row.attempts)
        CollectiveOrder.objects.bulk_update(
            rows,
            [
                "status",
                "finding",
                "bad_keys",
                "result",
                "answered_at",
                "next_attempt_at",
                "last_error",
            ],
            batch_size=1000,
        )
    return done


def _ask_chunk(ids: list[int]) -> int:
    rows = list(CollectiveOrder.objects.filter(pk__in=ids).select_related("case"))
    answers: dict[int, _Answer] = {}
    by_case: dict[int, list[CollectiveOrder]] = {}
    for row in rows:
        by_case.setdefault(row.case_id, []).append(row)
    for group in by_case.values():
        case = group[0].case
        try:
            if case.batch_id is not None:
                answers.update(_ask_keys(group, case.batch_id))
            else:
                answers.update(_ask_topups(group))
        except Exception as exc:  # an issuer's bug is its error, never a lost row
            logger.exception("collective case %s: asking the issuer failed", case.pk)
            answers.update({r.order_id: _Answer(error=f"{exc.__class__.__name__}") for r in group})
    return _write_answers(ids, answers)


def collective_case_check(
    *, case_id: int | None = None, now: datetime | None = None, deadline: float | None = None
) -> dict[str, int]:
    """Ask about the case's orders (every case's due orders when `case_id` is None: the
    sweep), chunk by chunk, then settle each case whose orders are all answered. Safe twice
    and beside the sweep: rows are claimed with SKIP LOCKED and written only while pending."""
    moment = now or timezone.now()
    counts = {"asked": 0, "answered": 0, "settled": 0}
    while deadline is None or time.monotonic() < deadline:
        ids = _claim(case_id, now=moment, limit=CHECK_CHUNK)
        if not ids:
            break
        counts["asked"] += len(ids)
        counts["answered"] += _ask_chunk(ids)
    cases = (
        [case_id]
        if case_id is not None
        else list(
            CollectiveCase.objects.filter(status=CollectiveStatus.CHECKING, settled_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:50]
        )
    )
    for pk in cases:
        counts["settled"] += int(collective_case_settle(case_id=pk))
    return counts


# --- Settling -------------------------------------------------------------------------------


def _order_value_fen(order: Order, row: CollectiveOrder) -> int:
    """What the bad keys of an order are worth: the unit price for each (a top-up: the order),
    never more than the order."""
    if row.case.kind == CollectiveKind.TOPUP_CHANNEL:
        return to_fen(order.amount)
    return min(to_fen(order.unit_price) * row.bad_keys, to_fen(order.amount))


def collective_case_settle(*, case_id: int) -> bool:
    """Refund every bad order of the case and tell every buyer, once (see the module doc).
    False while orders are still being asked about, or when it was settled before."""
    payout_ids: list[int] = []
    with transaction.atomic():
        # Only the case's row is locked (PostgreSQL refuses FOR UPDATE on the nullable side
        # of the batch's outer join; a top-up channel's case has no batch).
        case = (
            CollectiveCase.objects.select_for_update(of=("self",))
            .select_related("merchant", "product", "batch")
            .get(pk=case_id)
        )
        if case.settled_at is not None or case.status == CollectiveStatus.CLOSED:
            return False
        if CollectiveOrder.objects.filter(
            case_id=case_id, status=CollectiveOrderStatus.PENDING
        ).exists():
            return False
        now = timezone.now()
        rows = list(
            CollectiveOrder.objects.filter(case_id=case_id).select_related("order").order_by("pk")
        )
        bad = [r for r in rows if r.finding in BAD_FINDINGS and r.bad_keys > 0]
        # What each order may still give back (orders locked): a buyer already paid by a
        # complaint (or refunded any other way) is not paid again.
        room = headroom_fen([r.order_id for r in bad])
        items: list[Compensation] = []
        paying: dict[int, int] = {}
        for row in bad:
            row.case = case
            fen = max(0, min(_order_value_fen(row.order, row), room.get(row.order_id, 0)))
            if fen:
                paying[row.pk] = fen
                items.append(
                    Compensation(
                        dispute_id=None,
                        order_id=row.order_id,
                        merchant_id=case.merchant_id,
                        pay=fen,
                        recover=fen,
                        reference=f"collective:{case.pk}:{row.order_id}",
                    )
                )
        # Before paying: what is at risk, against the deposit available now.
        summary = escrow_selectors.deposit_summary(case.merchant)
        at_risk = sum(paying.values())
        available = max(0, to_fen(summary.available))
        case.at_risk_amount = from_fen(at_risk)
        case.deposit_available = from_fen(available)
        case.shortfall_amount = from_fen(max(0, at_risk - available))
        case.save(update_fields=["at_risk_amount", "deposit_available", "shortfall_amount"])
        posted = compensations_post(items)
        payout_ids = posted.payout_ids
        recovered = sum(sum(split) for split in posted.recovered.values())
        for row in bad:
            fen = paying.get(row.pk, 0)
            if fen and f"collective:{case.pk}:{row.order_id}:payout" in posted.keys:
                row.refund_amount = from_fen(fen)
                row.refund_reason = row.finding
                row.refunded_at = now
        CollectiveOrder.objects.bulk_update(
            bad, ["refund_amount", "refund_reason", "refunded_at"], batch_size=1000
        )
        refunded = [r for r in bad if r.refunded_at is not None]
        case.bad_count = sum(r.bad_keys for r in rows if r.finding in BAD_FINDINGS)
        case.refunded_count = len(refunded)
        case.refunded_amount = from_fen(sum(to_fen(r.refund_amount) for r in refunded))
        case.recovered_amount = from_fen(recovered)
        case.checked_at = case.checked_at or now
        case.settled_at = now
        case.status = CollectiveStatus.SETTLED
        case.save()
        _tell_buyers(case, rows, now=now)
    if payout_ids:
        from escrow.tasks import payouts_send

        ids = list(payout_ids)
        transaction.on_commit(lambda: publish(payouts_send, ids), robust=True)
    logger.info("collective case %s settled: %s orders refunded", case_id, len(payout_ids))
    return True


def _tell_buyers(case: CollectiveCase, rows: list[CollectiveOrder], *, now: datetime) -> None:
    """Every buyer of the batch or channel: what was found about their order and what
    happens next (one row per buyer, order and channel; dedupe key per case and order)."""
    orders = Order.objects.in_bulk([r.order_id for r in rows])
    buyers = User.objects.in_bulk({o.buyer_id for o in orders.values()})
    out: list[OutboxRow] = []
    chans = channels()
    for row in rows:
        order = orders[row.order_id]
        user = buyers[order.buyer_id]
        params = {
            "case": case.number,
            "order": order.number,
            "product": case.product.name,
            "shop": case.merchant.shop_name,
            "finding": row.finding,
            "bad_keys": row.bad_keys,
            "keys": row.keys,
            "amount": str(row.refund_amount),
            "complaint": bool(row.dispute_id),
        }
        text = render(jsonable(params))
        for chan in chans:
            if not chan.accepts(NotificationKind.COLLECTIVE_FINDING, Role.BUYER, params):
                continue
            if chan.address(user) is None:
                continue
            out.append(
                OutboxRow(
                    dispute_id=None,
                    recipient_id=user.pk,
                    channel=chan.name,
                    dedupe_key=f"collective:{case.pk}:order:{order.pk}:user:{user.pk}:{chan.name}",
                    kind=str(NotificationKind.COLLECTIVE_FINDING),
                    params=text,
                    role=str(Role.BUYER),
                    created_at=now,
                    sent_at=now if chan.immediate else None,
                )
            )
    publish_notifications(outbox_insert(out))
    CollectiveOrder.objects.filter(case=case, notified_at__isnull=True).update(notified_at=now)


# --- The sweep's step -----------------------------------------------------------------------


def collective_cases_sweep(*, now: datetime, deadline: float | None = None) -> dict[str, int]:
    """Every sweep: open the cases due, join complaints upheld since on open cases' orders,
    ask what is still to ask (a lost task's work, a back-off that ran out), settle."""
    counts = {"opened": collective_cases_open_due(now=now), "joined": _join_upheld_since()}
    counts.update(collective_case_check(now=now, deadline=deadline))
    return counts


def _join_upheld_since() -> int:
    """Complaints on an open case's orders that are not members yet (upheld or filed after it
    opened) become members."""
    open_rows = CollectiveOrder.objects.exclude(case__status=CollectiveStatus.CLOSED)
    late = list(
        Dispute.objects.filter(
            collective_case__isnull=True,
            order_id__in=open_rows.values("order_id"),
        )
        .exclude(status=Status.WITHDRAWN)
        .values_list("pk", "order_id")[:500]
    )
    if not late:
        return 0
    case_of = dict(
        open_rows.filter(order_id__in=[o for _pk, o in late]).values_list("order_id", "case_id")
    )
    by_case: dict[int, set[int]] = {}
    for pk, order_id in late:
        by_case.setdefault(case_of[order_id], set()).add(pk)
    with transaction.atomic():
        for case in CollectiveCase.objects.filter(pk__in=list(by_case)).order_by("pk"):
            _add_members(case, by_case[case.pk], how="later")
    return len(late)


# --- The buyer joins ("我也遇到了") -----------------------------------------------------------


def case_for_order(order: Order) -> CollectiveCase | None:
    """The open case the order belongs to (its batch's or its channel's), if any."""
    return (
        CollectiveCase.objects.filter(orders__order=order)
        .exclude(status=CollectiveStatus.CLOSED)
        .order_by("-opened_at")
        .first()
    )


def join_refusal(row: CollectiveOrder, complaint: Dispute | None = None) -> str | None:
    """Why the buyer of this order of a case cannot join it ("我也遇到了"), or None when they
    may: the one home of the rule, asked by the order page (whether to show the button) and by
    `collective_join`. `complaint`: the buyer's live complaint on the order, if the caller
    already read it (else the row's)."""
    if row.case.status == CollectiveStatus.CLOSED:
        return _("The collective case is closed.")
    if (complaint or row.dispute) is not None:
        return _("This order already has a complaint: it carries the case's findings.")
    if row.refunded_at is not None:
        return _("The platform already refunded this order through the case.")
    if row.finding in BAD_FINDINGS:
        return _("The platform refunds this order without a complaint: you need do nothing.")
    return None


def collective_join(*, user: User, order: Order) -> Dispute:
    """The buyer of an order of an open case files a complaint in one tap: through the filing
    service (every filing rule holds: the window, the blacklist, one live complaint per order),
    for the order's keys of the batch (a top-up: the order), claiming what they are worth and
    carrying the case's evidence — the issuer's answers for the order and the case's figures
    as a platform record — so the buyer is not asked for proofs again. The complaint is a
    member of the case."""
    from disputes.services.filing import dispute_file

    if order.buyer_id != user.pk:
        raise NotFound(_("No such order."))
    case = case_for_order(order)
    if case is None:
        raise DomainError(
            _("Order %(number)s is not part of an open collective case.")
            % {"number": order.number},
            code="not_allowed_in_state",
        )
    row = CollectiveOrder.objects.select_related("case").get(case=case, order=order)
    refusal = join_refusal(row)
    if refusal is not None:
        raise DomainError(refusal, code="not_allowed_in_state")
    order = Order.objects.select_related("product").get(pk=order.pk)
    if case.kind == CollectiveKind.TOPUP_CHANNEL:
        reason, keys, amount = Reason.NOT_RECEIVED, [], order.refundable_amount
    else:
        keys = list(
            CardKey.objects.filter(order=order, batch_id=case.batch_id).values_list("pk", flat=True)
        )
        amount = min(order.unit_price * max(len(keys), 1), order.refundable_amount)
    if case.kind == CollectiveKind.KEY_BATCH:
        reason = Reason.INVALID_CARD_KEY
    if amount <= ZERO:
        raise DomainError(
            _("Order %(number)s was already refunded in full.") % {"number": order.number},
            code="not_allowed_in_state",
        )
    with transaction.atomic():
        dispute = dispute_file(
            buyer=user,
            order=order,
            reason=reason,
            claimed_amount=amount,
            description=_("I have the same problem as collective case %(case)s.")
            % {"case": case.number},
            card_keys=keys,
        )
        with stored_files() as files:
            store_platform_record(
                dispute,
                jsonable(
                    {
                        "collective_case": _case_figures(case),
                        "this_order": {
                            "number": order.number,
                            "finding": row.finding,
                            "bad_keys": row.bad_keys,
                            "keys": row.keys,
                            "issuer": row.result,
                        },
                    }
                ),
                files=files,
                kind=EvidenceKind.PLATFORM_RECORD,
                original_name=f"collective-case-{case.number}.json",
                note=_("The collective case's evidence"),
            )
        CollectiveOrder.objects.filter(pk=row.pk).update(dispute=dispute)
        _add_members(case, {dispute.pk}, how="joined")
        dispute.refresh_from_db(fields=["collective_case"])
    return dispute


# --- The shop answers once for the batch; staff close it -------------------------------------


def _shop_member(user: User, case: CollectiveCase) -> None:
    if not MerchantMember.objects.filter(merchant_id=case.merchant_id, user=user).exists():
        raise Forbidden(_("Only the shop's team answers for its collective cases."))


def collective_case_answer(
    *,
    case: CollectiveCase,
    user: User,
    supplier: str,
    lot: str,
    note: str = "",
    withdraw_rest: bool = True,
    replace: bool = False,
) -> CollectiveCase:
    """The shop's one answer for the batch: it names the supplier and the lot (kept on the
    import too), withdraws what is left of the batch, and may replace the bad keys of the
    orders the case did not refund from good stock (orders.services.order_replace_card_key,
    one per bad key; out of stock refuses the whole answer)."""
    _shop_member(user, case)
    if not supplier.strip():
        raise DomainError(_("Name the supplier the keys came from."), code="supplier_required")
    if len(note) > 2000:
        raise DomainError(_("An answer is at most 2000 characters."), code="invalid")
    with transaction.atomic():
        case = CollectiveCase.objects.select_for_update().get(pk=case.pk)
        if case.status == CollectiveStatus.CLOSED:
            raise DomainError(_("This collective case is closed."), code="not_allowed_in_state")
        if case.batch_id is not None:
            batch = order_services.key_batch_name(
                batch_id=case.batch_id, supplier=supplier, lot=lot
            )
            case.supplier, case.lot = batch.supplier, batch.lot
            if withdraw_rest:
                case.withdrawn_count += order_services.card_key_batch_withdraw(
                    batch_id=case.batch_id
                ).keys
        else:
            case.supplier, case.lot = supplier.strip()[:120], lot.strip()[:120]
        if replace and case.batch_id is not None:
            todo = CollectiveOrder.objects.filter(
                case=case, finding__in=BAD_FINDINGS, refunded_at__isnull=True, dispute__isnull=True
            ).select_related("order")
            for row in todo:
                for _i in range(row.bad_keys):
                    order_services.order_replace_card_key(order=row.order)
                    case.replaced_count += 1
        case.merchant_note = note.strip()
        case.answered_at = timezone.now()
        case.answered_by = user
        case.save()
    return case


def collective_case_close(*, case: CollectiveCase, staff: User, note: str) -> CollectiveCase:
    """Staff decide what the rule left open (orders the issuer never answered about, the
    shop's answer) and close the case; a new case may open on the batch afterwards."""
    if not (staff.is_active and staff.is_staff and staff.has_perm("disputes.arbitrate")):
        raise Forbidden(_("Only an arbitrator closes a collective case."))
    if not note.strip():
        raise DomainError(_("Write what was decided."), code="note_required")
    with transaction.atomic():
        case = CollectiveCase.objects.select_for_update().get(pk=case.pk)
        if case.status == CollectiveStatus.CLOSED:
            raise DomainError(_("This collective case is closed."), code="not_allowed_in_state")
        if case.settled_at is None:
            raise DomainError(
                _("The issuer is still being asked about this case's orders; close it after."),
                code="not_allowed_in_state",
            )
        case.staff_note = note.strip()[:5000]
        case.status = CollectiveStatus.CLOSED
        case.closed_at = timezone.now()
        case.closed_by = staff
        case.save()
    return case


def counts(case: CollectiveCase) -> dict[str, Any]:
    """The case's figures as every reader sees them (kept on the row, plus its members)."""
    return {
        "keys": case.keys_count,
        "delivered": case.delivered_count,
        "found_bad": case.bad_count,
        "refunded": case.refunded_count,
        "refunded_amount": case.refunded_amount,
        "recovered": case.recovered_amount,
        "members": Dispute.objects.filter(collective_case=case).count(),
        "open_members": Dispute.objects.filter(
            collective_case=case, status__in=OPEN_STATUSES
        ).count(),
        "pending": CollectiveOrder.objects.filter(
            case=case, status=CollectiveOrderStatus.PENDING
        ).count(),
        "refunded_total": CollectiveOrder.objects.filter(case=case).aggregate(
            s=Sum("refund_amount")
        )["s"]
        or ZERO,
    }


__all__ = [
    "Candidate",
    "after_upheld",
    "case_for_order",
    "collective_candidates",
    "collective_case_answer",
    "collective_case_check",
    "collective_case_close",
    "collective_case_open",
    "collective_case_settle",
    "collective_cases_open_due",
    "collective_cases_sweep",
    "collective_join",
    "counts",
]
