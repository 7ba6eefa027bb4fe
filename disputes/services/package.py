"""The evidence package a buyer takes to 12315 or a court: every evidence file, a signed
manifest (disputes.package_signing) and a printable summary — the order, payment, delivery and
key reveals, the merchant's verified identity (消费者权益保护法 art. 44: legal name, address,
contact, licence; the identity number only masked), the product's declared source, and the
timeline without internal notes. Every download is logged."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.models import Dispute, PackageDownload, Status, Visibility
from disputes.package_signing import PackageFile, write_package
from disputes.permissions import is_buyer
from disputes.presenting import movement_label
from disputes.selectors import can_see_all
from kamen_complaints.errors import Forbidden
from orders.models import CardKeyReveal, Payment


def _uploader(evidence_role: str, username: str | None) -> str:
    return f"{evidence_role}:{username}" if username else evidence_role


def build_summary(dispute: Dispute) -> str:
    order = dispute.order
    merchant = dispute.merchant
    labels = {str(value): str(label) for value, label in Status.choices}
    reveals = (
        CardKeyReveal.objects.filter(order=order).prefetch_related("card_keys").order_by("at", "id")
    )
    return render_to_string(
        "disputes/package_summary.html",
        {
            "dispute": dispute,
            "order": order,
            "product": order.product,
            "payment": Payment.objects.filter(reference=order.payment_reference).first(),
            "card_keys": list(order.card_keys.order_by("id")),
            "named_keys": list(dispute.card_keys.order_by("id")),
            "reveals": list(reveals),
            "merchant": merchant,
            "evidence": list(dispute.evidence.select_related("uploaded_by").order_by("id")),
            "events": [
                {
                    "event": event,
                    "from_label": labels.get(event.from_status, event.from_status),
                    "to_label": labels.get(event.to_status, event.to_status),
                    "movement": movement_label(event.data.get("movement") or ""),
                }
                # Never the staff-internal notes: this document leaves the platform.
                for event in dispute.events.filter(visibility=Visibility.ALL)
                .select_related("actor")
                .order_by("created_at", "id")
            ],
            "generated_at": timezone.now(),
        },
    )


def dispute_evidence_package(
    *, dispute: Dispute, user: User, ip: str | None = None, user_agent: str = ""
) -> bytes:
    """The signed ZIP, for the buyer and staff (the merchant has its own records). The
    download is logged with the package's SHA-256."""
    if not (is_buyer(user, dispute) or can_see_all(user)):
        raise Forbidden(_("Only the buyer and platform staff may download the evidence package."))
    files: list[PackageFile] = []
    records = []
    for item in dispute.evidence.select_related("uploaded_by").order_by("id"):
        with default_storage.open(item.stored_name, "rb") as handle:
            content = handle.read()
        actual = hashlib.sha256(content).hexdigest()
        files.append(
            PackageFile(
                name=item.file_name,
                content=content,
                kind=item.kind,
                uploaded_by=_uploader(
                    item.role, item.uploaded_by.username if item.uploaded_by else None
                ),
                uploaded_at=item.uploaded_at.isoformat(),
            )
        )
        records.append(
            {
                "file": item.file_name,
                "original_name": item.original_name,
                "kind": item.kind,
                "note": item.note,
                "role": item.role,
                "sha256_at_upload": item.sha256,
                "unchanged_since_upload": actual == item.sha256,
            }
        )
    data = write_package(
        dispute_number=dispute.number,
        files=files,
        summary_html=build_summary(dispute),
        extra_manifest={
            "order_number": dispute.order.number,
            "merchant": {
                "shop_name": dispute.merchant.shop_name,
                "legal_name": dispute.merchant.legal_name,
                "address": dispute.merchant.address,
                "contact": dispute.merchant.phone,
                "business_license": dispute.merchant.business_license,
                "id_number": dispute.merchant.id_number_masked,
            },
            "evidence_records": records,
            "requested_by": user.username,
        },
    )
    with transaction.atomic():
        PackageDownload.objects.create(
            dispute=dispute,
            user=user,
            at=timezone.now(),
            ip=ip,
            user_agent=user_agent[:400],
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        )
    return data
