"""`manage.py rotate_card_keys`: every card key and identity number re-encrypted under the
newest key, so the old key can be dropped."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command

from orders import crypto
from orders.models import CardKey, Merchant
from tests.factories import VALID_ID_NUMBER, MerchantFactory, ProductFactory
from tests.orders.utils import import_keys, secret_keys

pytestmark = pytest.mark.django_db

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def test_rotation_re_encrypts_everything_under_the_newest_key_in_batches(settings):
    settings.CARD_KEY_KEYS = [OLD]
    product = ProductFactory()
    plain = secret_keys(7)
    import_keys(product, plain)
    MerchantFactory.create_batch(2)
    before = {k.pk: k.secret_encrypted for k in CardKey.objects.all()}

    settings.CARD_KEY_KEYS = [NEW, OLD]  # prepend the new key
    out = StringIO()
    call_command("rotate_card_keys", "--batch-size", "3", stdout=out)
    assert "card keys: 7 re-encrypted, 0 unreadable" in out.getvalue()
    assert "identity numbers: 3 re-encrypted" in out.getvalue()  # 2 + the product's shop

    settings.CARD_KEY_KEYS = [NEW]  # drop the old key: everything still reads
    keys = list(CardKey.objects.order_by("id"))
    assert [k.reveal() for k in keys] == plain
    assert all(before[k.pk] != k.secret_encrypted for k in keys)
    for merchant in Merchant.objects.all():
        assert crypto.decrypt(merchant.id_number_encrypted) == VALID_ID_NUMBER
    old_only = Fernet(OLD.encode())
    with pytest.raises(InvalidToken):
        old_only.decrypt(keys[0].secret_encrypted.encode())


def test_without_rotation_dropping_the_old_key_loses_the_keys(settings):
    """The control: this is what the command prevents."""
    settings.CARD_KEY_KEYS = [OLD]
    import_keys(ProductFactory(), secret_keys(1))
    settings.CARD_KEY_KEYS = [NEW]
    with pytest.raises(InvalidToken):
        CardKey.objects.get().reveal()


def test_a_secret_under_an_unknown_key_is_reported_and_the_rest_rotated(settings):
    settings.CARD_KEY_KEYS = [OLD]
    product = ProductFactory()
    import_keys(product, secret_keys(2))
    lost = CardKey.objects.order_by("id").first()
    CardKey.objects.filter(pk=lost.pk).update(
        secret_encrypted=Fernet(Fernet.generate_key()).encrypt(b"x").decode()
    )
    settings.CARD_KEY_KEYS = [NEW, OLD]
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("rotate_card_keys", stdout=out)
    assert "card keys: 1 re-encrypted, 1 unreadable" in out.getvalue()
    settings.CARD_KEY_KEYS = [NEW]
    assert CardKey.objects.order_by("id").last().reveal()
