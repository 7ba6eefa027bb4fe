"""The append-only tables refuse what their row triggers cannot see (kamen_complaints/
append_only.py):

- PostgreSQL: TRUNCATE of the audit log, the complaint timeline, the status events and the
  ledger is refused by a statement-level BEFORE TRUNCATE trigger (row triggers never fire on
  TRUNCATE, so until now it emptied them silently);
- SQLite: DELETE of an audit entry is refused, like UPDATE already was.

The only exception is the test suite's flush between transactional tests, which runs inside
`append_only.purge_allowed` (a transaction-local setting on PostgreSQL, a row of
`kamen_purge_allowed` on SQLite)."""

from django.db import migrations

TABLES = (
    "kamen_complaints_auditentry",
    "disputes_disputeevent",
    "orders_statusevent",
    "escrow_ledgertransaction",
    "escrow_ledgerentry",
)

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION kamen_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('kamen.allow_purge', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME
        USING ERRCODE = 'check_violation';
END;
$$ LANGUAGE plpgsql;
"""
PG_TRIGGER = """
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION kamen_refuse_truncate();
"""
PG_DROP_TRIGGER = "DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};"
PG_DROP_FUNCTION = "DROP FUNCTION IF EXISTS kamen_refuse_truncate();"

SQLITE_FORWARD = [
    "CREATE TABLE kamen_purge_allowed (opened integer NOT NULL)",
    """
CREATE TRIGGER kamen_audit_no_delete BEFORE DELETE ON kamen_complaints_auditentry
WHEN NOT EXISTS (SELECT 1 FROM kamen_purge_allowed)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS kamen_audit_no_delete",
    "DROP TABLE IF EXISTS kamen_purge_allowed",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        for table in TABLES:
            schema_editor.execute(PG_TRIGGER.format(table=table))
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(PG_DROP_TRIGGER.format(table=table))
        schema_editor.execute(PG_DROP_FUNCTION)
    elif vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("kamen_complaints", "0002_audit_log_and_approvals"),
        ("disputes", "0002_default_policy_and_append_only_events"),
        ("orders", "0005_status_events"),
        ("escrow", "0002_ledger_guards_and_finance"),
    ]

    operations = [migrations.RunPython(forward, backward)]
