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
Each page is drawn once and kept (kept_page, kept_page_count below), never on every view.
"""

from __future__ import annotations

import re
import shutil
import subprocess  # noqa: S404 (fixed argument lists, no shell)
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
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
    """No review copy: `message` says why, translated, for the page. `kept`: the cause is the
    file itself (unreadable, too slow, too large), so the answer is kept like a drawn page."""

    def __init__(self, message: str, *, kept: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.kept = kept


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
            % {"seconds": TIMEOUT_SECONDS},
            kept=True,
        ) from exc
    except OSError as exc:
        raise ReviewUnavailable(_("The PDF tools could not be started.")) from exc


def _workspace(data: bytes) -> tuple[tempfile.TemporaryDirectory[str], Path]:
    if len(data) > MAX_INPUT_BYTES:
        raise ReviewUnavailable(
            _("This PDF is too large for a review copy (at most %(mb)s MB).")
            % {"mb": MAX_INPUT_BYTES // (1024 * 1024)},
            kept=True,
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
        raise ReviewUnavailable(_("This PDF could not be read for a review copy."), kept=True)
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
            raise ReviewUnavailable(_("This page of the PDF could not be drawn."), kept=True)
        if output.stat().st_size > MAX_PAGE_BYTES:
            raise ReviewUnavailable(_("This page's image is too large to show."), kept=True)
        png = output.read_bytes()
    if not png.startswith(_PNG_MAGIC):
        raise ReviewUnavailable(_("This page of the PDF could not be drawn."), kept=True)
    return png


# --- Kept review copies ---------------------------------------------------------------------
# Drawn once per stored PDF and kept beside the evidence in default_storage, under
# review/<stored name>/: later views read the kept PNG (or the kept refusal) and start no
# process, so a hostile PDF costs one render per page at most, not one per request. The PDF's
# bytes are only read (`load`) when something must be drawn. Two requests for the same page at
# once: the second is told to reload instead of drawing it a second time.

_FAILED = b"failed"


def kept_page_count(name: str, load: Callable[[], bytes]) -> int:
    """page_count of the stored PDF `name`, counted once and kept."""
    kept = _once(
        name,
        "pages.txt",
        lambda: str(page_count(load())).encode(),
        lambda: _("This PDF could not be read for a review copy."),
    )
    return int(kept)


def kept_page(name: str, load: Callable[[], bytes], page: int) -> bytes:
    """render_page of the stored PDF `name`, drawn once and kept."""
    if not 1 <= page <= MAX_PAGES:
        return render_page(b"", page)  # refuses with the page-limit message, draws nothing
    return _once(
        name,
        f"page-{page}.png",
        lambda: render_page(load(), page),
        lambda: _("This page of the PDF could not be drawn."),
    )


def _once(name: str, file_name: str, draw: Callable[[], bytes], failed: Callable[[], str]) -> bytes:
    kept = _kept(name, file_name)
    if kept is None:
        with _drawing(name, file_name):
            kept = _kept(name, file_name)  # drawn by another request meanwhile?
            if kept is None:
                try:
                    kept = draw()
                except ReviewUnavailable as exc:
                    if exc.kept:
                        _keep(name, file_name, _FAILED)
                    raise
                _keep(name, file_name, kept)
    if kept == _FAILED:
        raise ReviewUnavailable(failed(), kept=True)
    return kept


def _path(name: str, file_name: str) -> str:
    return f"review/{name}/{file_name}"


def _kept(name: str, file_name: str) -> bytes | None:
    path = _path(name, file_name)
    if not default_storage.exists(path):
        return None
    with default_storage.open(path, "rb") as handle:
        return cast(bytes, handle.read())


def _keep(name: str, file_name: str, content: bytes) -> None:
    path = _path(name, file_name)
    if not default_storage.exists(path):
        default_storage.save(path, ContentFile(content))


@contextmanager
def _drawing(name: str, file_name: str) -> Iterator[None]:
    key = f"pdf-review:{_path(name, file_name)}"
    if not cache.add(key, 1, timeout=TIMEOUT_SECONDS + 5):
        raise ReviewUnavailable(_("This page is being drawn now; reload in a few seconds."))
    try:
        yield
    finally:
        cache.delete(key)
