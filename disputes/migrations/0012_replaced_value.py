"""What the replacement keys handed over for a complaint are worth (docs/money.md "Upgrading").

Complaints replaced before this migration get the value of their latest replacement: the
order's unit price for each key its `key_replaced` event lists. An order that was also paid
for the same keys keeps its money (nothing is clawed back); `check_ledger` names it."""

from decimal import Decimal
from typing import Any

from django.db import migrations, models


def count_replacements(apps: Any, schema_editor: Any) -> None:
    Dispute = apps.get_model("disputes", "Dispute")
    DisputeEvent = apps.get_model("disputes", "DisputeEvent")
    latest: dict[int, int] = {}
    events = DisputeEvent.objects.filter(type="key_replaced").order_by("id")
    for dispute_id, data in events.values_list("dispute_id", "data").iterator():
        latest[dispute_id] = len((data or {}).get("card_keys") or [])
    for dispute in Dispute.objects.filter(pk__in=list(latest)).select_related("order"):
        value = min(dispute.order.unit_price * latest[dispute.pk], dispute.order.amount)
        Dispute.objects.filter(pk=dispute.pk).update(replaced_value=value)


class Migration(migrations.Migration):
    dependencies = [
        ("disputes", "0011_automatic_checks_and_policy_rules"),
    ]

    operations = [
        migrations.AddField(
            model_name="dispute",
            name="replaced_value",
            field=models.DecimalField(
                db_default=Decimal("0.00"),
                decimal_places=2,
                default=Decimal("0.00"),
                max_digits=12,
                verbose_name="replacement keys handed over, worth",
            ),
        ),
        migrations.RunPython(count_replacements, migrations.RunPython.noop),
    ]
