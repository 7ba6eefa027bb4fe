"""Reads of the disputes app: the policy in force, what each caller may see, the lists and
details the API and pages show (constant query counts whatever the page size), and the due
querysets the clock sweeps."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import (
    Case,
    Count,
    F,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncMinute
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.deadlines import RUNNING, running_deadline_sql
from disputes.models import (
    OPEN_STATUSES,
    AutoCheck,
    BlacklistEntry,
    ClockRun,
    CollectiveCase,
    CollectiveOrder,
    CollectiveOrderStatus,
    Dispute,
    DisputeEvent,
    DisputeRating,
    EventType,
    Evidence,
    Finding,
    Notification,
    NotificationChannel,
    Outcome,
    Policy,
    Status,
    Visibility,
)
from disputes.notices import Line, line
from disputes.outcomes import IN_BUYERS_FAVOUR
from orders.models import (
    CardKey,
    ChannelComplaint,
    ChannelComplaintPush,
    ChannelComplaintPushAction,
    Merchant,
    MerchantStatus,
    Order,
)
from orders.selectors import merchant_for_user

if TYPE_CHECKING:
    from disputes.access import Viewer

# --- Policy -------------------------------------------------------------------------------


def policy_for(kind: str, at: datetime | None = None) -> Policy:
    """The rules in force for a product kind at a moment: the kind's own latest version that
    has taken effect, else the platform-wide one, else the built-in defaults (unsaved)."""
    moment = at or timezone.now()
    # One query: the kind's own versions sort before the platform-wide ones.
    found = (
        Policy.objects.filter(effective_from__lte=moment, product_kind__in=(kind, ""))
        .order_by(
            Case(When(product_kind="", then=Value(1)), default=Value(0)), "-effective_from", "-id"
        )
        .first()
    )
    return found if found is not None else Policy(effective_from=moment)


def policies_pending(kind: str | None = None) -> QuerySet[Policy]:
    """Published versions not yet in force (what buyers and merchants are told is coming)."""
    qs = Policy.objects.filter(effective_from__gt=timezone.now()).order_by("effective_from")
    return qs if kind is None else qs.filter(product_kind=kind)


# --- Who sees what ------------------------------------------------------------------------


def can_see_all(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm("disputes.view_dispute"))


def disputes_visible_to(
    user: User | AnonymousUser, *, seen_as: Viewer | None = None
) -> QuerySet[Dispute]:
    """A buyer sees their complaints, a merchant's team its shop's, staff holding
    disputes.view_dispute all of them; anyone else none (answered as 404). `seen_as`: the
    caller as a request already worked it out (disputes.access.Viewer: whether staff, which
    shop), so its shop is not looked up again."""
    if not user.is_authenticated:
        return Dispute.objects.none()
    if seen_as.staff if seen_as is not None else can_see_all(user):
        return Dispute.objects.all()
    condition = Q(buyer_id=user.pk)
    if seen_as is not None:
        merchant_id = seen_as.merchant_id
    else:
        merchant = merchant_for_user(user)
        merchant_id = merchant.pk if merchant is not None else None
    if merchant_id is not None:
        condition |= Q(merchant_id=merchant_id)
    return Dispute.objects.filter(condition)


# --- Where a case came from ---------------------------------------------------------------

ORIGIN_PLATFORM = "platform"
ORIGINS = (ORIGIN_PLATFORM, "wechatpay", "alipay")


def with_origin(qs: QuerySet[Dispute]) -> QuerySet[Dispute]:
    """The channel complaint that opened each case, if one did (orders.ChannelComplaint joined
    with case_note "opened", docs/channel-complaints.md), as two columns of the same query —
    `case_origin` reads them."""
    opener = ChannelComplaint.objects.filter(case_id=OuterRef("pk"), case_note="opened").order_by(
        "received_at", "pk"
    )
    return qs.annotate(
        origin_channel=Subquery(opener.values("channel")[:1]),
        origin_complaint_id=Subquery(opener.values("complaint_id")[:1]),
    )


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the case was opened: "platform" (the buyer filed here) or the payment channel
    whose complaint opened it ("wechatpay", "alipay"), with the channel's complaint number."""

    origin: str
    complaint_id: str | None

    @property
    def line(self) -> str:
        """The small line the pages show under a case opened from a channel ("" otherwise)."""
        if self.complaint_id is None:
            return ""
        if self.origin == "wechatpay":
            text = _("From a WeChat Pay consumer complaint, number %(id)s")
        elif self.origin == "alipay":
            text = _("From an Alipay trade complaint, number %(id)s")
        else:
            text = _("From a payment channel complaint, number %(id)s")
        return text % {"id": self.complaint_id}


def case_origin(dispute: Dispute) -> Origin:
    """The one home of a case's origin (the API's `origin`, the pages' line): read from the
    columns `with_origin` added, asked of the database for a case loaded without them."""
    if not hasattr(dispute, "origin_channel"):
        found = with_origin(Dispute.objects.filter(pk=dispute.pk)).only("pk").first()
        dispute.origin_channel = getattr(found, "origin_channel", None)  # type: ignore[attr-defined]
        dispute.origin_complaint_id = getattr(found, "origin_complaint_id", None)  # type: ignore[attr-defined]
    channel = getattr(dispute, "origin_channel", None)
    if not channel:
        return Origin(ORIGIN_PLATFORM, None)
    return Origin(str(channel), getattr(dispute, "origin_complaint_id", None))


def with_details(qs: QuerySet[Dispute], *, staff: bool) -> QuerySet[Dispute]:
    """Everything the list and the detail serialise, in a fixed number of queries. Parties
    never receive staff-only events (internal notes): they are filtered here, in SQL."""
    events = DisputeEvent.objects.select_related("actor").order_by("created_at", "id")
    if not staff:
        events = events.filter(visibility=Visibility.ALL)
    return (
        with_origin(qs)
        .select_related("order", "order__product", "merchant", "buyer", "rating")
        .prefetch_related(
            Prefetch("events", queryset=events),
            Prefetch("evidence", queryset=Evidence.objects.order_by("uploaded_at", "id")),
            Prefetch("card_keys", queryset=CardKey.objects.order_by("id")),
            Prefetch("auto_checks", queryset=AutoCheck.objects.select_related("card_key")),
        )
    )


def dispute_list(
    user: User | AnonymousUser, *, status: str | None = None, seen_as: Viewer | None = None
) -> QuerySet[Dispute]:
    """The caller's complaints, newest first, optionally of one status (`seen_as`: as in
    `disputes_visible_to`)."""
    qs = disputes_visible_to(user, seen_as=seen_as)
    if status:
        qs = qs.filter(status=status)
    staff = seen_as.staff if seen_as is not None else can_see_all(user)
    return with_details(qs, staff=staff).order_by("-filed_at", "-id")


def visible_dispute(
    user: User | AnonymousUser, number: str, *, seen_as: Viewer | None = None, details: bool = True
) -> Dispute | None:
    """The complaint `number` if the caller may see it. `details=False`: the row and what it
    points to only (order, product, shop, buyer), for an action whose service locks and
    re-reads the row anyway; the answer after it reads the details."""
    qs = disputes_visible_to(user, seen_as=seen_as).filter(number=number)
    if not details:
        return qs.select_related("order", "order__product", "merchant", "buyer", "rating").first()
    staff = seen_as.staff if seen_as is not None else can_see_all(user)
    return with_details(qs, staff=staff).first()


# --- Blacklist ----------------------------------------------------------------------------


def blacklist_entries(
    *, active_only: bool = False, at: datetime | None = None
) -> QuerySet[BlacklistEntry]:
    """Staff's blacklist, newest first; `active_only`: not lifted and not yet expired."""
    qs = BlacklistEntry.objects.select_related("user").order_by("-created_at", "-id")
    if active_only:
        qs = qs.filter(lifted_at__isnull=True, expires_at__gt=at or timezone.now())
    return qs


def active_blacklist_entry(user: User, at: datetime | None = None) -> BlacklistEntry | None:
    return (
        blacklist_entries(active_only=True, at=at).filter(user=user).order_by("-expires_at").first()
    )


def malicious_rulings(user: User, *, days: int, at: datetime | None = None) -> QuerySet[Dispute]:
    """The account's complaints ruled malicious in the `days` before `at`: what the blacklist
    counts (and what the blacklist admin shows behind an entry)."""
    moment = at or timezone.now()
    return Dispute.objects.filter(
        buyer=user,
        outcome=Outcome.REJECTED_MALICIOUS,
        status=Status.RESOLVED,
        resolved_at__gt=moment - timedelta(days=days),
        resolved_at__lte=moment,
    )


def malicious_rulings_count(user: User, *, days: int, at: datetime | None = None) -> int:
    return malicious_rulings(user, days=days, at=at).count()


# --- What the clock sweeps ----------------------------------------------------------------
# Each is an indexed range query (the partial indexes on Dispute); the clock adds
# select_for_update(skip_locked=True), its ordering and its batch size.


def disputes_merchant_overdue(now: datetime) -> QuerySet[Dispute]:
    return Dispute.objects.filter(
        status=Status.AWAITING_MERCHANT, merchant_response_due__lte=now
    ).order_by("merchant_response_due")


def disputes_buyer_overdue(now: datetime) -> QuerySet[Dispute]:
    return Dispute.objects.filter(
        status=Status.AWAITING_BUYER, buyer_response_due__lte=now
    ).order_by("buyer_response_due")


def disputes_review_overdue(now: datetime) -> QuerySet[Dispute]:
    return Dispute.objects.filter(
        status=Status.UNDER_REVIEW, review_paused_at__isnull=True, review_due__lte=now
    ).order_by("review_due")


def disputes_info_overdue(now: datetime) -> QuerySet[Dispute]:
    return Dispute.objects.filter(
        status=Status.UNDER_REVIEW, review_paused_at__isnull=False, info_due__lte=now
    ).order_by("info_due")


# --- The clock's health -------------------------------------------------------------------


def deadlines_overdue(now: datetime) -> tuple[int, datetime | None]:
    """How many deadlines are past and not yet enforced, and the oldest of them — each clock
    a count and a min over its partial index, so the cost grows with what is overdue (should
    be 0), never with the history."""
    total = 0
    oldest: datetime | None = None
    for qs, due in (
        (disputes_merchant_overdue(now), "merchant_response_due"),
        (disputes_buyer_overdue(now), "buyer_response_due"),
        (disputes_review_overdue(now), "review_due"),
        (disputes_info_overdue(now), "info_due"),
    ):
        found = qs.order_by().aggregate(n=Count("pk"), oldest=Min(due))
        total += found["n"]
        if found["oldest"] is not None and (oldest is None or found["oldest"] < oldest):
            oldest = found["oldest"]
    return total, oldest


def deadline_health(now: datetime | None = None) -> dict[str, Any]:
    """The clock's health line (/healthz, the admin): when the last sweep ran and what it did,
    how many deadlines are overdue right now (should be 0) and the oldest of them. `ok` is
    False when the last sweep is older than 3 intervals or a deadline has been overdue for
    more than 2 — the sweep is not running, or not keeping up."""
    moment = now or timezone.now()
    interval = timedelta(seconds=settings.SWEEP_INTERVAL_SECONDS)
    run = ClockRun.objects.filter(pk=1).first()
    overdue, oldest = deadlines_overdue(moment)
    last = run.finished_at if run else None
    ok = (
        last is not None
        and moment - last <= 3 * interval
        and (oldest is None or moment - oldest <= 2 * interval)
    )
    return {
        "ok": ok,
        "last_sweep_at": timezone.localtime(last).isoformat() if last else None,
        "last_sweep": run.counts if run else None,
        "overdue": overdue,
        "oldest_overdue": timezone.localtime(oldest).isoformat() if oldest else None,
        "interval_seconds": settings.SWEEP_INTERVAL_SECONDS,
    }


# --- Notifications --------------------------------------------------------------------------


def inbox(user: User) -> QuerySet[Notification]:
    """The user's in-app notifications, newest first."""
    return (
        Notification.objects.filter(recipient=user, channel=NotificationChannel.INAPP)
        .select_related("dispute")
        .order_by("-created_at", "-id")
    )


def unread_count(user: User | AnonymousUser) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(
        recipient_id=user.pk, channel=NotificationChannel.INAPP, read_at__isnull=True
    ).count()


def inbox_groups(user: User) -> QuerySet[Any]:
    """The user's in-app notifications as lines: one per complaint and minute (several events
    of one complaint within a minute are one line), newest first — dicts of `dispute_id`,
    `minute`, `latest`. Paginate these, then `inbox_lines` reads the rows of one page."""
    return (
        Notification.objects.filter(recipient=user, channel=NotificationChannel.INAPP)
        .annotate(minute=TruncMinute("created_at"))
        .values("dispute_id", "minute")
        .annotate(latest=Max("created_at"), last_id=Max("id"))
        .order_by("-latest", "-last_id")
    )


def inbox_lines(user: User, groups: list[dict[str, Any]]) -> list[Line]:
    """The rows of these groups (one query, whatever their number) as disputes.notices.Line."""
    if not groups:
        return []
    wanted = Q()
    for group in groups:
        start = group["minute"]
        wanted |= Q(
            dispute_id=group["dispute_id"],
            created_at__gte=start,
            created_at__lt=start + timedelta(minutes=1),
        )
    rows = (
        Notification.objects.filter(recipient=user, channel=NotificationChannel.INAPP)
        .filter(wanted)
        .select_related("dispute__order__product", "dispute__merchant")
    )
    buckets: dict[tuple[int | None, int], list[Notification]] = defaultdict(list)
    for row in rows:
        minute = int(row.created_at.timestamp()) // 60
        buckets[(row.dispute_id, minute)].append(row)
    return [
        line(buckets[(g["dispute_id"], int(g["minute"].timestamp()) // 60)])
        for g in groups
        if buckets[(g["dispute_id"], int(g["minute"].timestamp()) // 60)]
    ]


# --- The buyer's pages (disputes/views/complaints.py) ---------------------------------------


def buyer_complaints(user: User, *, status: str | None = None) -> QuerySet[Dispute]:
    """The buyer's own complaints, newest first: the list's filter and order only, no joins,
    so the pager's COUNT and the page's ids read the buyer's rows from the index
    (`dispute_buyer_recent_idx`) and the rows themselves come from `complaint_rows`."""
    qs = Dispute.objects.filter(buyer_id=user.pk)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-filed_at", "-id")


# What a row of a complaints list shows (templates/disputes/my_complaints.html) and what
# disputes.deadlines needs to say which deadline runs: the rest of the wide row stays unread.
_ROW_COLUMNS = (
    "number",
    "reason",
    "status",
    "outcome",
    "claimed_amount",
    "resolved_amount",
    "filed_at",
    "review_paused_at",
    *(field for _status, _paused, field in RUNNING),
    "order__product__name",
    "merchant__shop_name",
)


def complaint_rows(page: Iterable[int]) -> list[Dispute]:
    """The complaints of one page of a list — `page` is its sliced queryset of ids (the
    pager's object_list) — with their order's product and shop joined, in the list's order,
    in one query. The ids are chosen first (`… WHERE id IN (SELECT id … ORDER BY … LIMIT
    20)`), so the joins touch the page's rows, never every complaint of the buyer: joining
    first and sorting after made the page grow with the buyer's complaints (bench
    buyer_pages)."""
    return list(
        Dispute.objects.filter(pk__in=page)
        .select_related("order__product", "merchant")
        .only(*_ROW_COLUMNS)
        .order_by("-filed_at", "-id")
    )


# The page shows this many of the latest timeline entries and messages (the rest on request),
# so its time does not grow with a long complaint (bench/bench_buyer_pages.py).
RECENT_EVENTS = 20


def buyer_complaint(user: User, number: str, *, everything: bool = False) -> Dispute | None:
    """One of the buyer's own complaints with everything its page shows — the timeline
    without staff-only events, the evidence, the keys, the rating — in a fixed number of
    queries; None for anyone else's (answered as 404). `recent_events` and
    `recent_messages` hold the latest RECENT_EVENTS of each, newest first (all of them with
    `everything`)."""
    return _complaint_page(Dispute.objects.filter(buyer_id=user.pk, number=number), everything)


def _complaint_page(qs: QuerySet[Dispute], everything: bool) -> Dispute | None:
    """One complaint with what a party's page shows (buyer_complaint, merchant_complaint)."""
    public = DisputeEvent.objects.filter(visibility=Visibility.ALL).order_by("-created_at", "-id")
    events = public.exclude(type=EventType.MESSAGE).select_related(None)
    thread = public.filter(type=EventType.MESSAGE)
    if not everything:
        events, thread = events[:RECENT_EVENTS], thread[:RECENT_EVENTS]
    return (
        with_origin(qs)
        .select_related("order__product", "merchant", "rating", "policy")
        .prefetch_related(
            Prefetch("events", queryset=events, to_attr="recent_events"),
            Prefetch("events", queryset=thread, to_attr="recent_messages"),
            Prefetch("evidence", queryset=Evidence.objects.order_by("uploaded_at", "id")),
            Prefetch("card_keys", queryset=CardKey.objects.order_by("id")),
        )
        .first()
    )


def complaint_payouts(dispute: Dispute) -> list[Any]:
    """Where the complaint's money went: the escrow outbox rows refunding the buyer through
    the order's payment channel (the payout and, after an appeal, the appeal's payout; the
    keys escrow.services books them under), oldest first. `sent_at` is None while pending."""
    from escrow.models import Payout

    keys = [f"dispute:{dispute.pk}:payout", f"dispute:{dispute.pk}:appeal-payout"]
    return list(Payout.objects.filter(source_key__in=keys).order_by("created_at", "id"))


# --- Shop record ------------------------------------------------------------------------------

# Below this many paid orders in the window a shop's figures say more about chance than about
# the shop (3 complaints in 10 orders is "300 per 1,000"), so they are not shown and the shop
# is left out of the marketplace median.
SHOP_RECORD_MIN_ORDERS = 30
SHOP_RECORD_CACHE_SECONDS = 600
# The windows a record is computed over: the public pages show 90 days, the merchant's
# performance page and GET /api/v1/merchant/stats/ any of these.
SHOP_RECORD_DAYS = (7, 30, 90)
# What a merchant's answer is on the timeline (the first one ends the merchant's clock).
_ANSWER_EVENTS = ("accepted", "offer_made", "contested")
# A complaint the shop lost: resolved for the buyer (money or a new key) by staff or by the
# clock (default judgment, the review time running out) — not one the merchant settled.
_LOST_OUTCOMES = tuple(str(outcome) for outcome in IN_BUYERS_FAVOUR)
_LOST_DECIDERS = ("staff", "system")
# A complaint ruled malicious is never rated (disputes.services.rating refuses it), and a rating
# given before such a ruling (an appeal's) does not count: its filer's word on the shop is not
# part of the record or of the metrics.
UNRATED_OUTCOMES = (Outcome.REJECTED_MALICIOUS.value,)


def _shop_stats_sql(*, one_merchant: bool, bounded: bool = False) -> str:
    """Per shop, over the window: paid orders, complaints filed, complaints whose merchant
    clock is settled (answered, or the deadline passed), those answered before the deadline,
    complaints not withdrawn, those resolved, those lost (_LOST_OUTCOMES decided by
    _LOST_DECIDERS), the money recovered from the shop (in fen) and the average rating. One
    aggregate query."""
    from orders.models import Order

    order_t = Order._meta.db_table
    dispute_t = Dispute._meta.db_table
    event_t = DisputeEvent._meta.db_table
    rating_t = DisputeRating._meta.db_table
    merchant_filter = "AND merchant_id = %(merchant)s" if one_merchant else ""
    if bounded:  # the metrics' date range (disputes/metrics.py): the window ends at `until`
        merchant_filter = f"AND created_at < %(until)s {merchant_filter}"
    d_filter = merchant_filter.replace("merchant_id", "d.merchant_id")
    d_filter = d_filter.replace("created_at", "d.filed_at")
    # The metrics' range: only the answers to its complaints (the same rows joined, read
    # without every answer of every complaint ever filed).
    a_filter = (
        f"AND dispute_id IN (SELECT id FROM {dispute_t} "  # noqa: S608 - values as parameters
        "WHERE filed_at >= %(since)s AND filed_at < %(until)s)"
        if bounded
        else ""
    )
    unrated = ", ".join(f"'{t}'" for t in UNRATED_OUTCOMES)
    # A complaint's rating counts unless its outcome is unrated (one rating per complaint).
    # The metrics' range (a day, when rolling up) reads each complaint's rating by its key:
    # joined whole, PostgreSQL hashed every rating ever given, most of a day's time at
    # 1,000,000 complaints; the shop record's wider window keeps the join.
    if bounded:
        score = (
            f"CASE WHEN d.outcome NOT IN ({unrated}) THEN "  # noqa: S608 - no values in it
            f"(SELECT r.score FROM {rating_t} r WHERE r.dispute_id = d.id) END"
        )
        rating_join = ""
    else:
        score = "r.score"
        rating_join = (
            f"LEFT JOIN {rating_t} r ON r.dispute_id = d.id AND d.outcome NOT IN ({unrated})"
        )
    answers = ", ".join(f"'{t}'" for t in _ANSWER_EVENTS)
    lost_outcomes = ", ".join(f"'{t}'" for t in _LOST_OUTCOMES)
    lost_deciders = ", ".join(f"'{t}'" for t in _LOST_DECIDERS)
    return f"""
    o AS (
        SELECT merchant_id, COUNT(*) AS orders FROM {order_t}
        WHERE created_at >= %(since)s AND paid_at IS NOT NULL {merchant_filter}
        GROUP BY merchant_id
    ),
    d AS (
        SELECT d.merchant_id,
            COUNT(*) AS complaints,
            SUM(CASE WHEN d.status <> 'withdrawn' THEN 1 ELSE 0 END) AS live,
            SUM(CASE WHEN d.status = 'resolved' THEN 1 ELSE 0 END) AS resolved,
            SUM(CASE WHEN d.status = 'resolved' AND d.outcome IN ({lost_outcomes})
                     AND d.decided_by IN ({lost_deciders})
                THEN 1 ELSE 0 END) AS lost,
            SUM(ROUND(d.recovered * 100)) AS paid_out_fen,
            SUM(CASE WHEN a.first_answer IS NOT NULL OR d.merchant_response_due <= %(now)s
                THEN 1 ELSE 0 END) AS clock_settled,
            SUM(CASE WHEN a.first_answer IS NOT NULL
                     AND a.first_answer <= d.merchant_response_due
                THEN 1 ELSE 0 END) AS answered_in_time,
            AVG(({score}) * 1.0) AS satisfaction,
            COUNT({score}) AS ratings
        FROM {dispute_t} d
        LEFT JOIN (
            SELECT dispute_id, MIN(created_at) AS first_answer FROM {event_t}
            WHERE type IN ({answers}) AND role = 'merchant' {a_filter}
            GROUP BY dispute_id
        ) a ON a.dispute_id = d.id
        {rating_join}
        WHERE d.filed_at >= %(since)s {d_filter}
        GROUP BY d.merchant_id
    ),
    stats AS (
        SELECT o.merchant_id, o.orders,
            COALESCE(d.complaints, 0) AS complaints,
            COALESCE(d.complaints, 0) * 1000.0 / o.orders AS per_1000,
            CASE WHEN d.clock_settled > 0
                THEN d.answered_in_time * 1.0 / d.clock_settled END AS in_time,
            CASE WHEN d.live > 0 THEN d.resolved * 1.0 / d.live END AS resolved_share,
            CASE WHEN d.resolved > 0 THEN d.lost * 1.0 / d.resolved END AS lost_share,
            COALESCE(d.paid_out_fen, 0) AS paid_out_fen,
            d.satisfaction AS satisfaction
        FROM o LEFT JOIN d ON d.merchant_id = o.merchant_id
    )"""  # noqa: S608 - table names from the models, values as parameters


_MEDIAN_COLUMNS = (
    "per_1000",
    "in_time",
    "resolved_share",
    "satisfaction",
    "lost_share",
    "paid_out_fen",
)


def _median_sql() -> str:
    """The median of each figure over the shops with enough data, in SQL (window functions,
    SQLite and PostgreSQL alike): the middle row, or the mean of the middle two."""
    parts = []
    for column in _MEDIAN_COLUMNS:
        parts.append(
            f"""(SELECT AVG(v) FROM (
                SELECT {column} AS v, ROW_NUMBER() OVER (ORDER BY {column}) AS rn,
                    COUNT(*) OVER () AS cnt
                FROM stats WHERE orders >= %(min_orders)s AND {column} IS NOT NULL
            ) ranked_{column} WHERE rn IN ((cnt + 1) / 2, (cnt + 2) / 2)) AS {column}"""  # noqa: S608
        )
    return "WITH " + _shop_stats_sql(one_merchant=False) + " SELECT " + ", ".join(parts)


def _figure(value: Any, places: int) -> float | None:
    return None if value is None else round(float(value), places)


def _money(fen: Any) -> Decimal | None:
    """Fen from SQL (an integer, or a float/numeric from ROUND and AVG) as yuan."""
    from kamen_complaints.money import from_fen

    return None if fen is None else from_fen(int(round(float(fen))))


def _moments(days: int, now: datetime) -> dict[str, Any]:
    """The window's bounds as the database stores times (raw SQL gets no field adaptation)."""
    from django.db import connection

    adapt = connection.ops.adapt_datetimefield_value
    return {"since": adapt(now - timedelta(days=days)), "now": adapt(now)}


def _every_window(sql: str, now: datetime, **params: Any) -> tuple[str, dict[str, Any]]:
    """`sql` (a query over one window, `%(since)s` to `%(now)s`) once per SHOP_RECORD_DAYS,
    as one statement: `SELECT days, …` rows joined by UNION ALL. One statement reads one
    snapshot of the database, and every window ends at the same `now`, so the 7 days are
    inside the 30 and the 30 inside the 90 — a shorter window never counts more."""
    parts = []
    for days in SHOP_RECORD_DAYS:
        window = sql.replace("%(since)s", f"%(since_{days})s")
        parts.append(f"SELECT {days} AS days, w{days}.* FROM ({window}) w{days}")  # noqa: S608
        params[f"since_{days}"] = _moments(days, now)["since"]
    params["now"] = _moments(0, now)["now"]
    return " UNION ALL ".join(parts), params


def _marketplace_medians(now: datetime) -> dict[int, dict[str, Any]]:
    """The marketplace median of each window of SHOP_RECORD_DAYS, as of `now` (one query)."""
    from django.db import connection

    sql, params = _every_window(_median_sql(), now, min_orders=SHOP_RECORD_MIN_ORDERS)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    medians = {}
    for days, per_1000, in_time, resolved_share, satisfaction, lost_share, paid_out_fen in rows:
        medians[int(days)] = {
            "complaints_per_1000": _figure(per_1000, 1),
            "answered_in_time": _figure(in_time, 3),
            "resolved_share": _figure(resolved_share, 3),
            "satisfaction": _figure(satisfaction, 2),
            "lost_share": _figure(lost_share, 3),
            "paid_out": _money(paid_out_fen),
        }
    return medians


def _shop_figures(merchant_id: int, now: datetime) -> dict[int, dict[str, Any]]:
    """The shop's own figures over each window of SHOP_RECORD_DAYS, as of `now` (one query)."""
    from django.db import connection

    columns = (
        "orders, complaints, per_1000, in_time, resolved_share, satisfaction, lost_share, "
        "paid_out_fen"
    )
    one = f"WITH {_shop_stats_sql(one_merchant=True)} SELECT {columns} FROM stats"  # noqa: S608
    sql, params = _every_window(one, now, merchant=merchant_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = {int(row[0]): row[1:] for row in cursor.fetchall()}
    figures = {}
    for days in SHOP_RECORD_DAYS:
        # No row: no paid order in the window.
        row = found.get(days, (0, 0, None, None, None, None, None, 0))
        orders, complaints, per_1000, in_time, resolved_share, satisfaction, lost, paid = row
        figures[days] = {
            "orders": int(orders),
            "complaints": int(complaints),
            "complaints_per_1000": _figure(per_1000, 1),
            "answered_in_time": _figure(in_time, 3),
            "resolved_share": _figure(resolved_share, 3),
            "satisfaction": _figure(satisfaction, 2),
            "lost_share": _figure(lost, 3),
            "paid_out": _money(paid),
        }
    return figures


def _chat_figures(merchant_id: int, now: datetime) -> dict[int, dict[str, Any]]:
    """The order chat's figures over each window of SHOP_RECORD_DAYS, as of `now` (one
    query): how many buyers wrote to the shop first in the window (`chat_questions`), and the
    median time to the shop's first answer (`chat_first_answer_seconds`; a question not
    answered yet counts with the time it has waited so far — orders.services.chat)."""
    from statistics import median

    from orders.services.chat import shop_first_answer_times

    times = shop_first_answer_times(
        merchant_id, since=now - timedelta(days=max(SHOP_RECORD_DAYS)), now=now
    )
    figures = {}
    for days in SHOP_RECORD_DAYS:
        since = now - timedelta(days=days)
        waits = [seconds for asked, seconds in times if asked >= since]
        figures[days] = {
            "chat_questions": len(waits),
            "chat_first_answer_seconds": round(median(waits)) if waits else None,
        }
    return figures


def _collective_figures(merchant_id: int, now: datetime) -> dict[int, dict[str, Any]]:
    """The shop's collective cases over each window of SHOP_RECORD_DAYS, as of `now` (one
    query): how many opened (`collective_cases`: a batch or channel of the shop went bad, docs/
    collective-cases.md) and how many orders of them the platform refunded without a
    complaint (`collective_refunded_orders`)."""
    windows = {
        days: Q(opened_at__gte=now - timedelta(days=days), opened_at__lte=now)
        for days in SHOP_RECORD_DAYS
    }
    row = CollectiveCase.objects.filter(merchant_id=merchant_id).aggregate(
        **{f"cases_{d}": Count("id", filter=w) for d, w in windows.items()},
        **{f"refunded_{d}": Sum("refunded_count", filter=w) for d, w in windows.items()},
    )
    return {
        days: {
            "collective_cases": int(row[f"cases_{days}"] or 0),
            "collective_refunded_orders": int(row[f"refunded_{days}"] or 0),
        }
        for days in SHOP_RECORD_DAYS
    }


def _channel_complaint_rows(
    since: datetime, until: datetime, merchant_id: int | None
) -> list[tuple[str, datetime, datetime | None]]:
    """(channel, arrived at, first reply sent at) of each complaint filed on a payment
    channel that arrived in [since, until): the first reply is the earliest reply or refund
    decision the outbox sent to the channel (orders.ChannelComplaintPush), None while none
    went through. One query."""
    first_reply = (
        ChannelComplaintPush.objects.filter(
            complaint=OuterRef("pk"),
            sent_at__isnull=False,
            action__in=(ChannelComplaintPushAction.REPLY, ChannelComplaintPushAction.REFUND),
        )
        .order_by("sent_at")
        .values("sent_at")[:1]
    )
    rows = ChannelComplaint.objects.filter(received_at__gte=since, received_at__lt=until)
    if merchant_id is not None:
        rows = rows.filter(order__merchant_id=merchant_id)
    return list(
        rows.annotate(first_reply=Subquery(first_reply)).values_list(
            "channel", "received_at", "first_reply"
        )
    )


def _channel_summary(rows: list[tuple[str, datetime, datetime | None]]) -> dict[str, Any]:
    from statistics import median

    by_channel: dict[str, int] = defaultdict(int)
    waits = []
    for channel, arrived, replied in rows:
        by_channel[channel] += 1
        if replied is not None:
            waits.append(max((replied - arrived).total_seconds(), 0.0))
    return {
        "channel_complaints": len(rows),
        "by_channel": dict(sorted(by_channel.items())),
        "replied": len(waits),
        "median_first_reply_seconds": round(median(waits)) if waits else None,
    }


def channel_complaint_figures(
    since: datetime, until: datetime, *, merchant_id: int | None = None
) -> dict[str, Any]:
    """The complaints buyers filed on the payment channels (WeChat Pay, Alipay;
    docs/channel-complaints.md) that arrived in [since, until), of one shop or all: how many
    (`channel_complaints`, and `by_channel`), how many the platform has replied to on the
    channel (`replied`), and the median seconds from a complaint's arrival to its first reply
    pushed to the channel (`median_first_reply_seconds`, of those replied; None when none
    was). Live, one query: the staff metrics and the shop record both ask it."""
    return _channel_summary(_channel_complaint_rows(since, until, merchant_id))


def _channel_figures(merchant_id: int, now: datetime) -> dict[int, dict[str, Any]]:
    """The shop's channel complaints over each window of SHOP_RECORD_DAYS, as of `now` (one
    query): `channel_complaints` and `channel_first_reply_seconds` (channel_complaint_figures)."""
    rows = _channel_complaint_rows(
        now - timedelta(days=max(SHOP_RECORD_DAYS)), now + timedelta(microseconds=1), merchant_id
    )
    figures = {}
    for days in SHOP_RECORD_DAYS:
        since = now - timedelta(days=days)
        summary = _channel_summary([row for row in rows if row[1] >= since])
        figures[days] = {
            "channel_complaints": summary["channel_complaints"],
            "channel_first_reply_seconds": summary["median_first_reply_seconds"],
        }
    return figures


def _medians_as_of(*, fresh: bool) -> tuple[datetime, dict[int, dict[str, Any]]]:
    """The marketplace medians of every window and the moment they were computed at (cached
    SHOP_RECORD_CACHE_SECONDS): that moment is the `now` of every shop record served with
    them."""
    from django.core.cache import cache

    key = "disputes:shop_record:v3:median"
    cached = None if fresh else cache.get(key)
    if cached is None:
        now = timezone.now()
        cached = (now, _marketplace_medians(now))
        cache.set(key, cached, SHOP_RECORD_CACHE_SECONDS)
    return cached


def shop_records(merchant_id: int, *, fresh: bool = False) -> dict[int, dict[str, Any]]:
    """The shop's record over every window of SHOP_RECORD_DAYS (see `shop_record`), from one
    computation at one moment: the shop's figures of all windows in one query ending at the
    moment the marketplace medians beside them were computed, cached together as one entry —
    so no page mixes figures of different ages, and a window's counts and money are never
    more than a longer window's (tests/disputes/test_shop_record_windows.py)."""
    from django.core.cache import cache

    now, medians = _medians_as_of(fresh=fresh)
    # v6: one entry for every window, as of the medians' moment, with the chat's first-answer
    # time, the collective cases and the payment channels' complaints (v5 had no channel
    # complaints, v4 no cases, v3 no chat figures, v2 held one window each).
    key = f"disputes:shop_record:v6:{merchant_id}:{now.timestamp():.6f}"
    if not fresh:
        cached = cache.get(key)
        if cached is not None:
            return {days: dict(record) for days, record in cached.items()}
    figures = _shop_figures(merchant_id, now)
    chats = _chat_figures(merchant_id, now)
    cases = _collective_figures(merchant_id, now)
    channel = _channel_figures(merchant_id, now)
    records = {}
    for days in SHOP_RECORD_DAYS:
        record = {
            "merchant_id": merchant_id,
            "window_days": days,
            **figures[days],
            **chats[days],
            **cases[days],
            **channel[days],
            "marketplace_median": medians[days],
            "computed_at": now,
        }
        record["enough_data"] = record["orders"] >= SHOP_RECORD_MIN_ORDERS
        records[days] = record
    cache.set(key, records, SHOP_RECORD_CACHE_SECONDS)
    return {days: dict(record) for days, record in records.items()}


def shop_record(merchant_id: int, days: int = 90, *, fresh: bool = False) -> dict[str, Any]:
    """A shop's complaint record over the last `days` (one of SHOP_RECORD_DAYS): complaints
    per 1,000 paid orders, the share of complaints the merchant answered before its deadline
    (of those whose merchant clock is settled), the share of complaints (not withdrawn)
    resolved, the share of resolved complaints the shop lost (decided for the buyer by staff
    or the clock), the money recovered from the shop for them (`paid_out`, yuan), and the
    average satisfaction rating (not counting complaints ruled malicious) — each beside the
    marketplace median over the shops with at least SHOP_RECORD_MIN_ORDERS orders —, and the
    median time the shop took to first answer a buyer on the order chat (`_chat_figures`).
    Under that minimum `enough_data` is False and the pages say "not enough data". The one
    source of these figures for the shop page, the product pages, the API and the dashboards;
    aggregate SQL, cached SHOP_RECORD_CACHE_SECONDS (`computed_at` says as of when; `fresh=True`
    recomputes). One window of `shop_records`: a page showing several asks that once."""
    if days not in SHOP_RECORD_DAYS:
        raise ValueError(f"days must be one of {SHOP_RECORD_DAYS}, not {days!r}")
    return shop_records(merchant_id, fresh=fresh)[days]


# --- The complaint an order links to (orders.selectors.ComplaintLink) ---------------------


def orders_with_complaints(qs: QuerySet[Order]) -> QuerySet[Order]:
    """Each order's complaints prefetched (number and status only), in one query per page:
    what `order_complaint` reads."""
    return qs.prefetch_related(
        Prefetch("disputes", queryset=Dispute.objects.only("id", "number", "status", "order_id"))
    )


def order_complaint(order: Order) -> Dispute | None:
    """The complaint to link from an order: the latest one not withdrawn, else the latest
    withdrawn one. Reads the complaints `orders_with_complaints` prefetched (no query)."""
    complaints = sorted(order.disputes.all(), key=lambda d: d.pk, reverse=True)
    for complaint in complaints:
        if complaint.status != Status.WITHDRAWN:
            return complaint
    return complaints[0] if complaints else None


def public_shop(pk: int) -> Merchant | None:
    """A shop the public may look up (its record page and `GET /api/v1/shops/<id>/record/`):
    active and verified (anything else is a 404)."""
    return Merchant.objects.filter(
        pk=pk, status=MerchantStatus.ACTIVE, verified_at__isnull=False
    ).first()


# --- The merchant dashboard's complaints (disputes/merchant_views.py, the API's ordering) -----


def with_deadline(qs: QuerySet[Dispute]) -> QuerySet[Dispute]:
    """Annotate `deadline`: the deadline that runs now (disputes.deadlines), null for a closed
    complaint. One CASE in SQL, so it sorts and pages."""
    return qs.annotate(deadline=running_deadline_sql())


def by_deadline(qs: QuerySet[Dispute]) -> QuerySet[Dispute]:
    """Nearest running deadline first; closed complaints (no deadline) last, newest first."""
    return with_deadline(qs).order_by(F("deadline").asc(nulls_last=True), "-filed_at", "-id")


INBOX_OPEN = "open"
INBOX_CLOSED = "closed"


def merchant_inbox(
    merchant_id: int,
    *,
    tab: str = INBOX_OPEN,
    status: str = "",
    reason: str = "",
    product_id: int | None = None,
    search: str = "",
) -> QuerySet[Dispute]:
    """The shop's complaints for its inbox: the open ones by the nearest deadline, or the
    closed ones (resolved, withdrawn) newest first; filtered by status, reason, product, a
    complaint or order number (exact, or its beginning). The row's order and product are
    joined: one query per page whatever its length."""
    qs = Dispute.objects.filter(merchant_id=merchant_id)
    if tab == INBOX_CLOSED:
        qs = qs.exclude(status__in=OPEN_STATUSES)
    else:
        qs = qs.filter(status__in=OPEN_STATUSES)
    if status:
        qs = qs.filter(status=status)
    if reason:
        qs = qs.filter(reason=reason)
    if product_id:
        qs = qs.filter(order__product_id=product_id)
    search = search.strip().upper()
    if search:
        qs = qs.filter(Q(number__startswith=search) | Q(order__number__startswith=search))
    qs = qs.select_related("order__product")
    if tab == INBOX_CLOSED:
        return with_deadline(qs).order_by(
            F("resolved_at").desc(nulls_last=True), "-filed_at", "-id"
        )
    return by_deadline(qs)


def merchant_status_counts(merchant_id: int) -> dict[str, int]:
    """How many of the shop's complaints are in each status (one grouped query)."""
    rows = (
        Dispute.objects.filter(merchant_id=merchant_id)
        .values_list("status")
        # COUNT(*), not COUNT(id): an index-only scan of (merchant_id, status), no heap reads.
        .annotate(n=Count("*"))
        .order_by()
    )
    counts = {str(value): 0 for value in Status.values}
    counts.update(dict(rows))
    return counts


def merchant_complaint(
    merchant_id: int, number: str, *, everything: bool = False
) -> Dispute | None:
    """One of the shop's complaints with what its page shows (as buyer_complaint loads it for
    the buyer); None for another shop's (answered as 404)."""
    return _complaint_page(
        Dispute.objects.filter(merchant_id=merchant_id, number=number), everything
    )


def complaint_numbers(merchant_id: int, ids: set[int]) -> dict[int, str]:
    """The numbers of this shop's complaints by id (escrow's holds; escrow.selectors
    ComplaintFacts, registered in disputes.apps)."""
    return dict(
        Dispute.objects.filter(pk__in=ids, merchant_id=merchant_id).values_list("pk", "number")
    )


def replacement_values() -> list[tuple[int, Decimal]]:
    """(order id, value) of every complaint that handed over replacement keys (check_ledger:
    an order is never given back more than was paid; escrow.selectors ComplaintFacts)."""
    return list(
        Dispute.objects.filter(replaced_value__gt=0).values_list("order_id", "replaced_value")
    )


# --- Collective cases: what their pages read (docs/collective-cases.md) -------------------


def collective_order_row(order: Order) -> CollectiveOrder | None:
    """The order's row in the latest collective case of its batch or channel — what was
    found about its keys, what the case refunded and why, the complaint it counts — with the
    case and that complaint joined; None for an order no case looked at. The order page's
    notice (disputes/templatetags/collective_tags.py) reads it."""
    return (
        CollectiveOrder.objects.filter(order_id=order.pk)
        .select_related("case", "case__batch", "case__product", "dispute")
        .order_by("-case__opened_at", "-id")
        .first()
    )


def collective_cases(merchant_id: int | None = None) -> QuerySet[CollectiveCase]:
    """Collective cases newest first (one shop's, or every shop's for the desk), with what the
    lists show joined."""
    qs = CollectiveCase.objects.select_related("merchant", "product", "batch")
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id)
    return qs


def collective_case(pk: int, *, merchant_id: int | None = None) -> CollectiveCase | None:
    """One case (one shop's when `merchant_id` is given: another shop's is None, answered as
    404), with its merchant, product and batch joined."""
    return collective_cases(merchant_id).filter(pk=pk).first()


def collective_members(case_id: int) -> QuerySet[Dispute]:
    """The complaints of a case (those that opened it, those on its orders, those that
    joined it), oldest first, with their order and buyer."""
    return (
        Dispute.objects.filter(collective_case_id=case_id)
        .select_related("order", "buyer")
        .order_by("filed_at", "id")
    )


def collective_refunds_without_complaint(case_id: int) -> QuerySet[CollectiveOrder]:
    """The orders a case refunded with no complaint filed (the platform's own refunds), with
    their order and buyer."""
    return (
        CollectiveOrder.objects.filter(
            case_id=case_id, dispute__isnull=True, refunded_at__isnull=False
        )
        .select_related("order", "order__buyer")
        .order_by("refunded_at", "id")
    )


def collective_left_to_people(case_id: int) -> QuerySet[CollectiveOrder]:
    """The orders of a case the rule could not settle by itself: the issuer or upstream never
    answered, so staff decide (docs/collective-cases.md)."""
    return (
        CollectiveOrder.objects.filter(case_id=case_id)
        .filter(Q(status=CollectiveOrderStatus.GAVE_UP) | Q(finding=Finding.NO_ANSWER))
        .select_related("order", "order__buyer")
        .order_by("id")
    )


def order_refund_reasons(order_ids: list[int]) -> dict[int, list[Any]]:
    """How each order was refunded (registered with orders.selectors.register_refund_reasons:
    the order API and page say it): by a complaint's outcome (what the platform paid the
    buyer) or by a collective case without a complaint (its finding). Two queries."""
    from django.utils.translation import gettext as _

    from orders.selectors import RefundReason

    found: dict[int, list[Any]] = defaultdict(list)
    rows = (
        CollectiveOrder.objects.filter(order_id__in=order_ids, refunded_at__isnull=False)
        .filter(refund_amount__gt=0)
        .order_by("refunded_at", "id")
        .values_list("order_id", "case_id", "refund_amount", "refunded_at", "refund_reason")
    )
    for order_id, case_id, amount, at, finding in rows:
        number = CollectiveCase(pk=case_id).number
        found[order_id].append(
            RefundReason(
                by="collective_case",
                reference=number,
                amount=amount,
                at=at,
                detail=finding,
                text=_("Refunded by the platform in collective case %(case)s: %(finding)s.")
                % {"case": number, "finding": Finding(finding).label if finding else ""},
            )
        )
    complaints = (
        Dispute.objects.filter(order_id__in=order_ids, paid_out__gt=0)
        .order_by("filed_at", "id")
        .values_list("order_id", "number", "paid_out", "resolved_at", "filed_at", "outcome")
    )
    for order_id, number, paid, resolved_at, filed_at, outcome in complaints:
        found[order_id].append(
            RefundReason(
                by="complaint",
                reference=number,
                amount=paid,
                at=resolved_at or filed_at,
                detail=outcome or "",
                text=_("Refunded through complaint %(number)s.") % {"number": number},
            )
        )
    return dict(found)
