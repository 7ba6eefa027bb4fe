"""Plan the balanced-legs trigger's query afresh on every call.

plpgsql caches a generic plan per database session after five calls. A session that first
posts while the ledger is tiny caches a sequential scan and then keeps it while the ledger
grows, so every commit in a long-lived worker got slower (the sweep benchmark fell from ~900
to ~340 complaints/s within 6,000 complaints). A custom plan per call uses the index on the
transaction id whatever the session saw first.
"""

from django.db import migrations


def force_custom_plan(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER FUNCTION escrow_tx_balanced() SET plan_cache_mode = force_custom_plan"
        )


def reset_plan_cache_mode(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER FUNCTION escrow_tx_balanced() RESET plan_cache_mode")


class Migration(migrations.Migration):
    dependencies = [
        ("escrow", "0003_translatable_labels"),
    ]

    operations = [
        migrations.RunPython(force_custom_plan, reset_plan_cache_mode, elidable=False),
    ]
