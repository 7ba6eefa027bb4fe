"""`manage.py seed_demo` has one collective case (disputes/demo/collective.py), opened and
settled through the real services, so `make run` shows every page of it: buyer1's refunded
order and the good key it may join from, the shop's case, the desk's case."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from disputes.demo import collective as demo
from disputes.models import CollectiveCase, CollectiveStatus, Finding
from orders.models import Order

pytestmark = pytest.mark.django_db


def test_the_demo_has_one_settled_collective_case_with_every_page() -> None:
    call_command("seed_demo", stdout=StringIO())
    case = CollectiveCase.objects.get()
    assert case.status == CollectiveStatus.SETTLED and case.product.name == demo.PRODUCT
    assert (case.keys_count, case.delivered_count, case.bad_count) == (10, 8, 4)
    assert case.refunded_count == 1 and case.withdrawn_count == 2
    assert case.members.count() == demo.COMPLAINTS
    refunded, good = Order.objects.filter(buyer__username="buyer1", product=case.product).order_by(
        "id"
    )
    assert refunded.collective_rows.get().refund_reason == Finding.KEY_UNKNOWN
    assert good.collective_rows.get().finding == Finding.KEY_VALID
    client = Client()
    client.force_login(good.buyer)
    page = client.get(reverse("orders:order", args=[good.number])).content.decode()
    assert reverse("disputes:collective_join", args=[good.number]) in page
    client.force_login(case.merchant.owner)
    assert client.get(reverse("merchant:collective_case", args=[case.pk])).status_code == 200
    # Seeding again adds nothing.
    call_command("seed_demo", stdout=StringIO())
    assert CollectiveCase.objects.count() == 1
