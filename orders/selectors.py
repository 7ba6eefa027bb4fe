"""Non-trivial reads of the orders app. List querysets keep a constant number of queries
whatever the page size (select_related / prefetch_related / annotations)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from orders.models import (
    CardKey,
    CardKeyStatus,
    Merchant,
    MerchantMember,
    MerchantStatus,
    Order,
    Product,
)


def merchant_for_user(user: User | AnonymousUser) -> Merchant | None:
    """The shop this account acts for (owner or team member), or None."""
    if not user.is_authenticated:
        return None
    member = MerchantMember.objects.select_related("merchant").filter(user_id=user.pk).first()
    return member.merchant if member else None


def is_merchant_owner(user: User, merchant: Merchant) -> bool:
    return merchant.owner_id == user.pk


def catalogue_products() -> QuerySet[Product]:
    """Active products of active (verified) shops, with their stock count in one query."""
    return (
        Product.objects.filter(active=True, merchant__status=MerchantStatus.ACTIVE)
        .select_related("merchant")
        .annotate(in_stock=Count("card_keys", filter=Q(card_keys__status=CardKeyStatus.AVAILABLE)))
        .order_by("id")
    )


def merchant_products(merchant: Merchant) -> QuerySet[Product]:
    return (
        Product.objects.filter(merchant=merchant)
        .select_related("merchant")
        .annotate(in_stock=Count("card_keys", filter=Q(card_keys__status=CardKeyStatus.AVAILABLE)))
        .order_by("id")
    )


def _with_details(qs: QuerySet[Order]) -> QuerySet[Order]:
    return qs.select_related("product", "merchant", "buyer").prefetch_related(
        Prefetch("card_keys", queryset=CardKey.objects.order_by("id"))
    )


def orders_visible_to(user: User | AnonymousUser) -> QuerySet[Order]:
    """A buyer sees their orders; a merchant's team also sees its shop's orders; staff with
    `orders.view_order` (as in the admin) all of them."""
    if not user.is_authenticated:
        return Order.objects.none()
    if user.is_staff and user.has_perm("orders.view_order"):
        return _with_details(Order.objects.all())
    merchant = merchant_for_user(user)
    condition = Q(buyer_id=user.pk)
    if merchant is not None:
        condition |= Q(merchant_id=merchant.pk)
    return _with_details(Order.objects.filter(condition))


def buyer_orders(user: User) -> QuerySet[Order]:
    return _with_details(Order.objects.filter(buyer_id=user.pk))


# --- One identity, one shop (docs/security/merchants-and-evidence.md) ---------------------


def merchants_sharing_identity(merchant: Merchant) -> QuerySet[Merchant]:
    """Other shops opened with the same identity number (by its HMAC fingerprint), rejected
    applications left out: a rejected application never sold and may be made again."""
    return (
        Merchant.objects.filter(id_number_fingerprint=merchant.id_number_fingerprint)
        .exclude(pk=merchant.pk)
        .exclude(status=MerchantStatus.REJECTED)
        .order_by("pk")
    )


def with_identity_shared(qs: QuerySet[Merchant]) -> QuerySet[Merchant]:
    """Annotate `identity_shared`: another non-rejected shop has the same identity number.
    One subquery, so a list stays at a constant number of queries."""
    others = (
        Merchant.objects.filter(id_number_fingerprint=OuterRef("id_number_fingerprint"))
        .exclude(pk=OuterRef("pk"))
        .exclude(status=MerchantStatus.REJECTED)
    )
    return qs.annotate(identity_shared=Exists(others))
