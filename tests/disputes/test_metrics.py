"""The metrics (disputes/metrics.py) against a hand-built data set whose every figure is
worked out by hand below — including the boundaries: a complaint filed before the range and
closed inside it, one filed in the range's last minute and one a minute later, a withdrawal in
its first minute, an appeal, a paused review, a ruling after its deadline, a repeat complaint
30 days and one minute after the earlier one (not a repeat)."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db.models import Q

from disputes import metrics
from disputes.models import Dispute, DisputeEvent, DisputeRating, Status
from orders.models import Merchant, OrderStatus
from tests.factories import MerchantFactory, OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
MARCH = metrics.Range(first=date(2025, 3, 1), last=date(2025, 3, 31))


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=TZ)


class World:
    def __init__(self) -> None:
        self.a: Merchant = MerchantFactory(shop_name="甲店")
        self.b: Merchant = MerchantFactory(shop_name="乙店")
        self.product = {m.pk: ProductFactory(merchant=m) for m in (self.a, self.b)}
        self.users = {n: UserFactory(username=f"u{n}") for n in range(1, 9)}
        self.n = 0

    def orders(self, merchant: Merchant, count: int, when: datetime, *, paid: bool = True) -> None:
        for _ in range(count):
            OrderFactory(
                product=self.product[merchant.pk],
                buyer=self.users[1],
                status=OrderStatus.DELIVERED if paid else OrderStatus.PENDING_PAYMENT,
                created_at=when,
                paid_at=when if paid else None,
            )

    def complaint(
        self,
        merchant: Merchant,
        buyer: int,
        filed: datetime,
        *,
        events: list[tuple[str, str, datetime]] = (),  # type: ignore[assignment]
        rating: int | None = None,
        **fields: Any,
    ) -> Dispute:
        self.n += 1
        order = OrderFactory(
            product=self.product[merchant.pk],
            buyer=self.users[buyer],
            status=OrderStatus.DELIVERED,
            created_at=at(1, 1),
            paid_at=at(1, 1),
        )
        fields.setdefault("merchant_response_due", filed + timedelta(hours=24))
        dispute = Dispute.objects.create(
            number=f"TSMETRICS{self.n:04d}",
            order=order,
            buyer=self.users[buyer],
            merchant=merchant,
            reason="invalid_card_key",
            claimed_amount=Decimal("100.00"),
            filed_at=filed,
            **fields,
        )
        for type_, role, when in events:
            DisputeEvent.objects.create(dispute=dispute, type=type_, role=role, created_at=when)
        if rating is not None:
            DisputeRating.objects.create(dispute=dispute, buyer=dispute.buyer, score=rating)
        return dispute


def resolved(outcome: str, when: datetime, **more: Any) -> dict[str, Any]:
    return {"status": Status.RESOLVED, "outcome": outcome, "resolved_at": when, **more}


@pytest.fixture
def world() -> World:
    w = World()
    a, b = w.a, w.b
    # Paid orders placed in March: A 40 (one in the last second), B 10. Not counted: one of A's
    # placed before March, one at the first instant of April, one unpaid in March.
    w.orders(a, 39, at(3, 10))
    w.orders(a, 1, at(3, 31, 23, 59) + timedelta(seconds=59))
    w.orders(b, 10, at(3, 10))
    w.orders(a, 1, at(2, 28, 23, 59))
    w.orders(a, 1, at(4, 1, 0, 0))
    w.orders(a, 1, at(3, 10), paid=False)

    # D1 — filed before March (fast-tracked then: paid first in February), ruled in March.
    w.complaint(
        a, 1, at(2, 25),
        events=[("fast_tracked", "system", at(2, 25)), ("contested", "merchant", at(2, 25, 12)),
                ("ruled", "staff", at(3, 2))],
        review_due=at(3, 2, 12), fast_track=True, paid_out=Decimal("50.00"),
        rating=4, **resolved("refunded", at(3, 2)),
    )  # fmt: skip
    # D2 — answered in time, review paused a day (due moved to 6 Mar 20:00), ruled in time,
    # appealed, ruled again (final) 9 Mar: 144 h from filing, the pause included.
    w.complaint(
        a, 2, at(3, 3),
        events=[("contested", "merchant", at(3, 3, 20)),
                ("info_requested", "staff", at(3, 4)), ("review_resumed", "system", at(3, 5)),
                ("ruled", "staff", at(3, 6, 12)), ("appealed", "buyer", at(3, 8)),
                ("ruled", "staff", at(3, 9))],
        review_due=at(3, 10), appealed_at=at(3, 8), appeal_final=True,
        paid_out=Decimal("60.00"), rating=2, **resolved("refunded", at(3, 9)),
    )  # fmt: skip
    # D3 — the merchant stayed silent: default judgment 24 h 5 min after filing.
    w.complaint(
        a, 3, at(3, 10),
        events=[("default_judgment", "system", at(3, 11, 10, 5))],
        paid_out=Decimal("20.00"), recovered=Decimal("20.00"),
        **resolved("refunded", at(3, 11, 10, 5)),
    )  # fmt: skip
    # D4 — fast-tracked (paid first in March), the merchant accepted: u1's second complaint
    # about A within 30 days (D1) — a repeat.
    w.complaint(
        a, 1, at(3, 12),
        events=[("fast_tracked", "system", at(3, 12)), ("accepted", "merchant", at(3, 12, 15))],
        fast_track=True, paid_out=Decimal("10.00"), recovered=Decimal("10.00"), rating=5,
        **resolved("refunded", at(3, 12, 15)),
    )  # fmt: skip
    # D5 — offer in time, rejected, the review clock ran out (paid first, a missed review).
    w.complaint(
        a, 4, at(3, 15),
        events=[("offer_made", "merchant", at(3, 15, 11)),
                ("offer_rejected", "buyer", at(3, 15, 12)),
                ("review_expired", "system", at(3, 17, 11, 1))],
        review_due=at(3, 17, 11), paid_out=Decimal("40.00"),
        **resolved("refunded", at(3, 17, 11, 1)),
    )  # fmt: skip
    # D13 (u5 about A, 30 days and 1 minute before D6) and D6, withdrawn in March unanswered.
    w.complaint(a, 5, at(2, 18, 9, 59), **resolved("rejected", at(2, 19)))
    w.complaint(
        a, 5, at(3, 20), status=Status.WITHDRAWN,
        events=[("withdrawn", "buyer", at(3, 21))],
    )  # fmt: skip
    # D7 — u3's second complaint about A in 20 days (a repeat); resolved in April.
    w.complaint(
        a, 3, at(3, 30),
        events=[("accepted", "merchant", at(3, 30, 12))],
        **resolved("refunded", at(4, 1)),
    )  # fmt: skip
    # D12 — ruled in March in time, appealed, the final ruling in April.
    w.complaint(
        a, 8, at(3, 22),
        events=[("contested", "merchant", at(3, 22, 11)), ("ruled", "staff", at(3, 23)),
                ("appealed", "merchant", at(3, 24)), ("ruled", "staff", at(4, 3))],
        review_due=at(4, 4), appealed_at=at(3, 24), appeal_final=True,
        **resolved("rejected", at(4, 3)),
    )  # fmt: skip
    # D8 (B) — answered after the deadline, ruled an hour after the review deadline.
    w.complaint(
        b, 2, at(3, 5),
        events=[("contested", "merchant", at(3, 6, 11)), ("ruled", "staff", at(3, 7))],
        review_due=at(3, 7, 9), rating=1, **resolved("rejected", at(3, 7)),
    )  # fmt: skip
    # D9 (B) — filed in February, withdrawn half an hour into March.
    w.complaint(
        b, 6, at(2, 20), status=Status.WITHDRAWN,
        events=[("withdrawn", "buyer", at(3, 1, 0, 30))],
    )  # fmt: skip
    # D10 (B) — filed in the last minute of March, never answered; D11 a minute later (April).
    w.complaint(b, 7, at(3, 31, 23, 59))
    w.complaint(b, 7, at(4, 1, 0, 0))
    return w


def test_the_marketplace_in_march(world: World) -> None:
    m = metrics.metrics(MARCH)
    # Filed in March: D2 D3 D4 D5 D6 D7 D12 D8 D10 (not D1, D9, D13: February; D11: April).
    assert m["complaints_filed"] == 9
    # Paid orders placed in March: 40 + 10.  9 × 1000 / 50.
    assert m["orders"] == 50
    assert m["complaints_per_1000"] == 180.0
    # Closed in March: resolved D1 D2 D3 D4 D5 D8, withdrawn D6 D9 (D7, D12: April).
    assert (m["resolved"], m["withdrawn"], m["resolution_rate"]) == (6, 2, 0.75)
    # In the buyer's favour: all but D8 (rejected).
    assert (m["buyer_favour"], m["buyer_favour_share"]) == (5, 0.833)
    # Filing → outcome: D4 5 h, D3 24.08 h, D8 48 h, D5 49.02 h, D1 120 h, D2 144 h.
    # Median (48 + 49.02) / 2 = 48.5; the 90th percentile is rank ⌈5.4⌉ = 6: 144 h.
    assert m["time_to_outcome"] == {"count": 6, "median_hours": 48.5, "p90_hours": 144.0}
    # Merchant clocks settled of March's 9: all; answered in time D2 D4 D5 D7 D12.
    assert (m["merchant_answers_settled"], m["merchant_answers_in_time"]) == (9, 5)
    assert m["merchant_in_time"] == 0.556
    # Reviews ended in March: rulings D1, D2 ×2, D8, D12 and D5's clock running out; in time
    # D1, D2 ×2, D12 (D8 an hour late, D5 a miss).
    assert (m["reviews_ended"], m["reviews_in_time"], m["review_in_time"]) == (6, 4, 0.667)
    # Paid first in March: D4 (fast track) and D5 (review ran out); D1 was paid in February.
    assert m["paid_first"] == 2
    assert m["paid_first_amount"] == Decimal("50.00")
    assert m["recovered"] == Decimal("10.00")
    # Paid to buyers for the complaints closed in March: 50 + 60 + 20 + 10 + 40.
    assert m["compensated"] == Decimal("180.00")
    # Repeats: D4 (D1 15 days before), D7 (D3 20 days before); not D6 (D13 30 days 1 min).
    assert (m["repeat_complaints"], m["repeat_rate"]) == (2, 0.222)
    # Ratings of complaints filed in March: D2 2, D4 5, D8 1 (D1's 4 is February's).
    assert (m["ratings"], m["satisfaction"]) == (3, 2.67)


def test_one_merchant(world: World) -> None:
    m = metrics.metrics(MARCH, merchant_id=world.a.pk)
    assert (m["complaints_filed"], m["orders"], m["complaints_per_1000"]) == (7, 40, 175.0)
    assert (m["resolved"], m["withdrawn"], m["resolution_rate"]) == (5, 1, 0.833)
    assert m["buyer_favour_share"] == 1.0
    # 5, 24.08, 49.02, 120, 144: the median is the 3rd, the 90th percentile the 5th.
    assert m["time_to_outcome"] == {"count": 5, "median_hours": 49.0, "p90_hours": 144.0}
    assert (m["merchant_answers_settled"], m["merchant_answers_in_time"]) == (7, 5)
    assert (m["reviews_ended"], m["reviews_in_time"]) == (5, 4)
    assert (m["paid_first"], m["compensated"]) == (2, Decimal("180.00"))
    assert (m["repeat_complaints"], m["repeat_rate"]) == (2, 0.286)
    assert m["satisfaction"] == 3.5
    b = metrics.metrics(MARCH, merchant_id=world.b.pk)
    assert (b["complaints_filed"], b["complaints_per_1000"], b["merchant_in_time"]) == (2, 200.0, 0)
    assert (b["resolution_rate"], b["time_to_outcome"]["median_hours"]) == (0.5, 48.0)


def test_top_merchants_need_enough_orders(world: World) -> None:
    top = metrics.top_merchants(MARCH)
    # B's 200 per 1,000 rests on 10 orders, under the shop record's minimum of 30.
    assert [(row["shop_name"], row["complaints_per_1000"]) for row in top] == [("甲店", 175.0)]


def test_by_merchant_rows(world: World) -> None:
    rows = {row["shop_name"]: row for row in metrics.by_merchant(MARCH)}
    assert list(rows) == ["甲店", "乙店"]
    assert rows["甲店"]["complaints_filed"] == 7
    assert rows["甲店"]["resolution_rate"] == 0.833
    assert rows["甲店"]["merchant_in_time"] == 0.714
    assert rows["乙店"]["compensated"] == Decimal("0.00")
    assert rows["乙店"]["satisfaction"] == 1.0


def test_daily_filed_counts_local_days(world: World) -> None:
    days = dict(metrics.daily_filed(MARCH))
    assert len(days) == 31
    assert days[date(2025, 3, 31)] == 1  # D10 at 23:59 Beijing time (15:59 UTC)
    assert days[date(2025, 3, 3)] == 1
    assert days[date(2025, 3, 1)] == 0
    assert sum(days.values()) == 9


def test_an_empty_range_has_no_figures() -> None:
    m = metrics.metrics(MARCH)
    assert m["complaints_filed"] == 0
    assert m["resolution_rate"] is None
    assert m["time_to_outcome"] == {"count": 0, "median_hours": None, "p90_hours": None}
    assert m["satisfaction"] is None
    assert m["compensated"] == Decimal("0.00")


def test_the_figures_take_a_fixed_number_of_queries(
    world: World, django_assert_num_queries: Any
) -> None:
    # The fifth: the complaints the automatic check decided, and their time to outcome.
    with django_assert_num_queries(5):
        metrics.metrics(MARCH)


# --- The admin page, its CSV and the API: who may see them --------------------------------

METRICS_URL = "/admin/disputes/metrics/"
API_URL = "/api/v1/staff/metrics/"


def metrics_staff() -> Any:
    from tests.factories import StaffFactory

    return StaffFactory(perms=["disputes.view_metrics"])


def test_the_page_shows_the_promise_the_figures_and_the_charts(world: World, client: Any) -> None:
    client.force_login(metrics_staff())
    response = client.get(METRICS_URL, {"from": "2025-03-01", "to": "2025-03-31"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "24 小时商家答复率" in page and "48 小时平台裁决率" in page and "先行赔付笔数" in page
    assert "55.6%" in page  # merchant answers in time, 5 of 9
    assert "66.7%" in page  # reviews in time, 4 of 6
    assert "中位数" in page or "median" in page
    assert page.count('<svg class="metrics-chart"') == 2
    assert "<script" not in page.split('id="content"')[1]
    assert "甲店" in page and "乙店" in page
    assert str(metrics.DEFINITIONS["resolution_rate"]) in page


def test_the_page_without_a_range_shows_the_last_30_days(client: Any) -> None:
    client.force_login(metrics_staff())
    response = client.get(METRICS_URL)
    assert response.status_code == 200
    assert response.context["range"] == metrics.Range.default()


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"from": "2025-03-31", "to": "2025-03-01"}, "to", "cannot be before"),
        ({"from": "2023-01-01", "to": "2025-03-01"}, "to", "at most 366 days"),
        ({"from": "yesterday"}, "from", "date"),
        ({"merchant": "999999"}, "merchant", "No shop"),
    ],
)
def test_bad_input_is_named_next_to_its_field(
    client: Any, query: dict[str, str], field: str, message: str
) -> None:
    client.force_login(metrics_staff())
    response = client.get(METRICS_URL, query, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    form = response.context["form"]
    name = {"from": "start", "to": "end"}.get(field, field)
    assert message.lower() in " ".join(form.errors[name]).lower()
    api = client.get(API_URL, query, HTTP_ACCEPT_LANGUAGE="en")
    assert api.status_code == 400
    assert message.lower() in " ".join(api.json()[field]).lower()


def test_the_csv_export(world: World, client: Any) -> None:
    client.force_login(metrics_staff())
    response = client.get(METRICS_URL, {"from": "2025-03-01", "to": "2025-03-31", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "complaint-metrics-20250301-20250331.csv" in response["Content-Disposition"]
    import csv as csv_module

    rows = list(csv_module.reader(response.content.decode().splitlines()))
    figures = {row[0]: row[1] for row in rows if len(row) == 3}
    assert figures["complaints_filed"] == "9"
    assert figures["resolution_rate"] == "0.75"
    assert figures["median_hours"] == "48.5" and figures["p90_hours"] == "144.0"
    assert figures["compensated"] == "180.00"
    shops = [row for row in rows if len(row) == 13 and row[0] != "merchant_id"]
    assert [row[1] for row in shops] == ["甲店", "乙店"]


def test_the_api_json_and_csv(world: World, client: Any) -> None:
    client.force_login(metrics_staff())
    body = client.get(API_URL, {"from": "2025-03-01", "to": "2025-03-31"}).json()
    assert body["complaints_filed"] == 9
    assert body["paid_first"] == 2 and body["recovered"] == "10.00"
    assert body["time_to_outcome"]["p90_hours"] == 144.0
    assert body["top_merchants"][0]["shop_name"] == "甲店"
    assert "30" in body["definitions"]["top_merchants"]
    one = client.get(API_URL, {"from": "2025-03-01", "to": "2025-03-31", "merchant": world.b.pk})
    assert one.json()["complaints_filed"] == 2 and one.json()["by_merchant"] == []
    as_csv = client.get(API_URL, {"from": "2025-03-01", "to": "2025-03-31", "format": "csv"})
    assert as_csv.status_code == 200 and as_csv["Content-Type"].startswith("text/csv")
    assert "complaints_filed,9," in as_csv.content.decode()


def _buyer() -> Any:
    return UserFactory()


def _merchant_owner() -> Any:
    return MerchantFactory().owner


def _staff_without() -> Any:
    from tests.factories import StaffFactory

    return StaffFactory(perms=["disputes.view_dispute", "disputes.arbitrate"])


def _not_staff_with_permission() -> Any:
    from django.contrib.auth.models import Permission

    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="view_metrics"))
    return user


@pytest.mark.parametrize(
    "who", [_buyer, _merchant_owner, _staff_without, _not_staff_with_permission]
)
def test_no_one_else_sees_the_metrics(client: Any, who: Any) -> None:
    user = who()
    client.force_login(user)
    page = client.get(METRICS_URL)
    if user.is_staff:
        assert page.status_code == 403
        index = client.get("/admin/")
        assert METRICS_URL not in index.content.decode()
    else:  # the admin sends non-staff to its login
        assert page.status_code == 302 and "/admin/login/" in page["Location"]
    assert client.get(METRICS_URL, {"format": "csv"}).status_code in (302, 403)
    assert client.get(API_URL).status_code == 403
    assert client.get(API_URL, {"format": "csv"}).status_code == 403


def test_anonymous_is_sent_to_log_in(client: Any) -> None:
    page = client.get(METRICS_URL)
    assert page.status_code == 302 and "/admin/login/" in page["Location"]
    assert client.get(API_URL).status_code in (401, 403)


def test_the_admin_index_links_to_the_page_for_those_allowed(client: Any) -> None:
    client.force_login(metrics_staff())
    assert METRICS_URL in client.get("/admin/").content.decode()


def test_the_page_takes_a_fixed_number_of_queries(
    world: World, client: Any, django_assert_max_num_queries: Any
) -> None:
    import time_machine
    from django.utils import timezone

    from disputes import metrics_rollup

    # The page reads the daily figures (docs/metrics.md): a run, the world's ratings (given
    # at the real time) older than its overlap, so March is read from its rows, not live.
    later = timezone.now() + timedelta(seconds=settings.METRICS_ROLLUP_OVERLAP_SECONDS + 60)
    with time_machine.travel(later, tick=False):
        metrics_rollup.rollup()
        client.force_login(metrics_staff())
        with django_assert_max_num_queries(30):
            response = client.get(METRICS_URL, {"from": "2025-03-01", "to": "2025-03-31"})
    # The page itself, with the world's figures (a refusal or an error page is cheaper).
    assert response.status_code == 200
    page = response.content.decode()
    assert "甲店" in page and "乙店" in page


def test_a_rating_of_an_unrated_outcome_is_not_counted_over_a_range() -> None:
    """The range's ratings are read per complaint (disputes.selectors._shop_stats_sql,
    bounded): a malicious complaint's rating counts neither in the average nor in the
    number, as on the shop record; an unrated complaint counts in neither."""
    w = World()
    w.complaint(w.a, 1, at(3, 3), rating=5, **resolved("refunded", at(3, 4)))
    w.complaint(w.a, 2, at(3, 5), rating=1, **resolved("rejected_malicious", at(3, 6)))
    w.complaint(w.a, 3, at(3, 7), rating=2, **resolved("rejected", at(3, 8)))
    w.complaint(w.a, 4, at(3, 9), **resolved("refunded", at(3, 10)))
    m = metrics.metrics(MARCH)
    assert (m["ratings"], m["satisfaction"]) == (2, 3.5)
    assert metrics.metrics(MARCH, merchant_id=w.a.pk)["satisfaction"] == 3.5


def test_the_paid_first_index_holds_exactly_the_events_that_pay_first() -> None:
    """The partial index the per-complaint lookup of the first payment first uses: if the
    events that pay first change, the index must change with them (or the lookup reads the
    whole timeline again)."""
    index = next(i for i in DisputeEvent._meta.indexes if i.name == "event_paid_first_idx")
    assert index.condition == Q(type__in=list(metrics.PAID_FIRST_EVENTS))
