import pytest

from orders.models import OrderStatus
from tests.helpers import paid_order


@pytest.mark.django_db
def test_paying_delivers_card_keys_in_the_same_transaction():
    order = paid_order(quantity=2)
    assert order.status == OrderStatus.DELIVERED
    assert order.card_keys.count() == 2
