"""Many due complaints, fast: merchants funded and holds placed through escrow's services,
orders, complaints and their first timeline event written in bulk, every deadline already in
the past (so processes started by a test need no clock tricks)."""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from disputes.models import Dispute, DisputeEvent, EventType, Role, Status
from escrow import services as escrow_services
from orders.models import Order, OrderStatus
from tests.disputes.factories import fund
from tests.factories import ProductFactory, UserFactory

PRICE = Decimal("48.00")


def seed_due_complaints(
    n: int, *, shops: int = 8, overdue_by: timedelta | None = None
) -> list[int]:
    """`n` complaints awaiting the merchant, each overdue, spread over `shops` funded shops
    (deposits cover every claim). Returns their ids."""
    now = timezone.now()
    late = overdue_by or timedelta(hours=1)
    products = [ProductFactory(price=PRICE) for _ in range(shops)]
    for product in products:
        fund(product.merchant, PRICE * (n // shops + 2) * 2)
    buyer = UserFactory()
    orders = Order.objects.bulk_create(
        [
            Order(
                number=f"KMSEED{secrets.token_hex(6).upper()}",
                buyer=buyer,
                merchant_id=products[i % shops].merchant_id,
                product=products[i % shops],
                quantity=1,
                unit_price=PRICE,
                amount=PRICE,
                status=OrderStatus.DELIVERED,
                paid_at=now - timedelta(days=2),
                delivered_at=now - timedelta(days=2),
            )
            for i in range(n)
        ],
        batch_size=1000,
    )
    disputes = Dispute.objects.bulk_create(
        [
            Dispute(
                number=f"TS{secrets.token_hex(8).upper()}",
                order=order,
                buyer=buyer,
                merchant_id=order.merchant_id,
                reason="invalid_card_key",
                claimed_amount=PRICE,
                status=Status.AWAITING_MERCHANT,
                filed_at=now - timedelta(days=1) - late,
                merchant_response_due=now - late + timedelta(microseconds=i),
                created_at=now,
                updated_at=now,
            )
            for i, order in enumerate(orders)
        ],
        batch_size=1000,
    )
    DisputeEvent.objects.bulk_create(
        [
            DisputeEvent(
                dispute=d,
                type=EventType.FILED,
                actor=buyer,
                role=Role.BUYER,
                from_status="",
                to_status=Status.AWAITING_MERCHANT,
                created_at=now,
            )
            for d in disputes
        ],
        batch_size=1000,
    )
    for d in disputes:
        escrow_services.deposit_hold(
            merchant=d.merchant, amount=d.claimed_amount, reference=d.hold_reference
        )
    return [d.pk for d in disputes]


def sweeper_env(**extra: str) -> dict[str, str]:
    """The environment of a `manage.py enforce_deadlines` process on this test's database."""
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": (
                f"postgres://{db['USER'] or 'postgres'}"
                f"{':' + db['PASSWORD'] if db['PASSWORD'] else ''}"
                f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
            ),
            "KAMEN_VAR_DIR": str(settings.VAR_DIR),
            "CELERY_BROKER_URL": "memory://",  # nothing leaves the process
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.pop("KAMEN_FAULT_KILL_AFTER_N", None)
    env.update(extra)
    return env


def sweeper_command(*args: str) -> list[str]:
    manage = Path(settings.BASE_DIR) / "manage.py"
    return [sys.executable, str(manage), "enforce_deadlines", "--no-drain", *args]


def enforced(output: Any) -> int:
    """The default judgments a sweeper printed."""
    for line in str(output).splitlines():
        if "default judgments" in line:
            return int(line.split()[0])
    raise AssertionError(f"no count in {output!r}")
