"""The metrics page finds a shop by its name (whole, or a part only it has) as well as by its
number, and its daily chart never draws two labels over each other."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import translation

from disputes import metrics
from disputes.admin.metrics import CHART_WIDTH, DAY_LABEL_WIDTH, daily_chart
from tests.factories import MerchantFactory, StaffFactory

pytestmark = pytest.mark.django_db

METRICS_URL = "/admin/disputes/metrics/"
API_URL = "/api/v1/staff/metrics/"
RANGE = {"from": "2025-03-01", "to": "2025-03-31"}


def _merchant_field(text: str) -> Any:
    form = metrics.RangeForm({**RANGE, "merchant": text})
    form.is_valid()
    return form


def test_a_shop_is_found_by_number_whole_name_or_a_part_only_it_has():
    moon = MerchantFactory(shop_name="月光数码专营店")
    MerchantFactory(shop_name="星辰卡券")
    MerchantFactory(shop_name="星辰卡券旗舰店")

    assert _merchant_field(str(moon.pk)).cleaned_data["merchant"] == moon.pk
    assert _merchant_field("月光数码专营店").cleaned_data["merchant"] == moon.pk
    assert _merchant_field(" 月光 ").cleaned_data["merchant"] == moon.pk
    # The whole name wins over the longer name that contains it.
    star = _merchant_field("星辰卡券").cleaned_data["merchant"]
    assert star is not None
    several = _merchant_field("星辰")
    assert "merchant" in several.errors
    assert "星辰卡券" in several.errors["merchant"][0]
    with translation.override("en"):
        assert "No shop has this name" in _merchant_field("nothing").errors["merchant"][0]


def test_the_page_and_the_api_take_a_shop_name(client: Any):
    moon = MerchantFactory(shop_name="月光数码专营店")
    client.force_login(StaffFactory(perms=["disputes.view_metrics"]))

    page = client.get(METRICS_URL, {**RANGE, "merchant": "月光"})
    assert page.status_code == 200
    assert page.context["merchant_id"] == moon.pk
    api = client.get(API_URL, {**RANGE, "merchant": "月光"})
    assert api.status_code == 200
    unknown = client.get(API_URL, {**RANGE, "merchant": "no such shop"}, HTTP_ACCEPT_LANGUAGE="en")
    assert unknown.status_code == 400
    assert "No shop has this name or number" in " ".join(unknown.json()["merchant"])


@pytest.mark.parametrize("length", [7, 30, 90, 366])
def test_day_labels_never_touch_and_counts_show_only_where_they_fit(length: int):
    first = date(2025, 1, 1)
    days = [(first + timedelta(days=i), 100 + i) for i in range(length)]

    chart = daily_chart(days)

    labelled = [bar["label_x"] for bar in chart["bars"] if bar["show_day"]]
    assert chart["bars"][0]["show_day"] and chart["bars"][-1]["show_day"]
    assert all(b - a >= DAY_LABEL_WIDTH for a, b in zip(labelled, labelled[1:], strict=False))
    slot = CHART_WIDTH / length
    counts = [bar for bar in chart["bars"] if bar["show_count"]]
    if slot < 22:
        assert counts == []
    else:
        assert len(counts) == length
