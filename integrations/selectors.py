"""The reads of the integrations page and API: a shop's endpoints and their delivery logs, in a
constant number of queries whatever the shop has."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from integrations.models import Delivery, Endpoint, EndpointKind
from orders.models import Merchant

# How many deliveries an endpoint's log shows on the page.
LOG_ON_PAGE = 10


def shop_endpoints(merchant: Merchant, *, kind: str | None = None) -> QuerySet[Endpoint]:
    rows = Endpoint.objects.filter(merchant=merchant).order_by("id")
    if kind == "robot":
        return rows.exclude(kind=EndpointKind.WEBHOOK)
    if kind is not None:
        return rows.filter(kind=kind)
    return rows


def endpoint_deliveries(endpoint: Endpoint) -> QuerySet[Delivery]:
    """An endpoint's delivery log, newest first (the API pages through it)."""
    return Delivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")


def recent_deliveries(
    endpoints: Iterable[Endpoint], *, per_endpoint: int = LOG_ON_PAGE
) -> dict[int, list[Delivery]]:
    """The last `per_endpoint` deliveries of each endpoint, in one query."""
    ids = [e.pk for e in endpoints]
    if not ids:
        return {}
    rows = (
        Delivery.objects.filter(endpoint_id__in=ids)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("endpoint_id")],
                order_by=[F("created_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=per_endpoint)
        .order_by("endpoint_id", "-created_at", "-id")
    )
    grouped: dict[int, list[Delivery]] = defaultdict(list)
    for row in rows:
        if row.endpoint_id is not None:
            grouped[row.endpoint_id].append(row)
    return dict(grouped)
