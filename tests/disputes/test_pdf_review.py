"""A party's PDF evidence is reviewed before it is opened: a warning page, a review copy (the
first pages drawn as PNG by pdftoppm, served sandboxed) and the byte-exact original beside it.

Who may see them is exactly who may download the file: the parties and staff holding
disputes.view_dispute (docs/security/merchants-and-evidence.md).
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image, ImageDraw

from disputes import pdf_review, services
from disputes.models import Evidence
from tests.disputes.factories import ARBITRATOR_PERMS, file, png
from tests.factories import MerchantFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdfinfo") is None,
    reason="needs poppler-utils (pdftoppm, pdfinfo)",
)


def real_pdf(pages: int = 2) -> bytes:
    images = []
    for n in range(pages):
        image = Image.new("RGB", (595, 842), "white")
        ImageDraw.Draw(image).text((60, 60), f"bank statement page {n + 1}", fill="black")
        images.append(image)
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:])
    return out.getvalue()


def with_pdf(content: bytes | None = None) -> tuple[Evidence, bytes]:
    dispute = file()
    content = content if content is not None else real_pdf()
    evidence = services.dispute_add_evidence(
        dispute=dispute,
        user=dispute.buyer,
        kind="payment_proof",
        file=SimpleUploadedFile("statement.pdf", content, content_type="application/pdf"),
    )
    return evidence, content


def review_url(evidence: Evidence) -> str:
    return f"/complaints/{evidence.dispute.number}/evidence/{evidence.pk}/review/"


def page_url(evidence: Evidence, page: int) -> str:
    return f"{review_url(evidence)}{page}.png"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def arbitrator_client() -> Client:
    return client_for(StaffFactory(perms=ARBITRATOR_PERMS))


# --- The admin's link ---------------------------------------------------------------------


def test_the_admin_links_a_pdf_to_the_warning_page_not_straight_to_the_file(admin_client):
    evidence, _ = with_pdf()
    dispute = evidence.dispute
    services.dispute_add_evidence(
        dispute=dispute, user=dispute.buyer, kind="chat_record", file=png()
    )
    image = dispute.evidence.get(kind="chat_record")
    # The change page leads to the arbitration desk's case screen, which shows the evidence.
    text = admin_client.get(
        f"/admin/disputes/dispute/{dispute.pk}/change/", follow=True
    ).content.decode()
    assert review_url(evidence) in text
    assert f"/api/v1/disputes/{dispute.number}/evidence/{evidence.pk}/" not in text
    # Images are re-encoded by the platform at upload: they keep a direct (inline) link.
    assert f"/admin/disputes/dispute/{dispute.pk}/case/evidence/{image.pk}/" in text
    assert f"/admin/disputes/dispute/{dispute.pk}/case/evidence/{evidence.pk}/" not in text


# --- The warning page ---------------------------------------------------------------------


def test_the_warning_page_names_the_risk_the_hash_and_links_the_byte_exact_original():
    evidence, content = with_pdf()
    client = arbitrator_client()
    response = client.get(review_url(evidence), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    text = response.content.decode()
    assert "active content" in text
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert evidence.sha256 in text
    download = f"/api/v1/disputes/{evidence.dispute.number}/evidence/{evidence.pk}/"
    assert download in text
    assert "no-store" in response["Cache-Control"]
    original = client.get(download)
    assert original.status_code == 200
    assert b"".join(original.streaming_content) == content  # byte for byte
    assert original["Content-Disposition"].startswith("attachment")


def test_the_warning_page_is_in_chinese_by_default():
    evidence, _ = with_pdf()
    text = arbitrator_client().get(review_url(evidence)).content.decode()
    assert "打开 PDF 前请先审阅" in text


@needs_poppler
def test_the_review_copy_shows_the_first_pages_as_sandboxed_png_images():
    evidence, _ = with_pdf(real_pdf(pages=7))
    client = arbitrator_client()
    page = client.get(review_url(evidence), {"pages": "1"}, HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    for n in range(1, 6):
        assert page_url(evidence, n) in text
    assert page_url(evidence, 6) not in text
    assert "The first 5 of 7 pages" in text
    image = client.get(page_url(evidence, 2))
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert "sandbox" in image["Content-Security-Policy"]
    assert image["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in image["Cache-Control"]
    width, height = Image.open(io.BytesIO(image.content)).size
    assert max(width, height) <= pdf_review.SCALE_TO
    assert client.get(page_url(evidence, 6)).status_code == 404  # past the page limit


@needs_poppler
def test_a_damaged_pdf_gets_no_review_copy_and_a_reason_instead(monkeypatch):
    # Upload refuses a structure pikepdf cannot read; one stored before that rule is drawn.
    monkeypatch.setattr("disputes.evidence_files._active_content", lambda data: None)
    evidence, _ = with_pdf(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    client = arbitrator_client()
    response = client.get(review_url(evidence), {"pages": "1"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "could not be read" in response.content.decode()
    assert client.get(page_url(evidence, 1)).status_code == 404


def test_without_pdftoppm_the_page_says_so_and_offers_only_the_download(monkeypatch):
    monkeypatch.setattr(pdf_review, "tool", lambda name: None)
    evidence, _ = with_pdf()
    client = arbitrator_client()
    response = client.get(review_url(evidence), {"pages": "1"}, HTTP_ACCEPT_LANGUAGE="en")
    text = response.content.decode()
    assert "poppler-utils" in text
    assert 'href="?pages=1"' not in text
    assert f"/api/v1/disputes/{evidence.dispute.number}/evidence/{evidence.pk}/" in text
    assert client.get(page_url(evidence, 1)).status_code == 404


def test_a_render_that_runs_too_long_is_stopped(monkeypatch):
    monkeypatch.setattr(pdf_review, "tool", lambda name: f"/usr/bin/{name}")

    def too_slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(cmd=args[0], timeout=pdf_review.TIMEOUT_SECONDS)

    monkeypatch.setattr(pdf_review.subprocess, "run", too_slow)
    evidence, _ = with_pdf()
    response = arbitrator_client().get(page_url(evidence, 1), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "longer than" in response.content.decode()


def test_the_renderer_gets_a_fixed_argument_list_and_an_empty_environment(monkeypatch):
    seen: dict[str, object] = {}

    def fake_run(command, **kwargs):
        seen.update(command=command, **kwargs)
        return subprocess.CompletedProcess(command, 1, b"", b"")

    monkeypatch.setattr(pdf_review, "tool", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(pdf_review.subprocess, "run", fake_run)
    with pytest.raises(pdf_review.ReviewUnavailable):
        pdf_review.render_page(b"%PDF-1.4 whatever %%EOF", 1)
    command = seen["command"]
    assert isinstance(command, list)
    assert command[:5] == [
        "/usr/bin/prlimit",
        f"--as={pdf_review.MEMORY_BYTES}",
        f"--cpu={pdf_review.CPU_SECONDS}",
        "--",
        "/usr/bin/pdftoppm",
    ]
    assert command[command.index("-f") : command.index("-f") + 4] == ["-f", "1", "-l", "1"]
    assert "shell" not in seen and seen["timeout"] == pdf_review.TIMEOUT_SECONDS
    assert set(seen["env"]) == {"PATH", "LANG", "HOME"}


def test_a_pdf_above_the_size_limit_is_not_rendered(monkeypatch):
    monkeypatch.setattr(pdf_review, "MAX_INPUT_BYTES", 10)
    with pytest.raises(pdf_review.ReviewUnavailable):
        pdf_review.render_page(real_pdf(1), 1)


# --- Who may look -------------------------------------------------------------------------


@needs_poppler
def test_the_parties_may_review_the_pdf_like_they_may_download_it():
    evidence, _ = with_pdf()
    dispute = evidence.dispute
    for user in (dispute.buyer, dispute.merchant.owner):
        client = client_for(user)
        assert client.get(review_url(evidence)).status_code == 200
        assert client.get(page_url(evidence, 1)).status_code == 200


@pytest.mark.parametrize("who", ["other_buyer", "other_merchant", "staff_without_permission"])
def test_no_one_else_sees_the_warning_page_or_the_pages(who):
    evidence, _ = with_pdf()
    user = {
        "other_buyer": UserFactory,
        "other_merchant": lambda: MerchantFactory().owner,
        "staff_without_permission": lambda: StaffFactory(perms=["orders.view_merchant"]),
    }[who]()
    client = client_for(user)
    assert client.get(review_url(evidence)).status_code == 404
    assert client.get(review_url(evidence), {"pages": "1"}).status_code == 404
    assert client.get(page_url(evidence, 1)).status_code == 404


def test_anonymous_callers_are_sent_to_log_in():
    evidence, _ = with_pdf()
    client = Client()
    for url in (review_url(evidence), page_url(evidence, 1)):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response["Location"]


def test_only_pdfs_have_a_review_page():
    dispute = file()
    image = services.dispute_add_evidence(
        dispute=dispute, user=dispute.buyer, kind="chat_record", file=png()
    )
    client = arbitrator_client()
    assert client.get(review_url(image)).status_code == 404
    assert client.get(page_url(image, 1)).status_code == 404


def test_another_complaints_evidence_is_not_reachable_through_this_one():
    evidence, _ = with_pdf()
    other = file()
    client = client_for(other.buyer)
    url = f"/complaints/{other.number}/evidence/{evidence.pk}/review/"
    assert client.get(url).status_code == 404


# --- Drawn once and kept (issue 17) ---------------------------------------------------------


@needs_poppler
def test_a_review_page_is_drawn_once_and_kept_not_on_every_view(monkeypatch):
    evidence, _ = with_pdf(real_pdf(pages=2))
    client = arbitrator_client()
    runs: list[list[str]] = []
    real_run = pdf_review.subprocess.run

    def counting_run(command, *args, **kwargs):
        runs.append(command)
        return real_run(command, *args, **kwargs)

    monkeypatch.setattr(pdf_review.subprocess, "run", counting_run)
    for _ in range(3):
        assert client.get(review_url(evidence), {"pages": "1"}).status_code == 200
        image = client.get(page_url(evidence, 1))
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert len(runs) == 2  # one pdfinfo, one pdftoppm, for three views of each


def test_a_pdf_that_cannot_be_drawn_is_tried_once_then_the_answer_is_kept(monkeypatch):
    evidence, _ = with_pdf(real_pdf(pages=1))
    monkeypatch.setattr(pdf_review, "tool", lambda name: f"/usr/bin/{name}")
    runs: list[object] = []

    def too_slow(command, *args, **kwargs):
        runs.append(command)
        raise subprocess.TimeoutExpired(command, pdf_review.TIMEOUT_SECONDS)

    monkeypatch.setattr(pdf_review.subprocess, "run", too_slow)
    client = arbitrator_client()
    for _ in range(3):
        assert client.get(page_url(evidence, 1)).status_code == 404
    assert len(runs) == 1
