"""The append-only tables refuse what their row triggers cannot see (issue 17, section 5).

- SQLite: DELETE of an audit entry is refused (UPDATE already was).
- PostgreSQL: TRUNCATE of the audit log, the complaint timeline, the status events and the
  ledger is refused (row triggers never fire on TRUNCATE).
- The test suite's flush still empties them, through kamen_complaints.append_only.purge_allowed
  alone.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from kamen_complaints.append_only import APPEND_ONLY_TABLES, purge_allowed
from kamen_complaints.audit import audit_record
from kamen_complaints.models import AuditAction, AuditEntry
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def _entry() -> AuditEntry:
    staff = StaffFactory()
    return audit_record(actor=staff, action=next(iter(AuditAction)), obj=staff, reason="kept")


def test_an_audit_entry_cannot_be_deleted_by_the_orm_or_sql():
    entry = _entry()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM kamen_complaints_auditentry")
    assert AuditEntry.objects.filter(pk=entry.pk, reason="kept").exists()


def test_the_flush_door_opens_for_its_own_transaction_only():
    entry = _entry()
    # Rolled back by the error: nothing deleted in the end.
    with (
        pytest.raises(DatabaseError),
        transaction.atomic(),
        purge_allowed(connection),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM kamen_complaints_auditentry")
        assert not AuditEntry.objects.exists()
        raise DatabaseError("roll the purge back")
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    # The door is shut again afterwards.
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.all().delete()


@pytest.mark.postgres
@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_postgres_refuses_truncate_of_an_append_only_table(table):
    _entry()
    with connection.cursor() as cursor:  # the row's deferred checks now, not at TRUNCATE
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(DatabaseError) as exc, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {connection.ops.quote_name(table)} CASCADE")
    assert "append-only" in str(exc.value)
    assert AuditEntry.objects.exists()


@pytest.mark.postgres
def test_postgres_refuses_the_flush_statement_and_the_door_closes_with_its_transaction():
    """`TRUNCATE a, b, …` (what `manage.py flush` sends) is refused as a whole; the door is a
    transaction-local setting, gone once its transaction ends."""
    _entry()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    tables = ", ".join(connection.ops.quote_name(t) for t in APPEND_ONLY_TABLES)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")
    with transaction.atomic(), purge_allowed(connection), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('kamen.allow_purge', true)")
        assert cursor.fetchone()[0] == "on"
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting('kamen.allow_purge', true), '')")
        assert cursor.fetchone()[0] != "on"
    assert AuditEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_with_append_only_rows_is_flushed_afterwards():
    """This test's own teardown flushes the audit log through the door (tests/conftest.py);
    the next test starting on an empty database is the proof."""
    _entry()
    assert AuditEntry.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_previous_transactional_test_left_nothing_behind():
    assert not AuditEntry.objects.exists()
