"""Seed the default policy (in force since the epoch) and make the timeline append-only in
the database too: a trigger refuses UPDATE of dispute events (and DELETE on PostgreSQL, where
test flushes use TRUNCATE, which row triggers do not see)."""

from datetime import UTC, datetime
from decimal import Decimal

from django.db import migrations

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def seed_policy(apps, schema_editor):
    Policy = apps.get_model("disputes", "Policy")
    if not Policy.objects.filter(product_kind="").exists():
        Policy.objects.create(
            product_kind="",
            effective_from=EPOCH,
            published_at=EPOCH,
            complaint_window_hours=72,
            merchant_response_hours=24,
            buyer_response_hours=24,
            review_hours=48,
            info_response_hours=24,
            small_claim_threshold=Decimal("100.00"),
            appeal_window_days=7,
            blacklist_threshold=3,
            blacklist_window_days=180,
            blacklist_duration_days=180,
            max_evidence_bytes=10 * 1024 * 1024,
            max_evidence_files=20,
            note="Default policy (seeded).",
        )


PG_FORWARD = """
CREATE OR REPLACE FUNCTION disputes_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'dispute events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER disputes_event_no_update BEFORE UPDATE OR DELETE ON disputes_disputeevent
    FOR EACH ROW EXECUTE FUNCTION disputes_event_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS disputes_event_no_update ON disputes_disputeevent;
DROP FUNCTION IF EXISTS disputes_event_append_only();
"""
SQLITE_FORWARD = """
CREATE TRIGGER disputes_event_no_update BEFORE UPDATE ON disputes_disputeevent
BEGIN SELECT RAISE(ABORT, 'dispute events are append-only'); END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS disputes_event_no_update;"


def triggers_forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)


def triggers_backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("disputes", "0001_initial")]

    operations = [
        migrations.RunPython(seed_policy, migrations.RunPython.noop),
        migrations.RunPython(triggers_forward, triggers_backward),
    ]
