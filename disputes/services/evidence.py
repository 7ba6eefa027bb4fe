"""Evidence files: checked by content (disputes.evidence_files), stored under generated names
in `default_storage` (never a public URL), SHA-256 of the stored bytes recorded."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.evidence_files import CleanFile, check_declared_size, clean_evidence_file
from disputes.models import (
    OPEN_STATUSES,
    UPLOADABLE_EVIDENCE,
    Dispute,
    DisputeEvent,
    EventType,
    Evidence,
    EvidenceKind,
    NotificationKind,
    Policy,
    Role,
)
from disputes.permissions import party_role
from disputes.selectors import policy_for
from disputes.services.outbox import buyer_recipients, merchant_recipients, notify
from disputes.services.state_machine import locked, not_allowed, record
from kamen_complaints.errors import DomainError


@dataclass(frozen=True)
class EvidenceUpload:
    kind: str
    file: UploadedFile
    note: str = ""


@dataclass(frozen=True)
class CheckedUpload:
    kind: str
    clean: CleanFile
    note: str


def check_uploads(uploads: Sequence[EvidenceUpload], *, policy: Policy) -> list[CheckedUpload]:
    """Check kinds and contents before anything is written (a bad file refuses the whole
    request, nothing half-written). Every kind, note and declared size is checked before the
    first file is read or decoded."""
    for upload in uploads:
        if upload.kind not in UPLOADABLE_EVIDENCE:
            raise DomainError(
                _("Unknown evidence kind %(kind)s; use one of: %(kinds)s.")
                % {"kind": upload.kind, "kinds": ", ".join(UPLOADABLE_EVIDENCE)},
                code="evidence_invalid",
            )
        if len(upload.note) > 500:
            raise DomainError(_("A note on evidence is at most 500 characters."), code="invalid")
        check_declared_size(upload.file, max_bytes=policy.max_evidence_bytes)
    return [
        CheckedUpload(
            kind=upload.kind,
            clean=clean_evidence_file(upload.file, max_bytes=policy.max_evidence_bytes),
            note=upload.note,
        )
        for upload in uploads
    ]


def check_count(dispute: Dispute | None, role: str, adding: int, *, policy: Policy) -> None:
    already = 0 if dispute is None else dispute.evidence.filter(role=role).count()
    if already + adding > policy.max_evidence_files:
        raise DomainError(
            _(
                "A party attaches at most %(max)s evidence files to a complaint "
                "(%(already)s already attached)."
            )
            % {"max": policy.max_evidence_files, "already": already},
            code="evidence_invalid",
        )


class StoredFiles:
    """The files written during one request, deleted again if its transaction fails."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def save(self, dispute: Dispute, content: bytes, extension: str) -> str:
        name = default_storage.save(
            f"evidence/{dispute.number}/{uuid.uuid4().hex}.{extension}", ContentFile(content)
        )
        self.names.append(name)
        return name

    def discard(self) -> None:
        for name in self.names:
            default_storage.delete(name)
        self.names.clear()


@contextmanager
def stored_files() -> Iterator[StoredFiles]:
    files = StoredFiles()
    try:
        yield files
    except BaseException:
        files.discard()
        raise


def store_evidence(
    dispute: Dispute,
    item: CheckedUpload,
    *,
    user: User | None,
    role: str,
    files: StoredFiles,
) -> tuple[Evidence, DisputeEvent]:
    name = files.save(dispute, item.clean.content, item.clean.extension)
    evidence = Evidence.objects.create(
        dispute=dispute,
        kind=item.kind,
        stored_name=name,
        original_name=item.clean.original_name[:255],
        content_type=item.clean.content_type,
        size=len(item.clean.content),
        sha256=item.clean.sha256,
        note=item.note,
        uploaded_by=user,
        role=role,
        uploaded_at=timezone.now(),
    )
    event = record(
        dispute,
        type=EventType.EVIDENCE_ADDED,
        actor=user,
        role=role,
        body=item.note,
        data={
            "evidence": evidence.pk,
            "kind": item.kind,
            "sha256": evidence.sha256,
            "size": evidence.size,
        },
    )
    return evidence, event


def store_platform_record(
    dispute: Dispute,
    records: dict[str, Any],
    *,
    files: StoredFiles,
    kind: str = EvidenceKind.PLATFORM_RECORD,
    original_name: str = "platform-record.json",
    note: str = "",
) -> Evidence:
    """The platform's own records (order, payment, delivery, key reveals; an automatic check's
    answer) as an evidence file of their own, hashed like any other."""
    content = json.dumps(
        records, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2, sort_keys=True
    ).encode("utf-8")
    name = files.save(dispute, content, "json")
    return Evidence.objects.create(
        dispute=dispute,
        kind=kind,
        stored_name=name,
        original_name=original_name,
        content_type="application/json",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        note=note,
        uploaded_by=None,
        role=Role.SYSTEM,
        uploaded_at=timezone.now(),
    )


def dispute_add_evidence(
    *, dispute: Dispute, user: User, kind: str, file: UploadedFile, note: str = ""
) -> Evidence:
    """A party adds evidence until a decision (this is also how a merchant uploads
    counter-evidence before contesting). Evidence from the party staff asked for information
    resumes the paused review clock."""
    from disputes.services.staff import resume_review_if_answered

    role = party_role(user, dispute)
    policy = policy_for(dispute.order.product.kind)
    # The cheap refusals (status, count; the size while reading) before any image is decoded,
    # then again under the lock (docs/security/hostile-input.md).
    _check_accepts_evidence(dispute, role, policy=policy)
    checked = check_uploads([EvidenceUpload(kind=kind, file=file, note=note)], policy=policy)
    with stored_files() as files, transaction.atomic():
        dispute = locked(dispute)
        _check_accepts_evidence(dispute, role, policy=policy)
        evidence, event = store_evidence(dispute, checked[0], user=user, role=role, files=files)
        resume_review_if_answered(dispute, user=user, role=role)
        others = merchant_recipients(dispute) if role == Role.BUYER else buyer_recipients(dispute)
        notify(
            dispute,
            event,
            others,
            NotificationKind.EVIDENCE_ADDED,
            by=str(role),
            evidence_kind=evidence.kind,
        )
    return evidence


def _check_accepts_evidence(dispute: Dispute, role: str, *, policy: Policy) -> None:
    """The complaint still takes evidence (open until a decision) and this party has room for
    one more file."""
    if dispute.status not in OPEN_STATUSES:
        raise not_allowed(dispute, _("adding evidence"))
    check_count(dispute, role, 1, policy=policy)
