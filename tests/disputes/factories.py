"""Complaint test helpers: real files, funded deposits, complaints brought to each state by
the services themselves (never by writing a status)."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image

from disputes import services
from disputes.models import Dispute
from escrow import services as escrow_services
from escrow.selectors import deposit_summary
from orders.models import MemberRole, Merchant, MerchantMember, Order
from tests.factories import ProductFactory, StaffFactory, UserFactory
from tests.helpers import paid_order

ARBITRATOR_PERMS = ["disputes.view_dispute", "disputes.arbitrate"]


# --- Files --------------------------------------------------------------------------------


def png_bytes(
    width: int = 8, height: int = 8, color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def png(name: str = "screenshot.png", **kwargs: Any) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(**kwargs), content_type="image/png")


def jpeg_with_gps(name: str = "photo.jpg") -> SimpleUploadedFile:
    image = Image.new("RGB", (16, 16), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}
    exif[0x8825] = gps  # GPSInfo IFD
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


def pdf(name: str = "statement.pdf") -> SimpleUploadedFile:
    """A real one-page PDF (its structure is read on upload: disputes/evidence_files.py)."""
    out = io.BytesIO()
    Image.new("RGB", (60, 80), "white").save(out, format="PDF")
    return SimpleUploadedFile(name, out.getvalue(), content_type="application/pdf")


# --- People and money ---------------------------------------------------------------------


def arbitrator(**kwargs: Any) -> User:
    return StaffFactory(perms=ARBITRATOR_PERMS, **kwargs)


def fund(merchant: Merchant, amount: Decimal = Decimal("1000.00")) -> None:
    escrow_services.deposit_topup_confirm(
        merchant=merchant,
        reference=f"test-topup-{uuid.uuid4().hex}",
        amount=amount,
        channel="sandbox",
        user=merchant.owner,
    )


def deposit(merchant: Merchant) -> Any:
    merchant.refresh_from_db()
    return deposit_summary(merchant)


def agent_of(merchant: Merchant) -> User:
    user = UserFactory()
    MerchantMember.objects.create(merchant=merchant, user=user, role=MemberRole.AGENT)
    return user


def check_ledger() -> None:
    call_command("check_ledger", stdout=io.StringIO())


# --- Complaints ---------------------------------------------------------------------------


def funded_order(
    *,
    price: Decimal = Decimal("48.00"),
    quantity: int = 1,
    deposit_amount: Decimal = Decimal("1000.00"),
    **kwargs: Any,
) -> Order:
    product = kwargs.pop("product", None) or ProductFactory(price=price)
    order = paid_order(product=product, quantity=quantity, **kwargs)
    # Funded after the sale: a deposit under the minimum suspends the shop (escrow's rule).
    if deposit_amount:
        fund(product.merchant, deposit_amount)
    return order


def file(order: Order | None = None, **kwargs: Any) -> Dispute:
    order = order or funded_order()
    values: dict[str, Any] = {
        "buyer": order.buyer,
        "order": order,
        "reason": "invalid_card_key",
        "claimed_amount": order.amount,
        "description": "The key says already redeemed.",
    }
    values.update(kwargs)
    return services.dispute_file(**values)


def contest(dispute: Dispute, user: User | None = None) -> Dispute:
    merchant_user = user or dispute.merchant.owner
    services.dispute_add_evidence(
        dispute=dispute,
        user=merchant_user,
        kind="upstream_proof",
        file=png("upstream.png"),
        note="Upstream says unused at delivery",
    )
    return services.dispute_respond(
        dispute=dispute,
        merchant_user=merchant_user,
        action="contest",
        message="The key was valid when delivered.",
    )


def under_review(**kwargs: Any) -> Dispute:
    return contest(file(**kwargs))


def offered(amount: Decimal = Decimal("20.00"), **kwargs: Any) -> Dispute:
    dispute = file(**kwargs)
    return services.dispute_respond(
        dispute=dispute,
        merchant_user=dispute.merchant.owner,
        action="offer",
        amount=amount,
        message="Half back?",
    )


def resolved_by_refund(**kwargs: Any) -> Dispute:
    dispute = file(**kwargs)
    return services.dispute_respond(
        dispute=dispute, merchant_user=dispute.merchant.owner, action="accept", remedy="refund"
    )
