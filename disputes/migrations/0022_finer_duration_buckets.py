"""The times from filing to outcome in buckets four times finer (32 per doubling, about 2 %
wide, docs/metrics.md): the kept times re-bucketed and the bucket counts of every day and
month added up again from them. A rank's read reads a quarter of the times it did."""

from django.db import migrations

# Frozen here: disputes/metrics_rollup.py BOUNDS as this migration wrote them.
BOUNDS = [round(1_000_000 * 2 ** (k / 32)) for k in range(30 * 32)]
DURATION_KEYS = ("merchant_id", "automatic", "bucket")


def rebucket(apps, schema_editor):
    import bisect
    from datetime import timedelta

    from django.db.models import Count, Sum

    DurationValue = apps.get_model("disputes", "DurationValue")
    MonthlyFigures = apps.get_model("disputes", "MonthlyFigures")
    DailyDuration = apps.get_model("disputes", "DailyDuration")
    MonthlyDuration = apps.get_model("disputes", "MonthlyDuration")
    connection = schema_editor.connection
    table = DurationValue._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # width_bucket counts the bounds at or below the time: bisect_right's answer.
            cursor.execute(
                f"UPDATE {table} SET bucket = width_bucket(took_us, %s::bigint[])",  # noqa: S608
                [BOUNDS],
            )
    else:
        for pk, took in DurationValue.objects.values_list("pk", "took_us").iterator():
            DurationValue.objects.filter(pk=pk).update(bucket=bisect.bisect_right(BOUNDS, took))
    # The months rolled up so far (a month's rows are written with its days, or at the end
    # of the first run): only those get their counts again.
    months = set(MonthlyDuration.objects.values_list("month", flat=True).distinct())
    months.update(MonthlyFigures.objects.values_list("month", flat=True).distinct())
    DailyDuration.objects.all().delete()
    MonthlyDuration.objects.all().delete()
    # A day's counts are the histogram of its kept times, per shop and for the marketplace
    # (merchant 0); a month's, the sum of its days' (as disputes/metrics_rollup.py writes
    # them: repeated here, as a migration must not import code that changes after it).
    days = DurationValue.objects.values_list("day", flat=True).distinct().order_by("day")
    for day in days.iterator():
        rows = DurationValue.objects.filter(day=day).order_by()
        per_shop = rows.values(*DURATION_KEYS).annotate(n=Count("pk"))
        whole = rows.values("automatic", "bucket").annotate(n=Count("pk"))
        DailyDuration.objects.bulk_create(
            [
                *(
                    DailyDuration(day=day, count=r["n"], **{k: r[k] for k in DURATION_KEYS})
                    for r in per_shop
                ),
                *(
                    DailyDuration(
                        day=day,
                        merchant_id=0,
                        count=r["n"],
                        automatic=r["automatic"],
                        bucket=r["bucket"],
                    )
                    for r in whole
                ),
            ]
        )
    for first in sorted(months):
        after = (first + timedelta(days=31)).replace(day=1)
        MonthlyDuration.objects.bulk_create(
            MonthlyDuration(month=first, count=r["n"], **{k: r[k] for k in DURATION_KEYS})
            for r in DailyDuration.objects.filter(day__gte=first, day__lt=after)
            .values(*DURATION_KEYS)
            .annotate(n=Sum("count"))
            .order_by()
        )


class Migration(migrations.Migration):
    dependencies = [
        ("disputes", "0021_duration_bucket_covering_indexes"),
    ]

    operations = [migrations.RunPython(rebucket, migrations.RunPython.noop)]
