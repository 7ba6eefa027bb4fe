"""Evidence uploads, checked by what they contain — never by their name or the client's type.

Accepted: JPEG, PNG and WebP images, and PDF documents. Images are decoded and re-encoded with
Pillow, so what is stored is pixels the platform produced itself: EXIF (GPS, camera, owner),
XMP, comments and text chunks are gone, the EXIF orientation is applied to the pixels, and
anything appended after the image (an HTML or script polyglot) is dropped. The ICC colour
profile is dropped too (it is up to 16 MB of bytes the uploader chose, carried into the stored
file): an image that had one is converted to sRGB first, so a Display P3 screenshot keeps its
colours; a profile that cannot be read is just left out.

Refused before any pixel is decoded: a file above the size limit (refused while reading, so a
lying Content-Length cannot make us buffer more) and an image above MAX_IMAGE_PIXELS by the
dimensions in its header (a "decompression bomb": 1.5 KB of lossless WebP that would decode to
40 megapixels and cost ~900 MB of memory to re-encode). The callers check that the complaint
takes evidence, the count and the declared size before this runs (disputes/services/evidence.py).

PDFs are stored byte for byte (they are a signed contract, a bank statement: re-writing them
would destroy what makes them evidence); they must start with the `%PDF-` header, end with
the `%%EOF` marker, and have a structure pikepdf (qpdf) can read. A PDF with active content is
refused, found by walking every object's dictionaries (streams are never decoded): JavaScript
(also XFA forms, which carry scripts), an action run when the document opens (an /OpenAction
that is an action, any /AA trigger; an /OpenAction that only names the first page to show is a
destination, not an action, and is accepted), Launch, ImportData, GoToE and RichMedia actions,
and embedded or attached files. They are only ever served as downloads with `nosniff` (see
disputes/api/), and reviewed as pictures (disputes/pdf_review.py).
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import pikepdf
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageOps, JpegImagePlugin, UnidentifiedImageError

from kamen_complaints.errors import DomainError

# Pixels, checked from the header before decoding. 25 MP covers every phone screenshot (a
# 1080×20000 scrolling one too) and a 12–24 MP camera photo; decoding and re-encoding costs up
# to ~24 bytes a pixel (lossless WebP), so 25 MP is ~600 MB at worst. The complaint form
# scales photos down in the browser first (static/js/evidence-resize.js).
MAX_IMAGE_PIXELS = 25_000_000
ORIGINAL_NAME_MAX_CHARS = 100
_READ_CHUNK = 64 * 1024
# Where the %%EOF marker must be: the end of the file, allowing trailing whitespace/garbage
# that real-world PDF writers leave behind.
_PDF_EOF_WINDOW = 1024

_SRGB = ImageCms.createProfile("sRGB")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_PDF_HEADER = re.compile(rb"%PDF-[12]\.[0-9]")

# format → (content type, extension without the dot)
_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "PDF": ("application/pdf", "pdf"),
}


@dataclass(frozen=True)
class CleanFile:
    """What to store: `content` (the cleaned bytes), their `sha256` (hex), the `content_type`
    and `extension` (without the dot: "jpg", "png", "webp", "pdf") decided from the content,
    and the uploader's file name, sanitised, for display only (never a storage path)."""

    content: bytes
    content_type: str
    extension: str
    sha256: str
    original_name: str


def clean_evidence_file(upload: UploadedFile, *, max_bytes: int) -> CleanFile:
    """Check an uploaded evidence file by its content and return the bytes to store.

    Raises DomainError(code="evidence_invalid") with a translated sentence naming what is
    accepted and the limit. Never trusts `upload.name` or `upload.content_type`.
    """
    data = _read_bounded(upload, max_bytes=max_bytes)
    kind = _sniff(data)
    if kind is None:
        raise _invalid(
            _(
                "This file is not accepted as evidence: only JPEG, PNG and WebP images and PDF "
                "documents of at most %(limit)s are (files are checked by their content, not "
                "their name)."
            )
            % {"limit": filesizeformat(max_bytes)}
        )
    content = _clean_pdf(data, max_bytes=max_bytes) if kind == "PDF" else _clean_image(data, kind)
    content_type, extension = _FORMATS[kind]
    return CleanFile(
        content=content,
        content_type=content_type,
        extension=extension,
        sha256=hashlib.sha256(content).hexdigest(),
        original_name=sanitise_original_name(upload.name or "", extension=extension),
    )


def sanitise_original_name(name: str, *, extension: str) -> str:
    """The uploader's file name made safe to show: no directory part, no control or path
    characters, the extension of what the content really is (a PNG named `.jpg` is shown as
    `.png`, so a download opens in the right program), at most ORIGINAL_NAME_MAX_CHARS
    characters."""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        " " if ch.isspace() else ch
        for ch in name
        if not unicodedata.category(ch).startswith("C") and ch not in '<>:"|?*'
    )
    name = re.sub(r" {2,}", " ", name).strip()
    stem, dot, suffix = name.rpartition(".")
    if not dot or not 0 < len(suffix) <= 10 or " " in suffix:
        stem = name
    stem = stem.strip().lstrip(".").strip() or "evidence"
    stem = stem[: ORIGINAL_NAME_MAX_CHARS - len(extension) - 1].rstrip()
    return f"{stem}.{extension}"


# --- reading and sniffing -----------------------------------------------------------------


def check_declared_size(upload: UploadedFile, *, max_bytes: int) -> None:
    """Refuse a file whose declared size is over the limit, without reading it."""
    declared = upload.size
    if declared is not None and declared > max_bytes:
        raise _too_big(declared, max_bytes)


def _read_bounded(upload: UploadedFile, *, max_bytes: int) -> bytes:
    """Read at most max_bytes: the declared size is refused first, then the real one (a
    client may lie about the size; we stop reading one chunk past the limit)."""
    check_declared_size(upload, max_bytes=max_bytes)
    buffer = bytearray()
    for chunk in upload.chunks(_READ_CHUNK):
        buffer += chunk
        if len(buffer) > max_bytes:
            raise _too_big(None, max_bytes)
    if not buffer:
        raise _invalid(_("The file is empty."))
    return bytes(buffer)


def _sniff(data: bytes) -> str | None:
    if data.startswith(_JPEG_MAGIC):
        return "JPEG"
    if data.startswith(_PNG_MAGIC):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if _PDF_HEADER.match(data):
        return "PDF"
    return None


# --- PDF ----------------------------------------------------------------------------------


def _clean_pdf(data: bytes, *, max_bytes: int) -> bytes:
    if b"%%EOF" not in data[-_PDF_EOF_WINDOW:]:
        raise _invalid(
            _(
                "This PDF is damaged or incomplete (it has no end-of-file marker). Accepted are "
                "complete PDF documents and JPEG, PNG or WebP images of at most %(limit)s."
            )
            % {"limit": filesizeformat(max_bytes)}
        )
    found = _active_content(data)
    if found is not None:
        raise _invalid(
            _(
                "This PDF contains %(what)s, which is not accepted in evidence. Print it to a "
                "new PDF or take screenshots of its pages, and upload those."
            )
            % {"what": found}
        )
    return data


# Action types (/S) that run something, fetch something or open an embedded file.
_ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/GoToE", "/RichMediaExecute"}
# Walking a hostile file is bounded: objects are visited once, nesting and nodes are capped.
_PDF_MAX_DEPTH = 64
_PDF_MAX_NODES = 2_000_000


def _active_content(data: bytes) -> str | None:
    """What active content the PDF holds, named for the uploader (translated), or None.

    A structure that cannot be read is refused too: what a viewer's own repair makes of it
    could not be checked."""
    try:
        document = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        return _("a password (it cannot be checked or reviewed)")
    except Exception:  # a malformed file must never become a 500
        return _("a structure that cannot be read (the file is damaged)")
    try:
        with document:
            if document.is_encrypted:
                return _("encryption (it cannot be checked or reviewed)")
            return _walk_pdf(document)
    except Exception:
        return _("a structure that cannot be read (the file is damaged)")


def _walk_pdf(document: pikepdf.Pdf) -> str | None:
    root = document.Root
    if "/OpenAction" in root and isinstance(root.OpenAction, pikepdf.Dictionary):
        return _("an action that runs when the document is opened")
    nodes = 0
    stack: list[tuple[Any, int]] = [(obj, 0) for obj in document.objects]
    stack.append((document.trailer, 0))
    while stack:
        obj, depth = stack.pop()
        nodes += 1
        if nodes > _PDF_MAX_NODES or depth > _PDF_MAX_DEPTH:
            return _("a structure that cannot be read (the file is damaged)")
        if isinstance(obj, pikepdf.Stream):
            obj = obj.stream_dict
        if isinstance(obj, pikepdf.Dictionary):
            found = _active_dictionary(obj)
            if found is not None:
                return found
            children = [value for _key, value in obj.items()]
        elif isinstance(obj, pikepdf.Array):
            children = list(obj)
        else:
            continue
        # Indirect objects are in document.objects already: only direct ones are walked here.
        stack.extend(
            (child, depth + 1)
            for child in children
            if isinstance(child, (pikepdf.Dictionary, pikepdf.Array)) and not child.is_indirect
        )
    return None


def _active_dictionary(obj: pikepdf.Dictionary) -> str | None:
    keys = set(obj.keys())
    action = obj.get("/S")
    if "/JS" in keys or "/JavaScript" in keys or action == pikepdf.Name.JavaScript:
        return _("JavaScript")
    if "/XFA" in keys:
        return _("an XFA form (forms that carry scripts)")
    if "/AA" in keys:
        return _("an action that runs by itself (when a page or field is shown or left)")
    if action is not None and str(action) in _ACTIVE_ACTIONS:
        return _("an action that starts a program or opens an embedded file (%(action)s)") % {
            "action": str(action).lstrip("/")
        }
    if (
        "/EF" in keys
        or "/EmbeddedFiles" in keys
        or obj.get("/Type") == pikepdf.Name.EmbeddedFile
        or obj.get("/Subtype") in (pikepdf.Name.FileAttachment, pikepdf.Name.RichMedia)
    ):
        return _("embedded or attached files")
    return None


# --- images -------------------------------------------------------------------------------


def _clean_image(data: bytes, kind: str) -> bytes:
    damaged = _invalid(
        _(
            "This %(format)s image is damaged, incomplete or not really a %(format)s image, and "
            "cannot be read. Accepted are JPEG, PNG and WebP images and PDF documents."
        )
        % {"format": kind}
    )
    try:
        # formats=[kind]: only the decoder the magic bytes named may try, so a file cannot
        # start like a PNG and be parsed as something else.
        source = Image.open(io.BytesIO(data), formats=[kind])
        # The header alone gives the size; nothing is decoded yet.
        _check_pixels(source)
        # A JPEG with several pictures (MPO: a phone's depth map or preview) is not an
        # animation: its first picture is the photo.
        if kind != "JPEG" and getattr(source, "is_animated", False):
            raise _invalid(
                _(
                    "Animated images are not accepted as evidence: upload a still screenshot "
                    "(JPEG, PNG or WebP) or a PDF."
                )
            )
        source.load()
        # Settings the encoder reuses, read before the pixels change in place.
        quantization = getattr(source, "quantization", None)
        sampling = JpegImagePlugin.get_sampling(source) if kind == "JPEG" else -1
        icc = source.info.get("icc_profile") or None
        transparency = source.info.get("transparency")
        mode = source.mode
        # In place: no second copy of a large image in memory.
        ImageOps.exif_transpose(source, in_place=True)
        upright = _to_srgb(source, icc)
        if upright is not source or upright.mode != mode:
            quantization = None  # different pixels: the JPEG's own tables no longer fit
        return _encode(upright, kind, data, quantization, sampling, transparency)
    except DomainError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(None) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        # OSError covers "image file is truncated" and decoder errors; SyntaxError,
        # ValueError and EOFError are what Pillow's parsers raise on malformed headers.
        raise damaged from exc
    except Exception as exc:  # a malformed file must never become a 500
        raise damaged from exc


def _check_pixels(image: Image.Image) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ValueError("empty image")
    if width * height > MAX_IMAGE_PIXELS:
        raise _too_many_pixels((width, height))


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """The pixels in sRGB, so the stored file needs no ICC profile. An unreadable profile,
    or one for a mode LittleCMS cannot convert here (CMYK is converted to RGB by Pillow), is
    ignored: the pixels are kept as they are."""
    if not icc or image.mode not in ("RGB", "RGBA", "L"):
        return image
    try:
        source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(
            image, source_profile, _SRGB, outputMode=image.mode, inPlace=False
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image


def _encode(
    upright: Image.Image,
    kind: str,
    data: bytes,
    quantization: Any,
    sampling: int,
    transparency: Any,
) -> bytes:
    """Re-encode in the same format with no metadata at all (PNG transparency stays: it is
    pixel data)."""
    # Start from an empty info: PNG's and JPEG's writers read some keys (comment, icc,
    # transparency) from im.info, and nothing the uploader wrote may pass through.
    upright.info = {}
    if transparency is not None and kind == "PNG":
        upright.info["transparency"] = transparency
    params: dict[str, Any] = {}
    out = io.BytesIO()
    if kind == "JPEG":
        if upright.mode not in ("L", "RGB"):
            upright = upright.convert("RGB")
        elif quantization is not None and sampling != -1:
            # Keep the uploader's quantisation and subsampling: the stored copy neither
            # grows nor loses quality compared with what was uploaded.
            params["qtables"] = quantization
            params["subsampling"] = sampling
        else:
            params["quality"] = 92
        try:
            upright.save(out, format="JPEG", **params)
        except ValueError:
            out = io.BytesIO()
            upright.save(out, format="JPEG", quality=92)
    elif kind == "PNG":
        upright.save(out, format="PNG")
    else:
        lossless = _webp_is_lossless(data)
        upright.save(
            out,
            format="WEBP",
            icc_profile="",
            lossless=lossless,
            quality=90 if not lossless else 80,
            exact=lossless,
        )
    return out.getvalue()


def _webp_is_lossless(data: bytes) -> bool:
    """A WebP is lossless when its bitstream chunk is VP8L (RIFF chunks after the header):
    re-encoding it lossy would change pixels a party may point at."""
    offset = 12
    while offset + 8 <= len(data):
        fourcc = data[offset : offset + 4]
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        if fourcc == b"VP8L":
            return True
        if fourcc == b"VP8 ":
            return False
        offset += 8 + size + (size & 1)
    return False


# --- errors -------------------------------------------------------------------------------


def _invalid(message: str) -> DomainError:
    return DomainError(message, code="evidence_invalid")


def _too_big(size: int | None, max_bytes: int) -> DomainError:
    if size is None:
        message = _(
            "This file is larger than the %(limit)s allowed for one evidence file. Accepted are "
            "JPEG, PNG and WebP images and PDF documents of at most %(limit)s."
        ) % {"limit": filesizeformat(max_bytes)}
    else:
        message = _(
            "This file is %(size)s, larger than the %(limit)s allowed for one evidence file. "
            "Accepted are JPEG, PNG and WebP images and PDF documents of at most %(limit)s."
        ) % {"size": filesizeformat(size), "limit": filesizeformat(max_bytes)}
    return _invalid(message)


def _too_many_pixels(size: tuple[int, int] | None) -> DomainError:
    limit_mp = MAX_IMAGE_PIXELS // 1_000_000
    if size is None:
        message = _(
            "This image has far more pixels than the %(limit)d megapixels allowed and was not "
            "opened. Upload a smaller screenshot or photo."
        ) % {"limit": limit_mp}
    else:
        width, height = size
        message = _(
            "This image is %(width)d×%(height)d pixels (%(mp).1f megapixels); at most %(limit)d "
            "megapixels are allowed. Upload a smaller screenshot or photo."
        ) % {
            "width": width,
            "height": height,
            "mp": width * height / 1_000_000,
            "limit": limit_mp,
        }
    return _invalid(message)
