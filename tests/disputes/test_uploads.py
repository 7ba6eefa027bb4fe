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


# --- cheap refusals before any decoding (issue 17, section 4) -----------------------------


@pytest.fixture
def image_opens(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every call that would parse (Image.open) or decode (ImageFile.load) an image."""
    from PIL import ImageFile

    calls: list[object] = []
    real_open, real_load = Image.open, ImageFile.ImageFile.load

    def spy_open(*args, **kwargs):
        calls.append("open")
        return real_open(*args, **kwargs)

    def spy_load(self):
        calls.append("load")
        return real_load(self)

    monkeypatch.setattr(Image, "open", spy_open)
    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_load)
    return calls


def test_evidence_for_a_closed_complaint_is_refused_before_the_image_is_opened(image_opens):
    dispute = file()
    Dispute.objects.filter(pk=dispute.pk).update(status="withdrawn")
    dispute.refresh_from_db()
    response = _upload(dispute, png())
    assert response.status_code == 409 or response.status_code == 400, response.content
    assert response.json()["code"] != "evidence_invalid"
    assert image_opens == []


def test_evidence_past_the_file_count_is_refused_before_the_image_is_opened(image_opens):
    from disputes.selectors import policy_for

    dispute = file()
    limit = policy_for(dispute.order.product.kind).max_evidence_files
    for _ in range(limit):
        assert _upload(dispute, png()).status_code == 201
    image_opens.clear()
    response = _upload(dispute, png())
    assert response.status_code == 400 and str(limit) in response.json()["detail"]
    assert image_opens == []


def lossless_webp(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="WEBP", lossless=True)
    return buffer.getvalue()


def test_a_tiny_lossless_webp_of_huge_dimensions_is_refused_without_decoding(image_opens):
    """1.5 KB that decodes to 6324² px cost ~900 MB and seconds of CPU to re-encode."""
    bomb = lossless_webp(6324, 6324)
    assert len(bomb) < 4000
    dispute = file()
    image_opens.clear()
    body = _refused(dispute, SimpleUploadedFile("bomb.webp", bomb, content_type="image/webp"))
    assert "6324×6324" in body["detail"]
    assert "load" not in image_opens


def test_a_jpeg_colour_profile_is_not_stored_and_its_colours_are_kept():
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    marker = b"ATTACKER-CHOSEN-BYTES" * 20
    # Arbitrary bytes inside a profile Little CMS still reads (after the tag data).
    hostile = profile + marker
    hostile = struct.pack(">I", len(hostile)) + hostile[4:]
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(
        buffer, format="JPEG", quality=95, icc_profile=hostile
    )
    assert marker in buffer.getvalue()
    dispute = file()
    response = _upload(dispute, SimpleUploadedFile("p3.jpg", buffer.getvalue()))
    assert response.status_code == 201, response.content
    evidence = Evidence.objects.get(dispute=dispute, role="buyer")
    with default_storage.open(evidence.stored_name, "rb") as handle:
        stored = handle.read()
    assert marker not in stored
    image = Image.open(io.BytesIO(stored))
    assert "icc_profile" not in image.info
    red, green, blue = image.convert("RGB").getpixel((32, 32))
    assert abs(red - 200) < 8 and green < 60 and blue < 60


def test_evidence_uploads_are_throttled_per_user(settings):
    from django.core.cache import cache

    cache.clear()
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["evidence_user"] = "2/hour"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    dispute = file()
    assert _upload(dispute, png()).status_code == 201
    assert _upload(dispute, png()).status_code == 201
    response = _upload(dispute, png())
    assert response.status_code == 429
    assert response.json()["code"] == "throttled" and int(response["Retry-After"]) > 0
    assert Evidence.objects.filter(dispute=dispute, role="buyer").count() == 2
    cache.clear()


@pytest.mark.parametrize(
    "refused", [{"remedy_wanted": "a-pony"}, {"description": "x" * 5001}], ids=["remedy", "text"]
)
def test_a_filing_refused_for_its_text_decodes_no_image(image_opens, refused):
    from decimal import Decimal

    from disputes import services
    from disputes.services.evidence import EvidenceUpload
    from kamen_complaints.errors import DomainError

    order = funded_order()
    with pytest.raises(DomainError):
        services.dispute_file(
            buyer=order.buyer,
            order=order,
            reason="other",
            claimed_amount=Decimal("1.00"),
            evidence=[EvidenceUpload(kind="order_screenshot", file=png())],
            **refused,
        )
    assert image_opens == []


def test_evidence_uploads_on_the_page_share_the_apis_throttle(settings, client):
    from django.core.cache import cache

    cache.clear()
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["evidence_user"] = "1/hour"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    dispute = file()
    assert _upload(dispute, png()).status_code == 201  # the API's one
    client.force_login(dispute.buyer)
    response = client.post(
        f"/complaints/{dispute.number}/evidence/",
        {"kind": "order_screenshot", "file": png(), "note": "typed note"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many attempts" in response.content.decode()
    assert Evidence.objects.filter(dispute=dispute, role="buyer").count() == 1
    cache.clear()
