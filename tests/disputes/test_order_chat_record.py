"""A complaint filed on an order whose buyer wrote to the shop carries the order chat as its
chat-record proof (disputes.services.order_chat): counted toward the three proofs, in the
evidence package with its hashes; a buyer who never wrote still uploads a screenshot."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from disputes.models import CORE_EVIDENCE, EvidenceKind, Role
from disputes.selectors import policy_for
from disputes.services import EvidenceUpload
from disputes.services.clock import fast_track_refusals
from disputes.services.package import dispute_evidence_package
from orders.services import chat
from tests.disputes.factories import file, funded_order, png

pytestmark = pytest.mark.django_db


def _talk(order):
    chat.order_message_post(order=order, user=order.buyer, body="卡密提示已被使用\n请处理")
    chat.order_message_post(
        order=order, user=order.merchant.owner, body="请发截图", files=[png("shop.png")]
    )
    chat.order_message_post(order=order, user=order.buyer, files=[png("mine.png", color=(1, 2, 3))])


def test_the_thread_is_attached_as_the_chat_record_and_counts_toward_the_proofs():
    order = funded_order()
    _talk(order)
    dispute = file(
        order,
        evidence=[
            EvidenceUpload(kind="order_screenshot", file=png("o.png")),
            EvidenceUpload(kind="payment_proof", file=png("p.png", color=(0, 90, 0))),
        ],
    )
    records = list(dispute.evidence.filter(kind=EvidenceKind.CHAT_RECORD).order_by("id"))
    transcript, *images = records
    assert transcript.role == Role.BUYER and transcript.content_type.startswith("text/plain")
    text = default_storage.open(transcript.stored_name).read()
    assert hashlib.sha256(text).hexdigest() == transcript.sha256
    text = text.decode("utf-8")
    assert order.number in text and dispute.number in text
    assert "卡密提示已被使用" in text and "请处理" in text and "请发截图" in text
    # Every file of the chat: named with its hash in the record, attached as evidence.
    assert [i.original_name for i in images] == ["shop.png", "mine.png"]
    sent = [f for m in chat.thread_messages(order) for f in m.files.all()]
    for image, original in zip(images, sent, strict=True):
        assert image.sha256 == original.sha256 and original.sha256 in text
        assert image.role == Role.SYSTEM and image.stored_name.startswith("evidence/")
    # The three proofs are complete: the fast track does not miss the chat record.
    assert "core_evidence_missing" not in fast_track_refusals(
        dispute, policy_for(order.product.kind)
    )


def test_the_api_checklist_and_the_evidence_package_carry_the_chat_record():
    order = funded_order()
    _talk(order)
    dispute = file(order)
    client = APIClient()
    client.force_authenticate(order.buyer)
    body = client.get(f"/api/v1/disputes/{dispute.number}/").json()
    present = {i["kind"]: i["present"] for i in body["evidence_checklist"]["items"]}
    assert present == {"order_screenshot": False, "payment_proof": False, "chat_record": True}
    data = dispute_evidence_package(dispute=dispute, user=order.buyer)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        chat_files = [f for f in manifest["files"] if f["kind"] == "chat_record"]
        assert len(chat_files) == 3
        for entry in chat_files:
            assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"]
    assert any(f["path"].endswith(".txt") for f in chat_files)


def test_a_buyer_who_never_wrote_gets_no_chat_record():
    order = funded_order()
    # The shop wrote, the buyer did not: nothing the buyer asked to show.
    chat.order_message_post(order=order, user=order.merchant.owner, body="有问题随时找我们")
    dispute = file(order)
    assert not dispute.evidence.filter(kind=EvidenceKind.CHAT_RECORD).exists()
    assert EvidenceKind.CHAT_RECORD in CORE_EVIDENCE
    # The screenshot the buyer uploads instead is the proof.
    order2 = funded_order()
    dispute2 = file(order2, evidence=[EvidenceUpload(kind="chat_record", file=png())])
    assert dispute2.evidence.get(kind="chat_record").role == Role.BUYER


def test_the_complaint_form_says_the_chat_will_be_attached():
    from django.test import Client
    from django.urls import reverse

    order = funded_order()
    client = Client()
    client.force_login(order.buyer)
    url = reverse("disputes:complaint_file", args=[order.number])
    before = client.get(url).content.decode()
    assert "cf-files--chat" not in before
    _talk(order)
    page = client.get(url).content.decode()
    assert "cf-files--chat" in page and 'data-draft-kind="chat_record"' in page
    item = page.split('data-check-kind="chat_record"')[0].rsplit("<li", 1)[1]
    assert "cf-checklist__item--done" in item
