"""A shop's products and the card keys it imports for them."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kamen_complaints.errors import DomainError
from orders import crypto
from orders.models import (
    CardKey,
    CardKeyStatus,
    DuplicateKeyFlag,
    KeyBatch,
    Merchant,
    MerchantStatus,
    Product,
    ProductKind,
)
from orders.services.validation import check_visible_name

logger = logging.getLogger(__name__)

# A card-key import: at most this many bytes and lines (a 10 MB paste is refused, not parsed).
MAX_IMPORT_BYTES = 1_000_000
MAX_IMPORT_LINES = 10_000
MIN_KEY_LENGTH = 4
MAX_KEY_LENGTH = 256


_KEY_RE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces


# --- Products and card keys ---------------------------------------------------------------


# The longest delivery a shop may promise: a week.
MAX_DELIVERY_MINUTES = 7 * 24 * 60


def _check_product_fields(
    *, face_value: Decimal, price: Decimal, kind: str, source: str, delivery_minutes: int = 0
) -> None:
    if not isinstance(delivery_minutes, int) or not (0 <= delivery_minutes <= MAX_DELIVERY_MINUTES):
        raise DomainError(
            _("The promised delivery time is 0 (at once) to %(max)s minutes.")
            % {"max": MAX_DELIVERY_MINUTES},
            code="delivery_minutes_invalid",
        )
    if kind not in ProductKind.values:
        raise DomainError(_("Unknown product kind."), code="invalid")
    if face_value <= 0 or price <= 0:
        raise DomainError(_("Face value and price must be above zero."), code="amount_invalid")
    if not source.strip():
        raise DomainError(
            _("Say where the goods come from (upstream supplier, proof of origin)."),
            code="source_required",
        )


@transaction.atomic
def product_create(
    *,
    merchant: Merchant,
    name: str,
    kind: str,
    face_value: Decimal,
    price: Decimal,
    source: str,
    active: bool = True,
    description: str = "",
    delivery_minutes: int = 0,
) -> Product:
    check_visible_name(name, code="name_invalid")
    _check_product_fields(
        face_value=face_value,
        price=price,
        kind=kind,
        source=source,
        delivery_minutes=delivery_minutes,
    )
    return Product.objects.create(
        merchant=merchant,
        name=name.strip(),
        kind=kind,
        face_value=face_value,
        price=price,
        source=source.strip(),
        active=active,
        description=description.strip(),
        delivery_minutes=delivery_minutes,
    )


@transaction.atomic
def product_update(*, product: Product, **changes: object) -> Product:
    product = Product.objects.select_for_update().get(pk=product.pk)
    for name, value in changes.items():
        if name not in {
            "name",
            "kind",
            "face_value",
            "price",
            "source",
            "active",
            "description",
            "delivery_minutes",
        }:
            raise ValueError(name)
        setattr(product, name, value)
    check_visible_name(product.name, code="name_invalid")
    _check_product_fields(
        face_value=product.face_value,
        price=product.price,
        kind=product.kind,
        source=product.source,
        delivery_minutes=product.delivery_minutes,
    )
    product.save()
    return product


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    problems: list[dict[str, object]] = field(default_factory=list)
    batch_id: int | None = None  # the import's KeyBatch (None when nothing was imported)

    def as_dict(self) -> dict[str, object]:
        return {
            "batch": self.batch_id,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "problems": self.problems,
        }


def _decode_import(data: bytes | str) -> str:
    if isinstance(data, str):
        # surrogatepass: a JSON body may carry lone surrogates ("\ud800"); those lines are
        # then rejected one by one instead of failing the whole request.
        if len(data.encode("utf-8", "surrogatepass")) > MAX_IMPORT_BYTES:
            raise DomainError(
                _("A card-key import is at most %(limit)s bytes; split it into smaller files.")
                % {"limit": MAX_IMPORT_BYTES},
                code="import_too_large",
            )
        return data
    if len(data) > MAX_IMPORT_BYTES:
        raise DomainError(
            _("A card-key import is at most %(limit)s bytes; split it into smaller files.")
            % {"limit": MAX_IMPORT_BYTES},
            code="import_too_large",
        )
    if b"\x00" in data:
        raise DomainError(
            _("That file is not text (it contains binary data); upload one key per line."),
            code="import_not_text",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DomainError(
            _("That file is not UTF-8 text; upload one key per line."), code="import_not_text"
        ) from exc


@transaction.atomic
def card_keys_import(
    *, product: Product, data: bytes | str, imported_by: User | None = None
) -> ImportReport:
    """Import one key per line, as one batch (`KeyBatch`: the keys of one import, which a
    collective case acts on together; docs/collective-cases.md). Blank lines are skipped; a
    key already on the platform (by fingerprint, any shop) is a duplicate and flagged to
    staff; a malformed one is rejected
    with its line number. Keys are encrypted before they touch the database.

    Only an active (verified) shop imports: the report tells whether a key is already on the
    platform, which an unverified or rejected shop must not be able to ask (the API also
    rate-limits imports, scope `import`)."""
    status = Merchant.objects.filter(pk=product.merchant_id).values_list("status", flat=True)
    current = status.first()
    if current != MerchantStatus.ACTIVE:
        raise DomainError(
            _("Only a verified, active shop imports card keys; this shop is %(status)s.")
            % {"status": MerchantStatus(current).label if current else "-"},
            code="merchant_inactive",
            status_code=403,
        )
    if not product.delivers_card_keys:
        raise DomainError(
            _("Phone top-ups are delivered by the upstream; they have no card keys."),
            code="invalid",
        )
    text = _decode_import(data)
    lines = text.splitlines()
    if len(lines) > MAX_IMPORT_LINES:
        raise DomainError(
            _("A card-key import is at most %(limit)s lines.") % {"limit": MAX_IMPORT_LINES},
            code="import_too_large",
        )
    report = ImportReport()
    seen: dict[str, int] = {}
    candidates: list[tuple[int, str, str]] = []
    for number, raw in enumerate(lines, start=1):
        key = raw.strip()
        if not key:
            continue
        if not (MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH) or not _KEY_RE.match(key):
            report.rejected += 1
            report.problems.append(
                {
                    "line": number,
                    "problem": "rejected",
                    "reason": _("A key is %(min)s to %(max)s printable characters without spaces.")
                    % {"min": MIN_KEY_LENGTH, "max": MAX_KEY_LENGTH},
                }
            )
            continue
        fp = crypto.fingerprint(key)
        if fp in seen:
            report.duplicates += 1
            report.problems.append(
                {
                    "line": number,
                    "problem": "duplicate",
                    "reason": _("The same key as line %(line)s.") % {"line": seen[fp]},
                }
            )
            continue
        seen[fp] = number
        candidates.append((number, key, fp))

    existing = {
        k.fingerprint: k
        for k in CardKey.objects.filter(fingerprint__in=[c[2] for c in candidates]).select_related(
            "product"
        )
    }
    new_keys: list[CardKey] = []
    flags: list[DuplicateKeyFlag] = []
    batch: KeyBatch | None = None
    for number, key, fp in candidates:
        if fp in existing:
            other = existing[fp]
            cross_shop = other.product.merchant_id != product.merchant_id
            report.duplicates += 1
            report.problems.append(
                {
                    "line": number,
                    "problem": "duplicate",
                    "reason": _("This key is already on the platform."),
                }
            )
            flags.append(
                DuplicateKeyFlag(
                    fingerprint=fp,
                    existing_key=other,
                    attempted_by=product.merchant,
                    product=product,
                    cross_shop=cross_shop,
                )
            )
            continue
        if batch is None:
            batch = KeyBatch.objects.create(
                merchant_id=product.merchant_id,
                product=product,
                imported_by=imported_by if imported_by and imported_by.pk else None,
            )
        new_keys.append(
            CardKey(
                product=product,
                batch=batch,
                secret_encrypted=crypto.encrypt(key),
                fingerprint=fp,
                tail=key[-4:],
            )
        )
    try:
        with transaction.atomic():
            CardKey.objects.bulk_create(new_keys, batch_size=1000)
    except IntegrityError as exc:
        # Another import added one of these keys between our check and our insert.
        raise DomainError(
            _("Another import added some of these keys at the same moment; import again."),
            code="conflict",
            status_code=409,
        ) from exc
    DuplicateKeyFlag.objects.bulk_create(flags)
    report.imported = len(new_keys)
    if batch is not None:
        KeyBatch.objects.filter(pk=batch.pk).update(count=len(new_keys))
        report.batch_id = batch.pk
    # Counts only: a key never reaches a log line.
    logger.info(
        "card keys imported for product %s: %s imported, %s duplicates, %s rejected",
        product.pk,
        report.imported,
        report.duplicates,
        report.rejected,
    )
    return report


# --- Batches (a collective case acts on one import: docs/collective-cases.md) -------------


@dataclass(frozen=True)
class Withdrawn:
    keys: int  # keys of the batch taken out of stock now
    product_off_sale: bool  # the product was taken off sale (nothing else in stock)


@transaction.atomic
def card_key_batch_withdraw(*, batch_id: int) -> Withdrawn:
    """Stop selling an import's keys at once: its keys still in stock become `withdrawn`
    (never delivered again), in one statement under the product's row lock (delivery takes
    keys under row locks too, SKIP LOCKED, so no key is both delivered and withdrawn); the
    product goes off sale when nothing else of it is in stock."""
    batch = KeyBatch.objects.get(pk=batch_id)
    product = Product.objects.select_for_update().get(pk=batch.product_id)
    keys = CardKey.objects.filter(batch_id=batch_id, status=CardKeyStatus.AVAILABLE).update(
        status=CardKeyStatus.WITHDRAWN
    )
    off_sale = False
    if (
        product.active
        and not CardKey.objects.filter(
            product_id=product.pk, status=CardKeyStatus.AVAILABLE
        ).exists()
    ):
        product.active = False
        product.save(update_fields=["active"])
        off_sale = True
    logger.info("batch %s withdrawn: %s keys, product off sale: %s", batch_id, keys, off_sale)
    return Withdrawn(keys=keys, product_off_sale=off_sale)


@transaction.atomic
def product_take_off_sale(*, product_id: int) -> bool:
    """Take a product off sale (a top-up channel that reports success and credits nothing).
    Returns whether it was on sale."""
    product = Product.objects.select_for_update().get(pk=product_id)
    if not product.active:
        return False
    product.active = False
    product.save(update_fields=["active"])
    return True


def _short(text: str, label: str) -> str:
    text = (text or "").strip()
    if len(text) > 120:
        raise DomainError(
            _("%(what)s is at most 120 characters.") % {"what": label}, code="invalid"
        )
    if text:
        check_visible_name(text, code="invalid")
    return text


@transaction.atomic
def key_batch_name(*, batch_id: int, supplier: str, lot: str) -> KeyBatch:
    """The shop names where an import came from: the supplier and the supplier's lot."""
    batch = KeyBatch.objects.select_for_update().get(pk=batch_id)
    batch.supplier = _short(supplier, _("The supplier"))
    batch.lot = _short(lot, _("The lot"))
    batch.save(update_fields=["supplier", "lot"])
    return batch
