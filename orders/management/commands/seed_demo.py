"""`manage.py seed_demo [--if-empty]`: a small demo marketplace, built through the services.

Staff, verified shops, products of every kind with card-key stock, buyers, and orders paid
and delivered — every row made by the same services the pages and the API call, so the demo
only holds states the platform can reach. Idempotent: each step looks for what it would make
and skips what is there, so a second run changes nothing (and says so). `--if-empty` seeds only
a database without any user (what `make run` uses).

Shops open the way real ones do: they apply, their owner tops up the deposit (保证金, through
escrow), staff verify them. Later issues extend the demo: `seed_complaints()` (a complaint in
every state) goes after `seed_orders()` — see `Command.handle`.

The demo logins below are printed by the command and listed in README.md ("Demo logins").
Never run this against a production database: the passwords are public.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from orders import services
from orders.models import Merchant, MerchantStatus, Order, OrderStatus, Product, ProductKind

DEMO_PASSWORD = "kamen-demo-2026"  # noqa: S105 - public on purpose: demo accounts only
DEMO_EMAIL_DOMAIN = "demo.kamen.local"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    first_name: str = ""
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def password(self) -> str:
        return DEMO_PASSWORD


ADMIN = DemoLogin("admin", "staff superuser: /admin/", "管理员", is_staff=True, is_superuser=True)
# Staff without superuser: the arbitrate permission is granted by the complaints issue.
ARBITER = DemoLogin("arbiter", "staff arbitrator (no superuser)", "仲裁员", is_staff=True)
BUYERS = [
    DemoLogin("buyer1", "buyer", "小明"),
    DemoLogin("buyer2", "buyer", "小红"),
    DemoLogin("buyer3", "buyer", "小刚"),
]


@dataclass(frozen=True)
class DemoShop:
    owner: DemoLogin
    shop_name: str
    legal_name: str
    id_number: str  # valid GB 11643-1999 check digit (orders.services.validate_id_number)
    phone: str
    address: str
    business_license: str
    deposit: str  # topped up before verification; at least the minimum (1,000.00)


SHOPS = [
    DemoShop(
        owner=DemoLogin("xingyun", "merchant owner: 星云游戏点卡专营店", "张伟"),
        shop_name="星云游戏点卡专营店",
        legal_name="张伟",
        id_number="110105198803051215",
        phone="13811112222",
        address="北京市朝阳区望京街道阜通东大街6号",
        business_license="91110105MA01XY2K3A",
        deposit="5000.00",
    ),
    DemoShop(
        owner=DemoLogin("suda", "merchant owner: 速达话费充值中心", "李娜"),
        shop_name="速达话费充值中心",
        legal_name="李娜",
        id_number="31011519920817352X",
        phone="13922223333",
        address="上海市浦东新区张江路88号",
        business_license="",
        deposit="2000.00",
    ),
    DemoShop(
        owner=DemoLogin("lixiang", "merchant owner: 礼享卡券商城", "王强"),
        shop_name="礼享卡券商城",
        legal_name="王强",
        id_number="440305198511220934",
        phone="13733334444",
        address="广东省深圳市南山区科技园南区深南大道9988号",
        business_license="91440300MA5G8LX21P",
        deposit="3000.00",
    ),
]


@dataclass(frozen=True)
class DemoProduct:
    shop: str
    name: str
    kind: str
    face_value: str
    price: str
    source: str
    stock: int  # card keys imported (0 for top-ups: the upstream delivers them)
    key_prefix: str = ""


PRODUCTS = [
    DemoProduct(
        "星云游戏点卡专营店",
        "王者荣耀点券 60元",
        ProductKind.GAME_CARD,
        "60.00",
        "57.00",
        "上游：深圳市腾游网络科技有限公司（官方授权代理），采购合同 TY-2026-0158",
        20,
        "WZRY",
    ),
    DemoProduct(
        "星云游戏点卡专营店",
        "网易一卡通 100元",
        ProductKind.GAME_CARD,
        "100.00",
        "96.50",
        "上游：杭州网易雷火官方渠道，进货单 NE-2026-0311",
        15,
        "NETEASE",
    ),
    DemoProduct(
        "星云游戏点卡专营店",
        "Steam 钱包充值码 100元",
        ProductKind.GIFT_CARD,
        "100.00",
        "98.00",
        "上游：香港 Kinguin 分销商，发票 KG-HK-88412",
        3,
        "STEAM",
    ),
    DemoProduct(
        "速达话费充值中心",
        "中国移动话费 50元",
        ProductKind.PHONE_TOPUP,
        "50.00",
        "49.50",
        "上游：中国移动官方直充接口（省公司代理协议 CMCC-SH-2026-07）",
        0,
    ),
    DemoProduct(
        "速达话费充值中心",
        "中国联通话费 100元",
        ProductKind.PHONE_TOPUP,
        "100.00",
        "98.80",
        "上游：中国联通话费直充平台，代理编号 CU-2026-2210",
        0,
    ),
    DemoProduct(
        "礼享卡券商城",
        "京东E卡 100元",
        ProductKind.GIFT_CARD,
        "100.00",
        "97.00",
        "上游：北京京东世纪贸易企业客户部，采购订单 JD-B2B-77120",
        15,
        "JDE",
    ),
    DemoProduct(
        "礼享卡券商城",
        "爱奇艺黄金VIP月卡",
        ProductKind.OTHER,
        "25.00",
        "19.90",
        "上游：北京爱奇艺科技有限公司会员合作渠道，合同 IQY-2026-031",
        10,
        "IQIYI",
    ),
]


@dataclass(frozen=True)
class DemoOrder:
    buyer: str
    product: str
    quantity: int = 1
    topup_target: str = ""
    pay: bool = True


# Delivered card keys, a multi-key order, a top-up delivered by the (sandbox) upstream, one
# the upstream fails (a number ending in 0000: delivery_failed and refunded), one left unpaid.
ORDERS = [
    DemoOrder("buyer1", "王者荣耀点券 60元"),
    DemoOrder("buyer1", "京东E卡 100元", quantity=2),
    DemoOrder("buyer1", "中国移动话费 50元", topup_target="13912345678"),
    DemoOrder("buyer2", "网易一卡通 100元"),
    DemoOrder("buyer2", "爱奇艺黄金VIP月卡"),
    DemoOrder("buyer2", "中国联通话费 100元", topup_target="13012340000"),
    DemoOrder("buyer3", "Steam 钱包充值码 100元"),
    DemoOrder("buyer3", "王者荣耀点券 60元", quantity=3),
    DemoOrder("buyer3", "爱奇艺黄金VIP月卡", pay=False),
]


def demo_logins() -> list[DemoLogin]:
    """Every demo account, in the order the command prints them (and README.md lists them)."""
    return [ADMIN, ARBITER, *(shop.owner for shop in SHOPS), *BUYERS]


def demo_card_key(prefix: str, product_name: str, index: int) -> str:
    """A card key that looks real and is the same on every install (the seed is repeatable)."""
    digest = hashlib.sha256(f"kamen-demo:{product_name}:{index}".encode()).digest()
    body = base64.b32encode(digest).decode("ascii")[:16]
    return "-".join([prefix, body[0:4], body[4:8], body[8:12], body[12:16]])


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
    )
    user.set_password(login.password)
    user.save()
    return user, True


def seed_staff() -> int:
    return sum(_ensure_user(login)[1] for login in (ADMIN, ARBITER))


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
    # escrow sits above orders (dependencies point one way); only this command reaches up.
    from escrow.selectors import deposit_summary
    from escrow.services import deposit_topup

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


def seed_orders() -> int:
    """Orders bought and paid through the services: card keys are delivered in the payment's
    transaction; top-ups are delivered here at once (the worker would do it in production)."""
    buyers = {b.username: User.objects.get(username=b.username) for b in BUYERS}
    if Order.objects.filter(buyer__in=buyers.values()).exists():
        return 0
    products = {
        p.name: p
        for p in Product.objects.filter(
            merchant__shop_name__in=[shop.shop_name for shop in SHOPS],
            name__in=[spec.name for spec in PRODUCTS],
        )
    }
    created = 0
    for spec in ORDERS:
        order = services.order_create(
            buyer=buyers[spec.buyer],
            product=products[spec.product],
            quantity=spec.quantity,
            topup_target=spec.topup_target,
        )
        created += 1
        if not spec.pay:
            continue
        order = services.order_pay(order=order, buyer=buyers[spec.buyer])
        if order.status == OrderStatus.DELIVERY_PENDING:
            services.order_topup_deliver(order_id=order.pk)
    return created


class Command(BaseCommand):
    help = "Seed a demo marketplace (idempotent); --if-empty seeds only a database without users."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="seed only when the database has no users at all",
        )

    def handle(self, *args: Any, if_empty: bool = False, **options: Any) -> None:
        if if_empty and User.objects.exists():
            self.stdout.write("seed_demo --if-empty: the database already has users; not seeding.")
            self._print_logins()
            return
        with transaction.atomic():
            created = seed_staff()
            created += seed_buyers()
            created += seed_merchants()
            created += seed_deposits()
            created += seed_verifications()
            created += seed_products()
            created += seed_orders()
            # seed_complaints() goes here (complaints issue): one complaint in every state.
        if created:
            active = Merchant.objects.filter(status=MerchantStatus.ACTIVE).count()
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo marketplace seeded: {created} objects created "
                    f"({active} active shops, {Product.objects.count()} products, "
                    f"{Order.objects.count()} orders)."
                )
            )
        else:
            self.stdout.write("Demo data already present; nothing changed.")
        self._print_logins()

    def _print_logins(self) -> None:
        # Only when the demo accounts are there (not a real account that happens to be "admin").
        if not User.objects.filter(
            username=ADMIN.username, email__endswith=f"@{DEMO_EMAIL_DOMAIN}"
        ).exists():
            return
        self.stdout.write("Demo logins (demo data only; never use these passwords in production):")
        width = max(len(login.username) for login in demo_logins())
        for login in demo_logins():
            self.stdout.write(f"  {login.username:<{width}}  {login.password}  {login.role}")
