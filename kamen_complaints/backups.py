"""Backup and restore of the whole platform: the database, the evidence files and a manifest
that ties them to the keys they need (docs/backup.md).

A backup is one directory (or a `.tar` of it), written under a temporary name and renamed when
complete, so a half-written backup never looks like a backup:

    kamen-backup-20261202T094500Z/
        manifest.json       what is inside and how to check it: created_at, the database vendor
                            and server version, the row count of every table and the applied
                            migrations (both read in the dump's own snapshot), every media
                            file's size and SHA-256, the database file's SHA-256, and the
                            fingerprints of the keys (never the keys)
        manifest.json.sig   HMAC-SHA256 of manifest.json's exact bytes with BACKUP_SIGNING_KEY
                            (a key that is never in the backup), and that key's fingerprint
        KEYS.txt            the keys that must be kept with this backup, in words
        database.pgdump     PostgreSQL: `pg_dump --format=custom` of an exported snapshot
        database.sqlite3    SQLite: a copy by SQLite's online backup API
        media/...           MEDIA_ROOT, file for file

Consistency. The database is copied first, as of one instant (PostgreSQL: the snapshot the
counts were read in is handed to pg_dump with `--snapshot`; SQLite: the backup API copies
every page under one read transaction while the server keeps writing), then the media files.
Evidence files are written before the row that names them commits and are never changed
afterwards, so every evidence row in the copy already has its file when the media are copied;
a file uploaded after the snapshot is an extra file, harmless. The backup checks it: every
evidence row of the snapshot must have its file with the SHA-256 the row recorded, or the
backup says which do not (and the command exits non-zero).

Keys. CARD_KEY_KEYS decrypt the card keys and identity numbers, FINGERPRINT_KEY finds
duplicates and matches a key typed by a buyer, PACKAGE_SIGNING_KEY signs the evidence packages.
None is in the database: without them a restored platform cannot show a buyer their keys or
sign what it said it would. The manifest records a salted SHA-256 of each (never the key), so
a restore refuses to run with the wrong keys in its environment.

Authenticity. Hashes alone prove nothing against someone who can edit the archive: they edit
the dump and write its new SHA-256 into the manifest. So the manifest is authenticated with a
MAC whose key (BACKUP_SIGNING_KEY) lives in the environment like the other keys, never in the
archive; the restore checks it before it reads anything else in the manifest, and then every
file against the (now trusted) SHA-256 and size, all before writing anything.

Restore (the order docs/backup.md gives the operator): keys in the environment → the checks
(manifest signature, archive intact, keys match, the target database and media folder empty
unless `force`) → database → media → verify (every evidence file's SHA-256, the row counts,
every card key decrypts, the ledger check) → then the operator starts web, worker and beat,
and the first sweep enforces every deadline that passed while the platform was down, once.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

FORMAT = "kamen-complaints-backup/1"
MANIFEST = "manifest.json"
SIGNATURE_FILE = "manifest.json.sig"
SIGNATURE_ALGORITHM = "hmac-sha256"
# Domain separation: this MAC means "a Kamen Complaints backup manifest", nothing else.
_MAC_CONTEXT = b"kamen-complaints-backup-manifest/1\n"
KEYS_FILE = "KEYS.txt"
PG_DUMP_FILE = "database.pgdump"
SQLITE_FILE = "database.sqlite3"
MEDIA_DIR = "media"
PREFIX = "kamen-backup-"
KEY_SETTINGS = ("CARD_KEY_KEYS", "FINGERPRINT_KEY", "PACKAGE_SIGNING_KEY")
_CHUNK = 1024 * 1024
_FILE_STORAGE = "django.core.files.storage.FileSystemStorage"
# pg_dump/pg_restore run without a terminal: never wait for a password prompt.
_PG_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
}

Say = Callable[[str], None]


class BackupError(Exception):
    """The backup or restore cannot go on (or found a problem): the message says why."""


def _quiet(_line: str) -> None:
    return None


# --- what the apps register at start-up (AppConfig.ready) ---------------------------------
# The project package imports no app (docs/architecture.md): an app that holds a key whose
# public id the manifest records, or data only it can check after a restore, registers here.


@dataclass(frozen=True)
class RestoreCheck:
    """A check run after a restore and by `manage.py restore --check`, on the configured
    database as it is: `run` returns the lines to report and the problems it found."""

    name: str
    run: Callable[[], tuple[list[str], list[str]]]


_restore_checks: list[RestoreCheck] = []
_public_key_ids: dict[str, Callable[[], str]] = {}


def register_restore_check(check: RestoreCheck) -> None:
    """Once per name (ready() may run twice in a test process)."""
    if all(known.name != check.name for known in _restore_checks):
        _restore_checks.append(check)


def register_public_key_id(name: str, key_id: Callable[[], str]) -> None:
    """A public key id the manifest records beside the keys' fingerprints (what a court
    checks an evidence package with), as `name` in its `keys`."""
    _public_key_ids[name] = key_id


# --- keys ---------------------------------------------------------------------------------


def key_fingerprint(name: str, value: str) -> str:
    """A salted SHA-256 of one key, enough to recognise it and useless to recover it."""
    digest = hashlib.sha256(f"kamen-complaints-backup:{name}:{value.strip()}".encode())
    return "sha256:" + digest.hexdigest()[:32]


def key_fingerprints() -> dict[str, Any]:
    """The fingerprints of the keys in this environment (the manifest's `keys`), and the
    public key ids the apps registered."""
    return {
        # Newest first, like the setting: the first one encrypts.
        "CARD_KEY_KEYS": [key_fingerprint("CARD_KEY_KEYS", k) for k in settings.CARD_KEY_KEYS],
        "FINGERPRINT_KEY": key_fingerprint("FINGERPRINT_KEY", settings.FINGERPRINT_KEY),
        "PACKAGE_SIGNING_KEY": key_fingerprint("PACKAGE_SIGNING_KEY", settings.PACKAGE_SIGNING_KEY),
        # Public: e.g. what a court checks an evidence package with (disputes registers
        # `package_public_key_id`; manage.py package_public_key).
        **{name: key_id() for name, key_id in _public_key_ids.items()},
    }


@dataclass
class KeyCheck:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def compare_keys(recorded: dict[str, Any], current: dict[str, Any]) -> KeyCheck:
    """What the keys in the environment mean for restoring a backup made with `recorded`.

    - CARD_KEY_KEYS: none of the backup's keys here → nothing encrypted can be read: refused.
      Some missing → a warning (an old key rotated out is fine once `rotate_card_keys` ran; the
      restore then tries every secret, so a key still needed is found).
    - FINGERPRINT_KEY: another one → a typed key no longer matches its fingerprint and every
      stored key looks new to duplicate detection: refused.
    - PACKAGE_SIGNING_KEY: another one → the data is intact, but new packages are signed with
      another key: a warning (publish its public half; old packages verify with the old one).
    """
    check = KeyCheck()
    old_cards = list(recorded.get("CARD_KEY_KEYS") or [])
    new_cards = set(current["CARD_KEY_KEYS"])
    if old_cards and not new_cards & set(old_cards):
        check.errors.append(
            "CARD_KEY_KEYS: none of the keys this backup was made with is set here; the card "
            "keys and identity numbers in it cannot be decrypted. Set CARD_KEY_KEYS to the keys "
            "kept with the backup (KEYS.txt)."
        )
    else:
        missing = [fp for fp in old_cards if fp not in new_cards]
        if missing:
            check.warnings.append(
                f"CARD_KEY_KEYS: {len(missing)} of the backup's {len(old_cards)} key(s) not set "
                "here (rotated out?); every secret is test-decrypted after the restore."
            )
    if recorded.get("FINGERPRINT_KEY") != current["FINGERPRINT_KEY"]:
        check.errors.append(
            "FINGERPRINT_KEY differs from the one this backup was made with: card keys typed by "
            "buyers would no longer match and duplicate detection would miss every stored key. "
            "Set the FINGERPRINT_KEY kept with the backup."
        )
    if recorded.get("PACKAGE_SIGNING_KEY") != current["PACKAGE_SIGNING_KEY"]:
        check.warnings.append(
            "PACKAGE_SIGNING_KEY differs from the one this backup was made with (public key "
            f"{recorded.get('package_public_key_id')}): evidence packages signed before verify "
            "with that public key only; publish the new one (manage.py package_public_key)."
        )
    return check


def keys_statement(manifest: dict[str, Any]) -> str:
    keys = manifest["keys"]
    cards = "\n".join(f"    {fp}" for fp in keys["CARD_KEY_KEYS"])
    return f"""Kamen Complaints backup, {manifest["created_at"]}

This backup is NOT readable on its own. Keep these three settings with it (in the secret
store, NOT in this folder), or the restored platform cannot show a buyer their card keys,
cannot match a key a buyer types, and cannot sign evidence packages with the same key:

  CARD_KEY_KEYS        Fernet keys, newest first: decrypt every card key and identity number.
                       Fingerprints of the keys set when the backup was made:
{cards}
  FINGERPRINT_KEY      HMAC key of the card-key and identity fingerprints. Never changes.
                       Fingerprint: {keys["FINGERPRINT_KEY"]}
  PACKAGE_SIGNING_KEY  Ed25519 key signing evidence packages.
                       Fingerprint: {keys["PACKAGE_SIGNING_KEY"]}
                       Public key id (what packages name): {keys["package_public_key_id"]}

And BACKUP_SIGNING_KEY, which authenticates this backup's manifest (manifest.json.sig): a
restore refuses a backup whose manifest it does not verify with it.
                       Fingerprint: {signing_key_fingerprint()}

The fingerprints are salted SHA-256 hashes: they identify the keys, they cannot reveal them.
`manage.py restore` compares them with its environment and refuses the wrong keys.

Restore order (docs/backup.md): set the keys in the environment -> manage.py restore THIS
(database, media, verification, ledger check) -> start web, worker and beat.
The archive holds personal data (names, phone numbers, addresses, password hashes, evidence):
store it encrypted and with the same access rules as the database.
"""


# --- the manifest's signature -------------------------------------------------------------


def _signing_key() -> bytes:
    key = str(getattr(settings, "BACKUP_SIGNING_KEY", "") or "").strip()
    if not key:
        raise BackupError(
            "BACKUP_SIGNING_KEY is not set: backups are signed and checked with it (docs/backup.md)"
        )
    return key.encode("utf-8")


def signing_key_fingerprint() -> str:
    return key_fingerprint("BACKUP_SIGNING_KEY", _signing_key().decode("utf-8"))


def _manifest_mac(data: bytes) -> str:
    return hmac.new(_signing_key(), _MAC_CONTEXT + data, hashlib.sha256).hexdigest()


def sign_manifest(data: bytes) -> str:
    """The text of manifest.json.sig for these exact manifest bytes."""
    signature = {
        "algorithm": SIGNATURE_ALGORITHM,
        "key": signing_key_fingerprint(),
        "mac": _manifest_mac(data),
    }
    return json.dumps(signature, sort_keys=True) + "\n"


def verified_manifest_bytes(folder: Path) -> bytes:
    """manifest.json's bytes, once its MAC checks with BACKUP_SIGNING_KEY; else BackupError
    naming the file. Nothing in the manifest is read before this."""
    try:
        data = (folder / MANIFEST).read_bytes()
    except FileNotFoundError as exc:
        raise BackupError(f"{folder} has no {MANIFEST}: not a backup") from exc
    try:
        signature = json.loads((folder / SIGNATURE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(
            f"{SIGNATURE_FILE} is missing: the manifest is not signed, so nothing in this "
            "backup can be trusted; nothing restored"
        ) from exc
    except ValueError as exc:
        raise BackupError(f"{SIGNATURE_FILE} is not valid JSON; nothing restored") from exc
    if (
        not isinstance(signature, dict)
        or signature.get("algorithm") != SIGNATURE_ALGORITHM
        or not isinstance(signature.get("mac"), str)
    ):
        raise BackupError(f"{SIGNATURE_FILE}: unknown signature format; nothing restored")
    if not hmac.compare_digest(signature["mac"], _manifest_mac(data)):
        other_key = signature.get("key") != signing_key_fingerprint()
        raise BackupError(
            f"{MANIFEST} does not match its signature ({SIGNATURE_FILE}): "
            + (
                f"it was signed with another BACKUP_SIGNING_KEY (fingerprint "
                f"{signature.get('key')}); set the key kept with this backup"
                if other_key
                else "the manifest was changed after the backup was made"
            )
            + "; nothing restored"
        )
    return data


# --- helpers ------------------------------------------------------------------------------


def _sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _copy_hashing(source: Path, target: Path) -> tuple[str, int]:
    """Copy a file and hash the bytes copied (not a second read that could differ)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    shutil.copystat(source, target)  # keep mtimes: the draft purge goes by them
    return digest.hexdigest(), size


def _vendor() -> str:
    return connection.vendor


def _sqlite_path() -> Path:
    name = str(settings.DATABASES["default"]["NAME"])
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError(f"SQLite database {name!r} is not a file: nothing to back up or restore")
    return Path(name)


def _pg_env() -> dict[str, str]:
    """The environment pg_dump and pg_restore need to reach the configured database (the
    password in PGPASSWORD, never on the command line where `ps` shows it)."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    values = {
        "PGDATABASE": db.get("NAME") or "",
        "PGHOST": db.get("HOST") or "",
        "PGPORT": str(db.get("PORT") or ""),
        "PGUSER": db.get("USER") or "",
        "PGPASSWORD": db.get("PASSWORD") or "",
    }
    for option, variable in _PG_ENV.items():
        if db.get("OPTIONS", {}).get(option) is not None:
            values[variable] = str(db["OPTIONS"][option])
    env.update({k: v for k, v in values.items() if v})
    return env


def _run(command: list[str], *, env: dict[str, str]) -> str:
    tool = command[0]
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} is not installed: install the PostgreSQL client tools (Debian: "
            "apt-get install postgresql-client), of the server's major version or newer"
        )
    result = subprocess.run(  # noqa: S603 - fixed tool, arguments built here
        command, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{tool} failed (exit {result.returncode}):\n{result.stderr.strip()}")
    return result.stdout


def _tool_version(tool: str) -> str:
    if shutil.which(tool) is None:
        return ""
    out = subprocess.run(  # noqa: S603
        [tool, "--version"], capture_output=True, text=True, check=False
    ).stdout
    return out.strip()


@dataclass
class Snapshot:
    """What the manifest says about the database, read in the copy's own snapshot."""

    counts: dict[str, int]
    migrations: dict[str, list[str]]
    evidence: list[tuple[str, str]]  # (stored_name, sha256)
    server_version: str


def _evidence_table() -> str:
    return apps.get_model("disputes", "Evidence")._meta.db_table


def _read_snapshot(cursor: Any, tables: list[str], quote: Callable[[str], str]) -> Snapshot:
    counts = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - introspected names
        counts[table] = int(cursor.fetchone()[0])
    migrations: dict[str, list[str]] = {}
    if "django_migrations" in tables:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        for app, name in cursor.fetchall():
            migrations.setdefault(app, []).append(name)
    evidence: list[tuple[str, str]] = []
    table = _evidence_table()
    if table in tables:
        cursor.execute(f"SELECT stored_name, sha256 FROM {quote(table)} ORDER BY id")  # noqa: S608
        evidence = [(str(name), str(digest)) for name, digest in cursor.fetchall()]
    return Snapshot(counts=counts, migrations=migrations, evidence=evidence, server_version="")


# --- backup -------------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    problems: list[str]


def _dump_postgres(target: Path, say: Say) -> Snapshot:
    """pg_dump of one snapshot; the counts, migrations and evidence list read in that same
    snapshot, so the manifest describes exactly what the dump holds."""
    connection.close()
    connection.ensure_connection()
    with transaction.atomic(), connection.cursor() as cursor:
        # Must be the transaction's first statement; the exported snapshot lives as long as
        # this transaction, which is held open until pg_dump has finished.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
        snapshot_id, server_version = cursor.fetchone()
        say(f"database: pg_dump of PostgreSQL {server_version}, snapshot {snapshot_id}")
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-password",
                f"--snapshot={snapshot_id}",
                f"--file={target}",
            ],
            env=_pg_env(),
        )
        tables = connection.introspection.table_names(cursor)
        snapshot = _read_snapshot(cursor, tables, connection.ops.quote_name)
    snapshot.server_version = str(server_version)
    return snapshot


def sqlite_online_copy(source: Path, target: Path) -> None:
    """Copy a live SQLite database with SQLite's online backup API: every page in one step
    (pages=-1) under one read transaction, so the copy is one instant of the database while
    web, worker and beat keep writing (WAL: readers and the writer do not block each other).
    The copy is left in rollback-journal mode, one self-contained file."""
    src = sqlite3.connect(str(source), timeout=20)
    copy = sqlite3.connect(str(target))
    try:
        src.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
        src.close()


def _copy_sqlite(target: Path, say: Say) -> Snapshot:
    source_path = _sqlite_path()
    if not source_path.exists():
        raise BackupError(f"no SQLite database at {source_path}")
    say(f"database: SQLite online backup of {source_path}")
    connection.close()
    sqlite_online_copy(source_path, target)
    # The manifest is read from the copy itself: it describes exactly what was copied.
    copy = sqlite3.connect(str(target))
    try:
        cursor = copy.cursor()
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
        tables = [row[0] for row in cursor.fetchall()]
        snapshot = _read_snapshot(cursor, tables, lambda name: '"' + name.replace('"', '""') + '"')
        snapshot.server_version = sqlite3.sqlite_version
    finally:
        copy.close()
    return snapshot


def _media_root() -> Path:
    backend = settings.STORAGES["default"]["BACKEND"]
    if backend != _FILE_STORAGE:
        raise BackupError(
            f"evidence files are stored by {backend}, not in a local MEDIA_ROOT: back the bucket "
            "up with its own tools (versioning, replication) and run with --no-media"
        )
    return Path(settings.MEDIA_ROOT)


def _copy_media(root: Path, target: Path, say: Say) -> tuple[dict[str, Any], list[str]]:
    files: dict[str, Any] = {}
    problems: list[str] = []
    target.mkdir(mode=0o700)
    if not root.exists():
        say(f"media: {root} does not exist (no files uploaded yet)")
        return files, problems
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in sorted(filenames):
            source = Path(dirpath) / filename
            relative = source.relative_to(root).as_posix()
            if source.is_symlink() or not source.is_file():
                problems.append(f"media: {relative} is not a regular file; not copied")
                continue
            digest, size = _copy_hashing(source, target / relative)
            files[relative] = {"sha256": digest, "size": size}
    return files, problems


def create_backup(
    output_dir: Path, *, tar: bool = False, media: bool = True, say: Say = _quiet
) -> BackupResult:
    """Write one backup under `output_dir` and return where it is and what it found."""
    if media and (
        output_dir.resolve() == _media_root().resolve()
        or _media_root().resolve() in output_dir.resolve().parents
    ):
        raise BackupError("the backup folder may not be inside MEDIA_ROOT (it would copy itself)")
    output_dir.mkdir(parents=True, exist_ok=True)
    created_at = timezone.now()
    name = PREFIX + created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=output_dir))
    work.chmod(0o700)
    partial = output_dir / f".{name}.tar.partial"
    try:
        vendor = _vendor()
        if vendor == "postgresql":
            database_file = PG_DUMP_FILE
            snapshot = _dump_postgres(work / database_file, say)
            tools = {"pg_dump": _tool_version("pg_dump")}
        elif vendor == "sqlite":
            database_file = SQLITE_FILE
            snapshot = _copy_sqlite(work / database_file, say)
            tools = {}
        else:
            raise BackupError(f"cannot back up a {vendor} database (PostgreSQL or SQLite only)")
        db_digest, db_size = _sha256_file(work / database_file)

        problems: list[str] = []
        media_files: dict[str, Any] = {}
        if media:
            root = _media_root()
            say(f"media: copying {root}")
            media_files, problems = _copy_media(root, work / MEDIA_DIR, say)
            media_info: dict[str, Any] = {"included": True, "root": str(root)}
        else:
            (work / MEDIA_DIR).mkdir(mode=0o700)
            media_info = {"included": False, "root": None}
        # Every evidence row of the snapshot must have its file, unchanged since upload.
        missing, changed = [], []
        for stored_name, digest in snapshot.evidence:
            if not media:
                break
            entry = media_files.get(stored_name)
            if entry is None:
                missing.append(stored_name)
            elif entry["sha256"] != digest:
                changed.append(stored_name)
        problems += [f"evidence file missing from MEDIA_ROOT: {n}" for n in missing]
        problems += [f"evidence file differs from its recorded SHA-256: {n}" for n in changed]

        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": timezone.localtime(created_at).isoformat(),
            "database": {
                "vendor": vendor,
                "file": database_file,
                "sha256": db_digest,
                "size": db_size,
                "server_version": snapshot.server_version,
                "tools": tools,
            },
            "counts": snapshot.counts,
            "migrations": snapshot.migrations,
            "media": {
                **media_info,
                "count": len(media_files),
                "bytes": sum(f["size"] for f in media_files.values()),
                "files": media_files,
            },
            "evidence": {"count": len(snapshot.evidence), "missing": missing, "changed": changed},
            "keys": key_fingerprints(),
            "problems": problems,
        }
        manifest_bytes = (
            json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        ).encode("utf-8")
        (work / MANIFEST).write_bytes(manifest_bytes)
        (work / SIGNATURE_FILE).write_text(sign_manifest(manifest_bytes), encoding="utf-8")
        (work / KEYS_FILE).write_text(keys_statement(manifest), encoding="utf-8")
        for path in work.rglob("*"):
            path.chmod(0o700 if path.is_dir() else 0o600)

        final = output_dir / name
        if tar:
            final = output_dir / f"{name}.tar"
            # Not compressed: the dump is compressed already, images and PDFs too.
            with tarfile.open(partial, "w") as archive:
                archive.add(work, arcname=name)
            partial.chmod(0o600)
            partial.rename(final)
            shutil.rmtree(work)
        else:
            work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(path=final, manifest=manifest, problems=problems)


# --- restore ------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@contextmanager
def open_backup(source: Path) -> Iterator[Path]:
    """The backup's directory: `source` itself, or a `.tar` unpacked into a temporary one."""
    if source.is_dir():
        yield source
        return
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    with tempfile.TemporaryDirectory(prefix="kamen-restore-") as tmp:
        try:
            with tarfile.open(source, "r") as archive:
                # The "data" filter refuses absolute paths, links out of the folder, devices.
                archive.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"{source} is not a backup directory or .tar: {exc}") from exc
        folders = [p for p in Path(tmp).iterdir() if p.is_dir()]
        if len(folders) != 1:
            raise BackupError(f"{source} does not hold exactly one backup folder")
        yield folders[0]


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest, authenticated first (`verified_manifest_bytes`), then parsed from the very
    bytes that were verified."""
    data = verified_manifest_bytes(folder)
    try:
        manifest = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise BackupError(f"{folder / MANIFEST} is not valid JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{folder / MANIFEST}: unknown format (expected {FORMAT})")
    shape = {
        "database": ("vendor", "file", "sha256", "size"),
        "media": ("included", "files"),
        "keys": ("CARD_KEY_KEYS", "FINGERPRINT_KEY", "PACKAGE_SIGNING_KEY"),
        "counts": (),
        "migrations": (),
    }
    for section, keys in shape.items():
        value = manifest.get(section)
        if not isinstance(value, dict) or any(key not in value for key in keys):
            raise BackupError(f"{folder / MANIFEST}: `{section}` is missing or incomplete")
    return manifest


def verify_archive(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """Every file of the archive against the manifest: the database file and each media file,
    SHA-256 and size. Nothing is restored from an archive that fails this."""
    problems = []
    database = manifest["database"]
    path = folder / database["file"]
    if database["file"] not in (PG_DUMP_FILE, SQLITE_FILE):
        problems.append(f"{database['file']}: not a database file name this code writes")
    elif not path.is_file():
        problems.append(f"{database['file']} is missing from the backup")
    elif _sha256_file(path) != (database["sha256"], database["size"]):
        problems.append(f"{database['file']} does not match its SHA-256 in the manifest")
    media_dir = folder / MEDIA_DIR
    listed = manifest["media"]["files"]
    for relative, entry in listed.items():
        file = media_dir / relative
        if not file.is_file():
            problems.append(f"media/{relative} is missing from the backup")
        elif _sha256_file(file) != (entry["sha256"], entry["size"]):
            problems.append(f"media/{relative} does not match its SHA-256 in the manifest")
    if media_dir.is_dir():
        for file in media_dir.rglob("*"):
            if file.is_file() and file.relative_to(media_dir).as_posix() not in listed:
                problems.append(f"media/{file.relative_to(media_dir).as_posix()} is not listed")
    return problems


def _code_migrations() -> set[tuple[str, str]]:
    from django.db.migrations.loader import MigrationLoader

    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def _unapplied_migrations() -> list[Any]:
    """What `manage.py migrate` would run on the restored database."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return executor.migration_plan(executor.loader.graph.leaf_nodes())


def _target_tables() -> list[str]:
    if _vendor() == "sqlite":
        path = _sqlite_path()
        if not path.exists():
            return []
    with connection.cursor() as cursor:
        return list(connection.introspection.table_names(cursor))


def _media_target_files(root: Path) -> list[Path]:
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p.is_file() or p.is_symlink()]


def _restore_postgres(dump: Path, *, clear: bool, say: Say) -> None:
    env = _pg_env()
    if clear:
        say("database: dropping everything in the target's public schema (--force)")
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA IF EXISTS public CASCADE")
            cursor.execute("CREATE SCHEMA public")
    connection.close()
    say(f"database: pg_restore into {env.get('PGDATABASE')} (one transaction)")
    _run(
        [
            "pg_restore",
            "--no-password",
            "--single-transaction",
            "--exit-on-error",
            # The restoring role owns everything: the backup may come from another server
            # whose roles do not exist here.
            "--no-owner",
            "--no-privileges",
            f"--dbname={env.get('PGDATABASE', '')}",
            str(dump),
        ],
        env=env,
    )


def _restore_sqlite(copy: Path, say: Say) -> None:
    target = _sqlite_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    connection.close()
    say(f"database: SQLite online backup API into {target}")
    source = sqlite3.connect(str(copy))
    destination = sqlite3.connect(str(target), timeout=20)
    try:
        source.backup(destination)
        destination.execute("PRAGMA journal_mode=WAL")
    finally:
        destination.close()
        source.close()


def _restore_media(folder: Path, manifest: dict[str, Any], root: Path, say: Say) -> list[str]:
    problems = []
    files = manifest["media"]["files"]
    say(f"media: {len(files)} file(s) into {root}")
    root.mkdir(parents=True, exist_ok=True)
    for relative, entry in files.items():
        target = root / relative
        # Never outside MEDIA_ROOT, whatever the manifest says.
        if root.resolve() not in target.resolve().parents:
            problems.append(f"media/{relative}: path outside MEDIA_ROOT refused")
            continue
        digest, size = _copy_hashing(folder / MEDIA_DIR / relative, target)
        if (digest, size) != (entry["sha256"], entry["size"]) or _sha256_file(target) != (
            entry["sha256"],
            entry["size"],
        ):
            problems.append(f"media/{relative}: written copy does not match its SHA-256")
    return problems


def _verify_evidence() -> tuple[int, list[str]]:
    """Every evidence row's file, read through the storage the app reads it with, against the
    SHA-256 recorded at upload."""
    evidence_model = apps.get_model("disputes", "Evidence")
    problems = []
    checked = 0
    for stored_name, recorded in (
        evidence_model.objects.order_by("id").values_list("stored_name", "sha256").iterator()
    ):
        checked += 1
        digest = hashlib.sha256()
        try:
            with default_storage.open(stored_name, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
        except OSError:
            problems.append(f"evidence file missing after restore: {stored_name}")
            continue
        if digest.hexdigest() != recorded:
            problems.append(f"evidence file does not match its recorded SHA-256: {stored_name}")
    return checked, problems


def _recount(manifest: dict[str, Any]) -> list[str]:
    problems = []
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for table, expected in sorted(manifest["counts"].items()):
            if table not in tables:
                problems.append(f"table {table} missing after restore")
                continue
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            actual = int(cursor.fetchone()[0])
            if actual != expected:
                problems.append(f"table {table}: {actual} rows, the backup has {expected}")
    return problems


def restore_backup(source: Path, *, force: bool = False, say: Say = _quiet) -> RestoreResult:
    """Restore a backup into the configured database and MEDIA_ROOT, verify it, and return
    the summary. Raises BackupError before writing anything when the archive is damaged, the
    keys do not match, the vendors differ or the target is not empty (without `force`)."""
    with open_backup(source) as folder:
        manifest = read_manifest(folder)
        result = RestoreResult(manifest=manifest)
        say(f"backup of {manifest['created_at']} ({manifest['database']['vendor']})")

        # 1. The keys in the environment: first, before anything is touched.
        keys = compare_keys(manifest["keys"], key_fingerprints())
        if keys.errors:
            raise BackupError("wrong keys in the environment:\n" + "\n".join(keys.errors))
        result.warnings += keys.warnings

        # 2. The archive is intact, and this code can read it.
        damaged = verify_archive(folder, manifest)
        if damaged:
            raise BackupError("the backup is damaged; nothing restored:\n" + "\n".join(damaged))
        vendor = manifest["database"]["vendor"]
        if vendor != _vendor():
            raise BackupError(
                f"a {vendor} backup cannot be restored into {_vendor()} (DATABASE_URL)"
            )
        recorded = {(app, name) for app, names in manifest["migrations"].items() for name in names}
        code = _code_migrations()
        # Only the installed apps' migrations: rows of an app removed since are history.
        installed = {app for app, _name in code}
        unknown = sorted((app, name) for app, name in recorded - code if app in installed)
        if unknown:
            raise BackupError(
                "the backup was made by a newer version of the code (migrations unknown here: "
                + ", ".join(f"{a}.{n}" for a, n in unknown[:10])
                + "); restore with the version that made it"
            )

        # 3. The target is empty, or the operator said to overwrite it.
        media = bool(manifest["media"]["included"])
        root = _media_root() if media else Path(settings.MEDIA_ROOT)
        try:
            tables = _target_tables()
        except DatabaseError as exc:
            raise BackupError(
                f"cannot open the target database ({str(exc).strip()}); create it first "
                "(createdb), empty"
            ) from exc
        present = _media_target_files(root) if media else []
        if not force:
            refused = []
            if tables:
                refused.append(f"the database already has {len(tables)} table(s)")
            if present:
                refused.append(f"MEDIA_ROOT {root} already holds {len(present)} file(s)")
            if refused:
                raise BackupError(
                    "; ".join(refused) + ": restore into an empty database and media folder, "
                    "or pass --force to overwrite them"
                )

        # 4. Database, then media.
        if vendor == "postgresql":
            _restore_postgres(folder / PG_DUMP_FILE, clear=bool(tables), say=say)
        else:
            _restore_sqlite(folder / SQLITE_FILE, say=say)
        connection.close()
        if media:
            result.problems += _restore_media(folder, manifest, root, say)
            listed = set(manifest["media"]["files"])
            extra = [p for p in present if p.relative_to(root).as_posix() not in listed]
            if extra:
                result.warnings.append(
                    f"MEDIA_ROOT keeps {len(extra)} file(s) that are not in the backup"
                )
        else:
            result.warnings.append(
                "the backup holds no media: restore the evidence bucket to the same instant"
            )

    # 5. Verify what was restored.
    result.problems += _recount(manifest)
    verify_platform(result)
    counts = manifest["counts"]
    totals = [
        f"{label}: {counts.get(apps.get_model(model)._meta.db_table, 0)}"
        for label, model in (
            ("users", "auth.User"),
            ("orders", "orders.Order"),
            ("complaints", "disputes.Dispute"),
            ("evidence rows", "disputes.Evidence"),
            ("ledger transactions", "escrow.LedgerTransaction"),
        )
    ]
    result.lines[:0] = [f"database: {len(counts)} tables, row counts as in the backup", *totals]
    return result


def verify_platform(result: RestoreResult | None = None) -> RestoreResult:
    """The checks after a restore, on the configured database and MEDIA_ROOT as they are:
    every evidence file against its SHA-256, every encrypted value against CARD_KEY_KEYS, the
    migrations, the ledger, the clock. Also what to run after a point-in-time recovery
    (`manage.py restore --check`), which restores by other means."""
    result = result if result is not None else RestoreResult(manifest={})
    evidence_count, evidence_problems = _verify_evidence()
    result.problems += evidence_problems
    result.lines.append(
        f"evidence: {evidence_count} file(s), "
        f"{evidence_count - len(evidence_problems)} match their SHA-256"
    )
    for check in _restore_checks:  # e.g. orders: every card key decrypts; disputes: the clock
        lines, problems = check.run()
        result.lines += lines
        result.problems += problems
    pending = _unapplied_migrations()
    if pending:
        result.warnings.append(
            f"{len(pending)} migration(s) of this code are not applied to the database: run "
            "`manage.py migrate` before starting the platform"
        )
    ledger = io.StringIO()
    try:
        call_command("check_ledger", stdout=ledger)
        result.lines.append("ledger: " + ledger.getvalue().strip().splitlines()[-1])
    except CommandError as exc:
        result.problems.append(f"ledger check failed: {exc}\n{ledger.getvalue().strip()}")
    return result
