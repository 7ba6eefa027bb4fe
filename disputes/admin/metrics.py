"""The metrics page in the admin (`/admin/disputes/metrics/`) and its CSV export
(`?format=csv`), for staff holding `disputes.view_metrics`. Every figure comes from
disputes/metrics.py; the charts are SVG drawn on the server (no script, no library)."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from disputes import metrics, metrics_rollup
from disputes.models import Metrics
from disputes.selectors import channel_complaint_figures
from orders.payments import channel_label

PERMISSION = "disputes.view_metrics"

# Chart geometry (SVG user units; the SVG scales to its box).
CHART_WIDTH = 720
CHART_HEIGHT = 180
BAR_ROW = 24


# What a label needs across (SVG units at the chart's font size): a day "03-14" and a count
# of up to three digits. Labels are left out rather than drawn over each other.
DAY_LABEL_WIDTH = 44
COUNT_LABEL_WIDTH = 22


def _day_label_step(count: int, slot: float) -> int:
    """Label every n-th day: at least every 7th, and far enough apart not to touch."""
    return max(7 if count > 14 else 1, math.ceil(DAY_LABEL_WIDTH / slot))


def daily_chart(days: list[tuple[date, int]]) -> dict[str, Any]:
    """Vertical bars, one per day, each with its count when a bar is wide enough for it; a
    day label every few days (the last day always), never two labels on top of each other;
    each bar's day and count are in its tooltip whatever the range."""
    top = max((n for _d, n in days), default=0) or 1
    slot = CHART_WIDTH / max(len(days), 1)
    plot = CHART_HEIGHT - 40
    step = _day_label_step(len(days), slot)
    last = len(days) - 1
    show_counts = slot >= COUNT_LABEL_WIDTH
    bars = []
    for i, (day, n) in enumerate(days):
        height = round(plot * n / top, 1)
        x = round(i * slot + slot * 0.15, 1)
        bars.append(
            {
                "x": x,
                "y": round(20 + plot - height, 1),
                "width": round(slot * 0.7, 1),
                "height": height,
                "count": n,
                "label_x": round(x + slot * 0.35, 1),
                "label_y": round(16 + plot - height, 1),
                "day": day,
                "show_count": show_counts and n > 0,
                # The last day is always labelled; a step label too close before it is not.
                "show_day": i == last or (i % step == 0 and last - i >= step),
            }
        )
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "bars": bars, "axis_y": 20 + plot}


def rate_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Horizontal bars: complaints per 1,000 orders per shop, the number at the bar's end."""
    top = max((row["complaints_per_1000"] or 0 for row in rows), default=0) or 1
    label_width = 200
    room = CHART_WIDTH - label_width - 70
    bars = []
    for i, row in enumerate(rows):
        width = round(room * (row["complaints_per_1000"] or 0) / top, 1)
        bars.append(
            {
                "y": i * BAR_ROW + 4,
                "text_y": i * BAR_ROW + 18,
                "x": label_width,
                "width": width,
                "value_x": label_width + width + 6,
                "name": row["shop_name"],
                "value": row["complaints_per_1000"],
            }
        )
    return {
        "width": CHART_WIDTH,
        "height": max(len(rows), 1) * BAR_ROW + 8,
        "label_x": label_width - 8,
        "bars": bars,
    }


def dash(value: Any) -> Any:
    return "—" if value is None else value


def channel_line(channel: dict[str, Any]) -> tuple[str, str, str]:
    """The metrics page's line for the complaints filed on the payment channels
    (disputes.selectors.channel_complaint_figures, live beside the daily figures)."""
    seconds = channel["median_first_reply_seconds"]
    value = _(
        "%(n)s (%(channels)s) · first reply on the channel: median %(hours)s h "
        "(%(replied)s replied)"
    ) % {
        "n": channel["channel_complaints"],
        "channels": "，".join(
            f"{channel_label(name)} {count}" for name, count in channel["by_channel"].items()
        )
        or "—",
        "hours": dash(None if seconds is None else round(seconds / 3600, 1)),
        "replied": channel["replied"],
    }
    definition = _(
        "Complaints buyers filed on WeChat Pay or Alipay that arrived in the range, and the "
        "median time from a complaint's arrival to the platform's first reply sent to the "
        "channel (of those replied to)."
    )
    return _("Complaints filed on the payment channel"), value, definition


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@admin.register(Metrics)
class MetricsAdmin(admin.ModelAdmin):
    """One page, no list: the index links here for those allowed to see it."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        from django.urls import path

        return [
            path(
                "",
                self.admin_site.admin_view(self.changelist_view),
                name="disputes_metrics_changelist",
            )
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = metrics.RangeForm(request.GET or None)
        rng = metrics.Range.default()
        merchant_id = None
        if request.GET and form.is_valid():
            rng = form.cleaned_data["range"]
            merchant_id = form.cleaned_data.get("merchant")
        report = metrics_rollup.report(rng, merchant_id=merchant_id)
        if request.GET and form.is_valid() and request.GET.get("format") == "csv":
            response = HttpResponse(
                metrics.as_csv(report),
                content_type="text/csv; charset=utf-8",
            )
            name = f"complaint-metrics-{rng.first:%Y%m%d}-{rng.last:%Y%m%d}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        figures = report["figures"]
        top = report["top_merchants"]
        rows = report["by_merchant"]
        query = request.GET.copy()
        query["format"] = "csv"
        if not request.GET:
            query["from"], query["to"] = rng.first.isoformat(), rng.last.isoformat()
        d = metrics.DEFINITIONS
        t = figures["time_to_outcome"]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Complaint metrics"),
            "opts": self.model._meta,
            "form": form,
            "range": rng,
            "merchant_id": merchant_id,
            "figures": figures,
            "promise": [
                (
                    _("Merchant answers within 24 h"),
                    percent(figures["merchant_in_time"]),
                    d["merchant_in_time"],
                ),
                (
                    _("Platform rulings within 48 h"),
                    percent(figures["review_in_time"]),
                    d["review_in_time"],
                ),
                (_("Complaints paid first"), figures["paid_first"], d["paid_first"]),
            ],
            "lines": [
                (_("Complaints filed"), figures["complaints_filed"], d["complaints_filed"]),
                (
                    _("Complaints per 1,000 orders"),
                    _("%(rate)s (%(n)s paid orders)")
                    % {
                        "rate": dash(figures["complaints_per_1000"]),
                        "n": figures["orders"],
                    },
                    d["complaints_per_1000"],
                ),
                (
                    _("Resolution rate"),
                    _("%(rate)s (%(resolved)s resolved, %(withdrawn)s withdrawn)")
                    % {
                        "rate": percent(figures["resolution_rate"]),
                        "resolved": figures["resolved"],
                        "withdrawn": figures["withdrawn"],
                    },
                    d["resolution_rate"],
                ),
                (
                    _("Resolved in the buyer's favour"),
                    percent(figures["buyer_favour_share"]),
                    d["buyer_favour_share"],
                ),
                (
                    _("Time from filing to the final outcome"),
                    _("median %(median)s h · 90th percentile %(p90)s h (%(n)s complaints)")
                    % {
                        "median": dash(t["median_hours"]),
                        "p90": dash(t["p90_hours"]),
                        "n": t["count"],
                    },
                    d["time_to_outcome"],
                ),
                (
                    _("Decided by the platform's automatic check"),
                    _("%(rate)s (%(n)s complaints) · median %(median)s min to the outcome")
                    % {
                        "rate": percent(figures["decided_automatically_share"]),
                        "n": figures["decided_automatically"],
                        "median": dash(figures["automatic_time_to_outcome"]["median_minutes"]),
                    },
                    d["decided_automatically"],
                ),
                (
                    _("Merchant answers before their deadline"),
                    _("%(rate)s (%(in_time)s of %(settled)s)")
                    % {
                        "rate": percent(figures["merchant_in_time"]),
                        "in_time": figures["merchant_answers_in_time"],
                        "settled": figures["merchant_answers_settled"],
                    },
                    d["merchant_in_time"],
                ),
                (
                    _("Reviews decided before their deadline"),
                    _("%(rate)s (%(in_time)s of %(settled)s)")
                    % {
                        "rate": percent(figures["review_in_time"]),
                        "in_time": figures["reviews_in_time"],
                        "settled": figures["reviews_ended"],
                    },
                    d["review_in_time"],
                ),
                (
                    _("Paid first by the platform"),
                    _("%(count)s complaints, ¥%(paid)s paid, ¥%(recovered)s recovered")
                    % {
                        "count": figures["paid_first"],
                        "paid": figures["paid_first_amount"],
                        "recovered": figures["recovered"],
                    },
                    d["paid_first"],
                ),
                (_("Money compensated"), f"¥{figures['compensated']}", d["compensated"]),
                (
                    _("Repeat complaints"),
                    _("%(rate)s (%(n)s complaints)")
                    % {"rate": percent(figures["repeat_rate"]), "n": figures["repeat_complaints"]},
                    d["repeat_rate"],
                ),
                (
                    _("Average satisfaction"),
                    _("%(score)s / 5 (%(n)s ratings)")
                    % {
                        "score": dash(figures["satisfaction"]),
                        "n": figures["ratings"],
                    },
                    d["satisfaction"],
                ),
                channel_line(
                    channel_complaint_figures(rng.start, rng.end, merchant_id=merchant_id)
                ),
            ],
            "daily": daily_chart(report["daily"]),
            "top": rate_chart(top),
            "top_definition": d["top_merchants"] % {"min": metrics.SHOP_RECORD_MIN_ORDERS},
            "rows": [
                {
                    **row,
                    "in_time_pct": percent(row.get("merchant_in_time")),
                    "resolution_pct": percent(row.get("resolution_rate")),
                    "favour_pct": percent(row.get("buyer_favour_share")),
                    "repeat_pct": percent(row.get("repeat_rate")),
                }
                for row in rows
            ],
            "csv_query": query.urlencode(),
        }
        return TemplateResponse(request, "admin/disputes/metrics.html", context)
