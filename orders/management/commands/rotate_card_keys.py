"""`manage.py rotate_card_keys [--batch-size N]`: re-encrypt every secret under the newest key.

Key rotation (orders/crypto.py): prepend a new Fernet key to CARD_KEY_KEYS, run this command,
then drop the old key. It re-encrypts card keys and merchants' identity numbers with
MultiFernet.rotate (the token's original timestamp is kept), in batches, each batch one
transaction with its rows locked, so it can run while the site is up and be run again safely
(a token already under the newest key is simply re-encrypted once more). Nothing is printed
or logged but counts.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction

from orders import crypto
from orders.models import CardKey, Merchant


def _rotate_table(model: type[models.Model], field: str, batch_size: int) -> tuple[int, int]:
    """(rotated, unreadable) for one table, walking the primary key in batches."""
    rotated = unreadable = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            rows = list(
                model._default_manager.select_for_update()
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .only("pk", field)[:batch_size]
            )
            if not rows:
                return rotated, unreadable
            changed = []
            for row in rows:
                try:
                    setattr(row, field, crypto.rotate(getattr(row, field)))
                except InvalidToken:
                    unreadable += 1  # under a key no longer configured: reported, left as is
                    continue
                changed.append(row)
            model._default_manager.bulk_update(changed, [field])
            rotated += len(changed)
            last_pk = rows[-1].pk


class Command(BaseCommand):
    help = "Re-encrypt card keys and identity numbers under the newest CARD_KEY_KEYS key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        failures = 0
        for model, field, label in (
            (CardKey, "secret_encrypted", "card keys"),
            (Merchant, "id_number_encrypted", "identity numbers"),
        ):
            rotated, unreadable = _rotate_table(model, field, batch_size)
            failures += unreadable
            self.stdout.write(f"{label}: {rotated} re-encrypted, {unreadable} unreadable")
        if failures:
            raise CommandError(
                f"{failures} secrets could not be decrypted with any configured key; "
                "put the old key back in CARD_KEY_KEYS and run the command again."
            )
