"""factory_boy factories. Objects are built in valid states; workflows go through services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth.models import User
from django.utils import timezone

from orders import crypto
from orders.models import (
    CardKey,
    MemberRole,
    Merchant,
    MerchantMember,
    MerchantStatus,
    Order,
    OrderStatus,
    Product,
    ProductKind,
)

PASSWORD = "correct-horse-battery-9"  # noqa: S105


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:  # noqa: N805
        if create:
            obj.save()


class StaffFactory(UserFactory):
    is_staff = True

    @factory.post_generation
    def perms(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:  # noqa: N805
        """StaffFactory(perms=["orders.verify_merchant"]) grants those permissions."""
        from django.contrib.auth.models import Permission

        for dotted in extracted or []:
            app_label, codename = dotted.split(".")
            obj.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


VALID_ID_NUMBER = "11010519491231002X"


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)
    shop_name = factory.Sequence(lambda n: f"Shop {n}")
    legal_name = factory.Sequence(lambda n: f"张三{n}")
    id_number_encrypted = factory.LazyFunction(lambda: crypto.encrypt(VALID_ID_NUMBER))
    id_number_last4 = VALID_ID_NUMBER[-4:]
    id_number_fingerprint = factory.LazyFunction(
        lambda: crypto.fingerprint(VALID_ID_NUMBER, purpose="identity")
    )
    phone = "13800138000"
    address = "北京市海淀区中关村大街1号"
    status = MerchantStatus.ACTIVE
    verified_at = factory.LazyFunction(timezone.now)
    reverification_due = factory.LazyFunction(lambda: timezone.now() + timedelta(days=183))

    @factory.post_generation
    def owner_membership(obj: Merchant, create: bool, extracted: Any, **kwargs: Any) -> None:  # noqa: N805
        if create:
            MerchantMember.objects.get_or_create(
                merchant=obj, user=obj.owner, defaults={"role": MemberRole.OWNER}
            )


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Game card {n}")
    kind = ProductKind.GAME_CARD
    face_value = Decimal("50.00")
    price = Decimal("48.00")
    source = "Upstream: 官方授权渠道 contract #2026-001"


class CardKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CardKey
        exclude = ["plain"]

    product = factory.SubFactory(ProductFactory)
    plain = factory.Sequence(lambda n: f"KEY-{n:06d}-ABCD{n % 10}")
    secret_encrypted = factory.LazyAttribute(lambda o: crypto.encrypt(o.plain))
    fingerprint = factory.LazyAttribute(lambda o: crypto.fingerprint(o.plain))
    tail = factory.LazyAttribute(lambda o: o.plain[-4:])


class OrderFactory(factory.django.DjangoModelFactory):
    """A pending order; use tests.helpers.paid_order for one paid and delivered by services."""

    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"KMT{n:012d}")
    buyer = factory.SubFactory(UserFactory)
    product = factory.SubFactory(ProductFactory)
    merchant = factory.LazyAttribute(lambda o: o.product.merchant)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda o: o.product.price)
    amount = factory.LazyAttribute(lambda o: o.product.price * o.quantity)
    status = OrderStatus.PENDING_PAYMENT
