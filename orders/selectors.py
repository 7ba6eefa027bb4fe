"""Non-trivial reads of the orders app. List querysets keep a constant number of queries
whatever the page size (select_related / prefetch_related / annotations)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
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
    ProductKind,
)

# Until when a buyer may not complain about what they buy (the blacklist): the disputes app
# registers its rule at start-up (docs/architecture.md: orders never imports disputes).
ComplaintBar = Callable[[User], datetime | None]
_complaint_bars: list[ComplaintBar] = []


def register_complaint_bar(bar: ComplaintBar) -> None:
    if bar not in _complaint_bars:
        _complaint_bars.append(bar)


@dataclass(frozen=True)
class ComplaintLink:
    """The complaint an order links to (the shop's sales orders, page and API), as the
    disputes app registers it at start-up: `prefetch` adds to a query set of orders what
    `pick` then reads, without a query per order; `pick` gives the complaint or None."""

    prefetch: Callable[[QuerySet[Order]], QuerySet[Order]]
    pick: Callable[[Order], Any]


_complaint_links: list[ComplaintLink] = []


def register_complaint_link(link: ComplaintLink) -> None:
    _complaint_links[:] = [link]


@dataclass(frozen=True)
class RefundReason:
    """How an order was refunded, as the app that refunded it tells (the disputes app
    registers its reasons at start-up: a complaint's outcome, a collective case's refund made
    without a complaint). `by` names the way ("complaint", "collective_case"), `reference`
    the complaint's or the case's number, `detail` its outcome or finding (a code) and `text`
    all of it in words, in the reader's language."""

    by: str
    reference: str
    amount: Decimal
    at: datetime | None
    detail: str
    text: str


# Each registered function answers for many orders at once (a page of orders, two queries).
RefundReasons = Callable[[list[int]], dict[int, list[RefundReason]]]
_refund_reasons: list[RefundReasons] = []


def register_refund_reasons(reasons: RefundReasons) -> None:
    if reasons not in _refund_reasons:
        _refund_reasons.append(reasons)


def refund_reasons(orders: Iterable[Order]) -> dict[int, list[RefundReason]]:
    """How each of these orders was refunded, oldest first (only orders with money given or
    being given back are asked about). Orders never refunded are absent."""
    ids = [o.pk for o in orders if o.refunded_amount > 0 or o.refund_reserved > 0]
    if not ids:
        return {}
    found: dict[int, list[RefundReason]] = {}
    for reasons in _refund_reasons:
        for order_id, items in reasons(ids).items():
            found.setdefault(order_id, []).extend(items)
    for items in found.values():
        items.sort(key=lambda r: (r.at is None, r.at.timestamp() if r.at else 0.0))
    return found


def complaints_barred_until(user: User) -> datetime | None:
    """The end of what bars this account from complaining now, or None (what the order API
    tells the buyer before paying)."""
    ends = [end for bar in _complaint_bars if (end := bar(user)) is not None]
    return max(ends, default=None)


# --- Service accounts -------------------------------------------------------------------
# An account that acts for a shop without being a person: each merchant API key signs in as
# one (docs/api-keys.md). It is a team member with the agent's role, so a service that asks
# "does this account act for the shop?" answers as for the team and an owner-only one
# (top-ups, withdrawals, the team) refuses it. This group marks it, so it is left out where
# the shop's people are listed, told something or removed (orders.services.team).
SERVICE_ACCOUNTS_GROUP = "shop service accounts"


def people_only(members: QuerySet[MerchantMember]) -> QuerySet[MerchantMember]:
    """`members` without the shops' service accounts (the same query, one subquery more)."""
    return members.exclude(user__groups__name=SERVICE_ACCOUNTS_GROUP)


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


# --- The merchant dashboard: stock and sales orders (README "Merchant dashboard") ---------

# A product with fewer card keys than this in stock is flagged on the products page and the
# dashboard's overview: a busy shop sells that many in a few hours.
LOW_STOCK_THRESHOLD = 10

_FIRST_DAY = date.min + timedelta(days=1)
_LAST_DAY = date.max - timedelta(days=1)


def merchant_low_stock(merchant: Merchant) -> QuerySet[Product]:
    """The shop's active card-key products under LOW_STOCK_THRESHOLD keys, emptiest first."""
    return (
        Product.objects.filter(merchant=merchant, active=True)
        .exclude(kind=ProductKind.PHONE_TOPUP)
        .select_related("merchant")
        .annotate(in_stock=Count("card_keys", filter=Q(card_keys__status=CardKeyStatus.AVAILABLE)))
        .filter(in_stock__lt=LOW_STOCK_THRESHOLD)
        .order_by("in_stock", "id")
    )


def day_bounds(
    date_from: date | None, date_to: date | None
) -> tuple[datetime | None, datetime | None]:
    """Calendar days (Asia/Shanghai, as pages show times) → [start, end) instants, so a date
    filter stays a range on `created_at` that the (merchant, created_at) index serves."""
    zone = ZoneInfo(settings.TIME_ZONE)
    # A bound at the ends of the calendar (0001-01-01, 9999-12-31) bounds nothing, and its
    # instant would overflow once moved to UTC: left out rather than a 500.
    start = end = None
    if date_from is not None and date_from > _FIRST_DAY:
        start = datetime.combine(date_from, time.min, tzinfo=zone)
    if date_to is not None and date_to < _LAST_DAY:
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


# A part of an order number shorter than this matches only the whole number: a trigram
# index needs three characters, and two would match half the shop.
ORDER_SEARCH_MIN_PART = 3


def _order_search(term: str) -> Q:
    """Any part of the order number, the payment reference, or the buyer (username, exactly;
    looked up first, so the order query itself stays a union of index scans)."""
    number = term.upper()
    found = Q(payment_reference=term)
    found |= (
        Q(number__contains=number) if len(number) >= ORDER_SEARCH_MIN_PART else Q(number=number)
    )
    buyers = list(User.objects.filter(username=term).values_list("pk", flat=True)[:1])
    if buyers:
        found |= Q(buyer_id__in=buyers)
    return found


def merchant_orders(
    merchant: Merchant,
    *,
    status: str = "",
    number: str = "",
    payment_reference: str = "",
    search: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Order]:
    """A shop's sales orders, newest first, for its owner and team (page and API alike).

    `search` matches any part of an order number (three characters or more), a payment
    reference or a buyer's username exactly: each through its own index (the number's is a
    trigram index on PostgreSQL, orders/migrations/0007), so a search stays cheap in a shop of
    200,000 orders. Product, buyer, the keys (shown masked) and the order's complaints come in
    a constant number of queries whatever the page size."""
    qs = Order.objects.filter(merchant_id=merchant.pk)
    if status:
        qs = qs.filter(status=status)
    if number:
        qs = qs.filter(number=number.strip().upper())
    if payment_reference:
        qs = qs.filter(payment_reference=payment_reference.strip())
    if search:
        qs = qs.filter(_order_search(search.strip()))
    start, end = day_bounds(date_from, date_to)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lt=end)
    qs = (
        qs.select_related("product", "merchant", "buyer")
        .prefetch_related(Prefetch("card_keys", queryset=CardKey.objects.order_by("id")))
        .order_by("-created_at", "-id")
    )
    # Each order's complaints, as the disputes app fetches them (ComplaintLink).
    for link in _complaint_links:
        qs = link.prefetch(qs)
    return qs


def order_complaint(order: Order) -> Any:
    """The complaint to link from an order of merchant_orders (no query), chosen by the
    disputes app (disputes.selectors.order_complaint), or None. Typed Any: orders does not
    import the complaints app, not even for annotations (dependencies point one way)."""
    for link in _complaint_links:
        return link.pick(order)
    return None


# --- The shop's team (orders.services merchant_member_add / _remove) -----------------------


def merchant_team(merchant: Merchant) -> QuerySet[MerchantMember]:
    """The shop's team, the owner first, then by when each joined; one query."""
    from django.db.models import Case, IntegerField, Value, When

    return (
        people_only(MerchantMember.objects.filter(merchant=merchant))
        .select_related("user")
        .annotate(
            owner_first=Case(
                When(role="owner", then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("owner_first", "created_at", "id")
    )


# --- A complaint's page in the merchant dashboard (merchant/views/complaints.py) ---------


def product_stock(product_id: int) -> int:
    """Card keys of the product still available to sell or to replace a failed one."""
    return CardKey.objects.filter(product_id=product_id, status=CardKeyStatus.AVAILABLE).count()


def reveal_times(order_id: int) -> list[datetime]:
    """When the buyer revealed the order's card keys — the times only: the IP address and the
    browser recorded with each reveal stay between the buyer and the platform."""
    from orders.models import CardKeyReveal

    reveals = CardKeyReveal.objects.filter(order_id=order_id).order_by("at", "id")
    return list(reveals.values_list("at", flat=True))
