"""Rulings above `second_approval_threshold` (default ¥5,000) wait for a second arbitrator
(docs/admin.md, "Four eyes"). The seeded default policy loses its English-only note: the admin
names it in the reader's language ("the platform's default rules")."""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models


def clear_seed_note(apps, schema_editor):
    Policy = apps.get_model("disputes", "Policy")
    Policy.objects.filter(note="Default policy (seeded).").update(note="")


class Migration(migrations.Migration):
    dependencies = [
        ("disputes", "0006_notification_kind"),
    ]

    operations = [
        migrations.AddField(
            model_name="policy",
            name="second_approval_threshold",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("5000.00"),
                help_text="A ruling that pays the buyer more than this waits for a second approval.",
                max_digits=12,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                verbose_name="rulings above this amount need a second arbitrator (CNY)",
            ),
        ),
        migrations.RunPython(clear_seed_note, migrations.RunPython.noop),
    ]
