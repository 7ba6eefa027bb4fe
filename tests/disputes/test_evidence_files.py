"""Evidence uploads are checked by content, with real bad files made here (no fixtures on disk).

None of these tests touches the database.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pikepdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.utils import translation
from PIL import ExifTags, Image, ImageFile, PngImagePlugin

from disputes.evidence_files import (
    MAX_IMAGE_PIXELS,
    CleanFile,
    clean_evidence_file,
    sanitise_original_name,
)
from kamen_complaints.errors import DomainError

MB = 1024 * 1024
LIMIT = 10 * MB
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


# --- helpers ------------------------------------------------------------------------------


def upload(content: bytes, name: str = "evidence.jpg", content_type: str = "image/jpeg") -> Any:
    return SimpleUploadedFile(name, content, content_type=content_type)


def image_bytes(
    fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **save: Any
) -> bytes:
    image = Image.new(mode, size, "red" if mode in ("RGB", "RGBA") else 128)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def reopen(clean: CleanFile) -> Image.Image:
    image = Image.open(io.BytesIO(clean.content))
    image.load()
    return image


def refused(content: bytes, *, max_bytes: int = LIMIT, **kwargs: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        clean_evidence_file(upload(content, **kwargs), max_bytes=max_bytes)
    assert caught.value.code == "evidence_invalid"
    assert caught.value.status_code == 400
    return caught.value


def words(error: DomainError) -> str:
    """The message with Django's non-breaking spaces (in "10.0 MB") made plain."""
    return error.message.replace("\xa0", " ")


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_bomb(width: int, height: int) -> bytes:
    """A genuine 1-bit greyscale PNG of width×height zero pixels: every row is compressed as it
    is produced, so the test never holds the decoded image (20000×20000 → ~50 KB of file that
    Pillow would decode into 400 MB)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return PNG_MAGIC + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Records every call that would decode pixels (ImageFile.load)."""
    calls: list[object] = []
    original = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> Any:
        calls.append(self)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    yield calls


# --- accepted files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [
        ("JPEG", "image/jpeg", "jpg"),
        ("PNG", "image/png", "png"),
        ("WEBP", "image/webp", "webp"),
    ],
)
def test_valid_image_is_accepted_with_type_from_content_and_hash_of_stored_bytes(
    fmt: str, content_type: str, extension: str
) -> None:
    # Named and typed as something else: neither is trusted.
    clean = clean_evidence_file(
        upload(image_bytes(fmt), name="screen.gif", content_type="text/html"), max_bytes=LIMIT
    )

    assert clean.content_type == content_type
    assert clean.extension == extension
    assert clean.sha256 == hashlib.sha256(clean.content).hexdigest()
    assert clean.original_name == f"screen.{extension}"
    stored = reopen(clean)
    assert stored.format == fmt
    assert stored.size == (64, 48)


def test_valid_pdf_is_stored_byte_for_byte() -> None:
    pdf = (
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>\nendobj\n"
        b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )

    clean = clean_evidence_file(
        upload(pdf, name="bank statement.pdf", content_type="application/octet-stream"),
        max_bytes=LIMIT,
    )

    assert clean.content == pdf
    assert clean.content_type == "application/pdf"
    assert clean.extension == "pdf"
    assert clean.sha256 == hashlib.sha256(pdf).hexdigest()
    assert clean.original_name == "bank statement.pdf"


def test_png_transparency_and_mode_survive_cleaning() -> None:
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    image.putpixel((5, 5), (255, 0, 0, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")

    stored = reopen(clean_evidence_file(upload(buffer.getvalue()), max_bytes=LIMIT))

    assert stored.mode == "RGBA"
    assert stored.getpixel((0, 0)) == (0, 0, 0, 0)
    assert stored.getpixel((5, 5)) == (255, 0, 0, 255)


def test_lossless_webp_stays_lossless() -> None:
    rng = random.Random(4)
    image = Image.frombytes("RGB", (32, 32), rng.randbytes(32 * 32 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", lossless=True)

    stored = reopen(clean_evidence_file(upload(buffer.getvalue()), max_bytes=LIMIT))

    assert stored.convert("RGB").tobytes() == image.tobytes()


def test_jpeg_keeps_its_quality_so_the_stored_copy_does_not_grow() -> None:
    rng = random.Random(7)
    image = Image.frombytes("RGB", (200, 200), rng.randbytes(200 * 200 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=60)

    clean = clean_evidence_file(upload(buffer.getvalue()), max_bytes=LIMIT)

    assert len(clean.content) <= len(buffer.getvalue()) * 1.05


# --- metadata is stripped -----------------------------------------------------------------


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Pocket 12"
    exif[ExifTags.Base.Artist] = "Zhang San"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (39.0, 54.0, 27.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (116.0, 23.0, 50.0)
    return exif


def assert_no_metadata(clean: CleanFile) -> None:
    stored = reopen(clean)
    exif = stored.getexif()
    assert len(exif) == 0
    assert exif.get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert "exif" not in stored.info
    for marker in (b"Exif", b"PhoneMaker", b"Zhang San", b"secret note"):
        assert marker not in clean.content


def test_jpeg_with_gps_exif_is_stored_without_any_exif() -> None:
    source = image_bytes("JPEG", exif=gps_exif(), comment=b"secret note")
    # The file really carries GPS data, so the test can fail.
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(ExifTags.IFD.GPSInfo)

    clean = clean_evidence_file(upload(source), max_bytes=LIMIT)

    assert_no_metadata(clean)
    assert "comment" not in reopen(clean).info


def test_png_exif_and_text_chunks_are_stripped() -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "secret note")
    source = image_bytes("PNG", exif=gps_exif(), pnginfo=text)
    assert b"secret note" in source and b"PhoneMaker" in source

    clean = clean_evidence_file(upload(source, name="a.png"), max_bytes=LIMIT)

    assert_no_metadata(clean)
    assert "Author" not in reopen(clean).info


def test_webp_exif_is_stripped() -> None:
    source = image_bytes("WEBP", exif=gps_exif())
    assert b"PhoneMaker" in source

    assert_no_metadata(clean_evidence_file(upload(source, name="a.webp"), max_bytes=LIMIT))


def test_exif_orientation_is_applied_to_the_pixels() -> None:
    # 40×20: left half red, right half blue; orientation 6 = "rotate 90° clockwise to view".
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=95)

    stored = reopen(clean_evidence_file(upload(buffer.getvalue()), max_bytes=LIMIT))

    assert stored.size == (20, 40)
    red, green, blue = stored.getpixel((10, 5))
    assert red > 200 and blue < 60  # the left (red) half is now on top
    red, green, blue = stored.getpixel((10, 35))
    assert blue > 200 and red < 60
    assert ExifTags.Base.Orientation not in stored.getexif()


# --- refused files ------------------------------------------------------------------------


def test_png_header_followed_by_html_is_refused() -> None:
    refused(PNG_MAGIC + HTML, name="photo.png", content_type="image/png")


def test_jpeg_header_followed_by_html_is_refused() -> None:
    refused(b"\xff\xd8\xff\xe0" + HTML)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", id="windows-exe"),
        pytest.param(b"\x7fELF\x02\x01\x01\x00", id="linux-elf"),
    ],
)
def test_executable_renamed_jpg_is_refused(header: bytes) -> None:
    with translation.override("en"):
        error = refused(header + b"\x00" * 4096, name="photo.jpg")
    assert "JPEG, PNG and WebP" in words(error)
    assert "PDF" in words(error)
    assert "10.0 MB" in words(error)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(HTML, id="html"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', id="svg"),
        pytest.param(image_bytes("GIF"), id="gif"),
        pytest.param(image_bytes("BMP"), id="bmp"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 100, id="zip"),
        pytest.param(b"%PDF-1.4\n<html>no end marker</html>\n", id="pdf-without-eof"),
        pytest.param(b"%PDF-X\n%%EOF", id="pdf-bad-version"),
    ],
)
def test_files_that_are_not_accepted_kinds_are_refused(content: bytes) -> None:
    refused(content, name="evidence.pdf", content_type="application/pdf")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_image_is_refused(fmt: str) -> None:
    rng = random.Random(1)
    image = Image.frombytes("RGB", (120, 120), rng.randbytes(120 * 120 * 3))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    data = buffer.getvalue()

    refused(data[: len(data) // 2])


def test_empty_file_is_refused() -> None:
    refused(b"")


def test_animated_png_is_refused() -> None:
    frames = [Image.new("RGB", (10, 10), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:])

    refused(buffer.getvalue())


# --- size and pixel limits ----------------------------------------------------------------


def test_oversized_file_is_refused_naming_its_size_and_the_limit() -> None:
    png = image_bytes("PNG")
    content = png + b"\x00" * (60_000 - len(png))

    with translation.override("en"):
        error = refused(content, max_bytes=50_000)

    assert "48.8 KB" in words(error)  # the limit (50 000 bytes)
    assert "58.6 KB" in words(error)  # this file (60 000 bytes)


class _HugeDeclaredUpload(UploadedFile):
    def __init__(self) -> None:
        super().__init__(
            file=io.BytesIO(b""), name="big.jpg", content_type="image/jpeg", size=LIMIT * 100
        )

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        raise AssertionError("an upload declared too big must not be read")


def test_file_declared_too_big_is_refused_without_reading_it() -> None:
    with pytest.raises(DomainError) as caught:
        clean_evidence_file(_HugeDeclaredUpload(), max_bytes=LIMIT)

    assert caught.value.code == "evidence_invalid"


def test_file_lying_about_its_size_is_refused_after_reading_one_chunk_past_the_limit() -> None:
    read: list[int] = []

    class Lying(UploadedFile):
        def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
            for _ in range(1000):  # would be 64 MB if read to the end
                read.append(1)
                yield b"\x00" * 65536

    lying = Lying(file=io.BytesIO(b""), name="small.png", content_type="image/png", size=10)

    with pytest.raises(DomainError) as caught:
        clean_evidence_file(lying, max_bytes=100_000)

    assert caught.value.code == "evidence_invalid"
    assert len(read) == 2


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    "side",
    [
        pytest.param(7000, id="49MP-over-our-limit"),
        pytest.param(10000, id="100MP-pillow-warns"),
        pytest.param(20000, id="400MP-pillow-refuses"),
    ],
)
def test_png_bomb_is_refused_before_any_pixel_is_decoded(
    side: int, decode_calls: list[object]
) -> None:
    bomb = png_bomb(side, side)
    assert len(bomb) < 200_000  # tiny file …
    assert side * side > MAX_IMAGE_PIXELS  # … many pixels

    refused(bomb, name="bomb.png", content_type="image/png")

    assert decode_calls == []


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_png_bomb_is_refused_when_pillow_warnings_are_errors() -> None:
    refused(png_bomb(10000, 10000))


def test_pixel_limit_message_names_the_dimensions_and_the_limit() -> None:
    with translation.override("en"):
        error = refused(png_bomb(7000, 7000))

    assert "7000×7000" in words(error)
    assert "49.0 megapixels" in words(error)
    assert "25 megapixels" in words(error)


def test_large_image_under_the_pixel_limit_is_accepted() -> None:
    clean = clean_evidence_file(upload(png_bomb(2000, 2000)), max_bytes=LIMIT)

    assert reopen(clean).size == (2000, 2000)


# --- original name ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.jpg", "passwd.png"),
        ("C:\\Users\\li\\截图 2026-11-18.JPG", "截图 2026-11-18.png"),
        ("a\x00b\r\n<script>.png", "abscript.png"),
        ("...hidden.png", "hidden.png"),
        (".png", "evidence.png"),
        ("", "evidence.png"),
        ("no extension", "no extension.png"),
    ],
)
def test_original_name_is_sanitised_and_gets_the_real_extension(name: str, expected: str) -> None:
    assert sanitise_original_name(name, extension="png") == expected


def test_original_name_is_at_most_100_characters_and_keeps_the_extension() -> None:
    name = sanitise_original_name("长" * 300 + ".jpeg", extension="jpg")

    assert len(name) <= 100
    assert name.endswith("长.jpg")


# --- PDFs with active content (issue 17) ---------------------------------------------------


def _pdf_with(kind: str) -> bytes:
    from pikepdf import Array, Dictionary, Name, String

    document = pikepdf.new()
    document.add_blank_page()
    page = document.pages[0]
    if kind == "javascript":
        action = document.make_indirect(Dictionary(S=Name.JavaScript, JS=String("app.alert(1)")))
        names = Dictionary(Names=Array([String("a"), action]))
        document.Root.Names = Dictionary(JavaScript=names)
    elif kind == "open-action":
        document.Root.OpenAction = Dictionary(S=Name.URI, URI=String("https://evil.example/"))
    elif kind == "launch":
        link = Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=Array([0, 0, 10, 10]),
            A=Dictionary(S=Name.Launch, F=String("calc.exe")),
        )
        page.Annots = document.make_indirect(Array([link]))
    elif kind == "embedded-file":
        document.attachments["invoice.exe"] = pikepdf.AttachedFileSpec(document, b"MZ\x90\x00")
    elif kind == "page-trigger":
        page.AA = Dictionary(O=Dictionary(S=Name.JavaScript, JS=String("app.alert(2)")))
    elif kind == "open-at-first-page":
        document.Root.OpenAction = Array([page.obj, Name.Fit])
    elif kind == "web-link":
        link = Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=Array([0, 0, 10, 10]),
            A=Dictionary(S=Name.URI, URI=String("https://example.com/")),
        )
        page.Annots = document.make_indirect(Array([link]))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("kind", "named"),
    [
        ("javascript", "JavaScript"),
        ("open-action", "when the document is opened"),
        ("launch", "Launch"),
        ("embedded-file", "embedded or attached files"),
        ("page-trigger", "runs by itself"),
    ],
)
def test_a_pdf_with_active_content_is_refused_and_says_what_it_holds(kind: str, named: str) -> None:
    with translation.override("en"):
        error = refused(_pdf_with(kind), name="statement.pdf", content_type="application/pdf")
    assert named in words(error)


@pytest.mark.parametrize("kind", ["open-at-first-page", "web-link"])
def test_a_pdf_opening_at_its_first_page_or_with_a_web_link_is_accepted(kind: str) -> None:
    content = _pdf_with(kind)
    clean = clean_evidence_file(upload(content, name="a.pdf"), max_bytes=LIMIT)
    assert clean.content == content


def test_a_pdf_whose_structure_cannot_be_read_is_refused() -> None:
    with translation.override("en"):
        error = refused(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    assert "cannot be read" in words(error)
