"""The arbitrator who took a case (docs/admin.md "Taking a case"), and the seeded policy's
publication time: migration 0002 dated it 1970-01-01 (the list showed "1970年1月1日 08:00");
it was really published when 0002 ran, which django_migrations recorded."""

from datetime import UTC, datetime

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def date_seeded_policy(apps, schema_editor):
    Policy = apps.get_model("disputes", "Policy")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT applied FROM django_migrations WHERE app = %s AND name = %s",
            ["disputes", "0002_default_policy_and_append_only_events"],
        )
        row = cursor.fetchone()
    applied = row[0] if row and row[0] is not None else datetime.now(UTC)
    if isinstance(applied, str):  # SQLite may hand back text
        applied = datetime.fromisoformat(applied)
    if applied.tzinfo is None:
        applied = applied.replace(tzinfo=UTC)
    Policy.objects.filter(published_at__lt=datetime(2000, 1, 1, tzinfo=UTC)).update(
        published_at=applied
    )


class Migration(migrations.Migration):
    dependencies = [
        ("disputes", "0012_replaced_value"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="dispute",
            name="taken_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="taken at"),
        ),
        migrations.AddField(
            model_name="dispute",
            name="taken_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="taken by",
            ),
        ),
        migrations.RunPython(date_seeded_policy, migrations.RunPython.noop),
    ]
