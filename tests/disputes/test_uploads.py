"""Evidence uploads through the API, with real bad files made here: checked by content,
never by name; nothing half-written when one is refused."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import zlib

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from disputes.models import Dispute, Evidence
from tests.disputes.factories import file, funded_order, jpeg_with_gps, pdf, png

pytestmark = pytest.mark.django_db


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A real 20000×20000 1-bit PNG: ~50 KB on disk, 400 megapixels decoded."""
    header = b"\x89PNG\r\n\x1a\n" + _chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    )
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return header + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def _upload(dispute: Dispute, upload: SimpleUploadedFile, kind: str = "order_screenshot"):
    client = APIClient()
    client.force_authenticate(dispute.buyer)
    return client.post(
        f"/api/v1/disputes/{dispute.number}/evidence/",
        {"kind": kind, "file": upload},
        format="multipart",
    )


def _refused(dispute: Dispute, upload: SimpleUploadedFile) -> dict:
    before = Evidence.objects.filter(dispute=dispute).count()
    response = _upload(dispute, upload)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "evidence_invalid"
    assert Evidence.objects.filter(dispute=dispute).count() == before
    return response.json()


def test_a_png_header_followed_by_html_is_refused():
    dispute = file()
    polyglot = b"\x89PNG\r\n\x1a\n<html><body><script>alert(document.cookie)</script></body></html>"
    _refused(dispute, SimpleUploadedFile("screenshot.png", polyglot, content_type="image/png"))


def test_a_decompression_bomb_is_refused_without_being_decoded():
    dispute = file()
    bomb = png_bomb()
    assert len(bomb) < 200_000
    started = time.monotonic()
    _refused(dispute, SimpleUploadedFile("bomb.png", bomb, content_type="image/png"))
    assert time.monotonic() - started < 5


def test_gps_exif_is_stripped_from_the_stored_copy():
    dispute = file()
    upload = jpeg_with_gps()
    original = Image.open(io.BytesIO(upload.read()))
    assert original.getexif().get_ifd(0x8825)  # the test file really carries GPS
    upload.seek(0)
    response = _upload(dispute, upload, kind="order_screenshot")
    assert response.status_code == 201, response.content
    evidence = Evidence.objects.filter(dispute=dispute, role="buyer").get()
    with default_storage.open(evidence.stored_name, "rb") as handle:
        stored = handle.read()
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    exif = image.getexif()
    assert not exif.get_ifd(0x8825) and 0x010F not in exif
    assert b"PhoneMaker" not in stored
    assert evidence.sha256 == hashlib.sha256(stored).hexdigest()


def test_an_oversized_file_is_refused_naming_the_limit():
    dispute = file()
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024)
    body = _refused(dispute, SimpleUploadedFile("huge.png", big, content_type="image/png"))
    assert "10" in body["detail"]


def test_an_executable_renamed_jpg_is_refused():
    dispute = file()
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 256
    _refused(dispute, SimpleUploadedFile("photo.jpg", exe, content_type="image/jpeg"))


def test_a_pdf_is_accepted_and_stored_as_is():
    dispute = file()
    upload = pdf()
    content = upload.read()
    upload.seek(0)
    response = _upload(dispute, upload, kind="payment_proof")
    assert response.status_code == 201
    evidence = Evidence.objects.get(dispute=dispute, role="buyer")
    assert evidence.content_type == "application/pdf"
    assert evidence.stored_name.endswith(".pdf")
    with default_storage.open(evidence.stored_name, "rb") as handle:
        assert handle.read() == content


def test_a_bad_file_refuses_the_whole_filing():
    order = funded_order()
    client = APIClient()
    client.force_authenticate(order.buyer)
    response = client.post(
        "/api/v1/disputes/",
        {
            "order": order.number,
            "reason": "other",
            "claimed_amount": "1.00",
            "evidence": [png(), SimpleUploadedFile("x.jpg", b"MZ" + b"\x00" * 64)],
            "evidence_kind": ["order_screenshot", "payment_proof"],
        },
        format="multipart",
    )
    assert response.status_code == 400 and response.json()["code"] == "evidence_invalid"
    assert not Dispute.objects.filter(order=order).exists()


def test_the_stored_name_is_generated_and_the_shown_name_sanitised():
    dispute = file()
    response = _upload(dispute, png("../../etc/<passwd>.png"))
    assert response.status_code == 201
    evidence = Evidence.objects.get(dispute=dispute, role="buyer")
    assert evidence.stored_name.startswith(f"evidence/{dispute.number}/")
    assert ".." not in evidence.stored_name and "passwd" not in evidence.stored_name
    assert "/" not in evidence.original_name and "<" not in evidence.original_name
