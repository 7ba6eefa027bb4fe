"""The ledger's core, shared by every money service of this package and by escrow.batch:
amounts, the accounts and their locks, posting one balanced transaction, and the shop's
standing after money moved (the rules: escrow.services, docs/architecture.md "The ledger")."""

from __future__ import annotations

import itertools
import re
import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from django.utils.translation import gettext as _

from escrow.models import MERCHANT_KINDS, Account, LedgerEntry, LedgerTransaction, TransactionKind
from kamen_complaints.errors import DomainError, Forbidden
from kamen_complaints.money import CENT, MAX_YUAN, format_yuan, from_fen, to_fen
from orders import services as order_services
from orders.models import Merchant, MerchantStatus, SuspensionReason

_Kind = str


# --- Amounts ------------------------------------------------------------------------------


def amount_fen(amount: Decimal, *, allow_zero: bool = False, allow_negative: bool = False) -> int:
    """Yuan → fen, refusing what no money movement can be."""
    try:
        if not isinstance(amount, Decimal):
            amount = Decimal(str(amount))
        if not amount.is_finite() or abs(amount) > MAX_YUAN:
            raise ValueError(amount)
        fen = to_fen(amount)
    except (ValueError, ArithmeticError) as exc:
        raise DomainError(
            _("Enter an amount in yuan with at most 2 decimal places, such as 12.50."),
            code="amount_invalid",
        ) from exc
    if fen < 0 and not allow_negative:
        raise DomainError(_("The amount must not be negative."), code="amount_invalid")
    if fen == 0 and not allow_zero:
        raise DomainError(_("The amount must not be zero."), code="amount_invalid")
    return fen


def yuan(fen: int) -> str:
    return format_yuan(from_fen(fen))


# --- Accounts -----------------------------------------------------------------------------
#
# Accounts are created lazily (existing merchants just work). Their ids are cached per process
# once the transaction that saw them committed; the locking query checks every cached row is
# the one expected (kind and owner), so a stale cache — rows rolled back — only costs a retry.

_TX = LedgerTransaction._meta.db_table
_LEG = LedgerEntry._meta.db_table
_ACCOUNT = Account._meta.db_table
_MERCHANT = Merchant._meta.db_table

_platform_ids: dict[str, int] = {}
_merchant_ids: dict[int, dict[str, int]] = {}


def _remember(merchant_id: int | None, ids: dict[str, int]) -> None:
    def store() -> None:
        if merchant_id is None:
            _platform_ids.update(ids)
        else:
            _merchant_ids[merchant_id] = {k: ids[k] for k in MERCHANT_KINDS}

    transaction.on_commit(store)


def forget_account_ids() -> None:
    _platform_ids.clear()
    _merchant_ids.clear()


def account_ids(merchant_id: int | None, platform: Sequence[_Kind]) -> dict[str, int]:
    """Ids of the merchant's accounts and the named platform accounts, creating missing ones.

    Called before any account is locked, so creating a row never waits while holding a lock."""
    wanted_merchant = merchant_id is not None and (
        merchant_id not in _merchant_ids
        or any(k not in _merchant_ids[merchant_id] for k in MERCHANT_KINDS)
    )
    wanted_platform = [k for k in platform if k not in _platform_ids]
    ids: dict[str, int] = {}
    if merchant_id is not None and not wanted_merchant:
        ids.update(_merchant_ids[merchant_id])
    ids.update({k: _platform_ids[k] for k in platform if k in _platform_ids})
    if not wanted_merchant and not wanted_platform:
        return ids
    if wanted_merchant and merchant_id is not None:
        found: dict[str, int] = dict(
            Account.objects.filter(merchant_id=merchant_id, kind__in=MERCHANT_KINDS).values_list(
                "kind", "pk"
            )
        )
        for merchant_kind in MERCHANT_KINDS:
            if merchant_kind not in found:
                account, _created = Account.objects.get_or_create(
                    merchant_id=merchant_id, kind=merchant_kind
                )
                found[merchant_kind] = account.pk
        ids.update(found)
        _remember(merchant_id, found)
    if wanted_platform:
        found = dict(
            Account.objects.filter(merchant__isnull=True, kind__in=wanted_platform).values_list(
                "kind", "pk"
            )
        )
        for kind in wanted_platform:
            if kind not in found:
                account, _created = Account.objects.get_or_create(merchant=None, kind=kind)
                found[kind] = account.pk
        ids.update(found)
        _remember(None, found)
    return ids


def lock_by_kind(merchant_id: int | None, platform: Sequence[_Kind] = ()) -> dict[str, Account]:
    """Lock the named platform accounts and the merchant's deposit and receivable (when a
    merchant is named), platform first, each in id order, in one statement; return them by
    kind. The merchant's
    status and minimum ride along (read, not locked) for the suspension rules."""
    return lock_by_kind_with(merchant_id, platform)[0]


def lock_by_kind_with(
    merchant_id: int | None,
    platform: Sequence[_Kind] = (),
    after: Sequence[tuple[str, list[Any]]] = (),
) -> tuple[dict[str, Account], list[list[dict[str, Any]]]]:
    """`lock_by_kind`, and in the same statement the queries `after` — each a SELECT, which
    may lock rows of its own (`FOR UPDATE`): it runs once every account is locked, so locks
    are still taken accounts first. Returns the accounts by kind and each query's rows (as
    dicts by column). One round trip for what took one per query (a recovery's locks, what
    its complaint paid and its hold). On PostgreSQL the queries share the statement's
    snapshot, taken before the accounts' locks were granted: a row another transaction
    changed meanwhile is seen as changed only if the query locks it (`FOR UPDATE` reads
    the newest version, and drops it if it no longer matches); a row inserted meanwhile is
    not seen — use `after` only for rows that cannot be."""
    for attempt in range(2):
        ids = account_ids(merchant_id, platform)
        rows, returned = _lock_account_rows(sorted(ids.values()), after)
        by_kind = {account.kind: account for account in rows}
        if len(by_kind) == len(ids) and all(
            kind in by_kind
            and by_kind[kind].pk == pk
            and by_kind[kind].merchant_id == (merchant_id if kind in MERCHANT_KINDS else None)
            for kind, pk in ids.items()
        ):
            return by_kind, returned
        if attempt == 0:  # a cached id whose row was rolled back: look them up again
            forget_account_ids()
    raise RuntimeError("escrow accounts could not be resolved")


_ACCOUNT_FIELDS = ["id", "kind", "merchant_id", "balance", "held"]
_MERCHANT_FIELDS = ["id", "status", "suspension_reason", "minimum_deposit"]


def lock_account_rows(ids: Sequence[int]) -> list[Account]:
    """`SELECT … FOR UPDATE OF account` — the platform's accounts first, then the merchants',
    each in id order — joined to the merchant (status and minimum read, not locked, for the
    suspension rules). Platform first because a settlement pays (fund, buyer refunds) and
    then recovers (deposit, receivable, fund) in one transaction: ordering by id alone let it
    hold the fund while asking for a deposit another transaction had locked before asking for
    the fund — a deadlock the payout race test found. The ledger's hot path, so plain SQL
    (the ORM's query compilation costs more than the database's work here). Also used by
    escrow.batch."""
    return _lock_account_rows(ids, ())[0]


def _lock_account_rows(
    ids: Sequence[int], after: Sequence[tuple[str, list[Any]]]
) -> tuple[list[Account], list[list[dict[str, Any]]]]:
    if not ids:
        return [], [[] for _query in after]
    lock = " FOR UPDATE OF a" if connection.features.has_select_for_update else ""
    select = (
        "SELECT a.id, a.kind, a.merchant_id, a.balance, a.held, "  # noqa: S608
        "m.status, m.suspension_reason, m.minimum_deposit "
        f"FROM {_ACCOUNT} a LEFT OUTER JOIN {_MERCHANT} m ON m.id = a.merchant_id "
        f"WHERE a.id IN ({', '.join(['%s'] * len(ids))}) "
        f"ORDER BY a.merchant_id IS NOT NULL, a.id{lock}"
    )
    params: list[Any] = list(ids)
    returned: list[list[dict[str, Any]]] = []
    with connection.cursor() as cursor:
        if after and connection.vendor == "postgresql":
            # `locked` counts every account row, so reading it finishes the accounts' locks;
            # each query waits for it (a one-time filter) before it scans, let alone locks.
            ctes = [
                f"acc AS MATERIALIZED ({select})",
                "locked AS MATERIALIZED (SELECT count(*) AS n FROM acc)",
            ]
            for i, (sql, query_params) in enumerate(after):
                ctes.append(
                    f"after{i} AS MATERIALIZED (SELECT * FROM ({sql}) AS q "  # noqa: S608
                    "WHERE EXISTS (SELECT 1 FROM locked))"
                )
                params += query_params
            outs = "".join(
                f", (SELECT json_agg(r) FROM after{i} AS r)"  # noqa: S608
                for i in range(len(after))
            )
            execute_hot(
                cursor,
                f"WITH {', '.join(ctes)} SELECT acc.*{outs} FROM acc "  # noqa: S608
                "ORDER BY acc.merchant_id IS NOT NULL, acc.id",
                params,
            )
            rows = cursor.fetchall()
            returned = [list(rows[0][8 + i] or []) if rows else [] for i in range(len(after))]
        else:
            execute_hot(cursor, select, params)
            rows = cursor.fetchall()
            for sql, query_params in after:
                cursor.execute(sql, query_params)
                names = [column[0] for column in cursor.description]
                returned.append([dict(zip(names, row, strict=True)) for row in cursor.fetchall()])
    accounts: list[Account] = []
    for row in rows:
        account = Account.from_db(connection.alias, _ACCOUNT_FIELDS, row[:5])
        if row[2] is not None:
            account.merchant = Merchant.from_db(
                connection.alias,
                _MERCHANT_FIELDS,
                [row[2], row[5], row[6], Decimal(str(row[7])).quantize(CENT)],
            )
        accounts.append(account)
    return accounts, returned


# The hot path's statements are prepared once per database session (PostgreSQL): a posting's
# data-modifying CTEs cost the server more to parse and plan than to run (docs/benchmarks.md,
# `hordak`). `PREPARE` and its first `EXECUTE` go in one round trip; a prepared statement
# outlives a rolled-back transaction, so the names are kept per connection. Behind a pooler
# in transaction mode (Django's DISABLE_SERVER_SIDE_CURSORS set for it) sessions are not
# ours: the statements are sent as they are.
_PREPARED: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
_PREPARED_MAX = 64  # statement shapes per session; past that, sent as they are
_PREPARED_NAMES = itertools.count()


def execute_hot(cursor: CursorWrapper, sql: str, params: Sequence[Any]) -> None:
    """`cursor.execute(sql, params)`, as a prepared statement where that is safe."""
    raw = connection.connection
    if (
        connection.vendor != "postgresql"
        or raw is None
        or connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
        or "%%" in sql
    ):
        cursor.execute(sql, params)
        return
    names = _PREPARED.setdefault(raw, {})
    name = names.get(sql)
    arguments = f"({', '.join(['%s'] * len(params))})" if params else ""
    if name is not None:
        cursor.execute(f"EXECUTE {name}{arguments}", params)
        return
    if len(names) >= _PREPARED_MAX:
        cursor.execute(sql, params)
        return
    # A new name each time: a PREPARE whose EXECUTE failed is kept by the session unrecorded.
    name = f"escrow_hot_{next(_PREPARED_NAMES)}"
    numbered = iter(range(1, len(params) + 1))
    prepare = re.sub(r"%s", lambda _m: f"${next(numbered)}", sql)
    cursor.execute(f"PREPARE {name} AS {prepare}; EXECUTE {name}{arguments}", params)
    names[sql] = name


def existing_transaction(key: str) -> LedgerTransaction | None:
    return LedgerTransaction.objects.filter(key=key).first()


def _written(
    pk: int,
    *,
    key: str,
    kind: TransactionKind,
    merchant_id: int | None,
    dispute_id: int | None,
    memo: str,
    user: User | None,
    now: datetime,
) -> LedgerTransaction:
    """The LedgerTransaction a posting statement just inserted, built from what it was given
    and the id it returned instead of read back."""
    tx = LedgerTransaction(
        pk=pk,
        key=key,
        kind=kind,
        merchant_id=merchant_id,
        dispute_id=dispute_id,
        memo=memo,
        created_by=user,
        created_at=now,
    )
    tx._state.adding = False
    tx._state.db = connection.alias
    return tx


def _claim(
    cursor: CursorWrapper,
    *,
    key: str,
    kind: TransactionKind,
    merchant_id: int | None,
    dispute_id: int | None,
    memo: str,
    user: User | None,
) -> tuple[LedgerTransaction, bool]:
    """Insert the transaction row unless its key exists: (row, True), or (first row, False).

    `INSERT … ON CONFLICT (key) DO NOTHING` (PostgreSQL, SQLite ≥ 3.35) is the savepoint-free
    form of "catch IntegrityError in a savepoint, read the existing row": a concurrent insert of
    the same key makes PostgreSQL wait for the other transaction, then do nothing if it
    committed, so the key is posted once however many threads race for it."""
    now = timezone.now()
    cursor.execute(
        f"INSERT INTO {_TX} (key, kind, merchant_id, dispute_id, memo, created_by_id, "  # noqa: S608
        "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (key) DO NOTHING RETURNING id",
        [
            key,
            str(kind),
            merchant_id,
            dispute_id,
            memo,
            user.pk if user else None,
            connection.ops.adapt_datetimefield_value(now),
        ],
    )
    row = cursor.fetchone()
    if row is None:
        return LedgerTransaction.objects.get(key=key), False
    tx = _written(
        row[0],
        key=key,
        kind=kind,
        merchant_id=merchant_id,
        dispute_id=dispute_id,
        memo=memo,
        user=user,
        now=now,
    )
    return tx, True


def post(
    *,
    key: str,
    kind: TransactionKind,
    legs: Iterable[tuple[Account, int]],
    touched: Iterable[Account] = (),
    merchant_id: int | None = None,
    dispute_id: int | None = None,
    memo: str = "",
    user: User | None = None,
) -> tuple[LedgerTransaction, bool]:
    """Write one balanced transaction: the row, its legs, the new balances of the accounts
    (which the caller has locked). Returns (transaction, created); a key already posted
    returns the first transaction and moves nothing.

    One statement on PostgreSQL (`post_with`), three elsewhere, whatever the number of legs:
    this is the ledger's hot path."""
    tx, created, _returned = post_with(
        key=key,
        kind=kind,
        legs=legs,
        touched=touched,
        merchant_id=merchant_id,
        dispute_id=dispute_id,
        memo=memo,
        user=user,
    )
    return tx, created


def _post_apart(
    *,
    key: str,
    kind: TransactionKind,
    real: list[tuple[Account, int]],
    touched: Iterable[Account],
    merchant_id: int | None,
    dispute_id: int | None,
    memo: str,
    user: User | None,
) -> tuple[LedgerTransaction, bool]:
    """`post` in three statements (SQLite, which has no data-modifying CTE)."""
    with connection.cursor() as cursor:
        tx, created = _claim(
            cursor,
            key=key,
            kind=kind,
            merchant_id=merchant_id,
            dispute_id=dispute_id,
            memo=memo,
            user=user,
        )
        if not created:
            return tx, False
        values: list[int] = []
        for account, amount in real:
            account.balance += amount
            values += [tx.pk, account.pk, amount, account.balance]
        cursor.execute(
            f"INSERT INTO {_LEG} (transaction_id, account_id, amount, balance_after) VALUES "  # noqa: S608
            + ", ".join(["(%s, %s, %s, %s)"] * len(real)),
            values,
        )
        changed = {account.pk: account for account, _amount in real}
        for account in touched:
            changed[account.pk] = account
        save_balances(changed.values(), cursor)
    return tx, True


def post_with(
    *,
    key: str,
    kind: TransactionKind,
    legs: Iterable[tuple[Account, int]],
    touched: Iterable[Account] = (),
    merchant_id: int | None = None,
    dispute_id: int | None = None,
    memo: str = "",
    user: User | None = None,
    also: Sequence[tuple[str, list[Any]]] = (),
    now: datetime | None = None,
) -> tuple[LedgerTransaction, bool, list[list[Any]]]:
    """`post`, and with it the statements `also` — each a data-modifying statement with
    RETURNING one column that runs only if the transaction is new (it names the new row as
    `FROM tx`, only to depend on it: `… WHERE EXISTS (SELECT 1 FROM tx)`,
    `INSERT … SELECT … FROM tx`) —
    all in ONE statement on PostgreSQL: a data-modifying CTE inserts the transaction
    (ON CONFLICT (key) DO NOTHING), its legs and the new balances, and the caller's booking
    (a compensation's order booking and outbox row), so a posting is one round trip to the
    database instead of five. Returns (transaction, created, each statement's returned
    values); a key already posted moves and books nothing. Elsewhere (SQLite) the same
    statements run one after the other."""
    real = [(account, amount) for account, amount in legs if amount]
    if sum(amount for _account, amount in real) != 0 or len(real) < 2:
        raise ValueError(f"unbalanced or empty transaction {key}: {real}")
    if connection.vendor != "postgresql":
        tx, created = _post_apart(
            key=key,
            kind=kind,
            real=real,
            touched=touched,
            merchant_id=merchant_id,
            dispute_id=dispute_id,
            memo=memo,
            user=user,
        )
        returned: list[list[Any]] = []
        if created:
            with connection.cursor() as cursor:
                for sql, apart_params in also:
                    cursor.execute(_apart(sql), apart_params)
                    returned.append([row[0] for row in cursor.fetchall()])
        return tx, created, returned
    now = now or timezone.now()
    leg_rows: list[Any] = []
    for account, amount in real:
        account.balance += amount
        leg_rows += [account.pk, amount, account.balance]
    changed = {account.pk: account for account, _amount in real}
    for account in touched:
        changed[account.pk] = account
    balance_rows = [v for a in changed.values() for v in (a.pk, a.balance, a.held)]
    row = "(%s::bigint, %s::bigint, %s::bigint)"
    ctes = [
        # table names and placeholders only
        f"tx AS (INSERT INTO {_TX} (key, kind, merchant_id, dispute_id, memo, created_by_id, "  # noqa: S608
        "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (key) DO NOTHING RETURNING id)",
        f"legs AS (INSERT INTO {_LEG} (transaction_id, account_id, amount, balance_after) "  # noqa: S608
        f"SELECT tx.id, v.a, v.m, v.b FROM tx, (VALUES {', '.join([row] * len(real))}) "
        "AS v(a, m, b))",
        f"balances AS (UPDATE {_ACCOUNT} AS acc SET balance = v.b, held = v.h "  # noqa: S608
        f"FROM (VALUES {', '.join([row] * len(changed))}) AS v(i, b, h) "
        "WHERE acc.id = v.i AND EXISTS (SELECT 1 FROM tx))",
    ]
    params: list[Any] = [
        key,
        str(kind),
        merchant_id,
        dispute_id,
        memo,
        user.pk if user else None,
        now,
        *leg_rows,
        *balance_rows,
    ]
    for i, (sql, also_params) in enumerate(also):
        ctes.append(f"also{i} AS ({sql})")
        params += also_params
    outs = "".join(f", ARRAY(SELECT * FROM also{i})" for i in range(len(also)))  # noqa: S608
    with connection.cursor() as cursor:
        execute_hot(
            cursor,
            f"WITH {', '.join(ctes)} SELECT (SELECT id FROM tx){outs}",  # noqa: S608
            params,
        )
        result = cursor.fetchone()
    if result is None or result[0] is None:
        for account, amount in real:  # nothing was written: the balances in hand are as read
            account.balance -= amount
        return LedgerTransaction.objects.get(key=key), False, []
    tx = _written(
        result[0],
        key=key,
        kind=kind,
        merchant_id=merchant_id,
        dispute_id=dispute_id,
        memo=memo,
        user=user,
        now=now,
    )
    return tx, True, [list(values) for values in result[1:]]


class GateRefused(Exception):  # noqa: N818 - a refusal, not an error
    """`post_platform`'s gate held less than it needed: nothing was locked or written."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value


def post_platform(
    *,
    key: str,
    kind: TransactionKind,
    legs: Sequence[tuple[_Kind, int]],
    merchant_id: int | None = None,
    dispute_id: int | None = None,
    memo: str = "",
    user: User | None = None,
    also: Sequence[tuple[str, list[Any]]] = (),
    gate: tuple[str, list[Any], int] | None = None,
) -> tuple[LedgerTransaction, bool, list[list[Any]]]:
    """`post_with` between platform accounts named by kind, which it locks itself: on
    PostgreSQL the lock (platform accounts in id order, as `lock_by_kind`), the transaction,
    its legs, the new balances and `also` are ONE statement — a compensation's payout needs
    no balance in hand before it posts (the fund may go below zero; nothing else is
    checked), so the round trip of `lock_by_kind` is saved. The balances are computed by
    the database from the locked rows (under READ COMMITTED the newest version, once the
    lock is granted). Elsewhere: `lock_by_kind`, then `post_with`.

    `gate` (PostgreSQL only) is `(sql, params, least)`: a SELECT of one row and one bigint
    column, which may lock its row (`FOR UPDATE`), run first in the same statement — before
    the accounts are locked, so a lock it takes comes first — and the posting is made only if
    its value is at least `least`. Below that (or no row) no account is locked, nothing is
    written and `GateRefused` is raised carrying the value (0 for no row): a compensation's order
    lock and headroom check ride in its payout's statement (escrow.services.compensation)."""
    real = [(account_kind, amount) for account_kind, amount in legs if amount]
    if sum(amount for _kind, amount in real) != 0 or len(real) < 2:
        raise ValueError(f"unbalanced or empty transaction {key}: {real}")
    if len({account_kind for account_kind, _amount in real}) != len(real):
        raise ValueError(f"an account twice in transaction {key}: {real}")
    if connection.vendor != "postgresql":
        if gate is not None:
            raise ValueError("post_platform: a gate needs PostgreSQL")
        accounts = lock_by_kind(None, [account_kind for account_kind, _amount in real])
        return post_with(
            key=key,
            kind=kind,
            legs=[(accounts[account_kind], amount) for account_kind, amount in real],
            merchant_id=merchant_id,
            dispute_id=dispute_id,
            memo=memo,
            user=user,
            also=also,
        )
    now = timezone.now()
    for attempt in range(2):
        ids = account_ids(None, [account_kind for account_kind, _amount in real])
        row = "(%s::bigint, %s::text, %s::bigint)"
        # The gate's row is read (and locked) once, before the accounts: an InitPlan of
        # `acc`'s filter, evaluated before its first row is locked.
        ctes = [] if gate is None else [f"gate AS MATERIALIZED ({gate[0]})"]
        gated = "" if gate is None else " AND (SELECT * FROM gate) >= %s::bigint"
        ctes += [
            # The accounts locked (id order) and checked to be the platform's of that kind: a
            # stale cached id counts short, and then nothing is written.
            f"acc AS MATERIALIZED (SELECT a.id, v.m FROM {_ACCOUNT} a "  # noqa: S608
            f"JOIN (VALUES {', '.join([row] * len(real))}) AS v(i, k, m) ON a.id = v.i "
            f"WHERE a.kind = v.k AND a.merchant_id IS NULL{gated} ORDER BY a.id FOR UPDATE OF a)",
            f"tx AS (INSERT INTO {_TX} (key, kind, merchant_id, dispute_id, memo, "  # noqa: S608
            "created_by_id, created_at) SELECT %s, %s, %s, %s, %s, %s, %s "
            f"WHERE (SELECT count(*) FROM acc) = {len(real)} "
            "ON CONFLICT (key) DO NOTHING RETURNING id)",
            f"balances AS (UPDATE {_ACCOUNT} AS a SET balance = a.balance + acc.m "  # noqa: S608
            "FROM acc WHERE a.id = acc.id AND EXISTS (SELECT 1 FROM tx) "
            "RETURNING a.id, a.balance)",
            f"legs AS (INSERT INTO {_LEG} (transaction_id, account_id, amount, balance_after) "  # noqa: S608
            "SELECT tx.id, acc.id, acc.m, balances.balance FROM tx, acc "
            "JOIN balances ON balances.id = acc.id)",
        ]
        params: list[Any] = [] if gate is None else list(gate[1])
        params += [v for k, m in real for v in (ids[k], str(k), m)]
        if gate is not None:
            params.append(gate[2])
        params += [key, str(kind), merchant_id, dispute_id, memo, user.pk if user else None, now]
        for i, (sql, also_params) in enumerate(also):
            ctes.append(f"also{i} AS ({sql})")
            params += also_params
        outs = "".join(f", ARRAY(SELECT * FROM also{i})" for i in range(len(also)))  # noqa: S608
        with connection.cursor() as cursor:
            execute_hot(
                cursor,
                f"WITH {', '.join(ctes)} SELECT (SELECT count(*) FROM acc), "  # noqa: S608
                f"(SELECT id FROM tx){outs}" + ("" if gate is None else ", (SELECT * FROM gate)"),
                params,
            )
            result = cursor.fetchone()
        if gate is not None and result is not None:
            value = 0 if result[-1] is None else int(result[-1])
            if value < gate[2]:
                raise GateRefused(value)
            result = result[:-1]
        if result is None or result[0] != len(real):
            if attempt == 0:  # a cached id whose row was rolled back: look them up again
                forget_account_ids()
            continue
        if result[1] is None:
            return LedgerTransaction.objects.get(key=key), False, []
        tx = _written(
            result[1],
            key=key,
            kind=kind,
            merchant_id=merchant_id,
            dispute_id=dispute_id,
            memo=memo,
            user=user,
            now=now,
        )
        return tx, True, [list(values) for values in result[2:]]
    raise RuntimeError("escrow accounts could not be resolved")


def _apart(sql: str) -> str:
    """An `also` statement run on its own once the posting was made (SQLite): `tx` exists."""
    return sql.replace("FROM tx", "FROM (SELECT 1 AS id) AS tx")


def save_balances(accounts: Iterable[Account], cursor: CursorWrapper | None = None) -> None:
    """Write the balances (and holds) of locked accounts in one statement."""
    accounts = list(accounts)
    if not accounts:
        return
    if cursor is None:
        with connection.cursor() as own:
            return save_balances(accounts, own)
    cases = " ".join(["WHEN %s THEN %s"] * len(accounts))
    balance = [v for a in accounts for v in (a.pk, a.balance)]
    held = [v for a in accounts for v in (a.pk, a.held)]
    ids = [a.pk for a in accounts]
    cursor.execute(
        f"UPDATE {_ACCOUNT} SET balance = CASE id {cases} END, "  # noqa: S608
        f"held = CASE id {cases} END WHERE id IN ({', '.join(['%s'] * len(ids))})",
        [*balance, *held, *ids],
    )


def sync_suspension(deposit: Account, receivable: Account, *, lowered: bool) -> None:
    """After money left the deposit (`lowered`): suspend (reason `deposit`) an active shop
    that now owes or is under its minimum. After money came in: lift a `deposit` suspension
    once cured — never another reason. A top-up too small to cure does not suspend a shop
    that was let sell; a shop awaiting verification tops up before it opens (the activation
    guard decides then)."""
    merchant = deposit.merchant
    if merchant is None:
        return
    short = receivable.balance < 0 or deposit.balance < to_fen(merchant.minimum_deposit)
    if lowered and short and merchant.status == MerchantStatus.ACTIVE:
        order_services.merchant_suspend(merchant=merchant, reason=SuspensionReason.DEPOSIT)
    elif (
        not lowered
        and not short
        and merchant.status == MerchantStatus.SUSPENDED
        and merchant.suspension_reason == SuspensionReason.DEPOSIT
    ):
        order_services.merchant_lift_suspension(merchant=merchant, reason=SuspensionReason.DEPOSIT)


def no_savepoint() -> transaction.Atomic:
    """The hot services (holds, payouts, recoveries) open no savepoint of their own inside a
    caller's transaction: they raise only on bad input — checked before their first query —
    or on a database error, which must fail the caller's whole transaction anyway (a complaint
    must never be resolved while its money movement was rolled back)."""
    return transaction.atomic(savepoint=False)


def require_perm(user: User, perm: str) -> None:
    if not (user.is_active and user.is_staff and user.has_perm(perm)):
        raise Forbidden(_("This needs the finance permission %(perm)s.") % {"perm": perm})
