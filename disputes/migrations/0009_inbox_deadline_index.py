"""The merchant inbox's expression index: a shop's open complaints by the deadline that runs
(disputes.deadlines.running_deadline_sql — keep the two expressions the same, or PostgreSQL
will not use the index for the inbox's ORDER BY).

Made here with the schema editor instead of listed in Dispute.Meta.indexes: Django's
autodetector compares a CASE expression unequal to itself after a round trip, so a model-level
index would make `makemigrations --check` report a change on every run."""

from django.db import migrations, models

OPEN = ["awaiting_merchant", "awaiting_buyer", "under_review"]


def _index() -> models.Index:
    return models.Index(
        models.F("merchant"),
        models.Case(
            models.When(status="awaiting_merchant", then=models.F("merchant_response_due")),
            models.When(status="awaiting_buyer", then=models.F("buyer_response_due")),
            models.When(
                status="under_review", review_paused_at__isnull=False, then=models.F("info_due")
            ),
            models.When(status="under_review", then=models.F("review_due")),
            default=models.Value(None),
            output_field=models.DateTimeField(),
        ),
        models.F("filed_at").desc(),
        models.F("id").desc(),
        condition=models.Q(status__in=OPEN),
        name="dispute_inbox_deadline_idx",
    )


def add(apps, schema_editor):
    schema_editor.add_index(apps.get_model("disputes", "Dispute"), _index())


def remove(apps, schema_editor):
    schema_editor.remove_index(apps.get_model("disputes", "Dispute"), _index())


class Migration(migrations.Migration):
    dependencies = [("disputes", "0008_metrics_permission_and_admin_indexes")]

    operations = [migrations.RunPython(add, remove)]
