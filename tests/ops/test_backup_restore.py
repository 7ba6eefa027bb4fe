"""The backup and restore drill (docs/backup.md, kamen_complaints/backups.py).

PostgreSQL: a platform with complaints in every state, evidence files, revealed card keys and a
ledger; an evidence package exported; `manage.py backup` run as an operator runs it (its own
process, while nothing is stopped); `manage.py restore` into a fresh database on the same
server and a fresh media folder; then, against the restored platform: `check_ledger` clean,
every evidence file's SHA-256 as recorded, the package exported before still verifies and
matches the restored files, the card keys decrypt for their buyer, and the clock resumes — the
deadlines that passed during the "outage" are enforced exactly once, by the first of two sweeps.

SQLite (the embedded default of `make run`): a round trip of a migrated database and a media
file through `manage.py backup` / `manage.py restore`, and what restore refuses: a non-empty
target, a damaged archive, the wrong keys.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from disputes import services
from disputes.models import Dispute, DisputeEvent, EventType, Evidence, Party, Status
from disputes.package_signing import verify_package
from disputes.selectors import deadlines_overdue
from disputes.services import EvidenceUpload
from escrow.models import LedgerTransaction
from kamen_complaints.backups import sqlite_online_copy
from orders.models import Order
from orders.services import order_reveal_keys
from tests.disputes.clock_seed import sweeper_env
from tests.disputes.factories import (
    arbitrator,
    check_ledger,
    contest,
    file,
    funded_order,
    offered,
    pdf,
    png,
    resolved_by_refund,
    under_review,
)

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
# The clocks the sweep enforces (disputes.services.clock), not its reminders.
CLOCK_EVENTS = {
    EventType.DEFAULT_JUDGMENT,
    EventType.OFFER_LAPSED,
    EventType.REVIEW_EXPIRED,
    EventType.REVIEW_RESUMED,
}


def manage(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, MANAGE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check:
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- PostgreSQL: the drill ----------------------------------------------------------------


def _db_url(name: str) -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return (
        f"postgres://{db['USER'] or 'postgres'}{password}"
        f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    )


@contextmanager
def using_database(name: str) -> Iterator[None]:
    """Point this process's default connection at another database of the same server (the
    restored one), and back: the services, selectors and commands then read and write it."""
    original = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original


def _platform() -> dict[str, Any]:
    """Complaints in every state through the services, with evidence files and a ledger."""
    # Reasons the automatic checks leave to the parties, so each complaint stays where the
    # drill put it.
    kw = {"reason": "wrong_item"}
    evidence = [
        EvidenceUpload(kind="order_screenshot", file=png("order.png")),
        EvidenceUpload(kind="payment_proof", file=png("pay.png", color=(10, 200, 10))),
        EvidenceUpload(kind="chat_record", file=pdf("chat.pdf")),
    ]
    waiting_merchant = file(evidence=evidence, **kw)
    waiting_buyer = offered(amount=Decimal("20.00"), **kw)
    reviewing = under_review(**kw)
    staff = arbitrator()
    paused = services.dispute_request_info(
        dispute=under_review(**kw), staff=staff, party=Party.BUYER, question="Any screenshot?"
    )
    ruled = services.dispute_rule(
        dispute=contest(file(**kw)), staff=staff, outcome="refunded", reason="Key was used."
    )
    appealed = services.dispute_appeal(
        dispute=ruled, user=ruled.merchant.owner, reason="Upstream says unused."
    )
    resolved = resolved_by_refund(**kw)
    to_withdraw = file(**kw)
    withdrawn = services.dispute_withdraw(dispute=to_withdraw, buyer=to_withdraw.buyer)
    # A buyer whose card keys are revealed before the backup: after it they still decrypt.
    key_order = funded_order(quantity=2)
    keys = order_reveal_keys(order=key_order, user=key_order.buyer)
    return {
        "disputes": [
            waiting_merchant,
            waiting_buyer,
            reviewing,
            paused,
            appealed,
            resolved,
            withdrawn,
        ],
        "package_of": reviewing,
        "key_order": key_order,
        "keys": keys,
    }


def _state() -> dict[str, Any]:
    """What must survive the round trip, read from whichever database is connected."""
    return {
        "disputes": sorted(
            Dispute.objects.values_list("number", "status", "paid_out", "recovery_pending")
        ),
        "evidence": sorted(Evidence.objects.values_list("stored_name", "sha256")),
        "ledger": LedgerTransaction.objects.count(),
        "events": DisputeEvent.objects.count(),
    }


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_backup_and_restore_drill(tmp_path: Path, settings: Any) -> None:
    platform = _platform()
    statuses = {d.status for d in platform["disputes"]}
    assert statuses == set(Status.values)  # every state, plus paused and appealed reviews
    assert Evidence.objects.count() >= 5
    check_ledger()
    reviewing = platform["package_of"]
    package = services.dispute_evidence_package(dispute=reviewing, user=reviewing.buyer)
    assert verify_package(package) == []
    # Nothing is due yet: the clock has nothing to do before the outage.
    assert deadlines_overdue(timezone.now())[0] == 0
    before = _state()

    # Back up, as the operator does, while the platform is up.
    source_media = Path(settings.MEDIA_ROOT)
    env = sweeper_env(MEDIA_ROOT=str(source_media))
    backups = tmp_path / "backups"
    out = manage("backup", "--output", str(backups), "--tar", env=env).stdout
    assert "backup written" in out
    (archive,) = backups.glob("kamen-backup-*.tar")
    with tarfile.open(archive) as tar:
        manifest_member = next(m for m in tar.getmembers() if m.name.endswith("/manifest.json"))
        manifest = json.load(tar.extractfile(manifest_member))
    assert manifest["database"]["vendor"] == "postgresql"
    assert manifest["counts"]["disputes_dispute"] == len(before["disputes"])
    assert manifest["evidence"] == {"count": len(before["evidence"]), "missing": [], "changed": []}
    assert dict(before["evidence"]) == {
        name: manifest["media"]["files"][name]["sha256"] for name, _ in before["evidence"]
    }
    # Fingerprints of the keys, never the keys themselves.
    text = archive.read_bytes()
    for secret in (*settings.CARD_KEY_KEYS, settings.FINGERPRINT_KEY, settings.PACKAGE_SIGNING_KEY):
        assert secret.encode() not in text
    assert "migrations" in manifest and "disputes" in manifest["migrations"]

    # A fresh database on the same server and a fresh media folder.
    restored = f"{connection.settings_dict['NAME']}_restored"
    restored_media = tmp_path / "restored-media"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{restored}"')
    try:
        restore_env = sweeper_env(DATABASE_URL=_db_url(restored), MEDIA_ROOT=str(restored_media))
        out = manage("restore", str(archive), env=restore_env).stdout
        assert "restore verified" in out, out
        assert "ledger clean" in out
        # Not twice: the target is no longer empty.
        again = manage("restore", str(archive), env=restore_env, check=False)
        assert again.returncode != 0
        assert "--force" in again.stderr

        settings.MEDIA_ROOT = str(restored_media)
        with using_database(restored):
            assert connection.settings_dict["NAME"] == restored
            assert _state() == before
            call_command("check_ledger", stdout=io.StringIO())

            # Every evidence file, read where the app reads it, as it was uploaded.
            for item in Evidence.objects.all():
                assert sha256(restored_media / item.stored_name) == item.sha256

            # The package exported before: authentic, and its files are the restored ones.
            assert verify_package(package) == []
            with zipfile.ZipFile(io.BytesIO(package)) as zipped:
                listed = json.loads(zipped.read("manifest.json"))
            restored_files = {
                e.file_name: e.sha256 for e in Evidence.objects.filter(dispute=reviewing)
            }
            assert {f["path"].removeprefix("evidence/"): f["sha256"] for f in listed["files"]} == (
                restored_files
            )
            again_package = services.dispute_evidence_package(
                dispute=Dispute.objects.get(pk=reviewing.pk), user=reviewing.buyer
            )
            with zipfile.ZipFile(io.BytesIO(again_package)) as zipped:
                relisted = json.loads(zipped.read("manifest.json"))
            assert [(f["path"], f["sha256"]) for f in relisted["files"]] == [
                (f["path"], f["sha256"]) for f in listed["files"]
            ]
            assert all(r["unchanged_since_upload"] for r in relisted["evidence_records"])

            # The card keys still decrypt, for their buyer.
            order = Order.objects.get(pk=platform["key_order"].pk)
            assert order_reveal_keys(order=order, user=order.buyer) == platform["keys"]

            # The clock resumes: the outage lasted past the merchant's and the buyer's
            # deadlines; the first sweep enforces each once, the second finds nothing.
            waiting = Dispute.objects.get(pk=platform["disputes"][0].pk)
            outage_end = waiting.merchant_response_due + timedelta(hours=1)
            with time_machine.travel(outage_end, tick=False):
                due, _oldest = deadlines_overdue(timezone.now())
                assert due >= 2
                first = services.deadlines_sweep()
                second = services.deadlines_sweep()
            assert sum(first.enforced.values()) == due
            assert first.enforced.get("merchant") == 1 and first.enforced.get("buyer") == 1
            assert sum(second.enforced.values()) == 0
            assert first.failed == second.failed == 0
            for dispute in Dispute.objects.filter(pk__in=[d.pk for d in platform["disputes"]]):
                outcomes = dispute.events.filter(type__in=CLOCK_EVENTS).count()
                assert outcomes <= 1, dispute.number
            waiting.refresh_from_db()
            assert waiting.status == Status.RESOLVED
            assert waiting.events.filter(type=EventType.DEFAULT_JUDGMENT).count() == 1
            assert LedgerTransaction.objects.filter(key=f"dispute:{waiting.pk}:payout").count() == 1
            call_command("check_ledger", stdout=io.StringIO())

            # `restore --check` (also what follows a point-in-time recovery) finds a changed
            # evidence file.
            out = io.StringIO()
            call_command("restore", check=True, stdout=out)
            assert "verified" in out.getvalue()
            changed = restored_media / waiting.evidence.order_by("id").first().stored_name
            changed.write_bytes(changed.read_bytes() + b"\0")
            with pytest.raises(CommandError, match="problem"):
                call_command("restore", check=True, stdout=(out := io.StringIO()))
            assert "does not match its recorded SHA-256" in out.getvalue()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')


# --- SQLite: the embedded default ---------------------------------------------------------


def _embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """`make run`'s configuration: SQLite and media under KAMEN_VAR_DIR, nothing else."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "MEDIA_ROOT", "CELERY_BROKER_URL", "CACHE_URL"):
        env.pop(name, None)
    env.update({"KAMEN_ENV": "development", "KAMEN_VAR_DIR": str(var_dir), "LOG_LEVEL": "WARNING"})
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def sqlite_backup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A migrated embedded database with a user and an evidence-like media file, backed up."""
    source = tmp_path_factory.mktemp("embedded")
    env = _embedded_env(source)
    manage("migrate", "--noinput", env=env)
    db = sqlite3.connect(source / "db.sqlite3")
    with db:
        db.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) VALUES "
            "('!', 0, 'drill-buyer', '', '', 'drill@example.com', 0, 1, '2026-12-01 00:00:00')"
        )
    db.close()
    media_file = source / "media" / "evidence" / "2026" / "12" / "ab12cd.png"
    media_file.parent.mkdir(parents=True)
    media_file.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(256))
    out = manage("backup", "--output", str(source / "backups"), env=env).stdout
    assert "backup written" in out
    (folder,) = (source / "backups").glob("kamen-backup-*")
    return {"source": source, "folder": folder, "media_file": media_file}


@pytest.mark.slow
def test_sqlite_round_trip(sqlite_backup: dict[str, Any], tmp_path: Path) -> None:
    folder = sqlite_backup["folder"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["database"]["vendor"] == "sqlite"
    assert manifest["counts"]["auth_user"] == 1
    relative = "evidence/2026/12/ab12cd.png"
    assert manifest["media"]["files"][relative]["sha256"] == sha256(sqlite_backup["media_file"])
    assert "CARD_KEY_KEYS" in (folder / "KEYS.txt").read_text()

    target = tmp_path / "restored"
    out = manage("restore", str(folder), env=_embedded_env(target)).stdout
    assert "restore verified" in out, out
    db = sqlite3.connect(target / "db.sqlite3")
    assert db.execute("SELECT username FROM auth_user").fetchall() == [("drill-buyer",)]
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    assert sha256(target / "media" / relative) == sha256(sqlite_backup["media_file"])

    # A second restore over it is refused; --force overwrites.
    again = manage("restore", str(folder), env=_embedded_env(target), check=False)
    assert again.returncode != 0 and "--force" in again.stderr
    out = manage("restore", str(folder), "--force", env=_embedded_env(target)).stdout
    assert "restore verified" in out


@pytest.mark.slow
def test_restore_refuses_damage_and_wrong_keys(
    sqlite_backup: dict[str, Any], tmp_path: Path
) -> None:
    folder = sqlite_backup["folder"]
    target = tmp_path / "target"

    # The wrong fingerprint key: refused before anything is written.
    wrong = manage(
        "restore", str(folder), env=_embedded_env(target, FINGERPRINT_KEY="another"), check=False
    )
    assert wrong.returncode != 0 and "FINGERPRINT_KEY" in wrong.stderr
    assert not (target / "db.sqlite3").exists()

    # A media file changed in the archive (tar round trip, one byte flipped): refused.
    damaged = tmp_path / "damaged"
    with tarfile.open(tmp_path / "copy.tar", "w") as tar:
        tar.add(folder, arcname=folder.name)
    with tarfile.open(tmp_path / "copy.tar") as tar:
        tar.extractall(damaged, filter="data")
    media_file = damaged / folder.name / "media" / "evidence" / "2026" / "12" / "ab12cd.png"
    media_file.chmod(0o600)
    data = bytearray(media_file.read_bytes())
    data[-1] ^= 0xFF
    media_file.write_bytes(bytes(data))
    broken = manage("restore", str(damaged / folder.name), env=_embedded_env(target), check=False)
    assert broken.returncode != 0 and "does not match its SHA-256" in broken.stderr
    assert not (target / "db.sqlite3").exists()


def _forged_copy(folder: Path, tmp_path: Path) -> Path:
    """The attack of issue 17: a copy of the backup whose dump makes the buyer a superuser,
    with the manifest's SHA-256 and size of the dump updated to match (the signature file
    left as it was: the attacker does not have BACKUP_SIGNING_KEY)."""
    forged = tmp_path / "forged" / folder.name
    shutil.copytree(folder, forged)
    dump = forged / "database.sqlite3"
    db = sqlite3.connect(dump)
    with db:
        db.execute("UPDATE auth_user SET is_superuser = 1, is_staff = 1")
    db.close()
    manifest_path = forged / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["database"]["sha256"] = sha256(dump)
    manifest["database"]["size"] = dump.stat().st_size
    manifest_path.write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    )
    return forged


@pytest.mark.slow
def test_a_forged_dump_with_its_manifest_updated_is_refused(
    sqlite_backup: dict[str, Any], tmp_path: Path
) -> None:
    """Issue 17, section 6: the forged archive restored with "restore verified"."""
    forged = _forged_copy(sqlite_backup["folder"], tmp_path)
    target = tmp_path / "target"
    result = manage("restore", str(forged), env=_embedded_env(target), check=False)
    assert result.returncode != 0, result.stdout
    assert "manifest.json does not match its signature" in result.stderr
    assert "restore verified" not in result.stdout
    assert not (target / "db.sqlite3").exists()
    assert not (target / "media").exists()


@pytest.mark.slow
def test_an_unsigned_or_foreign_signed_backup_is_refused_and_the_failed_file_named(
    sqlite_backup: dict[str, Any], tmp_path: Path
) -> None:
    folder = sqlite_backup["folder"]
    target = tmp_path / "target"
    # Signed with another BACKUP_SIGNING_KEY: refused, naming the key's fingerprint.
    other = manage(
        "restore",
        str(folder),
        env=_embedded_env(target, BACKUP_SIGNING_KEY="another-key"),
        check=False,
    )
    assert other.returncode != 0 and "another BACKUP_SIGNING_KEY" in other.stderr
    # The signature removed: refused.
    unsigned = tmp_path / "unsigned" / folder.name
    shutil.copytree(folder, unsigned)
    (unsigned / "manifest.json.sig").unlink()
    result = manage("restore", str(unsigned), env=_embedded_env(target), check=False)
    assert result.returncode != 0 and "manifest.json.sig is missing" in result.stderr
    # A media file replaced and the manifest updated: the signature catches it.
    swapped = tmp_path / "swapped" / folder.name
    shutil.copytree(folder, swapped)
    relative = "evidence/2026/12/ab12cd.png"
    (swapped / "media" / relative).write_bytes(b"not the evidence")
    manifest = json.loads((swapped / "manifest.json").read_text())
    manifest["media"]["files"][relative] = {"sha256": sha256(swapped / "media" / relative)}
    manifest["media"]["files"][relative]["size"] = len(b"not the evidence")
    (swapped / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    result = manage("restore", str(swapped), env=_embedded_env(target), check=False)
    assert result.returncode != 0 and "manifest.json does not match" in result.stderr
    # A file the signed manifest does not list: named, nothing written.
    extra = tmp_path / "extra" / folder.name
    shutil.copytree(folder, extra)
    (extra / "media" / "evidence" / "planted.png").write_bytes(b"planted")
    result = manage("restore", str(extra), env=_embedded_env(target), check=False)
    assert result.returncode != 0 and "media/evidence/planted.png is not listed" in result.stderr
    assert not (target / "db.sqlite3").exists()


def test_sqlite_online_copy_is_one_instant_while_writes_go_on(tmp_path: Path) -> None:
    """A writer commits balanced pairs of rows as fast as it can while copies are taken: every
    copy holds whole transactions only (the pairs sum to zero), as the live database does."""
    live = tmp_path / "live.sqlite3"
    setup = sqlite3.connect(live)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE leg (id INTEGER PRIMARY KEY, tx INTEGER, amount INTEGER)")
    setup.close()
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        db = sqlite3.connect(live, timeout=20, isolation_level=None)
        tx = 0
        while not stop.is_set():
            tx += 1
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO leg (tx, amount) VALUES (?, ?)", (tx, tx * 100))
            db.execute("INSERT INTO leg (tx, amount) VALUES (?, ?)", (tx, -tx * 100))
            db.execute("COMMIT")
            written[0] = tx
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        sizes = []
        for n in range(5):
            while written[0] < (n + 1) * 50 and thread.is_alive():  # writes between copies
                stop.wait(0.005)
            copy = tmp_path / f"copy{n}.sqlite3"
            sqlite_online_copy(live, copy)
            db = sqlite3.connect(copy)
            count, total = db.execute("SELECT COUNT(*), TOTAL(amount) FROM leg").fetchone()
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
            db.close()
            assert count % 2 == 0 and total == 0.0
            sizes.append(count)
    finally:
        stop.set()
        thread.join()
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0] > 0


def test_wrong_card_keys_are_refused(sqlite_backup: dict[str, Any], tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    other = Fernet.generate_key().decode()
    result = manage(
        "restore",
        str(sqlite_backup["folder"]),
        env=_embedded_env(tmp_path, CARD_KEY_KEYS=other),
        check=False,
    )
    assert result.returncode != 0 and "CARD_KEY_KEYS" in result.stderr
    assert not (tmp_path / "db.sqlite3").exists()


def test_key_comparison() -> None:
    """Fingerprints decide: a rotated key list that still holds a backup's key is fine, none of
    them is refused, another fingerprint key is refused, another signing key only warned."""
    from kamen_complaints.backups import compare_keys, key_fingerprint

    def keys(cards: list[str], fingerprint: str = "f", signing: str = "s") -> dict[str, Any]:
        return {
            "CARD_KEY_KEYS": [key_fingerprint("CARD_KEY_KEYS", k) for k in cards],
            "FINGERPRINT_KEY": key_fingerprint("FINGERPRINT_KEY", fingerprint),
            "PACKAGE_SIGNING_KEY": key_fingerprint("PACKAGE_SIGNING_KEY", signing),
            "package_public_key_id": "ed25519:x",
        }

    backup = keys(["old"])
    assert compare_keys(backup, keys(["old"])).errors == []
    assert compare_keys(backup, keys(["old"])).warnings == []
    rotated = compare_keys(backup, keys(["new", "old"]))
    assert rotated.errors == [] and rotated.warnings == []
    dropped = compare_keys(keys(["new", "old"]), keys(["new"]))
    assert dropped.errors == [] and "CARD_KEY_KEYS" in dropped.warnings[0]
    assert "CARD_KEY_KEYS" in compare_keys(backup, keys(["other"])).errors[0]
    assert "FINGERPRINT_KEY" in compare_keys(backup, keys(["old"], fingerprint="g")).errors[0]
    signing = compare_keys(backup, keys(["old"], signing="t"))
    assert signing.errors == [] and "PACKAGE_SIGNING_KEY" in signing.warnings[0]
    # Fingerprints identify keys without showing them.
    assert "old" not in json.dumps(backup)


@pytest.mark.django_db(transaction=True)
def test_backup_reports_evidence_missing_or_changed(tmp_path: Path, settings: Any) -> None:
    """A backup still gets written when the live MEDIA_ROOT lost or altered an evidence file,
    but says which, in its manifest and by a non-zero exit (alert on it)."""
    dispute = file(evidence=[EvidenceUpload(kind="order_screenshot", file=png("a.png"))])
    services.dispute_add_evidence(
        dispute=dispute, user=dispute.buyer, kind="chat_record", file=pdf("chat.pdf")
    )
    # (the platform's own records are evidence rows too: the two uploads are picked by kind)
    first = Evidence.objects.get(dispute=dispute, kind="order_screenshot")
    second = Evidence.objects.get(dispute=dispute, kind="chat_record")
    media = Path(settings.MEDIA_ROOT)
    (media / first.stored_name).unlink()
    (media / second.stored_name).write_bytes(b"%PDF-1.4 altered")
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 problem"):
        call_command("backup", output=str(tmp_path / "backups"), stdout=out)
    (folder,) = (tmp_path / "backups").glob("kamen-backup-*")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["evidence"]["missing"] == [first.stored_name]
    assert manifest["evidence"]["changed"] == [second.stored_name]
    assert "missing from MEDIA_ROOT" in out.getvalue()
