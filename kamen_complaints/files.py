"""Serving a private file (evidence, a draft's upload, a review copy, a package): what a
party uploaded is never trusted by the browser that opens it. One home for the headers
every such response carries (docs/security: evidence is served sandboxed, never sniffed,
never kept by a shared cache)."""

from __future__ import annotations

from typing import TypeVar

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponseBase

SANDBOX = "default-src 'none'; sandbox"

R = TypeVar("R", bound=HttpResponseBase)


def mark_private(response: R, *, max_age: int | None = None, sandbox: bool = False) -> R:
    """Never sniffed; kept by the reader's browser only (`max_age` seconds, or not at all);
    `sandbox` for content a party made, so that nothing in it runs."""
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = f"private, max-age={max_age}" if max_age else "private, no-store"
    if sandbox:
        response["Content-Security-Policy"] = SANDBOX
    return response


def private_file_response(
    stored_name: str,
    *,
    content_type: str,
    filename: str,
    as_attachment: bool = False,
    max_age: int | None = None,
) -> FileResponse:
    """A stored private file: inline (an image the platform checked) or as a download, named
    `filename` (Django encodes it in Content-Disposition), sandboxed and private."""
    response = FileResponse(
        default_storage.open(stored_name, "rb"),
        as_attachment=as_attachment,
        filename=filename,
        content_type=content_type,
    )
    return mark_private(response, max_age=max_age, sandbox=True)
