"""The admin lists' paginator at scale (docs/benchmarks.md, `bench/bench_admin.py`).

Django's admin counts the rows of every list page (`SELECT COUNT(*)`), which on PostgreSQL
reads the whole table or index: with a million orders that count alone is most of the page's
time. `EstimatedCountPaginator` asks the planner instead when the list shows the whole table
(no filter, no search) and the table is big — `pg_class.reltuples`, kept fresh by
autovacuum/ANALYZE — and counts exactly otherwise: a filtered list, a small table, another
database (SQLite in development and tests) or a table never analysed. The estimate only sizes
the page links ("about N"); the rows shown are always the real ones.

Used with `show_full_result_count = False` (no second, unfiltered count) by the lists of
orders, complaints and merchants.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django.utils.functional import cached_property

#: Above this many rows (planner's estimate) an unfiltered list is not counted exactly.
#: Settings override: `KAMEN_ADMIN_ESTIMATE_ABOVE`.
ESTIMATE_ABOVE = 10_000


def estimate_threshold() -> int:
    return int(getattr(settings, "KAMEN_ADMIN_ESTIMATE_ABOVE", ESTIMATE_ABOVE))


def is_unfiltered(queryset: QuerySet[Any]) -> bool:
    """The queryset is the whole table: no WHERE, no DISTINCT, no slice, no set operation."""
    query = queryset.query
    return (
        not query.where
        and not query.distinct
        and not query.combinator
        and query.low_mark == 0
        and query.high_mark is None
    )


def planner_estimate(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's estimate of the table's rows, or None (another database, or a table
    never analysed: reltuples is -1 there since PostgreSQL 14, 0 before)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    if row is None or row[0] is None or row[0] <= 0:
        return None
    return int(row[0])


class EstimatedCountPaginator(Paginator):
    #: How the last count was made: "estimate" or "exact" (tests, and the page's wording).
    count_method = "exact"

    @cached_property
    def count(self) -> int:
        objects = self.object_list
        if isinstance(objects, QuerySet) and is_unfiltered(objects):
            estimate = planner_estimate(objects)
            if estimate is not None and estimate > estimate_threshold():
                self.count_method = "estimate"
                return estimate
        self.count_method = "exact"
        return super().count


#: At most this many related rows (buyers, shops) are matched by one search term.
SEARCH_IDS = 500


def indexed_search(
    queryset: QuerySet[Any],
    term: str,
    *,
    exact: list[str],
    related: dict[str, QuerySet[Any]] | None = None,
) -> QuerySet[Any]:
    """An admin search every part of which can use an index: the term equal to one of the
    `exact` columns (numbers, references), or the row's foreign key `field` among the rows a
    `related` queryset finds for it (looked up first, so the big table is searched by its
    indexed key instead of joined and scanned with ILIKE). `related` querysets are built by
    the caller for the term, e.g. `User.objects.filter(username=term)`."""
    term = term.strip()
    if not term:
        return queryset
    match = Q()
    for column in exact:
        match |= Q(**{column: term})
    for field, rows in (related or {}).items():
        ids = list(rows.values_list("pk", flat=True)[:SEARCH_IDS])
        if ids:
            match |= Q(**{f"{field}__in": ids})
    return queryset.filter(match)
