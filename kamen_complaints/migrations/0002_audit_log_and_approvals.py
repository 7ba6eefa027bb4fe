"""The audit log and second approvals (docs/admin.md). The audit log is append-only in the
database: a trigger refuses UPDATE (and DELETE on PostgreSQL, where test flushes TRUNCATE,
which row triggers do not see), like the complaint timeline's."""

import django.core.serializers.json
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

PG_FORWARD = """
CREATE OR REPLACE FUNCTION kamen_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER kamen_audit_no_change BEFORE UPDATE OR DELETE ON kamen_complaints_auditentry
    FOR EACH ROW EXECUTE FUNCTION kamen_audit_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS kamen_audit_no_change ON kamen_complaints_auditentry;
DROP FUNCTION IF EXISTS kamen_audit_append_only();
"""
SQLITE_FORWARD = """
CREATE TRIGGER kamen_audit_no_change BEFORE UPDATE ON kamen_complaints_auditentry
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS kamen_audit_no_change;"


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
    initial = True

    dependencies = [
        ("kamen_complaints", "0001_drop_authtoken_table"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Approval",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("ruling", "ruling above the approval threshold"),
                            ("adjustment", "manual ledger adjustment"),
                            ("fund_topup", "compensation fund top-up"),
                        ],
                        max_length=16,
                        verbose_name="kind",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "waiting for a second approval"),
                            ("approved", "approved and carried out"),
                            ("refused", "refused"),
                        ],
                        default="pending",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                ("object_type", models.CharField(max_length=64, verbose_name="record type")),
                ("object_id", models.CharField(blank=True, max_length=64, verbose_name="record")),
                (
                    "object_repr",
                    models.CharField(blank=True, max_length=200, verbose_name="record name"),
                ),
                ("summary", models.CharField(max_length=300, verbose_name="summary")),
                (
                    "params",
                    models.JSONField(
                        default=dict,
                        encoder=django.core.serializers.json.DjangoJSONEncoder,
                        verbose_name="parameters",
                    ),
                ),
                ("reason", models.TextField(verbose_name="reason given")),
                (
                    "requested_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="requested at"
                    ),
                ),
                (
                    "decided_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="decided at"),
                ),
                (
                    "decision_reason",
                    models.TextField(blank=True, verbose_name="reason for the decision"),
                ),
                ("result", models.CharField(blank=True, max_length=200, verbose_name="result")),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="decided by",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="requested by",
                    ),
                ),
            ],
            options={
                "verbose_name": "second approval",
                "verbose_name_plural": "second approvals",
                "ordering": ["-requested_at", "-id"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("status", "pending")),
                        fields=["requested_at"],
                        name="approval_pending_idx",
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("status", "pending"),
                            models.Q(("decided_by", models.F("requested_by")), _negated=True),
                            _connector="OR",
                        ),
                        name="approval_four_eyes",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="AuditEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "at",
                    models.DateTimeField(
                        db_index=True, default=django.utils.timezone.now, verbose_name="when"
                    ),
                ),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("ruling", "ruling"),
                            ("ruling_proposed", "ruling proposed for approval"),
                            ("recovery_decided", "recovery decided"),
                            ("info_requested", "information requested"),
                            ("merchant_verified", "merchant verified"),
                            ("merchant_rejected", "merchant application rejected"),
                            ("merchant_suspended", "merchant suspended"),
                            ("merchant_unsuspended", "merchant suspension lifted"),
                            ("identity_viewed", "identity number viewed"),
                            ("withdrawal_approved", "withdrawal approved"),
                            ("withdrawal_rejected", "withdrawal rejected"),
                            ("adjustment_requested", "manual posting requested"),
                            ("adjustment_posted", "manual posting carried out"),
                            ("approval_refused", "second approval refused"),
                            ("minimum_deposit", "minimum deposit changed"),
                            ("policy_changed", "policy changed"),
                            ("blacklist_added", "blacklist entry added"),
                            ("blacklist_lifted", "blacklist entry lifted"),
                        ],
                        max_length=32,
                        verbose_name="what",
                    ),
                ),
                ("object_type", models.CharField(max_length=64, verbose_name="record type")),
                ("object_id", models.CharField(max_length=64, verbose_name="record")),
                (
                    "object_repr",
                    models.CharField(blank=True, max_length=200, verbose_name="record name"),
                ),
                ("reason", models.TextField(blank=True, verbose_name="why")),
                (
                    "before",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        encoder=django.core.serializers.json.DjangoJSONEncoder,
                        verbose_name="before",
                    ),
                ),
                (
                    "after",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        encoder=django.core.serializers.json.DjangoJSONEncoder,
                        verbose_name="after",
                    ),
                ),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="who",
                    ),
                ),
            ],
            options={
                "verbose_name": "audit log entry",
                "verbose_name_plural": "audit log",
                "ordering": ["-at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["object_type", "object_id", "-at"], name="audit_object_idx"
                    ),
                    models.Index(fields=["actor", "-at"], name="audit_actor_idx"),
                ],
            },
        ),
        migrations.RunPython(triggers_forward, triggers_backward),
    ]
