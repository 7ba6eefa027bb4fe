"""The signed evidence package: a ZIP a buyer takes to 12315 or a court.

Layout:
    manifest.json     what is in the package: every file's path, kind, uploader, time, size and
                      SHA-256, the summary's hash, the signing key's id (+ the caller's extras)
    manifest.sig      Ed25519 signature of the exact bytes of manifest.json, base64
    public_key.pem    the platform's public key (a convenience: a verifier must trust the key
                      the platform publishes, `manage.py package_public_key`, not this copy)
    README.txt        how to verify without this software (openssl + sha256sum); hashed in
                      the manifest like every other file
    summary.html      the printable summary (order, payment, delivery, reveals, merchant
                      identity, timeline)
    evidence/<name>   each evidence file as stored

The private key is the setting PACKAGE_SIGNING_KEY (base64 of the 32-byte raw Ed25519 key).
Anyone holding the public key can check that no byte was changed, added or removed since the
platform signed the manifest.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import posixpath
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext as _

FORMAT = "kamen-complaints-evidence-package/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public_key.pem"
README = "README.txt"
SUMMARY = "summary.html"
EVIDENCE_DIR = "evidence/"
_RESERVED_KEYS = frozenset(
    {"format", "dispute_number", "created_at", "algorithm", "signing_key_id", "files"}
    | {"summary", "readme"}
)
_HASH_CHUNK = 1024 * 1024
_MAX_NAME_CHARS = 120


@dataclass(frozen=True)
class PackageFile:
    """One evidence file to put in the package. `name` becomes `evidence/<name>` after it is
    made safe (no directories, unique within the package)."""

    name: str
    content: bytes
    kind: str
    uploaded_by: str
    uploaded_at: str


@dataclass(frozen=True)
class CheckedFile:
    path: str
    size: int
    sha256: str
    matches: bool


@dataclass
class PackageReport:
    """What verification found. `problems` is empty when the package is authentic."""

    problems: list[str] = field(default_factory=list)
    signature_ok: bool = False
    key_id: str = ""
    dispute_number: str = ""
    created_at: str = ""
    files: list[CheckedFile] = field(default_factory=list)


# --- keys ---------------------------------------------------------------------------------


def _private_key() -> Ed25519PrivateKey:
    raw_setting = settings.PACKAGE_SIGNING_KEY
    try:
        raw = base64.b64decode(raw_setting, validate=True)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("PACKAGE_SIGNING_KEY is not valid base64") from exc
    if len(raw) != 32:
        raise ImproperlyConfigured(
            f"PACKAGE_SIGNING_KEY must be the base64 of a 32-byte Ed25519 key, got {len(raw)} bytes"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


def platform_public_key() -> Ed25519PublicKey:
    return _private_key().public_key()


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short fingerprint of a public key: SHA-256 of its 32 raw bytes, first 16 bytes, hex."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]


def public_key_pem() -> str:
    """The platform's public key as PEM (SubjectPublicKeyInfo): what a court is given."""
    return (
        platform_public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def load_public_key_pem(pem: str | bytes) -> Ed25519PublicKey:
    """Parse a PEM public key; ValueError unless it is an Ed25519 key."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


# --- writing ------------------------------------------------------------------------------


def write_package(
    *,
    dispute_number: str,
    files: list[PackageFile],
    summary_html: str,
    extra_manifest: dict[str, Any],
) -> bytes:
    """Build the ZIP and sign its manifest with the platform key. Deterministic for the same
    input at the same instant; `extra_manifest` is merged at the top level of the manifest
    (its keys may not replace the package's own)."""
    clash = _RESERVED_KEYS & set(extra_manifest)
    if clash:
        raise ValueError(f"extra_manifest may not set {sorted(clash)}")
    private_key = _private_key()
    public_key = private_key.public_key()
    now = timezone.now()

    summary_bytes = summary_html.encode("utf-8")
    readme_bytes = _readme(dispute_number).encode("utf-8")
    entries: list[tuple[str, bytes, dict[str, Any]]] = []
    used: set[str] = set()
    for item in files:
        path = EVIDENCE_DIR + _unique(_safe_name(item.name), used)
        entries.append(
            (
                path,
                item.content,
                {
                    "path": path,
                    "kind": item.kind,
                    "uploaded_by": item.uploaded_by,
                    "uploaded_at": item.uploaded_at,
                    "size": len(item.content),
                    "sha256": hashlib.sha256(item.content).hexdigest(),
                },
            )
        )

    manifest: dict[str, Any] = {
        **extra_manifest,
        "format": FORMAT,
        "dispute_number": dispute_number,
        "created_at": timezone.localtime(now).isoformat(),
        "algorithm": "Ed25519",
        "signing_key_id": key_id(public_key),
        "files": [meta for _path, _content, meta in entries],
        "summary": _describe(SUMMARY, summary_bytes),
        "readme": _describe(README, readme_bytes),
    }
    manifest_bytes = json.dumps(
        manifest, ensure_ascii=False, indent=2, sort_keys=True, default=str
    ).encode("utf-8")
    signature = base64.b64encode(private_key.sign(manifest_bytes)) + b"\n"

    local = timezone.localtime(now)
    # ZIP timestamps are local and cannot go before 1980.
    date_time = (
        max(local.year, 1980),
        local.month,
        local.day,
        local.hour,
        local.minute,
        local.second,
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        _add(archive, MANIFEST, manifest_bytes, date_time, compress=True)
        _add(archive, SIGNATURE, signature, date_time, compress=False)
        _add(archive, PUBLIC_KEY, public_key_pem().encode("ascii"), date_time, compress=False)
        _add(archive, README, readme_bytes, date_time, compress=True)
        _add(archive, SUMMARY, summary_bytes, date_time, compress=True)
        for path, content, _meta in entries:
            # Images and PDFs are compressed already: stored as they are.
            _add(archive, path, content, date_time, compress=False)
    return out.getvalue()


def _describe(path: str, content: bytes) -> dict[str, Any]:
    return {"path": path, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}


def _add(
    archive: zipfile.ZipFile,
    name: str,
    content: bytes,
    date_time: tuple[int, int, int, int, int, int],
    *,
    compress: bool,
) -> None:
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    archive.writestr(info, content)


def _safe_name(name: str) -> str:
    """A file name with no directory part, no control characters, no leading dots."""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        "_" if ch.isspace() or ch in '<>:"|?*' else ch
        for ch in name
        if not unicodedata.category(ch).startswith("C")
    )
    name = name.lstrip(".") or "file"
    if len(name) > _MAX_NAME_CHARS:
        stem, dot, suffix = name.rpartition(".")
        if dot and stem and len(suffix) <= 10:
            name = f"{stem[: _MAX_NAME_CHARS - len(suffix) - 1]}.{suffix}"
        else:
            name = name[:_MAX_NAME_CHARS]
    return name


def _unique(name: str, used: set[str]) -> str:
    candidate = name
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    counter = 2
    while candidate.lower() in used:
        candidate = f"{stem}-{counter}{dot}{suffix}"
        counter += 1
    used.add(candidate.lower())
    return candidate


def _readme(dispute_number: str) -> str:
    # Plain text in both languages: this file is read by people outside the platform.
    return (
        f"Evidence package for complaint {dispute_number} / 投诉 {dispute_number} 证据包\n"
        "\n"
        "manifest.json lists every file in this package with its SHA-256 hash; manifest.sig is\n"
        "the platform's Ed25519 signature of manifest.json (base64). Verify with the platform's\n"
        "published public key (public_key.pem here is a copy; compare it with the published one):\n"
        "manifest.json 列出本包内每个文件及其 SHA-256 值；manifest.sig 为平台对 manifest.json 的\n"
        "Ed25519 签名（base64）。请使用平台公布的公钥核验：\n"
        "\n"
        "  base64 -d manifest.sig > manifest.sig.bin\n"
        "  openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin \\\n"
        "      -in manifest.json -sigfile manifest.sig.bin\n"
        "  sha256sum summary.html evidence/*   # compare with manifest.json\n"
        "\n"
        "or, on the platform: python manage.py verify_package PACKAGE.zip\n"
    )


# --- verifying ----------------------------------------------------------------------------


def verify_package(data: bytes, *, public_key: Ed25519PublicKey | None = None) -> list[str]:
    """Problems found in a package, in words; [] when it is authentic.

    Checks the signature against the platform's configured key (or `public_key`), never only
    against the key inside the ZIP — a forger could replace both key and signature."""
    return inspect_package(data, public_key=public_key).problems


def inspect_package(data: bytes, *, public_key: Ed25519PublicKey | None = None) -> PackageReport:
    """verify_package with the details of what was checked (for the management command)."""
    report = PackageReport()
    trusted = public_key if public_key is not None else platform_public_key()
    report.key_id = key_id(trusted)
    problems = report.problems
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        problems.append(_("The file is not a readable ZIP archive."))
        return report
    with archive:
        names = [info.filename for info in archive.infolist()]
        for name in names:
            if not _is_safe_member(name):
                problems.append(
                    _("Unsafe file name in the archive (outside the package): %(name)s")
                    % {"name": name}
                )
        seen: set[str] = set()
        for name in names:
            if name in seen:
                problems.append(_("The archive holds %(name)s more than once.") % {"name": name})
            seen.add(name)
        if MANIFEST not in seen or SIGNATURE not in seen:
            for missing in (MANIFEST, SIGNATURE):
                if missing not in seen:
                    problems.append(_("%(name)s is missing.") % {"name": missing})
            return report

        manifest_bytes = _read_member(archive, MANIFEST, problems)
        signature_text = _read_member(archive, SIGNATURE, problems)
        if manifest_bytes is None or signature_text is None:
            return report
        report.signature_ok = _check_signature(trusted, manifest_bytes, signature_text, problems)

        try:
            manifest = json.loads(manifest_bytes.decode("utf-8"))
            if not isinstance(manifest, dict):
                raise ValueError("not an object")
        except ValueError:
            problems.append(_("manifest.json is not valid JSON."))
            return report
        report.dispute_number = str(manifest.get("dispute_number", ""))
        report.created_at = str(manifest.get("created_at", ""))
        signed_key = manifest.get("signing_key_id")
        if signed_key != report.key_id:
            problems.append(
                _(
                    "The manifest says it was signed with key %(signed)s, but it was verified "
                    "with key %(used)s. Verify with the platform key of that id "
                    "(--public-key)."
                )
                % {"signed": signed_key, "used": report.key_id}
            )
        if PUBLIC_KEY in seen:
            included = _read_member(archive, PUBLIC_KEY, problems)
            if included is not None and not _same_key(included, trusted):
                problems.append(
                    _("public_key.pem in the package is not the key it was verified with.")
                )

        expected = _expected_files(manifest, problems)
        if expected is None:
            return report
        for path, (size, digest) in expected.items():
            if path not in seen:
                problems.append(
                    _("%(path)s is listed in the manifest but missing.") % {"path": path}
                )
                continue
            declared = archive.getinfo(path).file_size
            if declared != size:
                # Not even unpacked: a size that differs already proves a change (and a
                # forged multi-gigabyte member is not worth decompressing).
                problems.append(
                    _(
                        "%(path)s was changed: the manifest says %(size)d bytes, the archive "
                        "holds %(declared)d bytes."
                    )
                    % {"path": path, "size": size, "declared": declared}
                )
                continue
            actual = _hash_member(archive, path, problems)
            if actual is None:
                continue
            actual_size, actual_digest = actual
            if actual_size != size or actual_digest != digest:
                problems.append(
                    _(
                        "%(path)s was changed: the manifest says %(size)d bytes with SHA-256 "
                        "%(expected)s, the file has %(actual_size)d bytes with SHA-256 "
                        "%(actual)s."
                    )
                    % {
                        "path": path,
                        "size": size,
                        "expected": digest,
                        "actual_size": actual_size,
                        "actual": actual_digest,
                    }
                )
            report.files.append(
                CheckedFile(
                    path=path,
                    size=actual_size,
                    sha256=actual_digest,
                    matches=(actual_size, actual_digest) == (size, digest),
                )
            )
        allowed = set(expected) | {MANIFEST, SIGNATURE, PUBLIC_KEY}
        for name in sorted(seen - allowed):
            problems.append(
                _("%(name)s is in the archive but not in the signed manifest.") % {"name": name}
            )
    return report


def _check_signature(
    trusted: Ed25519PublicKey, manifest_bytes: bytes, signature_text: bytes, problems: list[str]
) -> bool:
    try:
        signature = base64.b64decode(signature_text.strip(), validate=True)
        trusted.verify(signature, manifest_bytes)
    except (InvalidSignature, ValueError):
        problems.append(
            _(
                "The signature of manifest.json does not match the platform key %(key)s: the "
                "manifest was changed or was not signed by the platform."
            )
            % {"key": key_id(trusted)}
        )
        return False
    return True


def _expected_files(manifest: dict[str, Any], problems: list[str]) -> dict[str, tuple[int, str]]:
    """path → (size, sha256) for every file the manifest covers (evidence, summary, readme)."""
    expected: dict[str, tuple[int, str]] = {}
    listed: list[Any] = list(manifest.get("files") or [])
    for key in ("summary", "readme"):
        if key in manifest:
            listed.append(manifest[key])
        elif key == "summary":
            problems.append(_("The manifest does not describe the summary."))
    for entry in listed:
        try:
            path, size, digest = str(entry["path"]), int(entry["size"]), str(entry["sha256"])
        except (KeyError, TypeError, ValueError):
            problems.append(
                _("The manifest has a malformed file entry: %(entry)s") % {"entry": entry}
            )
            continue
        if not _is_safe_member(path) or path in {MANIFEST, SIGNATURE, PUBLIC_KEY}:
            problems.append(
                _("Unsafe file name in the manifest (outside the package): %(name)s")
                % {"name": path}
            )
            continue
        if path in expected:
            problems.append(_("The manifest lists %(path)s more than once.") % {"path": path})
        expected[path] = (size, digest)
    return expected


def _is_safe_member(name: str) -> bool:
    """No absolute paths, drive letters, backslashes, '..' or empty parts (zip-slip)."""
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        return False
    if re.match(r"^[A-Za-z]:", name):
        return False
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return False
    return posixpath.normpath(name) == name


def _read_member(archive: zipfile.ZipFile, name: str, problems: list[str]) -> bytes | None:
    # Only small members (manifest, signature, key) are read whole; bounded all the same.
    limit = 16 * 1024 * 1024
    try:
        with archive.open(name) as member:
            content = member.read(limit + 1)
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError):
        problems.append(_("%(name)s cannot be read (damaged archive).") % {"name": name})
        return None
    if len(content) > limit:
        problems.append(_("%(name)s is implausibly large.") % {"name": name})
        return None
    return content


def _hash_member(
    archive: zipfile.ZipFile, name: str, problems: list[str]
) -> tuple[int, str] | None:
    digest = hashlib.sha256()
    size = 0
    try:
        with archive.open(name) as member:
            while chunk := member.read(_HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError):
        problems.append(_("%(name)s cannot be read (damaged archive).") % {"name": name})
        return None
    return size, digest.hexdigest()


def _same_key(pem: bytes, trusted: Ed25519PublicKey) -> bool:
    try:
        included = load_public_key_pem(pem)
    except (ValueError, TypeError):
        return False
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    return included.public_bytes(*raw) == trusted.public_bytes(*raw)
