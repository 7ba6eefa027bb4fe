"""A review copy of a party's PDF evidence: its first pages drawn as PNG images.

A PDF is stored byte for byte (it is the evidence), but a PDF reader is a large attack
surface: JavaScript, forms, launch actions, embedded files, and the reader's own bugs. Staff
and the other party may look at the pages as pictures instead. poppler's `pdftoppm` draws them
in a separate process, which executes nothing from the file (poppler has no JavaScript), under
limits: a time limit, a CPU and memory limit (`prlimit`, when it is installed), at most
MAX_PAGES pages, a bounded picture size (`-scale-to`, so a page of 200 inches square cannot
become a gigapixel image), a bounded input and output size, no network, an empty environment
and a private temporary directory. Without pdftoppm there is no review copy: the page says so
and offers only the download, with the warning (docs/security/merchants-and-evidence.md).
"""

from __future__ import annotations

import re
import shutil
import subprocess  # noqa: S404 (fixed argument lists, no shell)
import tempfile
from pathlib import Path

from django.utils.translation import gettext as _

MAX_PAGES = 5
# The longer side of a page image, pixels: an A4 page at about 120 dpi, readable on screen.
SCALE_TO = 1400
TIMEOUT_SECONDS = 15
CPU_SECONDS = 20
MEMORY_BYTES = 1024 * 1024 * 1024
MAX_INPUT_BYTES = 25 * 1024 * 1024
MAX_PAGE_BYTES = 10 * 1024 * 1024
_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}
_PAGES_RE = re.compile(rb"^Pages:\s+(\d+)\s*$", re.MULTILINE)
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ReviewUnavailable(Exception):
    """No review copy: `message` says why, translated, for the page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def tool(name: str) -> str | None:
    """Where a poppler tool is, or None (looked up at each call: an install needs no
    restart, and a test can take it away)."""
    return shutil.which(name, path=_ENV["PATH"])


def available() -> bool:
    return tool("pdftoppm") is not None and tool("pdfinfo") is not None


def _limited(command: list[str]) -> list[str]:
    prlimit = tool("prlimit")
    if prlimit is None:
        return command
    return [prlimit, f"--as={MEMORY_BYTES}", f"--cpu={CPU_SECONDS}", "--", *command]


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(  # noqa: S603 (our own argument list; the PDF is only a file name)
            _limited(command),
            cwd=cwd,
            env=_ENV,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ReviewUnavailable(
            _("Drawing this PDF took longer than %(seconds)s seconds; it was stopped.")
            % {"seconds": TIMEOUT_SECONDS}
        ) from exc
    except OSError as exc:
        raise ReviewUnavailable(_("The PDF tools could not be started.")) from exc


def _workspace(data: bytes) -> tuple[tempfile.TemporaryDirectory[str], Path]:
    if len(data) > MAX_INPUT_BYTES:
        raise ReviewUnavailable(
            _("This PDF is too large for a review copy (at most %(mb)s MB).")
            % {"mb": MAX_INPUT_BYTES // (1024 * 1024)}
        )
    workdir = tempfile.TemporaryDirectory(prefix="kc-pdf-review-")
    path = Path(workdir.name)
    (path / "evidence.pdf").write_bytes(data)
    return workdir, path


def _require(name: str) -> str:
    found = tool(name)
    if found is None:
        raise ReviewUnavailable(
            _("No review copy can be made here: poppler-utils (%(tool)s) is not installed.")
            % {"tool": name}
        )
    return found


def page_count(data: bytes) -> int:
    """How many pages the PDF has (pdfinfo), or ReviewUnavailable."""
    pdfinfo = _require("pdfinfo")
    workdir, path = _workspace(data)
    with workdir:
        result = _run([pdfinfo, "evidence.pdf"], path)
    match = _PAGES_RE.search(result.stdout)
    if result.returncode != 0 or match is None:
        raise ReviewUnavailable(_("This PDF could not be read for a review copy."))
    return int(match.group(1))


def render_page(data: bytes, page: int) -> bytes:
    """Page `page` (1 to MAX_PAGES) as PNG bytes, or ReviewUnavailable."""
    if not 1 <= page <= MAX_PAGES:
        raise ReviewUnavailable(
            _("The review copy shows the first %(pages)s pages only.") % {"pages": MAX_PAGES}
        )
    pdftoppm = _require("pdftoppm")
    workdir, path = _workspace(data)
    with workdir:
        command = [
            pdftoppm,
            "-png",
            "-scale-to",
            str(SCALE_TO),
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            "evidence.pdf",
            "page",
        ]
        result = _run(command, path)
        output = path / "page.png"
        if result.returncode != 0 or not output.is_file():
            raise ReviewUnavailable(_("This page of the PDF could not be drawn."))
        if output.stat().st_size > MAX_PAGE_BYTES:
            raise ReviewUnavailable(_("This page's image is too large to show."))
        png = output.read_bytes()
    if not png.startswith(_PNG_MAGIC):
        raise ReviewUnavailable(_("This page of the PDF could not be drawn."))
    return png
