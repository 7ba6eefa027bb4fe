"""The daily figures (disputes/metrics_rollup.py) equal the live computation
(disputes/metrics.py) — on random complaints spanning days, filed and closed either side of
midnight in Shanghai, resolved days after filing, appealed after their day was rolled up,
rated later, today rolled up so far and read live once touched, a change committed just after
a run started — and re-rolling a day gives the same rows; one run at a time."""

from __future__ import annotations

import importlib
import math
import random
import zoneinfo
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.apps import apps as django_apps
from django.db import connection
from django.db.models import Sum
from django.utils.timezone import now as timezone_now

from disputes import metrics, metrics_rollup
from disputes.models import (
    DailyDuration,
    DailyFigures,
    Dispute,
    DisputeEvent,
    DisputeRating,
    DurationValue,
    HourlyFigures,
    MetricsRollupRun,
    MonthlyDuration,
    MonthlyFigures,
    Status,
)
from orders.models import Order
from tests.disputes.test_metrics import MARCH, World, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
START = datetime(2025, 5, 1, tzinfo=TZ)
NOW = datetime(2025, 5, 12, 15, 0, tzinfo=TZ)  # the random complaints span 1–12 May
OUTCOMES = ("refunded", "partially_refunded", "replaced", "rejected", "rejected_malicious")


def assert_equal(rng: metrics.Range, merchant_id: int | None = None) -> dict[str, Any]:
    rolled = metrics_rollup.report(rng, merchant_id=merchant_id)
    live = metrics.live_report(rng, merchant_id=merchant_id)
    assert rolled["figures"] == live["figures"]
    assert rolled["top_merchants"] == live["top_merchants"]
    assert rolled["by_merchant"] == live["by_merchant"]
    assert rolled["daily"] == live["daily"]
    assert metrics.as_csv(rolled) == metrics.as_csv(live)
    return rolled


def moment(rnd: random.Random, day: int) -> datetime:
    """A moment of 1–12 May, often within a second of midnight in Shanghai."""
    base = START + timedelta(days=day)
    if rnd.random() < 0.3:
        return base + timedelta(microseconds=rnd.choice([0, 1, -1, 999_999, -999_999]))
    return base + timedelta(seconds=rnd.randrange(86_400), microseconds=rnd.randrange(10**6))


def random_world(seed: int) -> World:
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):  # the ratings' time
        return _random_world(seed)


def _random_world(seed: int) -> World:
    rnd = random.Random(seed)
    w = World()
    shops = [w.a, w.b]
    for _ in range(rnd.randrange(60, 120)):
        shop = rnd.choice(shops)
        w.orders(shop, 1, moment(rnd, rnd.randrange(11)), paid=rnd.random() < 0.9)
    for _ in range(rnd.randrange(25, 45)):
        shop = rnd.choice(shops)
        day = rnd.randrange(11)
        filed = moment(rnd, day)
        events: list[tuple[str, str, datetime]] = []
        fields: dict[str, Any] = {"merchant_response_due": filed + timedelta(hours=24)}
        if rnd.random() < 0.6:
            events.append(("contested", "merchant", filed + timedelta(hours=rnd.randrange(30))))
        fate = rnd.random()
        if fate < 0.55:  # resolved, some days later, sometimes automatically
            took = timedelta(seconds=rnd.choice([30, 90, 3_600, 86_400, 200_000, 400_000]))
            took += timedelta(microseconds=rnd.randrange(10**6))
            resolved_at = filed + took
            if resolved_at >= NOW:
                resolved_at = filed + timedelta(seconds=30)
            fields.update(
                status=Status.RESOLVED,
                outcome=rnd.choice(OUTCOMES),
                resolved_at=resolved_at,
                decided_by=rnd.choice(["system", "staff", "merchant"]),
                paid_out=Decimal(rnd.randrange(0, 20000)) / 100,
                review_due=filed + timedelta(hours=rnd.randrange(20, 80)),
            )
            if rnd.random() < 0.4:
                events.append(("auto_decided", "system", resolved_at))
            if rnd.random() < 0.5:
                events.append(("ruled", "staff", resolved_at))
        elif fate < 0.75:
            fields["status"] = Status.WITHDRAWN
            events.append(("withdrawn", "buyer", filed + timedelta(hours=rnd.randrange(1, 60))))
        else:
            fields["status"] = Status.UNDER_REVIEW
        if rnd.random() < 0.2:
            paid = filed + timedelta(minutes=rnd.randrange(1, 3000))
            events.append(("fast_tracked", "system", paid))
            fields["paid_out"] = Decimal("30.00")
            fields["recovered"] = Decimal(rnd.choice(["0.00", "10.00", "30.00"]))
        if rnd.random() < 0.1:
            events.append(("review_expired", "system", filed + timedelta(hours=50)))
        events = [e for e in events if e[2] < NOW]
        rating = rnd.randrange(1, 6) if fields.get("status") == Status.RESOLVED else None
        w.complaint(shop, rnd.randrange(1, 9), filed, events=events, rating=rating, **fields)
    return w


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rolled_up_figures_equal_the_live_ones_on_random_complaints(seed: int) -> None:
    w = random_world(seed)
    with time_machine.travel(NOW, tick=False):
        # Every day from the first order (1 January) to today (12 May), so far.
        assert metrics_rollup.rollup() == 132
        rolled = DailyFigures.objects.filter(merchant_id=0).values_list("day", flat=True)
        assert max(rolled) == date(2025, 5, 12)
        whole = metrics.Range(first=date(2025, 4, 28), last=date(2025, 5, 12))
        rolled = assert_equal(whole)
        assert rolled["figures"]["complaints_filed"] > 20
        for merchant in (w.a, w.b):
            assert_equal(whole, merchant.pk)
        for first in range(1, 12, 3):
            day = date(2025, 5, first)
            assert_equal(metrics.Range(first=day, last=day))
            assert_equal(metrics.Range(first=day, last=day + timedelta(days=2)), w.a.pk)


def test_the_hand_built_world_equals_after_rolling_up(world: World) -> None:  # noqa: F811
    with time_machine.travel(datetime(2025, 4, 20, tzinfo=TZ), tick=False):
        metrics_rollup.rollup()
        assert DailyFigures.objects.filter(merchant_id=0, day=date(2025, 3, 9)).exists()
        assert_equal(MARCH)
        assert_equal(MARCH, world.a.pk)
        assert_equal(metrics.Range(first=date(2025, 3, 31), last=date(2025, 4, 1)))


def recorder(monkeypatch: pytest.MonkeyPatch) -> list[date | tuple[date, int]]:
    """The days compute_day computes from now on (the days read live), and the hours
    compute_hour does, as (day, hour)."""
    computed: list[date | tuple[date, int]] = []
    real_day, real_hour = metrics_rollup.compute_day, metrics_rollup.compute_hour

    def day(d: date, now: datetime | None = None, **kw: Any) -> metrics_rollup.Day:
        computed.append(d)
        return real_day(d, now, **kw)

    def hour(d: date, h: int, now: datetime | None = None, **kw: Any) -> metrics_rollup.Day:
        computed.append((d, h))
        return real_hour(d, h, now, **kw)

    monkeypatch.setattr(metrics_rollup, "compute_day", day)
    monkeypatch.setattr(metrics_rollup, "compute_hour", hour)
    return computed


def test_today_is_rolled_up_and_a_change_after_the_run_shows_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = random_world(7)
    computed = recorder(monkeypatch)
    with time_machine.travel(NOW, tick=False):
        metrics_rollup.rollup()
        rng = metrics.Range(first=date(2025, 5, 1), last=date(2025, 5, 12))
        computed.clear()
        before = assert_equal(rng)
        assert computed == []  # today (12 May) included: nothing touched it since the run
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        # Today: a complaint filed now counts at once, only its hour of today read live.
        w.complaint(w.a, 3, timezone_now())
        computed.clear()
        after = assert_equal(rng)
        assert computed == [(date(2025, 5, 12), 15)]
        assert after["figures"]["complaints_filed"] == before["figures"]["complaints_filed"] + 1
        # A complaint resolved on 3 May (rolled up) is appealed today: 3 May loses it now.
        old = Dispute.objects.filter(
            status=Status.RESOLVED, resolved_at__date__lt=date(2025, 5, 10)
        ).first()
        assert old is not None
        old_day = timezone_day(old.resolved_at)
        one_day = metrics.Range(first=old_day, last=old_day)
        resolved_before = assert_equal(one_day)["figures"]["resolved"]
        now = timezone_now()
        Dispute.objects.filter(pk=old.pk).update(status=Status.UNDER_REVIEW, appealed_at=now)
        DisputeEvent.objects.create(dispute=old, type="appealed", role="buyer", created_at=now)
        assert assert_equal(one_day)["figures"]["resolved"] == resolved_before - 1
        # A rating given today for a complaint filed days ago.
        unrated = Dispute.objects.filter(status=Status.RESOLVED, rating__isnull=True).first()
        if unrated is not None:
            DisputeRating.objects.create(dispute=unrated, buyer=unrated.buyer, score=5)
            assert_equal(rng)
    # The next run re-rolls the touched days; the figures still equal, nothing read live.
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        assert metrics_rollup.rollup() >= 2
        computed.clear()
        assert_equal(rng)
        assert_equal(one_day)
        assert computed == []


def test_a_change_to_today_computes_only_the_hours_it_touched(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Today's hours are kept with its rows: a change after the run computes only the hours
    of today it touched (the hour a complaint was filed in, for an answer or a rating; the
    hour an order was placed in, for its payment), the others are read from their rows —
    their times to outcome, and a merchant deadline run out since in one of them, too."""
    settings.METRICS_ROLLUP_OVERLAP_SECONDS = 0  # the random world's moments all before NOW
    w = random_world(11)
    today = NOW.date()

    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2025, 5, 12, hour, minute, tzinfo=TZ)

    # Its deadline (15:10) runs out after the run (15:00), in a kept hour (09:00).
    w.complaint(w.a, 2, at(9, 5), merchant_response_due=at(15, 10))
    # Times to outcome kept in the hours they were resolved in.
    for filed, done, shop in ((at(1), at(6, 30), w.b), (at(2), at(14, 1), w.a)):
        w.complaint(shop, 3, filed, status=Status.RESOLVED, outcome="refunded", resolved_at=done)
    answered = w.complaint(w.b, 4, at(11, 10))
    rated = w.complaint(
        w.a, 5, at(10), status=Status.RESOLVED, outcome="replaced", resolved_at=at(12)
    )
    w.orders(w.a, 2, at(8, 15), paid=False)
    with time_machine.travel(NOW, tick=False):
        metrics_rollup.rollup()
    kept = HourlyFigures.objects.filter(day=today)
    assert set(kept.filter(merchant_id=0).values_list("hour", flat=True)) == set(range(24))
    for shop in (0, w.a.pk, w.b.pk):  # the hours add up to the day
        day = DailyFigures.objects.get(day=today, merchant_id=shop)
        sums = kept.filter(merchant_id=shop).aggregate(
            **{name: Sum(name) for name in metrics_rollup.SUM_FIELDS}
        )
        assert sums == {name: getattr(day, name) for name in metrics_rollup.SUM_FIELDS}
    assert kept.get(hour=9, merchant_id=0).pending_due == at(15, 10)
    assert DurationValue.objects.filter(day=today, hour=6).exists()

    computed = recorder(monkeypatch)
    rng = metrics.Range(first=date(2025, 5, 1), last=today)
    one_day = metrics.Range(first=today, last=today)
    with time_machine.travel(at(15, 30), tick=False):
        now = timezone_now()
        DisputeEvent.objects.create(dispute=answered, type="contested", role="merchant")
        Order.objects.filter(created_at=at(8, 15)).update(paid_at=now)
        DisputeRating.objects.create(dispute=rated, buyer=rated.buyer, score=2)
        w.complaint(w.b, 6, now)
        computed.clear()
        for r, shop in ((rng, None), (rng, w.a.pk), (rng, w.b.pk), (one_day, None)):
            assert_equal(r, shop)
        # The order's hour (8), the rated complaint's filing and resolution (10, 12), the
        # answered one's filing (11) and the new one's (15): five of today's 24 hours.
        assert set(computed) == {(today, h) for h in (8, 10, 11, 12, 15)}
        assert assert_equal(one_day, w.b.pk)["figures"]["time_to_outcome"]["count"] > 0

        # A kept time whose hour is not known (rolled up before hours were kept): the
        # whole day is computed, as it is when today's hours were not kept with its rows.
        DurationValue.objects.filter(dispute_id=rated.pk).update(hour=None)
        computed.clear()
        assert_equal(rng)
        assert set(computed) == {today}
        DurationValue.objects.filter(dispute_id=rated.pk).update(hour=12)
        HourlyFigures.objects.filter(day=today, hour=23).delete()
        computed.clear()
        assert_equal(rng)
        assert set(computed) == {today}
    # The next day's first run keeps that day's hours only.
    with time_machine.travel(NOW + timedelta(hours=10), tick=False):
        metrics_rollup.rollup()
    assert not HourlyFigures.objects.filter(day=today).exists()
    assert HourlyFigures.objects.filter(day=today + timedelta(days=1), merchant_id=0).count() == 24


@pytest.mark.parametrize("overlap", [300, 0])
def test_a_change_committed_after_the_run_started_is_seen(
    overlap: int, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change whose moment was written before the run started but committed after the run
    computed its day — in neither the day's rows nor "changed since the start" without the
    overlap (0: the figures differ, which is what the overlap is for)."""
    settings.METRICS_ROLLUP_OVERLAP_SECONDS = overlap
    w = random_world(8)
    with time_machine.travel(NOW, tick=False):
        metrics_rollup.rollup()
    rng = metrics.Range(first=date(2025, 5, 1), last=date(2025, 5, 12))
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        # Its transaction began two minutes before the run and committed only now.
        w.complaint(w.b, 2, NOW - timedelta(minutes=2))
        if overlap:
            assert_equal(rng)
        else:
            rolled = metrics_rollup.report(rng)["figures"]["complaints_filed"]
            assert rolled == metrics.live_report(rng)["figures"]["complaints_filed"] - 1


def test_runs_older_than_a_week_are_deleted_and_the_latest_is_kept() -> None:
    """Beat runs the rollup every five minutes: each run deletes the runs started more than
    RUNS_KEPT before it (only the latest is ever read)."""
    with time_machine.travel(NOW - timedelta(days=8), tick=False):
        metrics_rollup.rollup()
    with time_machine.travel(NOW - timedelta(days=6), tick=False):
        metrics_rollup.rollup()
    assert MetricsRollupRun.objects.count() == 2
    with time_machine.travel(NOW, tick=False):
        metrics_rollup.rollup()
    started = sorted(MetricsRollupRun.objects.values_list("started_at", flat=True))
    assert started == [NOW - timedelta(days=6), NOW]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the run's lock is PostgreSQL's advisory lock"
)
def test_one_run_at_a_time() -> None:
    """A run while another holds the lock (beat's next one, a hand-run command) does nothing
    and says so; the lock is released after a run, even a failed one."""
    from django.core.management import CommandError, call_command

    other = connection.copy()
    other.connect()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [metrics_rollup.ROLLUP_LOCK])
        assert metrics_rollup.rollup() is None
        assert not DailyFigures.objects.exists()
        with pytest.raises(CommandError, match="Another rollup run"):
            call_command("metrics_rollup")
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [metrics_rollup.ROLLUP_LOCK])
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(metrics_rollup, "_rollup", lambda now: 1 / 0)
            with pytest.raises(ZeroDivisionError):
                metrics_rollup.rollup()
        assert metrics_rollup.rollup() == 0  # not left locked by the failed one
    finally:
        other.close()


def test_a_merchant_deadline_running_out_after_the_rollup_is_counted() -> None:
    w = World()
    filed = datetime(2025, 5, 11, 23, 0, tzinfo=TZ)
    w.complaint(w.a, 1, filed, merchant_response_due=filed + timedelta(hours=24))
    rng = metrics.Range(first=date(2025, 5, 11), last=date(2025, 5, 11))
    with time_machine.travel(NOW, tick=False):
        metrics_rollup.rollup()
        assert assert_equal(rng)["figures"]["merchant_answers_settled"] == 0
    # Nothing was written; the deadline simply passed (the sweep has not run yet).
    with time_machine.travel(filed + timedelta(hours=24, seconds=1), tick=False):
        assert assert_equal(rng)["figures"]["merchant_answers_settled"] == 1


def test_a_deadline_running_out_is_counted_without_computing_its_day_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rolled-up day whose merchant deadlines run out later adds only those complaints,
    unanswered, to "clock settled" — not those answered before the run, whose deadline
    passing changes nothing — and is not computed live again (nor is today, rolled up too)."""
    w = World()
    day = date(2025, 5, 11)

    def filed(hour: int) -> datetime:
        return datetime(2025, 5, 11, hour, 0, tzinfo=TZ)

    w.complaint(w.a, 1, filed(1))  # deadline 12 May 01:00: passed before the run
    w.complaint(w.a, 2, filed(20))  # 12 May 20:00, never answered
    w.complaint(w.b, 3, filed(21))  # 12 May 21:00, never answered
    answered = w.complaint(  # 12 May 22:00, answered before the run: settled already
        w.b, 4, filed(22), events=[("contested", "merchant", filed(23))]
    )
    rng = metrics.Range(first=date(2025, 5, 1), last=date(2025, 5, 12))
    with time_machine.travel(NOW, tick=False):
        metrics_rollup.rollup()
    computed = recorder(monkeypatch)
    expected = [(19, 1, 2), (20, 2, 3), (21, 2, 4), (22, 2, 4)]  # 12 May, hour: A, all
    for hour, a_settled, settled in expected:
        with time_machine.travel(datetime(2025, 5, 12, hour, 30, tzinfo=TZ), tick=False):
            computed.clear()
            assert assert_equal(rng)["figures"]["merchant_answers_settled"] == settled
            assert computed == []  # neither 11 May nor today
            shop_a = assert_equal(rng, w.a.pk)["figures"]["merchant_answers_settled"]
            assert shop_a == a_settled
            assert_equal(rng, w.b.pk)
            assert_equal(metrics.Range(first=day, last=day))
    # An answer after the run makes the day live again: still equal.
    with time_machine.travel(datetime(2025, 5, 12, 23, 0, tzinfo=TZ), tick=False):
        DisputeEvent.objects.create(
            dispute=answered, type="offer_made", role="merchant", created_at=timezone_now()
        )
        computed.clear()
        assert_equal(rng)
        assert day in computed


def test_whole_months_are_read_from_their_monthly_rows_kept_with_each_day(
    world: World,  # noqa: F811
) -> None:
    """A range's whole months add up MonthlyFigures/MonthlyDuration, which re-rolling one of
    their days rewrites: after a March complaint is appealed and its day re-rolled, March
    read as a whole month still equals the live figures."""
    # The fixture's ratings were given at the real time, after the run: as if given in March.
    DisputeRating.objects.update(created_at=datetime(2025, 3, 31, tzinfo=TZ))
    with time_machine.travel(datetime(2025, 4, 20, tzinfo=TZ), tick=False):
        metrics_rollup.rollup()
        view = metrics_rollup._view(MARCH, timezone_now())
        assert view.months == [date(2025, 3, 1)] and view.daily_days == []
        for field_name in metrics_rollup.SUM_FIELDS:
            for merchant_id in (0, world.a.pk, world.b.pk):
                month = MonthlyFigures.objects.filter(
                    month=date(2025, 3, 1), merchant_id=merchant_id
                ).values_list(field_name, flat=True)
                days = DailyFigures.objects.filter(day__month=3, merchant_id=merchant_id).aggregate(
                    s=Sum(field_name)
                )["s"]
                assert list(month) == [days]
        before = assert_equal(MARCH)
        assert_equal(metrics.Range(first=date(2025, 2, 20), last=date(2025, 4, 5)), world.a.pk)
        old = Dispute.objects.filter(
            status=Status.RESOLVED, resolved_at__month=3, resolved_at__day__gt=5
        ).first()
        assert old is not None
        Dispute.objects.filter(pk=old.pk).update(
            status=Status.UNDER_REVIEW, appealed_at=timezone_now()
        )
        DisputeEvent.objects.create(dispute=old, type="appealed", role="buyer")
        # Touched since the run: its days are live, March is read day by day.
        assert metrics_rollup._view(MARCH, timezone_now()).months == []
        assert assert_equal(MARCH)["figures"]["resolved"] == before["figures"]["resolved"] - 1
    with time_machine.travel(datetime(2025, 4, 21, tzinfo=TZ), tick=False):
        assert metrics_rollup.rollup() >= 1
        assert metrics_rollup._view(MARCH, timezone_now()).months == [date(2025, 3, 1)]
        assert assert_equal(MARCH)["figures"]["resolved"] == before["figures"]["resolved"] - 1
        assert_equal(MARCH, world.a.pk)
        assert_equal(metrics.Range(first=date(2025, 1, 1), last=date(2025, 4, 21)))


def rows_of(day: date) -> tuple[list[Any], list[Any], list[Any]]:
    figures = sorted(
        DailyFigures.objects.filter(day=day).values_list(
            "merchant_id", *metrics_rollup.SUM_FIELDS, "pending_due"
        )
    )
    durations = sorted(
        DailyDuration.objects.filter(day=day).values_list(
            "merchant_id", "automatic", "bucket", "count"
        )
    )
    values = sorted(
        DurationValue.objects.filter(day=day).values_list(
            "dispute_id", "merchant_id", "automatic", "bucket", "took_us"
        )
    )
    return figures, durations, values


def test_re_rolling_a_day_gives_the_same_rows() -> None:
    random_world(11)
    with time_machine.travel(NOW, tick=False):
        metrics_rollup.rollup()
        days = [date(2025, 5, d) for d in range(1, 12)]
        before = {d: rows_of(d) for d in days}
        assert any(before[d][2] for d in days)  # some resolved times were kept
        assert metrics_rollup.rebuild(days[0], days[-1]) == 11
        assert {d: rows_of(d) for d in days} == before
        metrics_rollup.rollup()  # nothing changed: nothing re-rolled, same rows
        assert {d: rows_of(d) for d in days} == before


def test_a_range_costs_the_same_queries_whatever_its_length(
    django_assert_max_num_queries: Any,
) -> None:
    random_world(5)
    with time_machine.travel(NOW, tick=False):
        metrics_rollup.rollup()
        from django.test.utils import CaptureQueriesContext

        counts = []
        for first in (date(2025, 5, 5), date(2024, 5, 13)):
            rng = metrics.Range(first=first, last=date(2025, 5, 11))
            with CaptureQueriesContext(connection) as ctx:
                metrics_rollup.report(rng)
            counts.append(len(ctx.captured_queries))
        assert counts[0] == counts[1]


def test_the_bucket_is_monotonic() -> None:
    takes = sorted(random.Random(3).randrange(0, 10**13) for _ in range(2000))
    buckets = [metrics_rollup.bucket_of(t) for t in takes]
    assert buckets == sorted(buckets)
    assert metrics_rollup.bucket_of(0) == 0 < metrics_rollup.bucket_of(1_000_000)


def timezone_day(moment: datetime) -> date:
    return moment.astimezone(TZ).date()


def test_the_buckets_are_about_two_percent_wide_and_whole_numbers() -> None:
    bounds = metrics_rollup.BOUNDS
    assert all(isinstance(b, int) for b in bounds)
    assert all(1.02 < b / a < 1.023 for a, b in zip(bounds, bounds[1:], strict=False))
    for k, bound in enumerate(bounds):
        assert metrics_rollup.bucket_of(bound - 1) == k
        assert metrics_rollup.bucket_of(bound) == k + 1


_rebucketing = importlib.import_module("disputes.migrations.0022_finer_duration_buckets")


def test_the_migration_keeps_the_bounds_the_code_buckets_by() -> None:
    assert tuple(_rebucketing.BOUNDS) == metrics_rollup.BOUNDS


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the migration's re-bucketing SQL is PostgreSQL's"
)
def test_postgresql_places_every_boundary_time_in_the_bucket_python_does() -> None:
    times = [t for b in metrics_rollup.BOUNDS for t in (b - 1, b, b + 1)] + [0, 10**17]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t, width_bucket(t, %s::bigint[]) FROM unnest(%s::bigint[]) AS t",
            [list(metrics_rollup.BOUNDS), times],
        )
        placed = dict(cursor.fetchall())
    assert placed == {t: metrics_rollup.bucket_of(t) for t in times}


def test_the_migration_re_buckets_the_kept_times_and_counts_them_again() -> None:
    """The rows after the re-bucketing migration are those a rollup run writes now, from
    rows bucketed the old way (8 per doubling) and counted so."""
    random_world(11)
    with time_machine.travel(NOW, tick=False):
        metrics_rollup.rollup()

    def rows() -> tuple[list[Any], ...]:
        return (
            sorted(DurationValue.objects.values_list("dispute_id", "day", "bucket", "took_us")),
            sorted(
                DailyDuration.objects.values_list("day", "merchant_id", "automatic", "bucket")
                .annotate(n=Sum("count"))
                .order_by()
            ),
            sorted(
                MonthlyDuration.objects.values_list("month", "merchant_id", "automatic", "bucket")
                .annotate(n=Sum("count"))
                .order_by()
            ),
        )

    now = rows()
    assert now[0] and now[2]
    daily: Counter[tuple[Any, ...]] = Counter()
    monthly: Counter[tuple[Any, ...]] = Counter()
    for value in DurationValue.objects.all():
        seconds = value.took_us / 1_000_000
        value.bucket = 0 if seconds < 1 else 1 + int(math.log2(seconds) * 8)
        value.save(update_fields=["bucket"])
        for shop in (value.merchant_id, metrics_rollup.ALL):
            daily[(value.day, shop, value.automatic, value.bucket)] += 1
            monthly[(value.day.replace(day=1), shop, value.automatic, value.bucket)] += 1
    DailyDuration.objects.all().delete()
    MonthlyDuration.objects.all().delete()
    keys = ("merchant_id", "automatic", "bucket")
    DailyDuration.objects.bulk_create(
        DailyDuration(day=k[0], count=n, **dict(zip(keys, k[1:], strict=True)))
        for k, n in daily.items()
    )
    MonthlyDuration.objects.bulk_create(
        MonthlyDuration(month=k[0], count=n, **dict(zip(keys, k[1:], strict=True)))
        for k, n in monthly.items()
    )
    assert rows() != now
    with connection.schema_editor() as editor:
        _rebucketing.rebucket(django_apps, editor)
    assert rows() == now


def test_a_report_showing_fewer_shops_than_there_are_equals_the_live_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The report ranks every shop by two figures and reads every figure of only the shops
    it shows (and of the shop it is scoped to): the same rows and figures as the live ones."""
    w = random_world(4)
    monkeypatch.setattr(metrics, "TOP_MERCHANTS", 1)
    monkeypatch.setattr(metrics, "MERCHANT_ROWS", 1)
    with time_machine.travel(NOW, tick=False):
        metrics_rollup.rollup()
        rng = metrics.Range(first=date(2025, 5, 1), last=date(2025, 5, 12))
        assert len(metrics.by_merchant(rng, limit=2)) == 2  # one of the two is left out
        rolled = metrics_rollup.report(rng)
        assert rolled["top_merchants"] == metrics.top_merchants(rng, limit=1)
        assert rolled["by_merchant"] == metrics.by_merchant(rng, limit=1)
        assert rolled["figures"] == metrics.metrics(rng)
        for shop in (w.a, w.b):  # the one shown and the one left out
            scoped = metrics_rollup.report(rng, merchant_id=shop.pk)
            assert scoped["figures"] == metrics.metrics(rng, merchant_id=shop.pk)
            assert scoped["top_merchants"] == rolled["top_merchants"]
