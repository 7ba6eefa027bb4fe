"""The database holds the line even against a bug (PostgreSQL):

- a DEFERRABLE INITIALLY DEFERRED constraint trigger refuses, at commit, any ledger transaction
  whose legs do not sum to zero or that has fewer than two legs;
- ledger transactions and entries are immutable: UPDATE and DELETE are refused (电子商务法
  art. 31: records kept ≥ 3 years). TRUNCATE (test teardown) fires no row triggers.

SQLite gets the CheckConstraints of 0001 only; services and `check_ledger` guard the rest.
Also: the platform accounts (so they take the lowest ids) and the `finance` group.
"""

from django.db import migrations

BALANCED_SQL = """
CREATE OR REPLACE FUNCTION escrow_tx_balanced() RETURNS trigger AS $$
DECLARE
    tx_id bigint;
    total bigint;
    legs integer;
BEGIN
    IF TG_TABLE_NAME = 'escrow_ledgerentry' THEN
        tx_id := NEW.transaction_id;
    ELSE
        tx_id := NEW.id;
    END IF;
    SELECT COALESCE(SUM(amount), 0), COUNT(*) INTO total, legs
        FROM escrow_ledgerentry WHERE transaction_id = tx_id;
    IF total <> 0 OR legs < 2 THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced: % legs summing to % fen',
            tx_id, legs, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER escrow_legs_balanced
    AFTER INSERT ON escrow_ledgerentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION escrow_tx_balanced();

CREATE CONSTRAINT TRIGGER escrow_tx_balanced
    AFTER INSERT ON escrow_ledgertransaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION escrow_tx_balanced();

CREATE OR REPLACE FUNCTION escrow_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'check_violation';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER escrow_ledgerentry_immutable
    BEFORE UPDATE OR DELETE ON escrow_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION escrow_immutable();

CREATE TRIGGER escrow_ledgertransaction_immutable
    BEFORE UPDATE OR DELETE ON escrow_ledgertransaction
    FOR EACH ROW EXECUTE FUNCTION escrow_immutable();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS escrow_ledgertransaction_immutable ON escrow_ledgertransaction;
DROP TRIGGER IF EXISTS escrow_ledgerentry_immutable ON escrow_ledgerentry;
DROP TRIGGER IF EXISTS escrow_tx_balanced ON escrow_ledgertransaction;
DROP TRIGGER IF EXISTS escrow_legs_balanced ON escrow_ledgerentry;
DROP FUNCTION IF EXISTS escrow_immutable();
DROP FUNCTION IF EXISTS escrow_tx_balanced();
"""

FINANCE_PERMISSIONS = [
    ("escrow", "view_account"),
    ("escrow", "post_adjustment"),
    ("escrow", "view_ledgertransaction"),
    ("escrow", "view_ledgerentry"),
    ("escrow", "view_hold"),
    ("escrow", "view_payout"),
    ("escrow", "retry_payout"),
    ("escrow", "view_withdrawal"),
    ("escrow", "approve_withdrawal"),
    ("orders", "view_merchant"),
]


def add_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BALANCED_SQL, params=None)


def drop_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


def platform_accounts(apps, schema_editor):
    Account = apps.get_model("escrow", "Account")
    for kind in ("bank", "compensation_fund", "buyer_refunds"):
        Account.objects.get_or_create(kind=kind, merchant=None)


def finance_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _created = Group.objects.get_or_create(name="finance")
    for app_label, codename in FINANCE_PERMISSIONS:
        permission = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).first()
        if permission is not None:
            group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("escrow", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("orders", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(add_guards, drop_guards, elidable=False),
        migrations.RunPython(platform_accounts, migrations.RunPython.noop),
        migrations.RunPython(finance_group, migrations.RunPython.noop),
    ]
