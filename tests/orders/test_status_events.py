"""Status events of shops and orders (orders.StatusEvent): every status change made by
orders/services/ writes exactly one row in the same transaction, nothing else does; the rows
cannot be changed or deleted (by the application, nor by SQL on PostgreSQL); the merchant and
order admin pages show them read-only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from orders import services
from orders.models import (
    MerchantStatus,
    OrderStatus,
    StatusEvent,
    SuspensionReason,
)
from tests.factories import (
    MerchantFactory,
    ProductFactory,
    StaffFactory,
    UserFactory,
)
from tests.helpers import paid_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_activation_guards")]


def events(subject) -> list[tuple[str, str, str, object]]:
    return [
        (e.from_status, e.to_status, e.reason, e.actor)
        for e in subject.status_events.order_by("created_at", "id")
    ]


def pending_shop():
    return MerchantFactory(
        status=MerchantStatus.PENDING_VERIFICATION, verified_at=None, reverification_due=None
    )


# --- Shops ----------------------------------------------------------------------------------


def test_verifying_a_shop_writes_one_event_by_the_verifier():
    shop, staff = pending_shop(), StaffFactory()
    services.merchant_verify(merchant=shop, staff=staff)
    assert events(shop) == [("pending_verification", "active", "", staff)]


def test_reverifying_an_active_shop_changes_no_status_and_writes_no_event():
    shop, staff = MerchantFactory(), StaffFactory()
    services.merchant_verify(merchant=shop, staff=staff)
    assert events(shop) == []


def test_rejecting_a_shop_writes_the_reason():
    shop, staff = pending_shop(), StaffFactory()
    services.merchant_reject(merchant=shop, staff=staff, reason=" 证件照片模糊 ")
    assert events(shop) == [("pending_verification", "rejected", "证件照片模糊", staff)]


def test_a_refused_change_writes_nothing():
    shop, staff = MerchantFactory(), StaffFactory()
    with pytest.raises(Exception):  # noqa: B017 - DomainError: only a pending shop is rejected
        services.merchant_reject(merchant=shop, staff=staff, reason="x")
    assert not StatusEvent.objects.exists()


def test_suspending_and_reinstating_by_staff_writes_two_events():
    shop, staff, other = MerchantFactory(), StaffFactory(), StaffFactory()
    services.merchant_suspend(
        merchant=shop, reason=SuspensionReason.MANUAL, note="售卖盗刷卡", staff=staff
    )
    # Suspending again changes nothing and writes nothing.
    services.merchant_suspend(
        merchant=shop, reason=SuspensionReason.MANUAL, note="again", staff=staff
    )
    services.merchant_unsuspend(merchant=shop, staff=other)
    assert events(shop) == [
        ("active", "suspended", "售卖盗刷卡", staff),
        ("suspended", "active", "", other),
    ]


def test_an_automatic_suspension_keeps_its_reason_code_and_no_actor():
    shop = MerchantFactory(reverification_due=timezone.now() - timedelta(days=1))
    assert services.merchants_expire_verifications() == 1
    assert events(shop) == [("active", "suspended", "verification_expired", None)]
    event = shop.status_events.get()
    assert (event.from_label, event.to_label) == (
        str(MerchantStatus.ACTIVE.label),
        str(MerchantStatus.SUSPENDED.label),
    )


def test_a_manual_suspension_over_an_automatic_one_is_an_event_too():
    shop, staff = MerchantFactory(), StaffFactory()
    services.merchant_suspend(merchant=shop, reason=SuspensionReason.DEPOSIT)
    services.merchant_suspend(
        merchant=shop, reason=SuspensionReason.MANUAL, note="人工复核", staff=staff
    )
    services.merchant_lift_suspension(merchant=shop, reason=SuspensionReason.DEPOSIT)  # no-op
    assert events(shop) == [
        ("active", "suspended", "deposit", None),
        ("suspended", "suspended", "人工复核", staff),
    ]


# --- Orders ---------------------------------------------------------------------------------


def test_a_card_key_order_paid_and_delivered_writes_two_events():
    order = paid_order()
    assert [(f, t) for f, t, _r, _a in events(order)] == [
        ("pending_payment", "paid"),
        ("paid", "delivered"),
    ]
    assert events(order)[0][2].startswith("sandbox ")  # channel and payment reference
    assert events(order)[0][3] is None


def test_an_order_out_of_stock_fails_once_and_its_refund_keeps_the_status():
    order = paid_order(stock=0)
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERY_FAILED
    assert order.refunded_amount == order.amount
    assert events(order) == [
        ("pending_payment", "paid", events(order)[0][2], None),
        ("paid", "delivery_failed", "out of stock", None),
    ]


def test_refunds_write_an_event_only_when_the_status_changes():
    order = paid_order(product=ProductFactory(price=Decimal("40.00")))
    services.order_refund(order=order, amount=Decimal("10.00"), reason="部分赔付", key="r1")
    services.order_refund(order=order, amount=Decimal("10.00"), reason="再次部分", key="r2")
    services.order_refund(order=order, amount=Decimal("20.00"), reason="全额", key="r3")
    services.order_refund(order=order, amount=Decimal("20.00"), reason="全额", key="r3")  # again
    assert [(f, t, r) for f, t, r, _a in events(order)][2:] == [
        ("delivered", "partially_refunded", "部分赔付"),
        ("partially_refunded", "refunded", "全额"),
    ]


@pytest.mark.parametrize(
    ("target", "last"),
    [
        ("13912345678", ("delivery_pending", "delivered")),
        ("13912340000", ("delivery_pending", "delivery_failed")),
    ],
)
def test_a_topup_writes_each_step(topup_product, django_capture_on_commit_callbacks, target, last):
    buyer = UserFactory()
    order = services.order_create(
        buyer=buyer, product=topup_product, quantity=1, topup_target=target
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.order_pay(order=order, buyer=buyer)
    assert [(f, t) for f, t, _r, _a in events(order)] == [
        ("pending_payment", "paid"),
        ("paid", "delivery_pending"),
        last,
    ]


def test_a_rolled_back_change_leaves_no_event():
    shop, staff = pending_shop(), StaffFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.merchant_verify(merchant=shop, staff=staff)
        raise RuntimeError
    assert not StatusEvent.objects.exists()


# --- Append-only ----------------------------------------------------------------------------


def test_the_application_cannot_change_or_delete_an_event():
    shop = pending_shop()
    services.merchant_verify(merchant=shop, staff=StaffFactory())
    event = StatusEvent.objects.get()
    event.reason = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        StatusEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(PermissionError):
        StatusEvent.objects.filter(pk=event.pk).delete()


def test_the_database_refuses_to_update_an_event():
    shop = pending_shop()
    services.merchant_verify(merchant=shop, staff=StaffFactory())
    event = StatusEvent.objects.get()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE orders_statusevent SET to_status = 'x' WHERE id = %s", [event.pk])
    assert StatusEvent.objects.get().to_status == "active"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the DELETE trigger is PostgreSQL's (SQLite flushes)"
)
def test_the_database_refuses_to_delete_an_event_on_postgresql():
    shop = pending_shop()
    services.merchant_verify(merchant=shop, staff=StaffFactory())
    event = StatusEvent.objects.get()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM orders_statusevent WHERE id = %s", [event.pk])
    assert StatusEvent.objects.filter(pk=event.pk).exists()


def test_an_event_is_about_a_shop_or_an_order_never_both_nor_neither():
    order = paid_order()
    with pytest.raises(DatabaseError), transaction.atomic():
        StatusEvent.objects.create(merchant=order.merchant, order=order, to_status="x")
    with pytest.raises(DatabaseError), transaction.atomic():
        StatusEvent.objects.create(to_status="x")


# --- Admin ----------------------------------------------------------------------------------


def test_the_merchant_admin_shows_its_status_changes_read_only():
    shop, staff = MerchantFactory(), StaffFactory()
    services.merchant_suspend(
        merchant=shop, reason=SuspensionReason.MANUAL, note="售卖盗刷卡", staff=staff
    )
    viewer = StaffFactory(perms=["orders.view_merchant", "orders.change_merchant"])
    client = Client()
    client.force_login(viewer)
    response = client.get(f"/admin/orders/merchant/{shop.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="status_events-group"' in body
    inline = body[body.index('id="status_events-group"') :]
    assert "售卖盗刷卡" in inline
    assert staff.username in inline
    assert 'name="status_events-0-reason"' not in body  # shown, not editable
    assert 'name="status_events-0-DELETE"' not in body


def test_the_order_admin_shows_its_status_changes_with_labels():
    order = paid_order(stock=0)
    viewer = StaffFactory(perms=["orders.view_order"])
    client = Client(headers={"accept-language": "en"})
    client.force_login(viewer)
    response = client.get(f"/admin/orders/order/{order.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    inline = body[body.index('id="status_events-group"') :]
    assert "delivery failed" in inline
    assert "out of stock" in inline
