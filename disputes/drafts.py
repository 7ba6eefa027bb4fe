"""Evidence a buyer attached to the complaint form before the complaint exists (a draft).

When a filing is refused (an amount too high, one bad file among five), the buyer must not
upload everything again from a phone. Each accepted file of the form is checked by content at
once (disputes.evidence_files, the same check the service runs) and kept here, cleaned, under
`drafts/<random token>/` in `default_storage`; its metadata lives in the buyer's session,
keyed by order. The form is re-rendered showing the files attached (each with a remove box),
and the next submit hands them to `dispute_file` as ordinary uploads.

Draft files are never served by a public URL: only to the session that uploaded them
(disputes.views.filing.complaint_draft_file). They are deleted after a successful filing, when the
session finds them older than DRAFT_TTL, and by the periodic purge (`purge_expired_drafts`,
for sessions that never come back).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest
from django.utils import timezone

from disputes.evidence_files import CleanFile
from disputes.services import EvidenceUpload

DRAFT_TTL = timedelta(hours=24)
DRAFT_ROOT = "drafts"
SESSION_KEY = "complaint_drafts"


@dataclass(frozen=True)
class DraftFile:
    id: str
    kind: str
    name: str
    size: int
    content_type: str
    stored: str

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class Draft:
    """The draft of one buyer's complaint about one order, in their session."""

    def __init__(self, request: HttpRequest, order_number: str) -> None:
        self.session = request.session
        self.order_number = order_number
        drafts = self.session.get(SESSION_KEY) or {}
        data = drafts.get(order_number)
        if data and _expired(data.get("created", "")):
            self._delete_files([DraftFile(**f) for f in data.get("files", [])])
            data = None
        self.token: str = data["token"] if data else secrets.token_hex(16)
        self.created: str = data["created"] if data else timezone.now().isoformat()
        self.files: list[DraftFile] = [DraftFile(**f) for f in (data or {}).get("files", [])]
        if data is None and order_number in drafts:
            self._save()

    def of_kind(self, kind: str) -> list[DraftFile]:
        return [f for f in self.files if f.kind == kind]

    def get(self, file_id: str) -> DraftFile | None:
        return next((f for f in self.files if f.id == file_id), None)

    def add(self, kind: str, clean: CleanFile) -> DraftFile:
        file_id = secrets.token_hex(8)
        stored = default_storage.save(
            f"{DRAFT_ROOT}/{self.token}/{file_id}.{clean.extension}",
            SimpleUploadedFile(f"{file_id}.{clean.extension}", clean.content),
        )
        item = DraftFile(
            id=file_id,
            kind=kind,
            name=clean.original_name,
            size=len(clean.content),
            content_type=clean.content_type,
            stored=stored,
        )
        self.files.append(item)
        self._save()
        return item

    def remove(self, file_ids: list[str]) -> None:
        gone = [f for f in self.files if f.id in file_ids]
        if not gone:
            return
        self._delete_files(gone)
        self.files = [f for f in self.files if f.id not in file_ids]
        self._save()

    def uploads(self) -> list[EvidenceUpload]:
        """The files as uploads for `dispute_file` (which checks them again, as any upload)."""
        uploads = []
        for item in self.files:
            with default_storage.open(item.stored, "rb") as stored:
                content = stored.read()
            upload = SimpleUploadedFile(item.name, content, content_type=item.content_type)
            uploads.append(EvidenceUpload(kind=item.kind, file=upload))
        return uploads

    def discard(self) -> None:
        self._delete_files(self.files)
        self.files = []
        drafts = dict(self.session.get(SESSION_KEY) or {})
        if drafts.pop(self.order_number, None) is not None:
            self.session[SESSION_KEY] = drafts

    def _save(self) -> None:
        drafts = dict(self.session.get(SESSION_KEY) or {})
        drafts[self.order_number] = {
            "token": self.token,
            "created": self.created,
            "files": [asdict(f) for f in self.files],
        }
        self.session[SESSION_KEY] = drafts

    @staticmethod
    def _delete_files(files: list[DraftFile]) -> None:
        for item in files:
            # Only names this module generated: never a path taken from a request.
            if item.stored.startswith(f"{DRAFT_ROOT}/"):
                default_storage.delete(item.stored)


def _expired(created: str, now: datetime | None = None) -> bool:
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return True
    return moment < (now or timezone.now()) - DRAFT_TTL


def purge_expired_drafts(now: datetime | None = None) -> int:
    """Delete draft files older than DRAFT_TTL whatever session holds them (a buyer who never
    came back). Returns how many files were deleted."""
    cutoff = (now or timezone.now()) - DRAFT_TTL
    deleted = 0
    try:
        folders, _files = default_storage.listdir(DRAFT_ROOT)
    except FileNotFoundError:
        return 0
    for folder in folders:
        _subfolders, names = default_storage.listdir(f"{DRAFT_ROOT}/{folder}")
        for name in names:
            path = f"{DRAFT_ROOT}/{folder}/{name}"
            if default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
                deleted += 1
    return deleted
