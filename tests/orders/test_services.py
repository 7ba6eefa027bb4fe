"""orders.services: merchants, products, card-key import, orders, payment, delivery, reveal."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from kamen_complaints.errors import DomainError, Forbidden, NotFound
from orders import crypto, services
from orders.models import (
    CardKey,
    CardKeyReveal,
    CardKeyStatus,
    DuplicateKeyFlag,
    IdentityAccess,
    Merchant,
    MerchantMember,
    MerchantStatus,
    Order,
    OrderStatus,
    Payment,
    ProductKind,
    Refund,
    SuspensionReason,
)
from orders.services import merchants
from orders.tasks import orders_sweep
from tests.factories import (
    VALID_ID_NUMBER,
    CardKeyFactory,
    MerchantFactory,
    OrderFactory,
    ProductFactory,
    StaffFactory,
    UserFactory,
)
from tests.helpers import paid_order
from tests.orders.utils import import_keys, secret_keys

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_activation_guards")]

ANOTHER_VALID_ID = "110101199003074477"


def apply(user=None, **overrides):
    values = {
        "user": user or UserFactory(),
        "shop_name": "星辰卡铺",
        "legal_name": "李四",
        "id_number": ANOTHER_VALID_ID,
        "phone": "+86 139-1234-5678",
        "address": "上海市浦东新区世纪大道100号",
    }
    values.update(overrides)
    return services.merchant_apply(**values)


# --- Merchants ----------------------------------------------------------------------------


def test_applying_opens_a_pending_shop_owned_by_the_applicant_with_the_id_encrypted():
    user = UserFactory()
    merchant = apply(user)
    assert merchant.status == MerchantStatus.PENDING_VERIFICATION
    assert merchant.owner == user
    assert MerchantMember.objects.get(user=user).role == "owner"
    assert merchant.phone == "13912345678"
    assert ANOTHER_VALID_ID not in merchant.id_number_encrypted
    assert crypto.decrypt(merchant.id_number_encrypted) == ANOTHER_VALID_ID
    assert merchant.id_number_masked == "****4477"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("id_number", "110101199003074478", "id_number_invalid"),  # wrong check digit
        ("id_number", "12345", "id_number_invalid"),
        ("phone", "12345", "phone_invalid"),
        ("shop_name", "   ", "invalid"),
    ],
)
def test_an_application_with_bad_identity_data_is_refused_and_writes_nothing(field, value, code):
    with pytest.raises(DomainError) as exc:
        apply(**{field: value})
    assert exc.value.code == code
    assert not Merchant.objects.exists()


def test_an_account_opens_one_shop_and_a_shop_name_is_taken_once():
    user = UserFactory()
    apply(user)
    with pytest.raises(DomainError) as exc:
        apply(user, shop_name="另一家")
    assert exc.value.code == "already_merchant"
    with pytest.raises(DomainError) as exc:
        apply(shop_name="星辰卡铺")
    assert exc.value.code == "shop_name_taken"


def test_verifying_activates_the_shop_for_six_months_and_records_who():
    staff = StaffFactory()
    merchant = apply()
    with time_machine.travel("2026-03-01 10:00 +08:00", tick=False):
        merchant = services.merchant_verify(merchant=merchant, staff=staff)
    assert merchant.status == MerchantStatus.ACTIVE
    assert merchant.verified_by == staff
    assert merchant.reverification_due - merchant.verified_at == timedelta(days=183)


def test_a_verification_runs_out_after_six_months_and_verifying_again_lifts_it():
    staff = StaffFactory()
    with time_machine.travel("2026-01-01 09:00 +08:00", tick=False):
        merchant = services.merchant_verify(merchant=apply(), staff=staff)
    with time_machine.travel("2026-07-02 09:00 +08:00", tick=False):  # 182 days: still valid
        assert orders_sweep()["verifications_expired"] == 0
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.ACTIVE
    with time_machine.travel("2026-07-04 09:00 +08:00", tick=False):  # 184 days
        assert orders_sweep()["verifications_expired"] == 1
        merchant.refresh_from_db()
        assert merchant.status == MerchantStatus.SUSPENDED
        assert merchant.suspension_reason == SuspensionReason.VERIFICATION_EXPIRED
        with pytest.raises(DomainError) as exc:
            services.merchant_unsuspend(merchant=merchant, staff=staff)
        assert exc.value.code == "not_allowed_in_state"
        merchant = services.merchant_verify(merchant=merchant, staff=staff)
    assert merchant.status == MerchantStatus.ACTIVE
    assert merchant.suspension_reason == ""


def test_an_expired_shop_sells_nothing():
    merchant = MerchantFactory(reverification_due=timezone.now() - timedelta(minutes=1))
    product = ProductFactory(merchant=merchant)
    services.merchants_expire_verifications()
    with pytest.raises(DomainError) as exc:
        services.order_create(buyer=UserFactory(), product=product, quantity=1)
    assert exc.value.code == "merchant_inactive"


def test_only_a_pending_application_is_rejected_and_a_reason_is_required():
    staff = StaffFactory()
    merchant = apply()
    with pytest.raises(DomainError) as exc:
        services.merchant_reject(merchant=merchant, staff=staff, reason="  ")
    assert exc.value.code == "reason_required"
    merchant = services.merchant_reject(merchant=merchant, staff=staff, reason="证件模糊")
    assert merchant.status == MerchantStatus.REJECTED
    with pytest.raises(DomainError) as exc:
        services.merchant_reject(merchant=MerchantFactory(), staff=staff, reason="x")
    assert exc.value.code == "not_allowed_in_state"


def test_a_manual_suspension_needs_a_note_and_only_staff_lift_it():
    staff = StaffFactory()
    merchant = MerchantFactory()
    with pytest.raises(DomainError) as exc:
        services.merchant_suspend(merchant=merchant, reason=SuspensionReason.MANUAL)
    assert exc.value.code == "reason_required"
    services.merchant_suspend(merchant=merchant, reason=SuspensionReason.MANUAL, note="投诉过多")
    # An automatic reason never replaces a manual one, nor lifts it.
    services.merchant_suspend(merchant=merchant, reason=SuspensionReason.DEPOSIT)
    services.merchant_lift_suspension(merchant=merchant, reason=SuspensionReason.DEPOSIT)
    merchant.refresh_from_db()
    assert merchant.suspension_reason == SuspensionReason.MANUAL
    merchant = services.merchant_unsuspend(merchant=merchant, staff=staff)
    assert merchant.status == MerchantStatus.ACTIVE


def test_a_deposit_suspension_is_not_lifted_by_staff_but_by_its_own_cure():
    staff = StaffFactory()
    merchant = MerchantFactory()
    services.merchant_suspend(merchant=merchant, reason=SuspensionReason.DEPOSIT)
    with pytest.raises(DomainError):
        services.merchant_unsuspend(merchant=merchant, staff=staff)
    merchant = services.merchant_lift_suspension(merchant=merchant, reason=SuspensionReason.DEPOSIT)
    assert merchant.status == MerchantStatus.ACTIVE


def test_an_activation_guard_holds_a_verified_shop_back(monkeypatch):
    monkeypatch.setattr(merchants, "_activation_guards", [])
    services.register_activation_guard(lambda merchant: SuspensionReason.DEPOSIT)
    merchant = services.merchant_verify(merchant=apply(), staff=StaffFactory())
    assert merchant.status == MerchantStatus.SUSPENDED
    assert merchant.suspension_reason == SuspensionReason.DEPOSIT


def test_staff_with_the_identity_permission_see_the_number_and_the_view_is_logged():
    staff = StaffFactory(perms=["orders.view_identity"])
    merchant = MerchantFactory()
    number = services.merchant_reveal_identity(
        merchant=merchant, staff=staff, ip="10.0.0.5", purpose="12315 complaint"
    )
    assert number == VALID_ID_NUMBER
    access = IdentityAccess.objects.get()
    assert (access.user, access.merchant, access.ip) == (staff, merchant, "10.0.0.5")


@pytest.mark.parametrize(
    "user_factory",
    [
        lambda: StaffFactory(),  # staff without the permission
        lambda: UserFactory(),  # a buyer
        lambda: StaffFactory(is_staff=False, perms=["orders.view_identity"]),  # not staff
    ],
)
def test_no_one_else_sees_an_identity_number_and_nothing_is_logged(user_factory):
    with pytest.raises(Forbidden):
        services.merchant_reveal_identity(merchant=MerchantFactory(), staff=user_factory())
    assert not IdentityAccess.objects.exists()


# --- Products and card keys ---------------------------------------------------------------


def test_a_product_needs_positive_amounts_and_a_source():
    merchant = MerchantFactory()
    values = {
        "merchant": merchant,
        "name": "点卡",
        "kind": ProductKind.GAME_CARD,
        "face_value": Decimal("10.00"),
        "price": Decimal("9.50"),
        "source": "上游: 官方",
    }
    cases: list[tuple[dict[str, object], str]] = [
        ({"price": Decimal("0")}, "amount_invalid"),
        ({"face_value": Decimal("-1")}, "amount_invalid"),
        ({"source": " "}, "source_required"),
        ({"kind": "weapon"}, "invalid"),
    ]
    for change, code in cases:
        with pytest.raises(DomainError) as exc:
            services.product_create(**{**values, **change})
        assert exc.value.code == code
    product = services.product_create(**values)
    assert product.active


def test_an_import_reports_imported_duplicates_and_rejected_with_line_numbers():
    product = ProductFactory()
    data = "\n".join(
        [
            "AAAA-1111-BBBB",  # 1
            "",  # 2 blank: skipped
            "bad key with spaces",  # 3 rejected
            "AAAA-1111-BBBB",  # 4 duplicate of line 1
            "x",  # 5 too short
            "CCCC-2222-DDDD",  # 6
            "é-not-ascii-key",  # 7 rejected
        ]
    )
    report = services.card_keys_import(product=product, data=data)
    assert (report.imported, report.duplicates, report.rejected) == (2, 1, 3)
    assert [(p["line"], p["problem"]) for p in report.problems] == [
        (3, "rejected"),
        (4, "duplicate"),
        (5, "rejected"),
        (7, "rejected"),
    ]
    keys = list(CardKey.objects.filter(product=product).order_by("id"))
    assert [k.tail for k in keys] == ["BBBB", "DDDD"]
    assert all(k.status == CardKeyStatus.AVAILABLE for k in keys)
    assert all("AAAA-1111-BBBB" not in k.secret_encrypted for k in keys)
    assert keys[0].reveal() == "AAAA-1111-BBBB"


def test_a_key_offered_again_by_the_same_shop_is_a_duplicate_flagged_as_same_shop():
    product = ProductFactory()
    import_keys(product, ["SAME-KEY-0001"])
    report = services.card_keys_import(
        product=ProductFactory(merchant=product.merchant), data="SAME-KEY-0001"
    )
    assert (report.imported, report.duplicates) == (0, 1)
    flag = DuplicateKeyFlag.objects.get()
    assert flag.cross_shop is False


def test_a_key_offered_by_two_shops_is_flagged_cross_shop_for_staff():
    first = ProductFactory()
    second = ProductFactory()
    assert first.merchant != second.merchant
    import_keys(first, ["STOLEN-KEY-0001"])
    report = services.card_keys_import(product=second, data="STOLEN-KEY-0001\nNEW-KEY-0002")
    assert (report.imported, report.duplicates) == (1, 1)
    flag = DuplicateKeyFlag.objects.get()
    assert flag.cross_shop is True
    assert flag.attempted_by == second.merchant
    assert flag.existing_key.product == first
    assert CardKey.objects.filter(product=second).count() == 1


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GOOD-KEY-0001\n" + b"A" * 10 * 1024 * 1024, "import_too_large"),  # 10 MB
        ("GOOD-KEY-0001\n" + "A" * (services.MAX_IMPORT_BYTES + 1), "import_too_large"),
        (b"GOOD-KEY-0001\n\x00\x01\x02\xff\xfe", "import_not_text"),  # binary junk
        (b"GOOD-KEY-0001\n\xff\xfe\xfa", "import_not_text"),  # not UTF-8
        ("K-0001\n" * (services.MAX_IMPORT_LINES + 1), "import_too_large"),
    ],
)
def test_a_refused_import_writes_no_key_at_all(data, code):
    product = ProductFactory()
    with pytest.raises(DomainError) as exc:
        services.card_keys_import(product=product, data=data)
    assert exc.value.code == code
    assert not CardKey.objects.exists()


def test_an_import_racing_another_writes_nothing(monkeypatch):
    """A fingerprint inserted between our check and our insert: the whole import rolls back."""
    product = ProductFactory()
    real_filter = CardKey.objects.filter

    def blind_filter(*args, **kwargs):
        if "fingerprint__in" in kwargs:
            CardKeyFactory(product=product, plain="RACE-KEY-0002")  # the other import wins
            return real_filter(pk__in=[])
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(CardKey.objects, "filter", blind_filter)
    with pytest.raises(DomainError) as exc:
        services.card_keys_import(product=product, data="RACE-KEY-0001\nRACE-KEY-0002")
    assert exc.value.code == "conflict"
    monkeypatch.undo()
    assert not CardKey.objects.filter(fingerprint=crypto.fingerprint("RACE-KEY-0001")).exists()


def test_a_surrogate_in_a_pasted_import_rejects_that_line_only():
    product = ProductFactory()
    report = services.card_keys_import(product=product, data="GOOD-KEY-0001\nBAD-\ud800-KEY")
    assert (report.imported, report.rejected) == (1, 1)


def test_phone_topups_take_no_card_keys():
    product = ProductFactory(kind=ProductKind.PHONE_TOPUP)
    with pytest.raises(DomainError):
        services.card_keys_import(product=product, data="KEY-0001")


# --- Orders -------------------------------------------------------------------------------


def test_an_order_awaits_payment_at_the_product_price_with_an_unguessable_number():
    product = ProductFactory(price=Decimal("12.34"))
    buyer = UserFactory()
    first = services.order_create(buyer=buyer, product=product, quantity=3)
    second = services.order_create(buyer=buyer, product=product, quantity=1)
    assert first.status == OrderStatus.PENDING_PAYMENT
    assert (first.unit_price, first.amount) == (Decimal("12.34"), Decimal("37.02"))
    assert first.number.startswith("KM") and len(first.number) == 18
    assert first.number[-10:] != second.number[-10:]
    assert first.merchant == product.merchant


@pytest.mark.parametrize("quantity", [0, -1, 101, 10**30, True, "2"])
def test_a_quantity_outside_1_to_100_is_refused(quantity):
    with pytest.raises(DomainError) as exc:
        services.order_create(buyer=UserFactory(), product=ProductFactory(), quantity=quantity)
    assert exc.value.code == "quantity_invalid"
    assert not Order.objects.exists()


def test_inactive_products_and_shops_that_are_not_active_sell_nothing():
    buyer = UserFactory()
    cases = [
        (ProductFactory(active=False), "product_inactive"),
        (
            ProductFactory(merchant=MerchantFactory(status=MerchantStatus.PENDING_VERIFICATION)),
            "merchant_inactive",
        ),
        (
            ProductFactory(
                merchant=MerchantFactory(
                    status=MerchantStatus.SUSPENDED, suspension_reason=SuspensionReason.MANUAL
                )
            ),
            "merchant_inactive",
        ),
    ]
    for product, code in cases:
        with pytest.raises(DomainError) as exc:
            services.order_create(buyer=buyer, product=product, quantity=1)
        assert exc.value.code == code
    assert not Order.objects.exists()


def test_a_shop_cannot_buy_from_itself():
    product = ProductFactory()
    with pytest.raises(DomainError) as exc:
        services.order_create(buyer=product.merchant.owner, product=product, quantity=1)
    assert exc.value.code == "own_shop"


def test_an_order_above_the_largest_amount_is_refused():
    product = ProductFactory(price=Decimal("9999999999.99"), face_value=Decimal("1.00"))
    with pytest.raises(DomainError) as exc:
        services.order_create(buyer=UserFactory(), product=product, quantity=2)
    assert exc.value.code == "amount_invalid"


def test_a_topup_takes_one_valid_phone_number_and_a_card_takes_none():
    topup = ProductFactory(kind=ProductKind.PHONE_TOPUP)
    buyer = UserFactory()
    for kwargs, code in [
        ({"quantity": 1}, "topup_target_required"),
        ({"quantity": 1, "topup_target": "12345"}, "phone_invalid"),
        ({"quantity": 2, "topup_target": "13912345678"}, "quantity_invalid"),
    ]:
        with pytest.raises(DomainError) as exc:
            services.order_create(buyer=buyer, product=topup, **kwargs)
        assert exc.value.code == code
    with pytest.raises(DomainError) as exc:
        services.order_create(
            buyer=buyer, product=ProductFactory(), quantity=1, topup_target="13912345678"
        )
    assert exc.value.code == "topup_target_invalid"
    order = services.order_create(
        buyer=buyer, product=topup, quantity=1, topup_target="139 1234 5678"
    )
    assert order.topup_target == "13912345678"


def test_paying_delivers_the_oldest_keys_in_the_same_transaction():
    product = ProductFactory()
    keys = CardKeyFactory.create_batch(3, product=product)
    order = services.order_create(buyer=UserFactory(), product=product, quantity=2)
    order = services.order_pay(order=order, buyer=order.buyer)
    assert order.status == OrderStatus.DELIVERED
    assert order.paid_at is not None and order.delivered_at is not None
    assert order.payment_channel == "sandbox"
    assert [k.pk for k in order.card_keys.order_by("id")] == [keys[0].pk, keys[1].pk]
    payment = Payment.objects.get()
    assert (payment.order, payment.amount, payment.reference) == (
        order,
        order.amount,
        order.payment_reference,
    )
    keys[2].refresh_from_db()
    assert keys[2].status == CardKeyStatus.AVAILABLE


def test_not_enough_stock_fails_delivery_reserves_nothing_and_refunds_the_payment():
    product = ProductFactory()
    CardKeyFactory.create_batch(2, product=product)
    order = services.order_create(buyer=UserFactory(), product=product, quantity=3)
    order = services.order_pay(order=order, buyer=order.buyer)
    assert order.status == OrderStatus.DELIVERY_FAILED
    assert order.refunded_amount == order.amount
    refund = Refund.objects.get()
    assert (refund.amount, refund.payment.order) == (order.amount, order)
    assert not CardKey.objects.filter(status=CardKeyStatus.DELIVERED).exists()
    with pytest.raises(DomainError) as exc:  # nothing left to refund
        services.order_refund(order=order, amount=Decimal("1.00"), reason="x", key="k")
    assert exc.value.code == "amount_invalid"


def test_a_second_payment_of_the_same_order_is_refused_with_409_and_charges_nothing():
    order = paid_order()
    with pytest.raises(DomainError) as exc:
        services.order_pay(order=order, buyer=order.buyer)
    assert (exc.value.code, exc.value.status_code) == ("already_paid", 409)
    assert Payment.objects.count() == 1
    assert order.card_keys.count() == 1


def test_someone_elses_order_is_not_found_when_paying():
    order = OrderFactory()
    CardKeyFactory(product=order.product)
    with pytest.raises(NotFound):
        services.order_pay(order=order, buyer=UserFactory())
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_an_unknown_payment_channel_is_refused_before_any_charge():
    order = OrderFactory()
    with pytest.raises(DomainError) as exc:
        services.order_pay(order=order, buyer=order.buyer, channel="paypal")
    assert exc.value.code == "channel_invalid"
    assert not Payment.objects.exists()


def test_a_payment_confirmed_twice_changes_nothing_the_second_time():
    """dujiaoka #97: a callback delivered twice sent two sets of keys."""
    order = OrderFactory(quantity=2, amount=Decimal("96.00"))
    CardKeyFactory.create_batch(4, product=order.product)
    for _ in range(2):
        order = services.order_payment_confirm(
            order=order, reference="REF-1", amount=order.amount, channel="sandbox"
        )
    assert order.status == OrderStatus.DELIVERED
    assert Payment.objects.count() == 1
    assert CardKey.objects.filter(status=CardKeyStatus.DELIVERED).count() == 2
    assert not Refund.objects.exists()


def test_a_second_different_payment_of_a_paid_order_is_refunded_and_delivers_nothing():
    order = paid_order()
    services.order_payment_confirm(
        order=order, reference="SECOND-REF", amount=order.amount, channel="sandbox"
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    assert order.payment_reference != "SECOND-REF"
    second = Payment.objects.get(reference="SECOND-REF")
    refund = Refund.objects.get()
    assert (refund.payment, refund.amount) == (second, order.amount)
    assert order.card_keys.count() == 1
    assert order.refunded_amount == Decimal("0.00")  # the order's own payment stands


def test_a_confirmation_for_the_wrong_amount_writes_nothing():
    order = OrderFactory()
    with pytest.raises(DomainError) as exc:
        services.order_payment_confirm(
            order=order, reference="R", amount=order.amount + 1, channel="sandbox"
        )
    assert exc.value.code == "amount_mismatch"
    assert not Payment.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_a_reference_already_used_by_another_order_is_refused():
    first = paid_order()
    second = OrderFactory()
    with pytest.raises(DomainError) as exc:
        services.order_payment_confirm(
            order=second, reference=first.payment_reference, amount=second.amount, channel="x"
        )
    assert (exc.value.code, exc.value.status_code) == ("reference_conflict", 409)
    second.refresh_from_db()
    assert second.status == OrderStatus.PENDING_PAYMENT


def test_the_buyer_reveals_keys_and_each_reveal_is_recorded_with_ip_and_agent():
    product = ProductFactory()
    plain = secret_keys(2)
    import_keys(product, plain)
    order = paid_order(product=product, quantity=2, stock=0)
    for _ in range(2):
        keys = services.order_reveal_keys(
            order=order, user=order.buyer, ip="203.0.113.9", user_agent="Mozilla/5.0 test"
        )
    assert keys == plain
    reveals = list(CardKeyReveal.objects.all())
    assert len(reveals) == 2
    assert (reveals[0].ip, reveals[0].user_agent, reveals[0].user) == (
        "203.0.113.9",
        "Mozilla/5.0 test",
        order.buyer,
    )
    assert set(reveals[0].card_keys.all()) == set(order.card_keys.all())


def test_no_one_but_the_buyer_reveals_keys_and_nothing_is_recorded():
    order = paid_order()
    for user in (UserFactory(), order.merchant.owner, StaffFactory()):
        with pytest.raises(NotFound):
            services.order_reveal_keys(order=order, user=user)
    assert not CardKeyReveal.objects.exists()


def test_an_order_without_keys_has_nothing_to_reveal():
    order = OrderFactory()
    with pytest.raises(DomainError) as exc:
        services.order_reveal_keys(order=order, user=order.buyer)
    assert exc.value.code == "not_allowed_in_state"


def test_a_refund_is_once_per_key_and_within_the_refundable_amount():
    order = paid_order(product=ProductFactory(price=Decimal("30.00")), quantity=2)
    first = services.order_refund(order=order, amount=Decimal("10.00"), reason="r", key="k1")
    again = services.order_refund(order=order, amount=Decimal("10.00"), reason="r", key="k1")
    assert first.pk == again.pk
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (
        OrderStatus.PARTIALLY_REFUNDED,
        Decimal("10.00"),
    )
    for amount in (Decimal("0"), Decimal("50.01")):
        with pytest.raises(DomainError):
            services.order_refund(order=order, amount=amount, reason="r", key="k2")
    services.order_refund(order=order, amount=Decimal("50.00"), reason="r", key="k3")
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert Refund.objects.count() == 2


def test_a_replacement_key_comes_from_stock_or_is_refused():
    product = ProductFactory()
    order = paid_order(product=product, stock=2)
    key = services.order_replace_card_key(order=order)
    assert key.order == order and key.status == CardKeyStatus.DELIVERED
    assert order.card_keys.count() == 2
    with pytest.raises(DomainError) as exc:
        services.order_replace_card_key(order=order)
    assert exc.value.code == "out_of_stock"


def test_a_charge_overtaken_by_another_payment_is_refunded_and_answered_409(monkeypatch):
    """The provider's callback (another reference) confirms the order while /pay/ is charging:
    /pay/'s own payment is given back and the buyer hears already_paid."""
    from orders.payments import SandboxProvider

    order = OrderFactory()
    CardKeyFactory.create_batch(2, product=order.product)
    real_charge = SandboxProvider.charge

    def overtaken(self, **kwargs):
        services.order_payment_confirm(
            order=order, reference="CALLBACK-FIRST", amount=order.amount, channel="sandbox"
        )
        return real_charge(self, **kwargs)

    monkeypatch.setattr(SandboxProvider, "charge", overtaken)
    with pytest.raises(DomainError) as exc:
        services.order_pay(order=order, buyer=order.buyer)
    assert (exc.value.code, exc.value.status_code) == ("already_paid", 409)
    order.refresh_from_db()
    assert (order.status, order.payment_reference) == (OrderStatus.DELIVERED, "CALLBACK-FIRST")
    assert order.card_keys.count() == 1
    refund = Refund.objects.get()
    assert refund.payment.reference != "CALLBACK-FIRST"
    assert refund.payment.order == order
