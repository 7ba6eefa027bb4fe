"""The platform's metrics: is the promise kept? One module computes every figure the admin's
metrics page, its CSV export and `GET /api/v1/staff/metrics/` show, over a chosen date range
(Asia/Shanghai days, both ends included), for the whole marketplace or one merchant.

Every figure is aggregate SQL (a fixed number of queries whatever the number of complaints);
where a figure is also on the shop record (complaints per 1,000 orders, merchant answers in
time, satisfaction) it is computed by the shop record's own SQL
(`disputes.selectors._shop_stats_sql`) over the range, so each figure has one definition.
The definitions, as the page prints them, are DEFINITIONS below.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol

from django import forms
from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DecimalField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from disputes.models import Dispute, DisputeEvent, EventType, Status
from disputes.outcomes import IN_BUYERS_FAVOUR
from disputes.selectors import SHOP_RECORD_MIN_ORDERS, _shop_stats_sql
from kamen_complaints.text import name_key

# The longest range one request may ask for (the daily chart has one bar per day).
MAX_RANGE_DAYS = 366
REPEAT_DAYS = 30
TOP_MERCHANTS = 10
MERCHANT_ROWS = 50
PAID_FIRST_EVENTS = (EventType.FAST_TRACKED, EventType.REVIEW_EXPIRED)
ZERO = Decimal("0.00")

# What each figure means, printed on the page beside it (and in the CSV).
DEFINITIONS: dict[str, Any] = {
    "complaints_filed": _("Complaints filed in the range (by filing date)."),
    "resolution_rate": _(
        "Resolved ÷ (resolved + withdrawn), of the complaints closed in the range (by closing "
        "date: the final outcome, or the withdrawal). A complaint under appeal is not closed."
    ),
    "buyer_favour_share": _(
        "Of the complaints resolved in the range, the share whose outcome favours the buyer "
        "(refunded, partially refunded, card key replaced)."
    ),
    "time_to_outcome": _(
        "Time from filing to the final outcome (after any appeal; paused time included) of "
        "the complaints resolved in the range: the median (the middle one, or the mean of the "
        "middle two) and the 90th percentile (nearest rank)."
    ),
    "decided_automatically": _(
        "Of the complaints resolved in the range, the share decided by the platform's "
        "automatic check (the upstream's or the platform's own records proved "
        "it) and not appealed; and their median time from filing to that outcome."
    ),
    "merchant_in_time": _(
        "Of the complaints filed in the range whose merchant clock is settled (answered, or "
        "the deadline passed), the share the merchant answered (accepted, offered or "
        "contested) before the deadline — the shop record's figure."
    ),
    "review_in_time": _(
        "Of the reviews ended in the range (a staff ruling, or the review clock running out), "
        "the share ruled by staff before the complaint's review deadline. A clock that ran "
        "out is a miss."
    ),
    "paid_first": _(
        "Complaints the platform paid first (a fast track, or the review clock ran "
        "out), by the date it paid; what it paid them and what was recovered from the "
        "merchants so far."
    ),
    "compensated": _(
        "Money paid to buyers for the complaints closed in the range (by closing date), "
        "whoever bore it."
    ),
    "complaints_per_1000": _(
        "Complaints filed in the range per 1,000 paid orders placed in the range — the shop "
        "record's figure."
    ),
    "repeat_rate": _(
        "Of the complaints filed in the range, the share whose buyer had already complained "
        "about the same shop in the 30 days before."
    ),
    "satisfaction": _(
        "The average rating (1–5) buyers gave the complaints filed in the range — the shop "
        "record's figure."
    ),
    "top_merchants": _(
        "Shops with at least %(min)s paid orders in the range, by complaints per 1,000 orders."
    ),
}


def definitions() -> dict[str, str]:
    """DEFINITIONS in the request's language, the minimum filled in."""
    out = {name: str(text) for name, text in DEFINITIONS.items()}
    out["top_merchants"] = out["top_merchants"] % {"min": SHOP_RECORD_MIN_ORDERS}
    return out


@dataclass(frozen=True)
class Range:
    """Days in Asia/Shanghai, both included: [start of `first`, start of the day after `last`)."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=_tz())

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=_tz())

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @classmethod
    def default(cls, today: date | None = None) -> Range:
        """The last 30 days, today included."""
        last = today or timezone.localdate()
        return cls(first=last - timedelta(days=29), last=last)


class Span(Protocol):
    """What the per-moment definitions (`_aggregates`, `_params`) count over: [start, end) —
    a Range, or one hour of a day (disputes/metrics_rollup.py)."""

    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


def _tz() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _share(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 3)


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


# --- The complaints' own columns ------------------------------------------------------------


def _closing_annotations() -> dict[str, Any]:
    withdrawn_at = (
        DisputeEvent.objects.filter(dispute_id=OuterRef("pk"), type=EventType.WITHDRAWN)
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    paid_first_at = (
        DisputeEvent.objects.filter(dispute_id=OuterRef("pk"), type__in=PAID_FIRST_EVENTS)
        .order_by("created_at", "id")
        .values("created_at")[:1]
    )
    earlier = Dispute.objects.filter(
        buyer_id=OuterRef("buyer_id"),
        merchant_id=OuterRef("merchant_id"),
        filed_at__lt=OuterRef("filed_at"),
        filed_at__gte=OuterRef("filed_at") - timedelta(days=REPEAT_DAYS),
    )
    return {
        "closed_at": Case(
            When(status=Status.RESOLVED, then=F("resolved_at")),
            When(status=Status.WITHDRAWN, then=Subquery(withdrawn_at)),
            default=None,
            output_field=DateTimeField(),
        ),
        "paid_first_at": Subquery(paid_first_at, output_field=DateTimeField()),
        "is_repeat": Exists(earlier),
    }


def _aggregates(rng: Span) -> dict[str, Any]:
    filed = Q(filed_at__gte=rng.start, filed_at__lt=rng.end)
    closed = Q(closed_at__gte=rng.start, closed_at__lt=rng.end)
    resolved = closed & Q(status=Status.RESOLVED)
    paid_first = Q(paid_first_at__gte=rng.start, paid_first_at__lt=rng.end)
    money: DecimalField[Decimal, Decimal] = DecimalField(max_digits=14, decimal_places=2)
    return {
        "filed": Count("pk", filter=filed),
        "resolved": Count("pk", filter=resolved),
        "withdrawn": Count("pk", filter=closed & Q(status=Status.WITHDRAWN)),
        "buyer_favour": Count("pk", filter=resolved & Q(outcome__in=IN_BUYERS_FAVOUR)),
        "compensated": Coalesce(Sum("paid_out", filter=closed), Value(ZERO), output_field=money),
        "paid_first": Count("pk", filter=paid_first),
        "paid_first_amount": Coalesce(
            Sum("paid_out", filter=paid_first), Value(ZERO), output_field=money
        ),
        "recovered": Coalesce(Sum("recovered", filter=paid_first), Value(ZERO), output_field=money),
        "repeats": Count("pk", filter=filed & Q(is_repeat=True)),
    }


def _relevant(rng: Range) -> Q:
    """The complaints any figure of the range may count — filed, resolved, withdrawn or paid
    first in it — each an indexed range (the aggregates then filter exactly)."""
    moments = DisputeEvent.objects.filter(
        created_at__gte=rng.start,
        created_at__lt=rng.end,
        type__in=(EventType.WITHDRAWN, *PAID_FIRST_EVENTS),
    ).values("dispute_id")
    return (
        Q(filed_at__gte=rng.start, filed_at__lt=rng.end)
        | Q(resolved_at__gte=rng.start, resolved_at__lt=rng.end)
        | Q(pk__in=moments)
    )


def _dispute_figures(rng: Range, merchant_id: int | None) -> dict[str, Any]:
    qs = Dispute.objects.filter(_relevant(rng))
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id)
    return qs.annotate(**_closing_annotations()).aggregate(**_aggregates(rng))


def _dispute_figures_by_merchant(rng: Range, merchant_ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = (
        Dispute.objects.filter(_relevant(rng), merchant_id__in=merchant_ids)
        .annotate(**_closing_annotations())
        .values("merchant_id")
        .annotate(**_aggregates(rng))
        .order_by()
    )
    return {row["merchant_id"]: row for row in rows}


def _review_figures(rng: Range, merchant_id: int | None) -> dict[str, int]:
    qs = DisputeEvent.objects.filter(
        created_at__gte=rng.start,
        created_at__lt=rng.end,
        type__in=(EventType.RULED, EventType.REVIEW_EXPIRED),
    )
    if merchant_id is not None:
        qs = qs.filter(dispute__merchant_id=merchant_id)
    ruled = Q(type=EventType.RULED)
    return qs.aggregate(
        ended=Count("pk"),
        in_time=Count("pk", filter=ruled & Q(created_at__lte=F("dispute__review_due"))),
    )


def _decided_automatically() -> Q:
    """Resolved by the automatic check's outcome (an AUTO_DECIDED event), never appealed."""
    auto = DisputeEvent.objects.filter(dispute_id=OuterRef("pk"), type=EventType.AUTO_DECIDED)
    return Q(Exists(auto), decided_by="system", appealed_at__isnull=True)


def _time_to_outcome(
    rng: Range, merchant_id: int | None, *, automatic: bool = False
) -> dict[str, Any]:
    """Median and 90th percentile (nearest rank) of resolved_at − filed_at, in SQL: only the
    rows at those ranks come back. `automatic`: of the complaints the automatic check
    decided only."""
    qs = Dispute.objects.filter(
        status=Status.RESOLVED, resolved_at__gte=rng.start, resolved_at__lt=rng.end
    )
    if automatic:
        qs = qs.filter(_decided_automatically())
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id)
    ranked = (
        qs.annotate(
            took=ExpressionWrapper(F("resolved_at") - F("filed_at"), output_field=DurationField())
        )
        .annotate(
            rn=Window(RowNumber(), order_by=[F("took").asc(), F("id").asc()]),
            cnt=Window(Count("pk")),
        )
        .filter(Q(rn=(F("cnt") + 1) / 2) | Q(rn=(F("cnt") + 2) / 2) | Q(rn=(F("cnt") * 9 + 9) / 10))
        .values_list("rn", "cnt", "took")
        .order_by()
    )
    at = {rn: took for rn, _cnt, took in ranked}
    count = next((cnt for _rn, cnt, _took in ranked), 0) if at else 0
    return timing(count, at, automatic=automatic)


def ranks(count: int) -> tuple[int, int, int]:
    """The 1-based ranks the median (the middle one, or the middle two) and the 90th
    percentile (nearest rank) of `count` sorted values read."""
    return (count + 1) // 2, (count + 2) // 2, (count * 9 + 9) // 10


def timing(count: int, at: dict[int, timedelta], *, automatic: bool = False) -> dict[str, Any]:
    """The time-to-outcome figures from the values at `ranks(count)` (the live SQL and the
    daily figures of disputes/metrics_rollup.py both end here)."""
    if not count:
        empty: dict[str, Any] = {"count": 0, "median_hours": None, "p90_hours": None}
        return {**empty, "median_minutes": None} if automatic else empty

    def hours(value: timedelta) -> float:
        return round(value.total_seconds() / 3600, 1)

    middle = [at[(count + 1) // 2], at[(count + 2) // 2]]
    median = (middle[0] + middle[1]) / 2
    out: dict[str, Any] = {
        "count": count,
        "median_hours": hours(median),
        "p90_hours": hours(at[(count * 9 + 9) // 10]),
    }
    if automatic:  # decided within a sweep: minutes say more than hours
        out["median_minutes"] = round(median.total_seconds() / 60, 1)
    return out


# --- The shop record's figures over the range --------------------------------------------


def _params(rng: Span, **extra: Any) -> dict[str, Any]:
    adapt = connection.ops.adapt_datetimefield_value
    return {
        "since": adapt(rng.start),
        "until": adapt(rng.end),
        "now": adapt(timezone.now()),
        **extra,
    }


def _shop_totals(rng: Range, merchant_id: int | None) -> dict[str, Any]:
    sql = _shop_stats_sql(one_merchant=merchant_id is not None, bounded=True)
    query = (
        f"WITH {sql} SELECT "  # noqa: S608 - no value in the text, all parameters
        "(SELECT COALESCE(SUM(orders), 0) FROM o), "
        "COALESCE(SUM(complaints), 0), COALESCE(SUM(clock_settled), 0), "
        "COALESCE(SUM(answered_in_time), 0), COALESCE(SUM(satisfaction * ratings), 0), "
        "COALESCE(SUM(ratings), 0) FROM d"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, _params(rng, merchant=merchant_id))
        orders, complaints, settled, in_time, rating_sum, ratings = cursor.fetchone()
    return {
        "orders": int(orders),
        "complaints": int(complaints),
        "settled": int(settled),
        "in_time": int(in_time),
        # A sum of whole scores (read back as AVG × COUNT per shop): rounded, it is exact.
        "rating_sum": float(round(float(rating_sum))),
        "ratings": int(ratings),
    }


def _shop_rows(rng: Range, *, order_by: str, where: str, limit: int) -> list[dict[str, Any]]:
    from orders.models import Merchant

    sql = _shop_stats_sql(one_merchant=False, bounded=True)
    merchant_t = Merchant._meta.db_table
    query = (
        f"WITH {sql} SELECT d.merchant_id, m.shop_name, COALESCE(o.orders, 0), d.complaints, "  # noqa: S608
        "d.clock_settled, d.answered_in_time, d.satisfaction, d.ratings "
        f"FROM d LEFT JOIN o ON o.merchant_id = d.merchant_id "
        f"JOIN {merchant_t} m ON m.id = d.merchant_id "
        f"WHERE {where} ORDER BY {order_by} LIMIT %(limit)s"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, _params(rng, limit=limit, min_orders=SHOP_RECORD_MIN_ORDERS))
        rows = cursor.fetchall()
    out = []
    for merchant_id, name, orders, complaints, settled, in_time, satisfaction, ratings in rows:
        out.append(
            shop_row(
                merchant_id,
                name,
                orders=int(orders),
                complaints=int(complaints),
                settled=int(settled or 0),
                in_time=int(in_time or 0),
                satisfaction=float(satisfaction) if ratings else None,
            )
        )
    return out


def shop_row(
    merchant_id: int,
    name: str,
    *,
    orders: int,
    complaints: int,
    settled: int,
    in_time: int,
    satisfaction: float | None,
) -> dict[str, Any]:
    """One shop's row of the top list and the per-shop table."""
    return {
        "merchant_id": merchant_id,
        "shop_name": name,
        "orders": orders,
        "complaints_filed": complaints,
        "complaints_per_1000": round(complaints * 1000 / orders, 1) if orders else None,
        "merchant_in_time": _share(in_time, settled),
        "satisfaction": round(satisfaction, 2) if satisfaction is not None else None,
    }


def add_own_figures(row: dict[str, Any], figures: dict[str, Any]) -> None:
    """A shop row's figures of its complaints' own columns (resolved, paid first, …)."""
    closed = figures["resolved"] + figures["withdrawn"]
    row.update(
        resolved=figures["resolved"],
        resolution_rate=_share(figures["resolved"], closed),
        buyer_favour_share=_share(figures["buyer_favour"], figures["resolved"]),
        paid_first=figures["paid_first"],
        compensated=_money(figures["compensated"]),
        repeat_rate=_share(figures["repeats"], row["complaints_filed"]),
    )


# --- What the page, the CSV and the API show ------------------------------------------------


def metrics(rng: Range, *, merchant_id: int | None = None) -> dict[str, Any]:
    """Every figure over the range, for the marketplace or one merchant (see DEFINITIONS)."""
    return figures_from(
        rng,
        merchant_id,
        own=_dispute_figures(rng, merchant_id),
        shop=_shop_totals(rng, merchant_id),
        reviews=_review_figures(rng, merchant_id),
        took=_time_to_outcome(rng, merchant_id),
        took_automatic=_time_to_outcome(rng, merchant_id, automatic=True),
    )


def figures_from(
    rng: Range,
    merchant_id: int | None,
    *,
    own: dict[str, Any],
    shop: dict[str, Any],
    reviews: dict[str, int],
    took: dict[str, Any],
    took_automatic: dict[str, Any],
) -> dict[str, Any]:
    """The figures from their sums (the live SQL's, or the daily figures')."""
    closed = own["resolved"] + own["withdrawn"]
    return {
        "from": rng.first.isoformat(),
        "to": rng.last.isoformat(),
        "merchant": merchant_id,
        "complaints_filed": own["filed"],
        "orders": shop["orders"],
        "complaints_per_1000": (
            round(shop["complaints"] * 1000 / shop["orders"], 1) if shop["orders"] else None
        ),
        "resolved": own["resolved"],
        "withdrawn": own["withdrawn"],
        "resolution_rate": _share(own["resolved"], closed),
        "buyer_favour": own["buyer_favour"],
        "buyer_favour_share": _share(own["buyer_favour"], own["resolved"]),
        "time_to_outcome": took,
        "decided_automatically": took_automatic["count"],
        "decided_automatically_share": _share(took_automatic["count"], own["resolved"]),
        "automatic_time_to_outcome": took_automatic,
        "merchant_answers_settled": shop["settled"],
        "merchant_answers_in_time": shop["in_time"],
        "merchant_in_time": _share(shop["in_time"], shop["settled"]),
        "reviews_ended": reviews["ended"],
        "reviews_in_time": reviews["in_time"],
        "review_in_time": _share(reviews["in_time"], reviews["ended"]),
        "paid_first": own["paid_first"],
        "paid_first_amount": _money(own["paid_first_amount"]),
        "recovered": _money(own["recovered"]),
        "compensated": _money(own["compensated"]),
        "repeat_complaints": own["repeats"],
        "repeat_rate": _share(own["repeats"], own["filed"]),
        "ratings": shop["ratings"],
        "satisfaction": (
            round(shop["rating_sum"] / shop["ratings"], 2) if shop["ratings"] else None
        ),
    }


def top_merchants(rng: Range, limit: int = TOP_MERCHANTS) -> list[dict[str, Any]]:
    """Shops with at least SHOP_RECORD_MIN_ORDERS paid orders in the range, most complaints
    per 1,000 orders first."""
    return _shop_rows(
        rng,
        where="o.orders >= %(min_orders)s",
        order_by="d.complaints * 1.0 / o.orders DESC, d.complaints DESC, d.merchant_id",
        limit=limit,
    )


def by_merchant(rng: Range, limit: int = MERCHANT_ROWS) -> list[dict[str, Any]]:
    """The shops with the most complaints filed in the range (at most `limit`), each with its
    figures: the shop record's from one query, the complaints' own from another."""
    rows = _shop_rows(rng, where="1 = 1", order_by="d.complaints DESC, d.merchant_id", limit=limit)
    own = _dispute_figures_by_merchant(rng, [row["merchant_id"] for row in rows])
    for row in rows:
        figures = own.get(row["merchant_id"])
        if figures is not None:
            add_own_figures(row, figures)
    return rows


def daily_filed(rng: Range, *, merchant_id: int | None = None) -> list[tuple[date, int]]:
    """Complaints filed per day of the range (days without any included), for the chart."""
    qs = Dispute.objects.filter(filed_at__gte=rng.start, filed_at__lt=rng.end)
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id)
    counts = dict(
        qs.annotate(day=TruncDate("filed_at", tzinfo=_tz()))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("day", "n")
    )
    return [
        (rng.first + timedelta(days=i), counts.get(rng.first + timedelta(days=i), 0))
        for i in range(rng.days)
    ]


# --- The range a request asks for, and the CSV ---------------------------------------------


class RangeForm(forms.Form):
    """`from`, `to` (dates, both included) and `merchant` (a shop's number), as the page,
    the CSV and the API take them; empty dates mean the last 30 days."""

    start = forms.DateField(label=_("from"), required=False)
    end = forms.DateField(label=_("to"), required=False)
    merchant = forms.CharField(label=_("shop (name or number)"), required=False, max_length=120)

    FIELD_NAMES = {"start": "from", "end": "to"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["start"].widget = forms.DateInput(attrs={"type": "date"})
        self.fields["end"].widget = forms.DateInput(attrs={"type": "date"})

    def add_prefix(self, field_name: str) -> str:
        # The query string says `from` and `to` (Python cannot name a field "from").
        return self.FIELD_NAMES.get(field_name, field_name)

    # Dates a range may name: far from date.min and date.max, so the arithmetic on them
    # (30 days back or on, the day after the last) cannot overflow (a 500 before).
    EARLIEST = date(2000, 1, 1)
    LATEST = date(2999, 12, 31)

    def _in_bounds(self, name: str) -> date | None:
        value: date | None = self.cleaned_data.get(name)
        if value is not None and not self.EARLIEST <= value <= self.LATEST:
            raise forms.ValidationError(
                _("Enter a date between %(earliest)s and %(latest)s.")
                % {"earliest": self.EARLIEST.isoformat(), "latest": self.LATEST.isoformat()}
            )
        return value

    def clean_start(self) -> date | None:
        return self._in_bounds("start")

    def clean_end(self) -> date | None:
        return self._in_bounds("end")

    # A part of a name matching more shops than this is asked again, naming a few of them.
    SHOPS_NAMED = 5

    def clean_merchant(self) -> int | None:
        """The shop's number: typed as its number, its whole name (as people read it:
        kamen_complaints.text.name_key) or a part of its name that only it has."""
        from orders.models import Merchant

        raw = (self.cleaned_data.get("merchant") or "").strip()
        if not raw:
            return None
        shops = Merchant.objects.order_by("shop_name")
        if raw.isdigit():
            if not shops.filter(pk=int(raw)).exists():
                raise forms.ValidationError(_("No shop has this number."))
            return int(raw)
        exact = shops.filter(shop_name_key=name_key(raw)).values_list("pk", flat=True).first()
        if exact is not None:
            return int(exact)
        found = list(
            shops.filter(shop_name__icontains=raw).values_list("pk", "shop_name")[
                : self.SHOPS_NAMED + 1
            ]
        )
        if not found:
            raise forms.ValidationError(_("No shop has this name or number."))
        if len(found) > 1:
            separator = pgettext("separator of listed items", ", ")
            names = separator.join(name for _pk, name in found[: self.SHOPS_NAMED])
            more = "…" if len(found) > self.SHOPS_NAMED else ""
            raise forms.ValidationError(
                _("Several shops match “%(text)s”: %(names)s%(more)s. Type more of the name.")
                % {"text": raw, "names": names, "more": more}
            )
        return int(found[0][0])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        default = Range.default()
        start: date | None = data.get("start")
        end: date | None = data.get("end")
        if start is not None and end is not None:
            first, last = start, end
        elif end is not None:
            first, last = end - timedelta(days=29), end
        elif start is not None:
            first, last = start, min(start + timedelta(days=29), timezone.localdate())
        else:
            first, last = default.first, default.last
        if first > last:
            self.add_error("end", _("The end of the range cannot be before its start."))
        elif (last - first).days + 1 > MAX_RANGE_DAYS:
            self.add_error("end", _("A range is at most %(days)s days.") % {"days": MAX_RANGE_DAYS})
        else:
            data["range"] = Range(first=first, last=last)
        return data

    def errors_by_parameter(self) -> dict[str, list[str]]:
        return {
            self.add_prefix(name): [str(e) for e in errors] for name, errors in self.errors.items()
        }


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


FIGURE_ROWS = (
    ("complaints_filed", "complaints_filed"),
    ("orders", "complaints_per_1000"),
    ("complaints_per_1000", "complaints_per_1000"),
    ("resolved", "resolution_rate"),
    ("withdrawn", "resolution_rate"),
    ("resolution_rate", "resolution_rate"),
    ("buyer_favour_share", "buyer_favour_share"),
    ("median_hours", "time_to_outcome"),
    ("p90_hours", "time_to_outcome"),
    ("decided_automatically", "decided_automatically"),
    ("decided_automatically_share", "decided_automatically"),
    ("automatic_median_minutes", "decided_automatically"),
    ("merchant_in_time", "merchant_in_time"),
    ("review_in_time", "review_in_time"),
    ("paid_first", "paid_first"),
    ("paid_first_amount", "paid_first"),
    ("recovered", "paid_first"),
    ("compensated", "compensated"),
    ("repeat_rate", "repeat_rate"),
    ("satisfaction", "satisfaction"),
)


def flat(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures one level deep (the time to outcome's median and 90th percentile)."""
    out = {
        k: v
        for k, v in figures.items()
        if k not in ("time_to_outcome", "automatic_time_to_outcome")
    }
    out.update(figures["time_to_outcome"])
    out["automatic_median_minutes"] = figures["automatic_time_to_outcome"]["median_minutes"]
    return out


def live_report(rng: Range, *, merchant_id: int | None = None) -> dict[str, Any]:
    """What the page and the API show, computed from the complaints themselves (every
    complaint of the range read: the reference disputes/metrics_rollup.report must equal)."""
    return {
        "range": rng,
        "merchant_id": merchant_id,
        "figures": metrics(rng, merchant_id=merchant_id),
        "top_merchants": top_merchants(rng),
        "by_merchant": by_merchant(rng) if merchant_id is None else [],
        "daily": daily_filed(rng, merchant_id=merchant_id),
    }


def as_csv(report: dict[str, Any]) -> str:
    """A report's figures (name, value, definition), then one row per shop."""
    rng: Range = report["range"]
    merchant_id = report["merchant_id"]
    out = io.StringIO()
    writer = csv.writer(out)
    values = flat(report["figures"])
    texts = definitions()
    writer.writerow(["figure", "value", "definition"])
    writer.writerow(["from", rng.first.isoformat(), ""])
    writer.writerow(["to", rng.last.isoformat(), ""])
    writer.writerow(["merchant", _csv_value(merchant_id), ""])
    for name, definition in FIGURE_ROWS:
        writer.writerow([name, _csv_value(values[name]), texts[definition]])
    writer.writerow([])
    columns = [
        "merchant_id",
        "shop_name",
        "orders",
        "complaints_filed",
        "complaints_per_1000",
        "merchant_in_time",
        "resolved",
        "resolution_rate",
        "buyer_favour_share",
        "paid_first",
        "compensated",
        "repeat_rate",
        "satisfaction",
    ]
    writer.writerow(columns)
    for row in report["by_merchant"]:
        writer.writerow([_csv_value(row.get(c)) for c in columns])
    return out.getvalue()
