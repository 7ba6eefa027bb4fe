"""The metrics from daily figures (docs/metrics.md): what the admin's metrics page, its CSV
and `GET /api/v1/staff/metrics/` show, read from one row per Asia/Shanghai day (per shop and
for the marketplace) instead of every complaint of the range, so a year costs what a week does.

A day's rows are the live definitions of disputes/metrics.py run over that one day
(`compute_day`): every figure is a count or a sum over the day its moment falls on (filing,
closing, paying first, a review ending, an order placed), so the days add up to the range
exactly. The median and the 90th percentile are not sums: each day keeps how many times from
filing to outcome fell in each bucket (about 2 % wide) and the exact times themselves; the
range adds the buckets up, finds the bucket holding each rank and reads only that bucket's
times — the same values the live SQL ranks, so the same figure.

A rollup run (`rollup`: every few minutes by Celery beat, or `manage.py metrics_rollup`)
rolls up the days not yet rolled up, today's part so far included, and re-rolls every day a
change since the last run touched — found from the timeline (every change to a complaint
writes its event in the same transaction), the ratings and the orders paid since. Reading,
the days touched since the last run and days not rolled up are computed live with the same
`compute_day` — today only by the hours a change touched (`compute_hour`), its hours being
kept with it; a rolled-up day whose merchant deadlines have run out since adds only those
complaints (still unanswered) to its "clock settled" count; whole months are read from
their monthly sums. The figures equal the live computation at any moment, not only after a
run.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Sum,
)
from django.utils import timezone

from disputes import metrics
from disputes.metrics import Range
from disputes.models import (
    DailyDuration,
    DailyFigures,
    DisputeEvent,
    DisputeRating,
    DurationValue,
    EventType,
    HourlyFigures,
    MetricsRollupRun,
    MonthlyDuration,
    MonthlyFigures,
    Status,
)
from disputes.models import Dispute as DisputeModel
from disputes.selectors import _ANSWER_EVENTS, SHOP_RECORD_MIN_ORDERS, _shop_stats_sql

ALL = 0  # merchant_id of the marketplace's rows
BUCKETS_PER_DOUBLING = 32
# The buckets' lower bounds in microseconds: bucket k (k ≥ 1) holds the times from
# BOUNDS[k - 1] up to BOUNDS[k], bucket 0 those under a second; 30 doublings (34 years) are
# more than a complaint can take. Whole numbers, so Python (bisect) and PostgreSQL
# (width_bucket, the migration that re-bucketed the kept times) place a time alike.
BOUNDS = tuple(
    round(1_000_000 * 2 ** (k / BUCKETS_PER_DOUBLING)) for k in range(30 * BUCKETS_PER_DOUBLING)
)
SUM_FIELDS = (
    "filed",
    "repeats",
    "resolved",
    "withdrawn",
    "buyer_favour",
    "compensated",
    "paid_first",
    "paid_first_amount",
    "recovered",
    "orders",
    "settled",
    "in_time",
    "rating_sum",
    "ratings",
    "reviews_ended",
    "reviews_in_time",
)
MONEY_FIELDS = ("compensated", "paid_first_amount", "recovered")
# The timeline events a day's figures are counted on (besides filing and resolving).
DAY_EVENTS = (
    EventType.WITHDRAWN,
    EventType.FAST_TRACKED,
    EventType.REVIEW_EXPIRED,
    EventType.RULED,
)
CHUNK = 1000
DURATION_KEYS = ("merchant_id", "automatic", "bucket")
# pg_try_advisory_lock's key for a run: one run at a time (beat's every few minutes, and a
# hand-run `metrics_rollup`, which would otherwise both write a day's unique rows).
ROLLUP_LOCK = 0x4B4D_524F  # "KMRO"
# Runs older than this are deleted by each run (only the latest one is ever read).
RUNS_KEPT = timedelta(days=7)


def overlap() -> timedelta:
    """How far before a run's start its changes are still looked for (the run and every read
    after it): a change whose moment is written before the run starts but committed after
    the run computed its day is in neither the day's rows nor "changed since the start" —
    unless the watermark reaches back past it. settings.METRICS_ROLLUP_OVERLAP_SECONDS is
    the longest a transaction may take from writing a change to committing it."""
    return timedelta(seconds=settings.METRICS_ROLLUP_OVERLAP_SECONDS)


def bucket_of(took_us: int) -> int:
    """The bucket of a time from filing to outcome: 0 under a second, then
    BUCKETS_PER_DOUBLING per doubling (monotonic: a later bucket holds only longer times).
    Finer buckets hold fewer times, so a rank's read is shorter (docs/metrics.md)."""
    return bisect.bisect_right(BOUNDS, took_us)


def _empty() -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(SUM_FIELDS, 0)
    for name in MONEY_FIELDS:
        out[name] = Decimal("0.00")
    return out


HOUR = timedelta(hours=1)
# (dispute_id, merchant_id, automatic, took_us, hour) of a complaint resolved in the day
# (or hour): its time from filing to outcome and the hour of its day it was resolved in.
Resolved = tuple[int, int, bool, int, int]


@dataclass(frozen=True)
class Slice:
    """A day, or one hour of it (`hour` 0–23 from the day's start), as the per-moment
    definitions count over it: [start, end)."""

    day: date
    hour: int | None = None

    @property
    def start(self) -> datetime:
        start = Range(first=self.day, last=self.day).start
        return start if self.hour is None else start + self.hour * HOUR

    @property
    def end(self) -> datetime:
        if self.hour is None:
            return Range(first=self.day, last=self.day).end
        return self.start + HOUR


def hours_of(day: date) -> range:
    """The hours of a day (24 in Asia/Shanghai, which keeps no summer time)."""
    rng = Range(first=day, last=day)
    return range((rng.end - rng.start) // HOUR)


@dataclass
class Day:
    """One day's (or, `hour`, one hour's) figures per merchant (ALL: the marketplace) and
    its times to outcome."""

    day: date
    hour: int | None = None
    figures: dict[int, dict[str, Any]] = field(default_factory=lambda: defaultdict(_empty))
    values: list[Resolved] = field(default_factory=list)
    pending_due: datetime | None = None


def _local_day(moment: datetime) -> date:
    return timezone.localtime(moment, metrics._tz()).date()


def _slot(moment: datetime) -> tuple[date, int]:
    """The day a moment falls on, and its hour of that day."""
    day = _local_day(moment)
    return day, (moment - Slice(day).start) // HOUR


def compute_day(day: date, now: datetime | None = None, *, pending: bool = True) -> Day:
    """The day's figures by the live definitions (disputes/metrics.py), per shop, as of
    `now` (and, `pending`, its earliest deadline still running, which only rolling a day
    keeps). A fixed number of queries, each over one day."""
    return _compute(Slice(day), now or timezone.now(), pending=pending)


def compute_hour(day: date, hour: int, now: datetime | None = None, *, pending: bool = True) -> Day:
    """compute_day over one hour of the day: every figure counts on a moment, so a day's
    hours add up to the day exactly."""
    return _compute(Slice(day, hour), now or timezone.now(), pending=pending)


def _compute(rng: Slice, now: datetime, *, pending: bool) -> Day:
    out = Day(day=rng.day, hour=rng.hour)
    rows = out.figures
    # metrics._relevant's three ways in, each by its index (PostgreSQL planned their OR as a
    # scan of every complaint: most of a day's time at 200,000 complaints).
    # (Unordered: the models' default order would sort each for nothing.)
    relevant = set(
        DisputeModel.objects.filter(filed_at__gte=rng.start, filed_at__lt=rng.end)
        .order_by()
        .values_list("pk", flat=True)
    )
    relevant.update(
        DisputeModel.objects.filter(resolved_at__gte=rng.start, resolved_at__lt=rng.end)
        .order_by()
        .values_list("pk", flat=True)
    )
    relevant.update(
        DisputeEvent.objects.filter(
            created_at__gte=rng.start,
            created_at__lt=rng.end,
            type__in=(EventType.WITHDRAWN, *metrics.PAID_FIRST_EVENTS),
        )
        .order_by()
        .values_list("dispute_id", flat=True)
    )
    own = (
        DisputeModel.objects.filter(pk__in=sorted(relevant))
        .annotate(**metrics._closing_annotations())
        .values("merchant_id")
        .annotate(**metrics._aggregates(rng))
        .order_by()
    )
    for r in own:
        row = rows[r["merchant_id"]]
        for name in ("filed", "repeats", "resolved", "withdrawn", "buyer_favour", "paid_first"):
            row[name] = r[name]
        row["compensated"] = Decimal(r["compensated"] or 0)
        row["paid_first_amount"] = Decimal(r["paid_first_amount"] or 0)
        row["recovered"] = Decimal(r["recovered"] or 0)
    sql = _shop_stats_sql(one_merchant=False, bounded=True)
    params = metrics._params(rng, now=connection.ops.adapt_datetimefield_value(now))
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {sql} SELECT merchant_id, orders FROM o", params)  # noqa: S608
        for merchant_id, orders in cursor.fetchall():
            rows[merchant_id]["orders"] = int(orders)
        cursor.execute(
            f"WITH {sql} SELECT merchant_id, clock_settled, answered_in_time, "  # noqa: S608
            "satisfaction, ratings FROM d",
            params,
        )
        for merchant_id, settled, in_time, satisfaction, ratings in cursor.fetchall():
            row = rows[merchant_id]
            row["settled"] = int(settled or 0)
            row["in_time"] = int(in_time or 0)
            row["ratings"] = int(ratings or 0)
            # AVG × COUNT of whole scores: rounded, their exact sum.
            row["rating_sum"] = round(float(satisfaction) * row["ratings"]) if ratings else 0
    ended = (  # metrics._review_figures, per shop
        DisputeEvent.objects.filter(
            created_at__gte=rng.start,
            created_at__lt=rng.end,
            type__in=(EventType.RULED, EventType.REVIEW_EXPIRED),
        )
        .values("dispute__merchant_id")
        .annotate(
            ended=Count("pk"),
            in_time=Count(
                "pk",
                filter=Q(type=EventType.RULED) & Q(created_at__lte=F("dispute__review_due")),
            ),
        )
        .order_by()
    )
    for r in ended:
        row = rows[r["dispute__merchant_id"]]
        row["reviews_ended"] = r["ended"]
        row["reviews_in_time"] = r["in_time"]
    resolved = (
        DisputeModel.objects.filter(
            status=Status.RESOLVED, resolved_at__gte=rng.start, resolved_at__lt=rng.end
        )
        .annotate(
            automatic=ExpressionWrapper(
                metrics._decided_automatically(), output_field=BooleanField()
            )
        )
        .order_by()
    )
    for pk, merchant_id, automatic, filed_at, resolved_at in resolved.values_list(
        "pk", "merchant_id", "automatic", "filed_at", "resolved_at"
    ):
        if resolved_at is None:  # not after the filter; for the type checker
            continue
        took = resolved_at - filed_at
        took_us = (took.days * 86_400 + took.seconds) * 1_000_000 + took.microseconds
        out.values.append((pk, merchant_id, bool(automatic), took_us, _slot(resolved_at)[1]))
    if pending:
        out.pending_due = DisputeModel.objects.filter(
            filed_at__gte=rng.start, filed_at__lt=rng.end, merchant_response_due__gt=now
        ).aggregate(due=Min("merchant_response_due"))["due"]
    whole = rows[ALL]
    for merchant_id, row in list(rows.items()):
        if merchant_id == ALL:
            continue
        for name in SUM_FIELDS:
            whole[name] += row[name]
    return out


# --- Writing days -------------------------------------------------------------------------


def _histogram(values: Iterable[Resolved]) -> Counter[tuple[int, bool, int]]:
    counts: Counter[tuple[int, bool, int]] = Counter()
    for _pk, merchant_id, automatic, took_us, _hour in values:
        b = bucket_of(took_us)
        counts[(merchant_id, automatic, b)] += 1
        counts[(ALL, automatic, b)] += 1
    return counts


def _combined(day: date, parts: list[Day]) -> Day:
    """A day from its hours: the figures summed, the times together, the earliest deadline."""
    out = Day(day=day)
    for part in parts:
        for merchant_id, row in part.figures.items():
            _add(out.figures[merchant_id], row)
        out.values.extend(part.values)
        dues = [d for d in (out.pending_due, part.pending_due) if d is not None]
        out.pending_due = min(dues, default=None)
    return out


def _figure_rows(model: Any, computed: Day, now: datetime, **key: Any) -> Iterator[Any]:
    """A day's (or an hour's) figure rows, one per shop and the marketplace's, which keeps
    the earliest deadline still running."""
    for merchant_id, row in computed.figures.items():
        yield model(
            **key,
            merchant_id=merchant_id,
            rolled_at=now,
            pending_due=computed.pending_due if merchant_id == ALL else None,
            **row,
        )


def roll_day(day: date, now: datetime | None = None, *, month: bool = True) -> Day:
    """(Re)write the day's rows, and its month's (`month`): the same data gives the same
    rows, whenever it runs. Today is computed hour by hour and its hours kept too
    (HourlyFigures), so a change that touches today costs a read only its hours."""
    now = now or timezone.now()
    hours: dict[int, Day] = {}
    if day == timezone.localdate(now):
        hours = {hour: compute_hour(day, hour, now) for hour in hours_of(day)}
        computed = _combined(day, list(hours.values()))
    else:
        computed = compute_day(day, now)
    with transaction.atomic():
        DailyFigures.objects.filter(day=day).delete()
        DailyDuration.objects.filter(day=day).delete()
        DurationValue.objects.filter(day=day).delete()
        HourlyFigures.objects.filter(day=day).delete()
        HourlyFigures.objects.bulk_create(
            row
            for hour, part in hours.items()
            for row in _figure_rows(HourlyFigures, part, now, day=day, hour=hour)
        )
        DailyFigures.objects.bulk_create(_figure_rows(DailyFigures, computed, now, day=day))
        if ALL not in computed.figures:  # the marketplace row marks the day rolled up
            DailyFigures.objects.create(
                day=day, merchant_id=ALL, rolled_at=now, pending_due=computed.pending_due
            )
        DailyDuration.objects.bulk_create(
            DailyDuration(day=day, merchant_id=m, automatic=a, bucket=b, count=n)
            for (m, a, b), n in _histogram(computed.values).items()
        )
        DurationValue.objects.bulk_create(
            (
                DurationValue(
                    dispute_id=pk,
                    day=day,
                    merchant_id=m,
                    automatic=a,
                    bucket=bucket_of(took),
                    took_us=took,
                    hour=hour,
                )
                for pk, m, a, took, hour in computed.values
            ),
            batch_size=CHUNK,
        )
        if month:
            _roll_month(day)
    return computed


def _month_of(day: date) -> tuple[date, date]:
    """The first day of the day's month and of the next one (31 days on is always in it)."""
    first = day.replace(day=1)
    return first, (first + timedelta(days=31)).replace(day=1)


def _roll_month(day: date) -> None:
    """Rewrite the MonthlyFigures of the day's month from its DailyFigures rows (in the
    day's transaction: a month's rows always add up its days' rows)."""
    first, after = _month_of(day)
    MonthlyFigures.objects.filter(month=first).delete()
    sums = (
        DailyFigures.objects.filter(day__gte=first, day__lt=after)
        .values("merchant_id")
        .annotate(**{f"s_{name}": Sum(name) for name in SUM_FIELDS})
        .order_by()
    )
    MonthlyFigures.objects.bulk_create(
        MonthlyFigures(
            month=first,
            merchant_id=r["merchant_id"],
            **{name: r[f"s_{name}"] or 0 for name in SUM_FIELDS},
        )
        for r in sums
    )
    MonthlyDuration.objects.filter(month=first).delete()
    MonthlyDuration.objects.bulk_create(
        MonthlyDuration(month=first, count=r["n"], **{k: r[k] for k in DURATION_KEYS})
        for r in DailyDuration.objects.filter(day__gte=first, day__lt=after)
        .values(*DURATION_KEYS)
        .annotate(n=Sum("count"))
        .order_by()
    )


@dataclass
class Touched:
    """The days a change since a moment may have moved, and the hours of each (None: which
    hours is not known, the whole day)."""

    days: set[date] = field(default_factory=set)
    hours: dict[date, set[int] | None] = field(default_factory=dict)

    def add(self, day: date, hour: int | None) -> None:
        self.days.add(day)
        known = self.hours.setdefault(day, set())
        if known is not None:
            if hour is None:
                self.hours[day] = None
            else:
                known.add(hour)


def touched_days(since: datetime) -> set[date]:
    """The days whose figures a change at or after `since` may have moved (`touched`)."""
    return touched(since).days


def touched(since: datetime) -> Touched:
    """The days and hours whose figures a change at or after `since` may have moved: every
    moment each complaint changed since (its timeline has the change) counts on — its
    filing, its resolution now and as last rolled up, its withdrawal, payment first and
    review's end — and the placing of each order paid since."""
    changed = set(
        DisputeEvent.objects.filter(type__in=EventType.values, created_at__gte=since).values_list(
            "dispute_id", flat=True
        )
    )
    changed.update(
        DisputeRating.objects.filter(created_at__gte=since).values_list("dispute_id", flat=True)
    )
    changed.update(DisputeModel.objects.filter(filed_at__gte=since).values_list("pk", flat=True))
    moments: list[datetime] = []
    ids = sorted(changed)
    out = Touched()
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        for filed_at, resolved_at in DisputeModel.objects.filter(pk__in=chunk).values_list(
            "filed_at", "resolved_at"
        ):
            moments.append(filed_at)
            if resolved_at is not None:
                moments.append(resolved_at)
        moments.extend(
            DisputeEvent.objects.filter(dispute_id__in=chunk, type__in=DAY_EVENTS).values_list(
                "created_at", flat=True
            )
        )
        for day, hour in DurationValue.objects.filter(dispute_id__in=chunk).values_list(
            "day", "hour"
        ):
            out.add(day, hour)
    from orders.models import Order

    moments.extend(Order.objects.filter(paid_at__gte=since).values_list("created_at", flat=True))
    for m in moments:
        out.add(*_slot(m))
    return out


def _first_day() -> date | None:
    from orders.models import Order

    firsts = [
        DisputeModel.objects.aggregate(m=Min("filed_at"))["m"],
        Order.objects.filter(paid_at__isnull=False).aggregate(m=Min("created_at"))["m"],
        DisputeEvent.objects.aggregate(m=Min("created_at"))["m"],
    ]
    known = [_local_day(m) for m in firsts if m is not None]
    return min(known) if known else None


def rollup(now: datetime | None = None) -> int | None:
    """One run (Celery beat, every few minutes; idempotent): roll up the days not rolled up
    yet, today so far included, and re-roll the days touched since the last run (less the
    overlap) and those whose merchant deadlines ran out since. The first run rolls up every
    day there is. Returns the days, or None when another run holds the lock."""
    with _one_run() as mine:
        return _rollup(now or timezone.now()) if mine else None


@contextmanager
def _one_run() -> Iterator[bool]:
    """PostgreSQL's session advisory lock around a run (not on SQLite, one process there)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ROLLUP_LOCK])
        (mine,) = cursor.fetchone()
    try:
        yield bool(mine)
    finally:
        if mine:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ROLLUP_LOCK])


def _rollup(now: datetime) -> int:
    today = timezone.localdate(now)
    last = MetricsRollupRun.objects.order_by("-started_at").first()
    days: set[date] = set()
    if last is None:
        first = _first_day()
        if first is not None:
            days.update(first + timedelta(days=i) for i in range((today - first).days + 1))
    else:
        days.update(touched_days(last.started_at - overlap()))
        days.update(
            DailyFigures.objects.filter(merchant_id=ALL, pending_due__lte=now).values_list(
                "day", flat=True
            )
        )
        latest = DailyFigures.objects.filter(merchant_id=ALL).aggregate(d=Max("day"))["d"]
        start = (latest + timedelta(days=1)) if latest else (_first_day() or today)
        days.update(start + timedelta(days=i) for i in range(max((today - start).days + 1, 0)))
    todo = sorted(d for d in days if d <= today)
    # The first run's months once at its end, not with each day: until the run is recorded
    # the metrics read every day live (nothing reads a month half rolled up).
    for day in todo:
        roll_day(day, now, month=last is not None)
    if last is None:
        for first in sorted({d.replace(day=1) for d in todo}):
            with transaction.atomic():
                _roll_month(first)
    MetricsRollupRun.objects.create(started_at=now, finished_at=timezone.now(), days=len(todo))
    HourlyFigures.objects.filter(day__lt=today).delete()  # only today's hours are read
    MetricsRollupRun.objects.filter(started_at__lt=now - RUNS_KEPT).delete()
    return len(todo)


def rebuild(first: date, last: date, now: datetime | None = None) -> int:
    """Re-roll the days from `first` to `last` (today at most), as `metrics_rollup --from --to`."""
    now = now or timezone.now()
    last = min(last, timezone.localdate(now))
    count = 0
    day = first
    while day <= last:
        roll_day(day, now)
        day += timedelta(days=1)
        count += 1
    return count


# --- Reading a range ------------------------------------------------------------------------


@dataclass
class _Hours:
    """Today read by the hour: a change since the last run touched some hours only (they are
    computed live), the `stored` ones are read from their rows (HourlyFigures, and their
    kept times by their hour)."""

    day: date
    stored: list[int]
    rolled_at: datetime
    # Each stored hour's earliest merchant deadline still running when it was rolled up.
    pending: dict[int, datetime | None] = field(default_factory=dict)


@dataclass
class _View:
    rng: Range
    # The days (and today's hours) computed live.
    live: list[Day]
    # The days not read from their day's rows (today's too, when read by the hour).
    live_days: list[date]
    hours: _Hours | None = None
    # The figures' rows: the range's whole months without a live day from MonthlyFigures,
    # the other rolled-up days from DailyFigures.
    months: list[date] = field(default_factory=list)
    daily_days: list[date] = field(default_factory=list)
    # Per shop (and ALL): the complaints of rolled-up days whose merchant deadline ran out
    # since their day was rolled up, unanswered — "settled" now, not when rolled up.
    settled_since: dict[int, int] = field(default_factory=dict)
    _times: dict[int, list[tuple[bool, int]]] = field(default_factory=dict)

    def stored(self, model: Any, **filters: Any) -> Any:
        qs = model.objects.filter(day__gte=self.rng.first, day__lte=self.rng.last, **filters)
        return qs.exclude(day__in=self.live_days) if self.live_days else qs

    def times(self, merchant_id: int) -> list[tuple[bool, int]]:
        """(automatic, took_us) of the shop's (ALL: every) complaints resolved in the days and
        hours computed live, and in today's hours read from their rows (a day's few, read
        whole); the other days' kept times are read by their bucket (`stored`)."""
        if merchant_id not in self._times:
            out = [
                (automatic, took)
                for day in self.live
                for _pk, m, automatic, took, _hour in day.values
                if merchant_id == ALL or m == merchant_id
            ]
            if self.hours is not None:
                shop = {} if merchant_id == ALL else {"merchant_id": merchant_id}
                out.extend(
                    DurationValue.objects.filter(
                        day=self.hours.day, hour__in=self.hours.stored, **shop
                    ).values_list("automatic", "took_us")
                )
            self._times[merchant_id] = out
        return self._times[merchant_id]

    def figure_rows(self) -> tuple[Any, ...]:
        rows = (
            MonthlyFigures.objects.filter(_among("month", self.months)),
            DailyFigures.objects.filter(_among("day", self.daily_days)),
        )
        if self.hours is None:
            return rows
        return (
            *rows,
            HourlyFigures.objects.filter(day=self.hours.day, hour__in=self.hours.stored),
        )

    def duration_rows(self, **filters: Any) -> tuple[Any, Any]:
        return (
            MonthlyDuration.objects.filter(_among("month", self.months), **filters),
            DailyDuration.objects.filter(_among("day", self.daily_days), **filters),
        )


def _among(name: str, values: list[date]) -> Q:
    """`name` in `values`; with none, a condition nothing meets that is still queried (Django
    skips an empty IN), so a range costs the same queries whatever its length."""
    return Q(**{f"{name}__in": values}) if values else Q(**{f"{name}__isnull": True})


def _view(rng: Range, now: datetime) -> _View:
    """Which days of the range are read from their rows and which are computed live (not
    rolled up yet, or touched since the last run) — today, when touched, only the hours
    touched if its hours were kept."""
    today = timezone.localdate(now)
    run = MetricsRollupRun.objects.order_by("-started_at").first()
    stored: dict[date, tuple[datetime | None, datetime]] = {}
    dirty = Touched()
    latest = None
    if run is not None:
        # A day before the latest one rolled up without a row had nothing at the last run.
        latest = DailyFigures.objects.filter(merchant_id=ALL).aggregate(d=Max("day"))["d"]
        stored = {
            day: (due, rolled_at)
            for day, due, rolled_at in DailyFigures.objects.filter(
                merchant_id=ALL, day__gte=rng.first, day__lte=min(rng.last, today)
            ).values_list("day", "pending_due", "rolled_at")
        }
        dirty = touched(run.started_at - overlap())
    live_days = []
    day = rng.first
    while day <= min(rng.last, today):  # nothing is filed, closed or paid in the future
        # Today as well: read from its rows while nothing has touched it since the run.
        if latest is None or day > latest or day in dirty.days:
            live_days.append(day)
        day += timedelta(days=1)
    hours = _hours(today, stored.get(today), dirty) if today in live_days else None
    live = [
        compute_day(d, now, pending=False) for d in live_days if hours is None or d != hours.day
    ]
    expired_hours: list[tuple[datetime, datetime, datetime]] = []
    if hours is not None:
        stored_hours = set(hours.stored)
        live.extend(
            compute_hour(today, h, now, pending=False)
            for h in hours_of(today)
            if h not in stored_hours
        )
        expired_hours = [
            (Slice(today, h).start, Slice(today, h).end, hours.rolled_at)
            for h, due in hours.pending.items()
            if due is not None and due <= now
        ]
    # Days after today are neither stored nor live: excluded from the stored rows too.
    live_days.extend(
        d for d in (rng.first + timedelta(days=i) for i in range(rng.days)) if d > today
    )
    skip = set(live_days)
    months = []
    month = _month_of(rng.first - timedelta(days=1))[1]  # the first to start in the range
    while (after := _month_of(month)[1]) <= rng.last + timedelta(days=1):
        if not any(d in skip for d in _days(month, after)):
            months.append(month)
        month = after
    whole = set(months)
    daily_days = [
        d
        for d in _days(rng.first, rng.last + timedelta(days=1))
        if d not in skip and _month_of(d)[0] not in whole
    ]
    expired = [
        (Slice(d).start, Slice(d).end, rolled_at)
        for d, (due, rolled_at) in stored.items()
        if d not in skip and due is not None and due <= now
    ] + expired_hours
    return _View(
        rng=rng,
        live=live,
        live_days=live_days,
        hours=hours,
        months=months,
        daily_days=daily_days,
        settled_since=_settled_since(expired, now) if expired else {},
    )


def _hours(
    today: date, rolled: tuple[datetime | None, datetime] | None, dirty: Touched
) -> _Hours | None:
    """Today by the hour, if its hours were kept with its rows (by the same run) and the
    changes since say which hours they touched; else None (today computed whole)."""
    touched_hours = dirty.hours.get(today, set())
    if rolled is None or touched_hours is None:
        return None
    kept = {
        hour: (due, rolled_at)
        for hour, due, rolled_at in HourlyFigures.objects.filter(
            day=today, merchant_id=ALL
        ).values_list("hour", "pending_due", "rolled_at")
    }
    if set(kept) != set(hours_of(today)) or {r for _d, r in kept.values()} != {rolled[1]}:
        return None
    stored = sorted(set(kept) - touched_hours)
    return _Hours(
        day=today,
        stored=stored,
        rolled_at=rolled[1],
        pending={hour: kept[hour][0] for hour in stored},
    )


def _days(first: date, after: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((after - first).days)]


def _settled_since(
    rolled: list[tuple[datetime, datetime, datetime]], now: datetime
) -> dict[int, int]:
    """The complaints filed in these rolled-up days (or today's hours: start, end, when
    rolled up) whose merchant deadline has run out since they were rolled up, still
    unanswered: the shop record's "clock settled" counts them now (a passed deadline settles
    it) though nothing was written. An answer since would have made the day live (its
    timeline event), so these are exactly the day's complaints the live count adds —
    without computing the whole day again."""
    which = Q()
    for start, end, rolled_at in rolled:
        which |= Q(filed_at__gte=start, filed_at__lt=end, merchant_response_due__gt=rolled_at)
    answered = DisputeEvent.objects.filter(
        dispute_id=OuterRef("pk"), type__in=_ANSWER_EVENTS, role="merchant"
    )
    out: dict[int, int] = defaultdict(int)
    for merchant_id, n in (
        DisputeModel.objects.filter(which, merchant_response_due__lte=now)
        .exclude(Exists(answered))
        .values("merchant_id")
        .annotate(n=Count("pk"))
        .values_list("merchant_id", "n")
        .order_by()
    ):
        out[merchant_id] += n
        out[ALL] += n
    return out


def _add(
    out: dict[str, Any],
    totals: dict[str, Any],
    prefix: str = "",
    fields: tuple[str, ...] = SUM_FIELDS,
) -> None:
    for name in fields:
        out[name] += totals[f"{prefix}{name}"] or 0


# What ranks the shops (the shop record's complaint rate and the table's complaint count).
RANKED_BY = ("filed", "orders")


def _per_merchant(
    view: _View, *, only: set[int] | None = None, fields: tuple[str, ...] = SUM_FIELDS
) -> dict[int, dict[str, Any]]:
    """The range's `fields` per shop: of every shop (`only` None, the marketplace's row not
    among them) or of the shops `only` names (the marketplace's too, as ALL). A range's
    shop rows grow with the shops and the days, so the report reads every shop's two
    ranking figures and every figure of only the shops it shows."""
    rows: dict[int, dict[str, Any]] = defaultdict(_empty)
    which = Q(merchant_id__gt=ALL) if only is None else Q(merchant_id__in=sorted(only))
    for stored in view.figure_rows():
        for r in (
            stored.filter(which)
            .values("merchant_id")
            .annotate(**{f"s_{name}": Sum(name) for name in fields})
            .order_by()
        ):
            _add(rows[r["merchant_id"]], r, "s_", fields)
    wanted = (lambda m: m != ALL) if only is None else only.__contains__
    if "settled" in fields:
        for merchant_id, n in view.settled_since.items():
            if wanted(merchant_id):
                rows[merchant_id]["settled"] += n
    for day in view.live:
        for merchant_id, figures in day.figures.items():
            if wanted(merchant_id):
                _add(rows[merchant_id], figures, fields=fields)
    return rows


def _bucket_counts(view: _View, merchant_id: int) -> dict[bool, Counter[int]]:
    """How many times from filing to outcome fell in each bucket over the range, of the
    complaints decided automatically (True) and of the others (False): one query per table
    for both, the live days' times added."""
    counts: dict[bool, Counter[int]] = {True: Counter(), False: Counter()}
    for rows in view.duration_rows(merchant_id=merchant_id):
        for automatic, b, n in (
            rows.values("automatic", "bucket")
            .annotate(n=Sum("count"))
            .values_list("automatic", "bucket", "n")
            .order_by()
        ):
            counts[automatic][b] += n
    for automatic, took in view.times(merchant_id):
        counts[automatic][bucket_of(took)] += 1
    return counts


def _timing(
    view: _View, merchant_id: int, counted: dict[bool, Counter[int]], *, automatic: bool
) -> dict[str, Any]:
    """The exact median and 90th percentile: the buckets added up (`counted`), then the
    times of only the buckets holding those ranks read."""
    flags = {"automatic": True} if automatic else {}
    counts = counted[True] if automatic else counted[True] + counted[False]
    live = [took for auto, took in view.times(merchant_id) if auto or not automatic]
    count = sum(counts.values())
    wanted = set(metrics.ranks(count)) if count else set()
    at: dict[int, timedelta] = {}
    below = 0
    shop = {} if merchant_id == ALL else {"merchant_id": merchant_id}
    for b in sorted(counts):
        inside = [r for r in wanted if below < r <= below + counts[b]]
        if inside:
            # The i-th time of the bucket among the stored ones and the k live ones has
            # between i-1-k and i-1 stored ones below it: only those stored times are read
            # (in SQL order), not the whole bucket's.
            mine = [t for t in live if bucket_of(t) == b]
            first = max(0, min(inside) - below - 1 - len(mine))
            upto = max(inside) - below
            values = list(
                view.stored(DurationValue, bucket=b, **shop, **flags)
                .order_by("took_us")
                .values_list("took_us", flat=True)[first:upto]
            )
            values = sorted(values + mine)
            for r in inside:
                at[r] = timedelta(microseconds=values[r - below - 1 - first])
        below += counts[b]
    return metrics.timing(count, at, automatic=automatic)


def _own(sums: dict[str, Any]) -> dict[str, Any]:
    return {
        "filed": sums["filed"],
        "resolved": sums["resolved"],
        "withdrawn": sums["withdrawn"],
        "buyer_favour": sums["buyer_favour"],
        "compensated": sums["compensated"],
        "paid_first": sums["paid_first"],
        "paid_first_amount": sums["paid_first_amount"],
        "recovered": sums["recovered"],
        "repeats": sums["repeats"],
    }


def report(rng: Range, *, merchant_id: int | None = None) -> dict[str, Any]:
    """What the metrics page, its CSV and the API show (disputes/metrics.live_report's
    shape and figures), from the daily figures."""
    from orders.models import Merchant

    now = timezone.now()
    view = _view(rng, now)
    scope = ALL if merchant_id is None else merchant_id
    ranked = _per_merchant(view, fields=RANKED_BY)
    shops = {m: row for m, row in ranked.items() if row["filed"] > 0}
    top_ids = sorted(
        (m for m, row in shops.items() if row["orders"] >= SHOP_RECORD_MIN_ORDERS),
        key=lambda m: (-Fraction(shops[m]["filed"], shops[m]["orders"]), -shops[m]["filed"], m),
    )[: metrics.TOP_MERCHANTS]
    table_ids = (
        sorted(shops, key=lambda m: (-shops[m]["filed"], m))[: metrics.MERCHANT_ROWS]
        if merchant_id is None
        else []
    )
    full = _per_merchant(view, only={scope, *top_ids, *table_ids})
    sums = full[scope]
    counted = _bucket_counts(view, scope)
    figures = metrics.figures_from(
        rng,
        merchant_id,
        own=_own(sums),
        shop={
            "orders": sums["orders"],
            "complaints": sums["filed"],
            "settled": sums["settled"],
            "in_time": sums["in_time"],
            "rating_sum": float(sums["rating_sum"]),
            "ratings": sums["ratings"],
        },
        reviews={"ended": sums["reviews_ended"], "in_time": sums["reviews_in_time"]},
        took=_timing(view, scope, counted, automatic=False),
        took_automatic=_timing(view, scope, counted, automatic=True),
    )
    names = dict(
        Merchant.objects.filter(pk__in=[*top_ids, *table_ids]).values_list("pk", "shop_name")
    )

    def row(m: int) -> dict[str, Any]:
        s = full[m]
        return metrics.shop_row(
            m,
            names.get(m, ""),
            orders=s["orders"],
            complaints=s["filed"],
            settled=s["settled"],
            in_time=s["in_time"],
            satisfaction=s["rating_sum"] / s["ratings"] if s["ratings"] else None,
        )

    table = []
    for m in table_ids:
        line = row(m)
        metrics.add_own_figures(line, _own(full[m]))
        table.append(line)
    daily = dict(view.stored(DailyFigures, merchant_id=scope).values_list("day", "filed"))
    if view.hours is not None:
        daily[view.hours.day] = (
            HourlyFigures.objects.filter(
                day=view.hours.day, hour__in=view.hours.stored, merchant_id=scope
            ).aggregate(n=Sum("filed"))["n"]
            or 0
        )
    for day in view.live:
        filed = day.figures[scope]["filed"] if scope in day.figures else 0
        daily[day.day] = daily.get(day.day, 0) + filed
    return {
        "range": rng,
        "merchant_id": merchant_id,
        "figures": figures,
        "top_merchants": [row(m) for m in top_ids],
        "by_merchant": table,
        "daily": [
            (rng.first + timedelta(days=i), daily.get(rng.first + timedelta(days=i), 0))
            for i in range(rng.days)
        ],
    }
