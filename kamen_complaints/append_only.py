"""The append-only tables and the one door through which they may be emptied (docs/admin.md
"The audit log").

The audit log, the complaint timeline, the shops' and orders' status events, the order chat's
messages and the ledger refuse UPDATE and DELETE in the database (row triggers, each app's
migrations). Row triggers do not see TRUNCATE, so PostgreSQL also refuses TRUNCATE of these
tables (a statement trigger, kamen_complaints/migrations/0003 and orders/0010), and SQLite
refuses DELETE of an audit entry too.

One thing must still empty them: the test suite's flush between transactional tests (Django's
`flush`: TRUNCATE on PostgreSQL, DELETE on SQLite). It does so inside `purge_allowed`, which
opens the door for its own transaction only: PostgreSQL reads the transaction-local setting
`kamen.allow_purge`, SQLite a row in `kamen_purge_allowed` that is deleted again before the
transaction commits. The application never calls it; an operator who really means to empty
these tables (a scratch database) drops the database instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction

APPEND_ONLY_TABLES = (
    "kamen_complaints_auditentry",
    "disputes_disputeevent",
    "orders_statusevent",
    "orders_ordermessage",
    "orders_ordermessagefile",
    "escrow_ledgertransaction",
    "escrow_ledgerentry",
)
PG_SETTING = "kamen.allow_purge"
SQLITE_TABLE = "kamen_purge_allowed"


@contextmanager
def purge_allowed(connection: Any) -> Iterator[None]:
    """Inside this block (one transaction), TRUNCATE/DELETE of the append-only tables passes."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config(%s, 'on', true)", [PG_SETTING])
            yield
            cursor.execute("SELECT set_config(%s, 'off', true)", [PG_SETTING])
        elif connection.vendor == "sqlite":
            cursor.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s",
                [SQLITE_TABLE],
            )
            door = cursor.fetchone() is not None
            if door:
                cursor.execute(f"INSERT INTO {SQLITE_TABLE} (opened) VALUES (1)")  # noqa: S608
            yield
            if door:
                cursor.execute(f"DELETE FROM {SQLITE_TABLE}")  # noqa: S608
        else:
            yield
