"""The evidence package: signed, and every alteration detected. No database needed."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from disputes.package_signing import (
    PackageFile,
    key_id,
    load_public_key_pem,
    platform_public_key,
    public_key_pem,
    verify_package,
    write_package,
)

SCREENSHOT = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
STATEMENT = b"%PDF-1.7\n...\n%%EOF\n"
SUMMARY = "<!doctype html><html><body><h1>投诉 D-2026-7Q4K</h1></body></html>"
BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _english() -> Any:
    """These tests read the problems' wording; the platform's default language is zh-hans."""
    with translation.override("en"):
        yield


def make_package(**overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "dispute_number": "D-2026-7Q4K",
        "files": [
            PackageFile(
                name="order_screenshot-1.png",
                content=SCREENSHOT,
                kind="order_screenshot",
                uploaded_by="buyer: li.lei",
                uploaded_at="2026-11-18T10:00:00+08:00",
            ),
            PackageFile(
                name="payment_proof-2.pdf",
                content=STATEMENT,
                kind="payment_proof",
                uploaded_by="buyer: li.lei",
                uploaded_at="2026-11-18T10:01:00+08:00",
            ),
        ],
        "summary_html": SUMMARY,
        "extra_manifest": {"order_number": "O-2026-ABCD", "merchant": "Shop"},
    }
    arguments.update(overrides)
    return write_package(**arguments)


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rebuild(
    data: bytes,
    *,
    replace: dict[str, bytes] | None = None,
    drop: tuple[str, ...] = (),
    add: list[tuple[str, bytes]] | None = None,
) -> bytes:
    """A copy of the package with members replaced, dropped or added (as a forger would)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members(data).items():
            if name in drop:
                continue
            archive.writestr(name, (replace or {}).get(name, content))
        for name, content in add or []:
            info = zipfile.ZipInfo(name)  # ZipInfo keeps the name as given (no sanitising)
            archive.writestr(info, content)
    return out.getvalue()


def manifest_of(data: bytes) -> dict[str, Any]:
    return json.loads(members(data)["manifest.json"])


def joined(problems: list[str]) -> str:
    assert problems, "expected the package to be refused"
    return "\n".join(problems)


# --- writing ------------------------------------------------------------------------------


def test_package_round_trip_verifies() -> None:
    assert verify_package(make_package()) == []


def test_package_has_the_documented_layout_and_manifest() -> None:
    data = make_package()
    contents = members(data)

    assert set(contents) == {
        "manifest.json",
        "manifest.sig",
        "public_key.pem",
        "README.txt",
        "summary.html",
        "evidence/order_screenshot-1.png",
        "evidence/payment_proof-2.pdf",
    }
    manifest = manifest_of(data)
    assert manifest["dispute_number"] == "D-2026-7Q4K"
    assert manifest["order_number"] == "O-2026-ABCD"
    assert manifest["signing_key_id"] == key_id(platform_public_key())
    assert manifest["created_at"]
    assert manifest["files"][0] == {
        "path": "evidence/order_screenshot-1.png",
        "kind": "order_screenshot",
        "uploaded_by": "buyer: li.lei",
        "uploaded_at": "2026-11-18T10:00:00+08:00",
        "size": len(SCREENSHOT),
        "sha256": hashlib.sha256(SCREENSHOT).hexdigest(),
    }
    assert manifest["summary"] == {
        "path": "summary.html",
        "size": len(SUMMARY.encode()),
        "sha256": hashlib.sha256(SUMMARY.encode()).hexdigest(),
    }
    assert contents["evidence/payment_proof-2.pdf"] == STATEMENT
    assert contents["summary.html"].decode() == SUMMARY


def test_signature_is_ed25519_over_the_exact_manifest_bytes_with_the_published_key() -> None:
    contents = members(make_package())

    published = load_public_key_pem(public_key_pem())
    # Raises InvalidSignature if not: checked with cryptography directly, not our verifier.
    published.verify(base64.b64decode(contents["manifest.sig"]), contents["manifest.json"])
    assert contents["public_key.pem"].decode() == public_key_pem()


def test_unsafe_and_duplicate_evidence_names_are_made_safe_and_unique() -> None:
    files = [
        PackageFile(name=name, content=b"x", kind="other", uploaded_by="b", uploaded_at="t")
        for name in ("../../etc/passwd", "C:\\evil\\shot.png", "shot.png", ".hidden")
    ]

    data = make_package(files=files)

    paths = [entry["path"] for entry in manifest_of(data)["files"]]
    assert paths == [
        "evidence/passwd",
        "evidence/shot.png",
        "evidence/shot-2.png",
        "evidence/hidden",
    ]
    assert verify_package(data) == []


def test_extra_manifest_may_not_replace_the_package_fields() -> None:
    with pytest.raises(ValueError, match="files"):
        make_package(extra_manifest={"files": []})


def test_package_without_evidence_files_still_verifies() -> None:
    assert verify_package(make_package(files=[])) == []


# --- tampering is detected ----------------------------------------------------------------


def test_changed_evidence_byte_is_detected() -> None:
    data = make_package()
    tampered = bytearray(SCREENSHOT)
    tampered[100] ^= 0x01

    problems = verify_package(
        rebuild(data, replace={"evidence/order_screenshot-1.png": bytes(tampered)})
    )

    assert "evidence/order_screenshot-1.png" in joined(problems)
    assert hashlib.sha256(bytes(tampered)).hexdigest() in joined(problems)


def test_changed_summary_is_detected() -> None:
    data = make_package()

    problems = verify_package(
        rebuild(data, replace={"summary.html": SUMMARY.replace("7Q4K", "XXXX").encode()})
    )

    assert "summary.html" in joined(problems)


def test_changed_manifest_is_detected_by_the_signature() -> None:
    data = make_package()
    manifest = members(data)["manifest.json"].replace(b"payment_proof", b"chat_record", 1)

    problems = verify_package(rebuild(data, replace={"manifest.json": manifest}))

    assert "signature" in joined(problems).lower()


def test_consistent_forgery_without_the_platform_key_is_detected() -> None:
    """Evidence replaced and the manifest's hash updated to match: only the signature tells."""
    data = make_package()
    forged_file = b"%PDF-1.7\nforged\n%%EOF\n"
    manifest = manifest_of(data)
    manifest["files"][1]["sha256"] = hashlib.sha256(forged_file).hexdigest()
    manifest["files"][1]["size"] = len(forged_file)

    problems = verify_package(
        rebuild(
            data,
            replace={
                "manifest.json": json.dumps(manifest).encode(),
                "evidence/payment_proof-2.pdf": forged_file,
            },
        )
    )

    assert len(problems) == 1
    assert "signature" in problems[0].lower()


def test_swapped_key_and_signature_are_detected() -> None:
    """A forger re-signs a changed manifest with their own key and ships their public key:
    the package is checked against the platform's key, not the copy inside it."""
    data = make_package()
    forger = Ed25519PrivateKey.generate()
    forged_file = b"%PDF-1.7\nforged\n%%EOF\n"
    manifest = manifest_of(data)
    manifest["files"][1]["sha256"] = hashlib.sha256(forged_file).hexdigest()
    manifest["files"][1]["size"] = len(forged_file)
    manifest["signing_key_id"] = key_id(forger.public_key())
    manifest_bytes = json.dumps(manifest).encode()
    forger_pem = forger.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    forged = rebuild(
        data,
        replace={
            "manifest.json": manifest_bytes,
            "manifest.sig": base64.b64encode(forger.sign(manifest_bytes)),
            "public_key.pem": forger_pem,
            "evidence/payment_proof-2.pdf": forged_file,
        },
    )
    problems = joined(verify_package(forged))

    assert "signature" in problems.lower()
    assert "public_key.pem" in problems
    assert key_id(forger.public_key()) in problems


def test_added_file_is_detected() -> None:
    problems = verify_package(rebuild(make_package(), add=[("evidence/extra.png", SCREENSHOT)]))

    assert "evidence/extra.png" in joined(problems)


def test_removed_file_is_detected() -> None:
    problems = verify_package(rebuild(make_package(), drop=("evidence/payment_proof-2.pdf",)))

    assert "evidence/payment_proof-2.pdf" in joined(problems)


@pytest.mark.parametrize("name", ["manifest.sig", "manifest.json"])
def test_removed_manifest_or_signature_is_detected(name: str) -> None:
    assert name in joined(verify_package(rebuild(make_package(), drop=(name,))))


def test_corrupt_signature_is_detected() -> None:
    problems = verify_package(
        rebuild(make_package(), replace={"manifest.sig": b"not base64 at all!!"})
    )

    assert "signature" in joined(problems).lower()


@pytest.mark.parametrize(
    "name",
    ["../evil.sh", "evidence/../../evil.sh", "/etc/cron.d/evil", "C:/evil.bat", "a\\..\\evil"],
)
def test_zip_slip_member_is_refused(name: str) -> None:
    problems = verify_package(rebuild(make_package(), add=[(name, b"#!/bin/sh\n")]))

    assert any("Unsafe" in problem and name in problem for problem in problems)


def test_zip_slip_path_in_a_signed_manifest_is_refused() -> None:
    """Even a manifest carrying a valid signature may not point outside the package."""
    from disputes import package_signing

    data = make_package()
    manifest = manifest_of(data)
    manifest["files"][0]["path"] = "../outside.png"
    manifest_bytes = json.dumps(manifest).encode()
    signature = base64.b64encode(package_signing._private_key().sign(manifest_bytes))

    problems = verify_package(
        rebuild(
            data,
            replace={"manifest.json": manifest_bytes, "manifest.sig": signature},
            add=[("../outside.png", SCREENSHOT)],
        )
    )

    assert any("Unsafe" in problem and "../outside.png" in problem for problem in problems)


def test_duplicate_member_is_detected() -> None:
    data = make_package()
    with pytest.warns(UserWarning, match="Duplicate name"):
        doubled = rebuild(data, add=[("evidence/order_screenshot-1.png", SCREENSHOT)])

    assert "more than once" in joined(verify_package(doubled))


def test_a_file_that_is_not_a_zip_is_refused() -> None:
    assert "ZIP" in joined(verify_package(b"%PDF-1.7 not a zip"))


def test_package_signed_with_another_platform_key_fails_unless_that_key_is_given(
    settings: Any,
) -> None:
    old_public = platform_public_key()
    data = make_package()
    settings.PACKAGE_SIGNING_KEY = base64.b64encode(os.urandom(32)).decode()

    problems = joined(verify_package(data))

    assert "signature" in problems.lower()
    assert key_id(old_public) in problems  # names the key it was signed with
    assert verify_package(data, public_key=old_public) == []


def test_misconfigured_signing_key_is_refused_clearly(settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.PACKAGE_SIGNING_KEY = base64.b64encode(b"short").decode()

    with pytest.raises(ImproperlyConfigured, match="32-byte"):
        make_package()


# --- management commands ------------------------------------------------------------------


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_verify_package_command_prints_what_it_checked(tmp_path: Path) -> None:
    out = io.StringIO()

    call_command("verify_package", write(tmp_path, "p.zip", make_package()), stdout=out)

    output = out.getvalue()
    assert "signature: valid" in output
    assert "4 file(s) checked" in output  # 2 evidence files, summary, readme
    assert hashlib.sha256(SCREENSHOT).hexdigest() in output
    assert hashlib.sha256(STATEMENT).hexdigest() in output
    assert "authentic" in output


def test_verify_package_command_fails_with_the_problems(tmp_path: Path) -> None:
    tampered = rebuild(make_package(), drop=("evidence/payment_proof-2.pdf",))

    with pytest.raises(CommandError, match="NOT authentic") as caught:
        call_command("verify_package", write(tmp_path, "p.zip", tampered), stdout=io.StringIO())

    assert "evidence/payment_proof-2.pdf" in str(caught.value)


def test_verify_package_command_with_a_given_public_key(tmp_path: Path, settings: Any) -> None:
    data = make_package()
    old_key = write(tmp_path, "old.pem", public_key_pem().encode())
    settings.PACKAGE_SIGNING_KEY = base64.b64encode(os.urandom(32)).decode()
    package = write(tmp_path, "p.zip", data)

    call_command("verify_package", package, "--public-key", old_key, stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("verify_package", package, stdout=io.StringIO())
    other = write(tmp_path, "other.pem", public_key_pem().encode())  # the new platform key
    with pytest.raises(CommandError):
        call_command("verify_package", package, "--public-key", other, stdout=io.StringIO())


def test_verify_package_command_refuses_a_key_that_is_not_ed25519(tmp_path: Path) -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    with pytest.raises(CommandError, match="not an Ed25519 public key"):
        call_command(
            "verify_package",
            write(tmp_path, "p.zip", make_package()),
            "--public-key",
            write(tmp_path, "ec.pem", pem),
            stdout=io.StringIO(),
        )


def test_verify_package_command_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        call_command("verify_package", str(tmp_path / "absent.zip"), stdout=io.StringIO())


def test_verify_package_exit_codes(tmp_path: Path) -> None:
    """The real command line: 0 for an authentic package, 1 for a tampered one."""
    good = make_package()
    bad = rebuild(good, add=[("evidence/extra.png", SCREENSHOT)])
    env = {
        **os.environ,
        "KAMEN_VAR_DIR": str(tmp_path / "var"),
        "PACKAGE_SIGNING_KEY": django_settings.PACKAGE_SIGNING_KEY,
    }

    def run(path: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", "verify_package", path],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    authentic = run(write(tmp_path, "good.zip", good))
    tampered = run(write(tmp_path, "bad.zip", bad))

    assert authentic.returncode == 0, authentic.stderr
    assert "signature: valid" in authentic.stdout
    assert tampered.returncode == 1
    assert "NOT authentic" in tampered.stderr
    assert "evidence/extra.png" in tampered.stderr


def test_package_public_key_command_prints_the_pem_and_key_id() -> None:
    out = io.StringIO()
    call_command("package_public_key", stdout=out)
    assert out.getvalue() == public_key_pem()
    assert out.getvalue().startswith("-----BEGIN PUBLIC KEY-----")

    out = io.StringIO()
    call_command("package_public_key", "--key-id", stdout=out)
    assert out.getvalue().strip() == key_id(platform_public_key())
