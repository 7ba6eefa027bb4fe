"""The seeding steps of `manage.py seed_demo`: each makes what is missing through the same
services the pages, the API and the clock call, and returns how many objects it created."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, Permission, User
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from disputes import services as disputes
from disputes.demo.catalogue import (
    ADMIN,
    ARBITER,
    ARBITER_PERMISSIONS,
    BUYERS,
    DEMO_EMAIL_DOMAIN,
    ORDER_CHATS,
    ORDERS,
    PRODUCTS,
    RATINGS,
    SALES_COUNT,
    SALES_SHOP_PRODUCT,
    SALES_TARGET_PREFIX,
    SHOPS,
    TEAM_MEMBER,
    TEAM_SHOP,
    DemoLogin,
    demo_card_key,
)
from disputes.demo.collective import seed_collective_case
from disputes.demo.complaints import COMPLAINTS, Step
from disputes.demo.pictures import Scene, evidence_file
from disputes.models import Dispute, Status
from disputes.services import clock
from disputes.services.evidence import EvidenceUpload
from escrow.selectors import deposit_summary
from escrow.services import deposit_topup
from orders import services
from orders.models import (
    Merchant,
    MerchantMember,
    MerchantStatus,
    Order,
    OrderMessage,
    OrderStatus,
    Product,
)
from orders.services import chat

# --- Steps: each returns how many objects it created --------------------------------------


def _ensure_user(login: DemoLogin) -> tuple[User, bool]:
    user = User.objects.filter(username=login.username).first()
    if user is not None:
        return user, False
    user = User(
        username=login.username,
        email=f"{login.username}@{DEMO_EMAIL_DOMAIN}",
        first_name=login.first_name,
        is_staff=login.is_staff,
        is_superuser=login.is_superuser,
        date_joined=timezone.now() - timedelta(days=login.joined_days_ago),
    )
    user.set_password(login.password)
    user.save()
    return user, True


def seed_staff() -> int:
    """The superuser, and the arbitrator: staff in the `arbitrator` role (the second-approval
    queue its case screen links to included), with the permission to decide complaints."""
    created = sum(_ensure_user(login)[1] for login in (ADMIN, ARBITER))
    for login in (ADMIN, ARBITER):
        user = User.objects.get(username=login.username)
        joined = set(user.groups.values_list("name", flat=True))
        for name in login.groups:
            if name in joined:
                continue
            group = Group.objects.filter(name=name).first()
            if group is None:
                raise CommandError(f"role group {name} missing: run migrate first")
            user.groups.add(group)
            created += 1
    arbiter = User.objects.get(username=ARBITER.username)
    granted = set(arbiter.user_permissions.values_list("content_type__app_label", "codename"))
    for app_label, codename in ARBITER_PERMISSIONS:
        if (app_label, codename) in granted:
            continue
        permission = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).first()
        if permission is None:
            raise CommandError(f"permission {app_label}.{codename} missing: run migrate first")
        arbiter.user_permissions.add(permission)
        created += 1
    return created


def seed_buyers() -> int:
    return sum(_ensure_user(login)[1] for login in BUYERS)


def seed_merchants() -> int:
    """Each shop applies through `merchant_apply` (pending verification until staff verify)."""
    created = 0
    for shop in SHOPS:
        if Merchant.objects.filter(shop_name=shop.shop_name).exists():
            continue
        owner, new_owner = _ensure_user(shop.owner)
        services.merchant_apply(
            user=owner,
            shop_name=shop.shop_name,
            legal_name=shop.legal_name,
            id_number=shop.id_number,
            phone=shop.phone,
            address=shop.address,
            business_license=shop.business_license,
        )
        created += 1 + new_owner
    return created


def seed_deposits() -> int:
    """Each shop's owner tops up its deposit through the sandbox payment provider before the
    shop opens (a shop under its minimum deposit is not activated)."""
    created = 0
    for shop in SHOPS:
        merchant = Merchant.objects.select_related("owner").get(shop_name=shop.shop_name)
        if deposit_summary(merchant).balance > 0:
            continue
        deposit_topup(merchant=merchant, amount=Decimal(shop.deposit), user=merchant.owner)
        created += 1
    return created


def seed_verifications() -> int:
    """The demo admin verifies each shop still awaiting verification (实名认证)."""
    admin = User.objects.get(username=ADMIN.username)
    created = 0
    for merchant in Merchant.objects.filter(
        shop_name__in=[shop.shop_name for shop in SHOPS],
        status=MerchantStatus.PENDING_VERIFICATION,
    ):
        merchant = services.merchant_verify(merchant=merchant, staff=admin)
        if merchant.status != MerchantStatus.ACTIVE:
            raise CommandError(
                f"{merchant.shop_name} did not open after verification: "
                f"{merchant.status} ({merchant.suspension_reason})"
            )
        created += 1
    return created


def seed_products() -> int:
    """Products of every kind; card-key stock imported through `card_keys_import`."""
    created = 0
    for spec in PRODUCTS:
        merchant = Merchant.objects.get(shop_name=spec.shop)
        product = Product.objects.filter(merchant=merchant, name=spec.name).first()
        if product is None:
            product = services.product_create(
                merchant=merchant,
                name=spec.name,
                kind=spec.kind,
                face_value=Decimal(spec.face_value),
                price=Decimal(spec.price),
                source=spec.source,
            )
            created += 1
        if spec.stock and not product.card_keys.exists():
            lines = [demo_card_key(spec.key_prefix, spec.name, i) for i in range(spec.stock)]
            report = services.card_keys_import(product=product, data="\n".join(lines))
            created += report.imported
    return created


def _demo_products() -> dict[str, Product]:
    return {
        p.name: p
        for p in Product.objects.filter(
            merchant__shop_name__in=[shop.shop_name for shop in SHOPS],
            name__in=[spec.name for spec in PRODUCTS],
        )
    }


def _buy(buyer: User, product: Product, *, quantity: int = 1, topup_target: str = "") -> Order:
    """Create and pay an order; a top-up is delivered here at once (the worker would do it
    in production)."""
    order = services.order_create(
        buyer=buyer, product=product, quantity=quantity, topup_target=topup_target
    )
    order = services.order_pay(order=order, buyer=buyer)
    if order.status == OrderStatus.DELIVERY_PENDING:
        services.order_topup_deliver(order_id=order.pk)
        order.refresh_from_db()
    return order


def seed_orders() -> int:
    """Orders bought and paid through the services: card keys are delivered in the payment's
    transaction; top-ups are delivered here at once (the worker would do it in production)."""
    buyers = {b.username: User.objects.get(username=b.username) for b in BUYERS}
    if Order.objects.filter(buyer__in=buyers.values()).exists():
        return 0
    products = _demo_products()
    created = 0
    for spec in ORDERS:
        buyer = buyers[spec.buyer]
        if not spec.pay:
            services.order_create(
                buyer=buyer,
                product=products[spec.product],
                quantity=spec.quantity,
                topup_target=spec.topup_target,
            )
        else:
            _buy(
                buyer,
                products[spec.product],
                quantity=spec.quantity,
                topup_target=spec.topup_target,
            )
        created += 1
    return created


def seed_order_chats() -> int:
    """The order chats of ORDER_CHATS, written by the buyer and the shop's owner through the
    chat service (what the pages and the API call)."""
    created = 0
    for buyer_name, product_name, lines in ORDER_CHATS:
        order = (
            Order.objects.filter(buyer__username=buyer_name, product__name=product_name)
            .select_related("merchant__owner", "buyer")
            .order_by("id")
            .first()
        )
        if order is None or OrderMessage.objects.filter(order=order).exists():
            continue
        for side, text in lines:
            author = order.buyer if side == "buyer" else order.merchant.owner
            chat.order_message_post(order=order, user=author, body=text)
            created += 1
    return created


def seed_team() -> int:
    """星云's owner adds a team account, through the team page's service."""
    user, created = _ensure_user(TEAM_MEMBER)
    merchant = Merchant.objects.select_related("owner").get(shop_name=TEAM_SHOP)
    if MerchantMember.objects.filter(merchant=merchant, user=user).exists():
        return int(created)
    services.merchant_member_add(merchant=merchant, actor=merchant.owner, username=user.username)
    return int(created) + 1


def seed_sales() -> int:
    """Top-ups bought, paid and delivered through the services, spread over the demo buyers."""
    if Order.objects.filter(topup_target__startswith=SALES_TARGET_PREFIX).exists():
        return 0
    buyers = [User.objects.get(username=b.username) for b in BUYERS if b.username != "buyer5"]
    product = _demo_products()[SALES_SHOP_PRODUCT]
    for i in range(SALES_COUNT):
        _buy(buyers[i % len(buyers)], product, topup_target=f"{SALES_TARGET_PREFIX}{i + 1:04d}")
    return SALES_COUNT


def seed_ratings() -> int:
    """Each resolved demo complaint with a favourable outcome rated once by its buyer, through
    the same service as the complaint page."""
    created = 0
    buyers = [b.username for b in BUYERS]
    resolved = Dispute.objects.filter(
        buyer__username__in=buyers, status=Status.RESOLVED, outcome__in=list(RATINGS)
    ).exclude(rating__isnull=False)
    for dispute in resolved.select_related("buyer").order_by("pk"):
        score, comment = RATINGS[dispute.outcome]
        disputes.dispute_rate(dispute=dispute, buyer=dispute.buyer, score=score, comment=comment)
        created += 1
    return created


@dataclass
class Cast:
    """Who acts in the complaints: the arbitrator and each shop's owner."""

    arbiter: User
    owners: dict[int, User] = field(default_factory=dict)  # merchant id → owner

    def actor(self, by: str, dispute: Dispute) -> User:
        if by == "buyer":
            return dispute.buyer
        if by == "merchant":
            return self.owners[dispute.merchant_id]
        if by == "staff":
            return self.arbiter
        raise CommandError(f"unknown actor {by!r}")


def _enforce_clock_at_deadline(which: str, dispute: Dispute) -> None:
    """What the clock's sweep does once `which` deadline has passed, for this complaint only:
    `clock.enforce` with the sweep's `now` parameter set to the deadline (the demo cannot wait
    24 hours, and the sweep itself would also act on every other complaint due by then)."""
    with transaction.atomic():
        row = (
            Dispute.objects.select_for_update(of=("self",))
            .select_related("order", "order__product")
            .get(pk=dispute.pk)
        )
        due = row.merchant_response_due if which == clock.MERCHANT else row.review_due
        if due is None or clock.enforce(which, [row], now=due) != 1:
            raise CommandError(f"complaint {row.number}: the {which} clock did not act")


def _run_step(step: Step, dispute: Dispute, scene: Scene, cast: Cast) -> None:
    dispute = Dispute.objects.select_related("order", "order__product").get(pk=dispute.pk)
    action = step.action
    if action == "merchant_silent":
        _enforce_clock_at_deadline(clock.MERCHANT, dispute)
        return
    if action == "review_expires":
        _enforce_clock_at_deadline(clock.REVIEW, dispute)
        return
    if action == "automatic_check":
        disputes.auto_checks_run(dispute_id=dispute.pk)
        return
    user = cast.actor(step.by, dispute)
    amount = Decimal(step.amount) if step.amount else None
    if action == "message":
        disputes.dispute_message(dispute=dispute, user=user, body=step.text)
    elif action == "evidence":
        disputes.dispute_add_evidence(
            dispute=dispute,
            user=user,
            kind=step.kind,
            file=evidence_file(step.picture, scene),
            note=step.text,
        )
    elif action in ("offer", "accept", "contest"):
        disputes.dispute_respond(
            dispute=dispute,
            merchant_user=user,
            action=action,
            remedy=step.remedy or None,
            amount=amount,
            message=step.text,
        )
    elif action == "accept_offer":
        disputes.dispute_accept_offer(dispute=dispute, buyer=user)
    elif action == "withdraw":
        disputes.dispute_withdraw(dispute=dispute, buyer=user, message=step.text)
    elif action == "rule":
        disputes.dispute_rule(
            dispute=dispute, staff=user, outcome=step.outcome, reason=step.text, amount=amount
        )
    elif action == "request_info":
        disputes.dispute_request_info(
            dispute=dispute, staff=user, party=step.party, question=step.text
        )
    elif action == "appeal":
        disputes.dispute_appeal(dispute=dispute, user=user, reason=step.text)
    elif action == "note":
        disputes.dispute_note(dispute=dispute, staff=user, body=step.text)
    else:
        raise CommandError(f"unknown step {action!r}")


def seed_complaints() -> int:
    """A complaint in every state (docs/rules.md "Complaint states and transitions"), each on
    an order bought for it and taken to its state by the parties, the arbitrator and the
    clock — the same services the pages, the API and the sweep call. Returns how many orders
    and complaints it made."""
    buyers = {b.username: User.objects.get(username=b.username) for b in BUYERS}
    products = _demo_products()
    cast = Cast(arbiter=User.objects.get(username=ARBITER.username))
    created = 0
    for spec in COMPLAINTS:
        buyer = buyers[spec.buyer]
        if Dispute.objects.filter(buyer=buyer, description=spec.description).exists():
            continue
        product = products[spec.product]
        order = _buy(buyer, product, topup_target=spec.topup_target)
        if spec.reveal and product.delivers_card_keys:
            services.order_reveal_keys(
                order=order,
                user=buyer,
                ip="203.0.113.24",
                user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile",
            )
        merchant = Merchant.objects.select_related("owner").get(pk=order.merchant_id)
        cast.owners[merchant.pk] = merchant.owner
        scene = Scene(order=order, buyer=buyer, merchant=merchant)
        dispute = disputes.dispute_file(
            buyer=buyer,
            order=order,
            reason=spec.reason,
            claimed_amount=order.amount,
            description=spec.description,
            evidence=[
                EvidenceUpload(kind=kind, file=evidence_file(picture, scene), note=text)
                for kind, picture, text in spec.evidence
            ],
        )
        for step in spec.steps:
            _run_step(step, dispute, scene, cast)
        dispute.refresh_from_db()
        if dispute.status != spec.expect:
            raise CommandError(
                f"complaint {dispute.number} ({spec.description[:20]}…) ended "
                f"{dispute.status}, not {spec.expect}"
            )
        created += 2
    return created


def complaints_summary() -> str:
    """How many demo complaints are in each state, for the command's last line."""
    counts = {status: Dispute.objects.filter(status=status).count() for status in Status.values}
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n)


def seed_all() -> int:
    """Every step, in order, in one transaction; how many objects were created (0: the demo
    was already there)."""
    with transaction.atomic():
        created = seed_staff()
        created += seed_buyers()
        created += seed_merchants()
        created += seed_deposits()
        created += seed_verifications()
        created += seed_products()
        created += seed_team()
        created += seed_orders()
        created += seed_order_chats()
        created += seed_sales()
        created += seed_complaints()
        created += seed_collective_case()
        created += seed_ratings()
    return created
