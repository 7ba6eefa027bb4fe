"""The demo marketplace's data: its accounts, shops, products, orders, everyday sales and
ratings. The demo logins are printed by `manage.py seed_demo` and listed in README.md
("Demo logins"); the passwords are public, so never seed a production database."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from orders.models import ProductKind

DEMO_PASSWORD = "kamen-demo-2026"  # noqa: S105 - public on purpose: demo accounts only
DEMO_EMAIL_DOMAIN = "demo.kamen.local"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    first_name: str = ""
    is_staff: bool = False
    is_superuser: bool = False
    # An account older than the fast track's minimum age (7 days) when first seeded.
    joined_days_ago: int = 0
    # Staff roles (kamen_complaints/roles.py): the groups a production account of this kind
    # would be in, so the demo shows what that role can open.
    groups: tuple[str, ...] = ()

    @property
    def password(self) -> str:
        return DEMO_PASSWORD


ADMIN = DemoLogin("admin", "staff superuser: /admin/", "管理员", is_staff=True, is_superuser=True)
ARBITER = DemoLogin(
    "arbiter",
    "staff arbitrator (no superuser, role arbitrator): decides complaints, manages the "
    "blacklist, opens the second-approval queue",
    "仲裁员",
    is_staff=True,
    groups=("arbitrator",),
)
BUYERS = [
    DemoLogin("buyer1", "buyer", "小明"),
    DemoLogin("buyer2", "buyer", "小红"),
    DemoLogin("buyer3", "buyer", "小刚"),
    DemoLogin(
        "buyer4",
        "buyer, account of long standing: a fast-tracked small claim",
        "小丽",
        joined_days_ago=400,
    ),
    DemoLogin("buyer5", "buyer blacklisted after three complaints ruled malicious", "小强"),
]

# What the demo arbitrator may do: decide complaints and manage the blacklist in the admin.
ARBITER_PERMISSIONS = [
    ("disputes", "view_dispute"),
    ("disputes", "arbitrate"),
    ("disputes", "view_evidence"),
    ("disputes", "view_disputeevent"),
    ("disputes", "view_blacklistentry"),
    ("disputes", "manage_blacklist"),
    ("orders", "view_order"),
    ("orders", "view_merchant"),
    ("orders", "view_product"),
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
# (The orders complained about are bought by seed_complaints, one per complaint.)
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


# A team member of 星云 (added by its owner through merchant_member_add): answers complaints,
# manages stock, sees orders; never tops up, withdraws or manages the team.
TEAM_SHOP = "星云游戏点卡专营店"
TEAM_MEMBER = DemoLogin("xingyun_kefu", f"team member of {TEAM_SHOP} (no money, no team)", "小周")


def demo_logins() -> list[DemoLogin]:
    """Every demo account, in the order the command prints them (and README.md lists them)."""
    return [ADMIN, ARBITER, *(shop.owner for shop in SHOPS), TEAM_MEMBER, *BUYERS]


def demo_card_key(prefix: str, product_name: str, index: int) -> str:
    """A card key that looks real and is the same on every install (the seed is repeatable)."""
    digest = hashlib.sha256(f"kamen-demo:{product_name}:{index}".encode()).digest()
    body = base64.b32encode(digest).decode("ascii")[:16]
    return "-".join([prefix, body[0:4], body[4:8], body[8:12], body[12:16]])


# Everyday top-ups of 速达 that went through without a complaint, so its shop record has
# 联系商家: short order chats (orders.services.chat) on two of the orders above, by (buyer,
# product): one the shop answered, one still waiting in the shop's inbox.
ORDER_CHATS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "buyer1",
        "王者荣耀点券 60元",
        [
            ("buyer", "您好，充值时提示“卡密已被使用”，麻烦帮忙查一下。"),
            ("shop", "您好，已查到这张卡密在发货前是正常的，请截个图发给我们，我们向上游核实。"),
        ],
    ),
    ("buyer2", "网易一卡通 100元", [("buyer", "请问这张一卡通可以在哪个游戏里用？")]),
]


# enough orders to show figures (disputes.selectors.SHOP_RECORD_MIN_ORDERS).
SALES_SHOP_PRODUCT = "中国移动话费 50元"
SALES_TARGET_PREFIX = "1355500"
SALES_COUNT = 36


# How the demo buyers rated complaints resolved in their favour (the shop record and the
# metrics average them).
RATINGS = {
    "refunded": (5, "商家当天就退款了，处理很快。"),
    "partially_refunded": (4, "协商退了一部分，可以接受。"),
    "replaced": (4, "换了新卡密，能用了。"),
}
