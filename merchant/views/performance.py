"""The merchant dashboard's performance page, /merchant/performance/?days=7|30|90 (README
"Merchant dashboard"): the shop's complaint record over the window — complaints per 1,000
orders, the share answered before the deadline, the share lost, the money paid out, the
average satisfaction — each beside the marketplace median, as bars drawn on the server (SVG
attributes only: the Content-Security-Policy allows no inline style and the page no script)
with the numbers written beside them.

The figures come from the one selector behind the public shop record,
disputes.selectors.shop_records (aggregate SQL, cached): every window and the medians from one
computation at one moment, so the 7 days never count more than the 30 or the 90; the owner
and the team see them alike, and GET /api/v1/merchant/stats/ answers the same record."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from disputes import selectors
from disputes.templatetags.shop_record import figure, percent
from kamen_complaints.money import format_yuan
from merchant.access import current_merchant, merchant_required

DEFAULT_DAYS = 30


class WindowForm(forms.Form):
    days = forms.TypedChoiceField(
        label=gettext_lazy("Period"),
        choices=[(d, d) for d in selectors.SHOP_RECORD_DAYS],
        coerce=int,
        required=False,
        empty_value=None,
    )


@dataclass
class Bar:
    """One bar of a chart: its value as text and its length in the SVG's 0–100 box."""

    text: str
    length: float


@dataclass
class Metric:
    key: str
    label: str
    hint: str
    shop: Bar
    median: Bar
    # "better", "worse" or "" (equal, or no figure to compare)
    verdict: str


def _length(value: float | None, scale: float) -> float:
    if value is None or scale <= 0:
        return 0.0
    return round(min(max(value / scale, 0.0), 1.0) * 100, 1)


def _money_text(value: Decimal | None) -> str:
    return "—" if value is None else format_yuan(value)


def metrics(record: dict[str, Any]) -> list[Metric]:
    """The five figures of a shop record as chart rows. Each chart's scale is the larger of
    the shop's figure and the median (shares: 100 %, satisfaction: 5), so the two bars of a
    row compare at a glance."""
    median = record["marketplace_median"]
    rows: list[Metric] = []
    spec: tuple[tuple[str, str, str, bool, Any, float | None], ...] = (
        (
            "complaints_per_1000",
            _("Complaints per 1,000 orders"),
            _("Lower is better."),
            False,
            lambda v: figure(v, 1),
            None,
        ),
        (
            "answered_in_time",
            _("Answered before the deadline"),
            _("Of the complaints whose answer time has run; higher is better."),
            True,
            percent,
            1.0,
        ),
        (
            "lost_share",
            _("Complaints lost"),
            _(
                "Of the resolved complaints, those decided for the buyer by platform staff or by "
                "the clock (not answered in time); lower is better."
            ),
            False,
            percent,
            1.0,
        ),
        (
            "paid_out",
            _("Money paid out"),
            _("Compensation recovered from the deposit for these complaints; lower is better."),
            False,
            _money_text,
            None,
        ),
        (
            "satisfaction",
            _("Buyers' satisfaction (1–5)"),
            _("The average rating buyers gave after their complaint; higher is better."),
            True,
            lambda v: figure(v, 2),
            5.0,
        ),
    )
    for key, label, hint, higher_better, fmt, fixed_scale in spec:
        shop_value, median_value = record.get(key), median.get(key)
        numbers = [float(v) for v in (shop_value, median_value) if v is not None]
        scale = fixed_scale if fixed_scale is not None else max(numbers, default=0.0)
        verdict = ""
        if shop_value is not None and median_value is not None and shop_value != median_value:
            better = (shop_value > median_value) == higher_better
            verdict = "better" if better else "worse"
        rows.append(
            Metric(
                key=key,
                label=label,
                hint=hint,
                shop=Bar(fmt(shop_value), _length(_float(shop_value), scale)),
                median=Bar(fmt(median_value), _length(_float(median_value), scale)),
                verdict=verdict,
            )
        )
    return rows


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@merchant_required
@require_GET
def performance(request: HttpRequest) -> HttpResponse:
    merchant = current_merchant(request)
    form = WindowForm(request.GET)
    status = 200
    days = DEFAULT_DAYS
    if form.is_valid():
        days = form.cleaned_data["days"] or DEFAULT_DAYS
    else:
        status = 400
    # Every figure on the page from one computation at one moment (selectors.shop_records).
    records = selectors.shop_records(merchant.pk)
    record = records[days]
    windows = [{"days": d, "record": records[d]} for d in selectors.SHOP_RECORD_DAYS]
    context = {
        "form": form,
        "days": days,
        "record": record,
        "metrics": metrics(record),
        "windows": windows,
        "min_orders": selectors.SHOP_RECORD_MIN_ORDERS,
    }
    return render(request, "merchant/performance.html", context, status=status)
