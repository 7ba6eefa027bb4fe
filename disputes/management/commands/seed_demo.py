"""`manage.py seed_demo [--if-empty]`: a small demo marketplace, built through the services.

Staff, verified shops, products of every kind with card-key stock, buyers, orders paid and
delivered, and complaints in every state — every row made by the same services the pages,
the API and the clock call, so the demo only holds states the platform can reach.
Idempotent: each step looks for what it would make and skips what is there, so a second run
changes nothing (and says so). `--if-empty` seeds only a database without any user (what
`make run` uses).

Shops open the way real ones do: they apply, their owner tops up the deposit (保证金, through
escrow), staff verify them. Complaints are filed by the demo buyers with evidence files made
here (screenshots drawn with Pillow, one hand-written PDF) and taken to their state by the
parties, the arbitrator and the clock's own enforcement.

The command lives in `disputes` because it seeds all three apps, and dependencies point one
way (disputes → escrow → orders): orders never imports escrow or disputes.

The demo logins below are printed by the command and listed in README.md ("Demo logins").
Never run this against a production database: the passwords are public.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group, Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from disputes import services as disputes
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
    OrderStatus,
    Product,
    ProductKind,
)

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


# --- Complaints: what is filed, and the steps that take each to its state ----------------


@dataclass(frozen=True)
class Step:
    """One thing a party, the arbitrator or the clock does on a complaint (see `_run_step`)."""

    action: str
    by: str = ""  # buyer | merchant | staff
    text: str = ""
    amount: str = ""
    remedy: str = ""
    outcome: str = ""
    kind: str = ""  # evidence kind
    picture: str = ""  # key of PICTURES
    party: str = ""


def say(by: str, text: str) -> Step:
    return Step("message", by=by, text=text)


def upload(by: str, kind: str, picture: str, note: str) -> Step:
    return Step("evidence", by=by, kind=kind, picture=picture, text=note)


def offer(amount: str, text: str) -> Step:
    return Step("offer", by="merchant", amount=amount, text=text)


def accept(remedy: str, text: str) -> Step:
    return Step("accept", by="merchant", remedy=remedy, text=text)


def contest(text: str) -> Step:
    return Step("contest", by="merchant", text=text)


def accept_offer() -> Step:
    return Step("accept_offer", by="buyer")


def withdraw(text: str) -> Step:
    return Step("withdraw", by="buyer", text=text)


def rule(outcome: str, reason: str, amount: str = "") -> Step:
    return Step("rule", by="staff", outcome=outcome, text=reason, amount=amount)


def request_info(party: str, question: str) -> Step:
    return Step("request_info", by="staff", party=party, text=question)


def appeal(by: str, reason: str) -> Step:
    return Step("appeal", by=by, text=reason)


def note(text: str) -> Step:
    return Step("note", by="staff", text=text)


def merchant_silent() -> Step:
    """The merchant's deadline passes unanswered: the clock's default judgment."""
    return Step("merchant_silent")


def automatic_check() -> Step:
    """The checks' task on commit, run here (the seed is one transaction): the upstream
    answers and the platform's automatic rules decide (disputes/services/auto.py)."""
    return Step("automatic_check")


def review_expires() -> Step:
    """Staff miss the review deadline: the clock makes the platform pay first."""
    return Step("review_expires")


@dataclass(frozen=True)
class DemoComplaint:
    """A complaint on an order bought for it. The description is the seed's key: a complaint
    of this buyer with this description already there means this one is done."""

    buyer: str
    product: str
    reason: str
    description: str
    topup_target: str = ""
    reveal: bool = True  # the buyer looked at the card keys before complaining (recorded)
    evidence: tuple[tuple[str, str, str], ...] = ()  # (kind, picture, note) filed with it
    steps: tuple[Step, ...] = ()
    expect: str = Status.AWAITING_MERCHANT  # the status it must end in (checked)


# Evidence kinds, spelled as the API spells them.
SCREENSHOT = "order_screenshot"
PAYMENT = "payment_proof"
CHAT = "chat_record"
REDEMPTION = "redemption_record"
UPSTREAM = "upstream_proof"

COMPLAINTS = [
    # awaiting_merchant: just filed, the shop's 24 h are running.
    DemoComplaint(
        "buyer1",
        "京东E卡 100元",
        "invalid_card_key",
        "京东E卡在京东App“我的-礼品卡-绑定新卡”页面输入卡密后提示“该卡已被绑定”。"
        "我付款后第一次查看卡密就马上去绑定了，卡密没有发给过任何人，请商家核实后退款或补发。",
        evidence=(
            (SCREENSHOT, "order", "订单详情页截图"),
            (REDEMPTION, "redeem_error", "京东App绑卡失败的提示"),
        ),
        steps=(say("buyer", "卡密我只在订单页看过一次，麻烦尽快处理，谢谢。"),),
        expect=Status.AWAITING_MERCHANT,
    ),
    # awaiting_buyer: the shop offered part of the claim; the buyer's 24 h are running.
    DemoComplaint(
        "buyer2",
        "网易一卡通 100元",
        "wrong_item",
        "商品标题是“网易一卡通 100元”，但充值到《梦幻西游》账号后只到账 500 点（50元），"
        "与商品描述的面值不符。要求退还差价或全额退款。",
        evidence=(
            (SCREENSHOT, "order", "订单页：购买的是100元面值"),
            (REDEMPTION, "redeem_half", "游戏内充值记录：只到账500点"),
        ),
        steps=(
            offer(
                "48.00",
                "经核实，上游该批次混入了50元面值的卡，非常抱歉。我们愿意退还差价48.00元，"
                "请您确认。",
            ),
        ),
        expect=Status.AWAITING_BUYER,
    ),
    # under_review: the shop contested with counter-evidence (the hand-written PDF).
    DemoComplaint(
        "buyer1",
        "王者荣耀点券 60元",
        "invalid_card_key",
        "王者荣耀点券卡密在官方兑换页面提示“卡密已被使用”。下单后 5 分钟内我就去兑换了，"
        "游戏内点券余额没有增加。",
        evidence=(
            (SCREENSHOT, "order", "订单截图"),
            (PAYMENT, "payment", "支付宝付款凭证"),
            (REDEMPTION, "redeem_error", "官方兑换页的报错截图"),
        ),
        steps=(
            upload("merchant", UPSTREAM, "upstream_pdf", "上游腾游出具的卡密核销记录（PDF）"),
            contest(
                "上游核销记录显示该卡密在发货后已兑换成功，兑换账号尾号与买家绑定的QQ一致，"
                "请买家查看游戏内点券流水。"
            ),
            say("buyer", "我查了游戏内点券流水，这个时间没有任何入账，我的QQ也没有异地登录。"),
        ),
        expect=Status.UNDER_REVIEW,
    ),
    # under_review, the review clock paused: staff asked the buyer for information.
    DemoComplaint(
        "buyer3",
        "中国移动话费 50元",
        "not_received",
        "给 139****4321 充值的50元话费一直没有到账，已经过去十几个小时了。"
        "在中国移动App查询充值记录，没有这一笔。",
        topup_target="13987654321",
        reveal=False,
        evidence=(
            (SCREENSHOT, "order", "订单页显示已发货"),
            (PAYMENT, "payment", "微信支付凭证"),
            (REDEMPTION, "topup_bill", "中国移动App充值记录截图"),
        ),
        steps=(
            upload("merchant", UPSTREAM, "carrier_success", "中国移动直充接口的充值成功回执"),
            contest("运营商直充接口已返回充值成功并给出流水号，高峰期到账可能延迟，请买家再核实。"),
            request_info(
                "buyer",
                "请上传中国移动App“充值交费记录”页面的最新截图，需包含下单后24小时内的全部记录。",
            ),
        ),
        expect=Status.UNDER_REVIEW,
    ),
    # resolved: the shop accepted and refunded the claim (recovered from its deposit).
    DemoComplaint(
        "buyer2",
        "爱奇艺黄金VIP月卡",
        "invalid_card_key",
        "爱奇艺黄金VIP月卡兑换码在爱奇艺App兑换时提示“兑换码无效”，联系爱奇艺客服确认"
        "该兑换码已被作废。",
        evidence=(
            (SCREENSHOT, "order", "订单截图"),
            (REDEMPTION, "redeem_error", "爱奇艺App兑换失败截图"),
        ),
        steps=(accept("refund", "抱歉，该批次兑换码被上游作废，已为您全额退款。"),),
        expect=Status.RESOLVED,
    ),
    # resolved partially_refunded: the buyer accepted the shop's offer.
    DemoComplaint(
        "buyer3",
        "京东E卡 100元",
        "invalid_card_key",
        "京东E卡绑定成功，但卡内余额只有50元，另外50元显示在绑定前已被消费。",
        evidence=(
            (SCREENSHOT, "order", "订单截图"),
            (REDEMPTION, "redeem_half", "京东E卡余额与消费明细"),
        ),
        steps=(
            offer("48.50", "核实后卡内确有50元在发货前被消费，我们退还一半货款48.50元。"),
            accept_offer(),
        ),
        expect=Status.RESOLVED,
    ),
    # resolved replaced: the shop sent a fresh card key from stock.
    DemoComplaint(
        "buyer2",
        "王者荣耀点券 60元",
        "invalid_card_key",
        "卡密格式看起来没问题，但兑换时提示“卡密不存在”，怀疑商家录入有误。",
        evidence=((REDEMPTION, "redeem_error", "兑换页提示卡密不存在"),),
        steps=(accept("replace", "录入时有一位字符错误，已补发一张新卡密，请在订单页查看。"),),
        expect=Status.RESOLVED,
    ),
    # resolved rejected: staff found the key was redeemed to the buyer's own account.
    DemoComplaint(
        "buyer3",
        "网易一卡通 100元",
        "invalid_card_key",
        "网易一卡通卡密提示“该卡已被使用”，但我从来没有用过这张卡。",
        evidence=(
            (SCREENSHOT, "order", "订单截图"),
            (REDEMPTION, "redeem_error", "网易充值中心的报错截图"),
        ),
        steps=(
            upload("merchant", REDEMPTION, "redeemed_to_buyer", "网易官方核销记录"),
            contest("网易核销记录显示该卡在买家查看卡密后12分钟内充值到了买家本人手机绑定的账号。"),
            note("核对平台记录：买家查看卡密的时间与网易核销时间相差12分钟，IP一致。"),
            rule(
                "rejected",
                "平台记录显示买家查看卡密后，该卡密随即充值到买家本人手机号绑定的网易账号，"
                "投诉不成立。",
            ),
        ),
        expect=Status.RESOLVED,
    ),
    # resolved by default judgment: the shop stayed silent past its deadline.
    DemoComplaint(
        "buyer1",
        "中国联通话费 100元",
        "not_received",
        "联通号码 130****5678 充值100元，订单显示已发货，但话费一直没有到账，联系客服也没人回复。",
        topup_target="13012345678",
        reveal=False,
        evidence=(
            (SCREENSHOT, "order", "订单页显示已发货"),
            (PAYMENT, "payment", "付款凭证"),
            (REDEMPTION, "topup_bill", "联通营业厅App的充值记录"),
        ),
        steps=(merchant_silent(),),
        expect=Status.RESOLVED,
    ),
    # 先行赔付: contested, staff missed the review clock, the platform paid first; who bears
    # it is still to decide (recovery_pending).
    DemoComplaint(
        "buyer3",
        "Steam 钱包充值码 100元",
        "invalid_card_key",
        "Steam 充值码在 Steam 客户端“兑换钱包充值码”时提示“您输入的代码无效”，账号是国区账号。",
        evidence=(
            (SCREENSHOT, "order", "订单截图"),
            (PAYMENT, "payment", "付款凭证"),
            (REDEMPTION, "redeem_error", "Steam客户端的报错截图"),
        ),
        steps=(
            upload("merchant", UPSTREAM, "upstream_pdf", "Kinguin 出具的充值码状态证明（PDF）"),
            contest(
                "该充值码为港区码，商品页已注明需港区账号使用，属于买家使用错误，不是卡密问题。"
            ),
            review_expires(),
        ),
        expect=Status.RESOLVED,
    ),
    # Fast track: a small claim with the three core proofs from an account of long standing —
    # the platform paid the buyer at filing; the shop's answer decides only who bears it.
    DemoComplaint(
        "buyer4",
        "爱奇艺黄金VIP月卡",
        "invalid_card_key",
        "爱奇艺黄金VIP月卡兑换码提示“该兑换码已被兑换”。订单截图、付款凭证和与店铺客服的"
        "聊天记录都已上传。",
        evidence=(
            (SCREENSHOT, "order", "订单截图"),
            (PAYMENT, "payment", "付款凭证"),
            (CHAT, "chat", "与店铺客服的聊天记录"),
        ),
        expect=Status.AWAITING_MERCHANT,
    ),
    # Appealed: staff ruled a partial refund, the buyer appealed; the appeal's review runs.
    DemoComplaint(
        "buyer1",
        "网易一卡通 100元",
        "invalid_card_key",
        "网易一卡通充值时提示“该卡已被冻结”，店铺客服说是上游风控冻结，但一直不给处理。",
        evidence=(
            (SCREENSHOT, "order", "订单截图"),
            (REDEMPTION, "redeem_error", "网易充值中心提示卡已冻结"),
        ),
        steps=(
            upload("merchant", UPSTREAM, "upstream_pdf", "网易渠道的冻结说明（PDF）"),
            contest("冻结原因是买家账号异地登录触发网易风控，与卡密本身无关。"),
            rule(
                "partially_refunded",
                "卡被冻结与上游风控和买家账号状态均有关，判定商家退还40.00元。",
                amount="40.00",
            ),
            appeal("buyer", "卡在商家发货前就已被冻结，网易客服的聊天记录可以证明，请求全额退款。"),
            upload("buyer", CHAT, "chat", "网易客服确认冻结时间早于发货时间"),
        ),
        expect=Status.UNDER_REVIEW,
    ),
    # Resolved by the platform's automatic check (平台自动核验): the top-up supplier's books
    # show the top-up was never credited (the sandbox's number ending in 1111), so it was
    # refunded within a sweep, recovered from the shop's deposit.
    DemoComplaint(
        "buyer2",
        "中国联通话费 100元",
        "not_received",
        "给 130****1111 充值的100元话费订单显示已发货，但联通营业厅App里没有这笔充值记录。",
        topup_target="13012341111",
        reveal=False,
        evidence=((SCREENSHOT, "order", "订单页显示已发货"),),
        steps=(automatic_check(),),
        expect=Status.RESOLVED,
    ),
    # Withdrawn by the buyer.
    DemoComplaint(
        "buyer2",
        "中国移动话费 50元",
        "late_delivery",
        "话费充值下单后超过2小时才到账，商品页承诺10分钟内到账。",
        topup_target="13987650001",
        reveal=False,
        evidence=((SCREENSHOT, "order", "订单页的下单时间"),),
        steps=(
            say("merchant", "非常抱歉，运营商高峰期接口拥堵，话费已经到账，请您查看。"),
            withdraw("话费已经到账了，和客服沟通后撤回投诉。"),
        ),
        expect=Status.WITHDRAWN,
    ),
    # Three complaints ruled malicious: the third ruling blacklists buyer5.
    DemoComplaint(
        "buyer5",
        "王者荣耀点券 60元",
        "invalid_card_key",
        "点券卡密无效，要求全额退款。",
        evidence=((REDEMPTION, "redeem_error", "兑换失败"),),
        steps=(
            upload("merchant", REDEMPTION, "redeemed_to_buyer", "腾游核销记录"),
            contest("核销记录显示该卡密在发货3分钟后充值到了买家本人的QQ账号。"),
            rule(
                "rejected_malicious",
                "买家查看卡密3分钟后即将其兑换到本人账号，随后以“卡密无效”为由投诉，属恶意投诉。",
            ),
        ),
        expect=Status.RESOLVED,
    ),
    DemoComplaint(
        "buyer5",
        "爱奇艺黄金VIP月卡",
        "invalid_card_key",
        "兑换码无效，要求退款。",
        evidence=((REDEMPTION, "redeem_error", "兑换失败"),),
        steps=(
            upload("merchant", REDEMPTION, "redeemed_to_buyer", "爱奇艺会员开通记录"),
            contest("爱奇艺后台显示该兑换码已为买家手机号开通了黄金VIP月卡。"),
            rule(
                "rejected_malicious",
                "兑换码已为买家本人手机号开通会员，买家隐瞒已使用的事实投诉，属恶意投诉。",
            ),
        ),
        expect=Status.RESOLVED,
    ),
    DemoComplaint(
        "buyer5",
        "京东E卡 100元",
        "invalid_card_key",
        "京东E卡余额为0，要求全额退款。",
        evidence=((REDEMPTION, "redeem_error", "余额为0"),),
        steps=(
            upload("merchant", REDEMPTION, "redeemed_to_buyer", "京东企业客户部的绑卡记录"),
            contest("京东记录显示该E卡在发货后绑定到买家本人账号并已全部消费。"),
            rule(
                "rejected_malicious",
                "E卡已绑定到买家本人账号并消费完毕，买家第三次以同样方式投诉，属恶意投诉。",
            ),
        ),
        expect=Status.RESOLVED,
    ),
]


# --- Evidence files -------------------------------------------------------------------------

# A CJK font draws the screenshots in Chinese where one is installed (Debian's fonts-wqy-*,
# fonts-noto-cjk; macOS); without one they are drawn in English with Pillow's own font.
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Text = tuple[str, str]  # (Chinese, English)


@functools.cache
def _fonts() -> tuple[Font, Font, bool]:
    """(title font, body font, whether they draw Chinese)."""
    for path in CJK_FONTS:
        if Path(path).exists():
            try:
                return ImageFont.truetype(path, 22), ImageFont.truetype(path, 17), True
            except OSError:
                continue
    return ImageFont.load_default(22), ImageFont.load_default(16), False


def screenshot_png(title: Text, lines: Sequence[Text], *, accent: tuple[int, int, int]) -> bytes:
    """A phone-app-like screenshot: a coloured title bar and lines of text, as PNG bytes."""
    title_font, body_font, chinese = _fonts()
    pick = 0 if chinese else 1
    width, top, step = 560, 64, 30
    height = top + 24 + step * len(lines) + 24
    image = Image.new("RGB", (width, height), (248, 248, 248))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, top - 8), fill=accent)
    draw.text((20, 14), title[pick], fill=(255, 255, 255), font=title_font)
    y = top + 16
    for line in lines:
        draw.text((24, y), line[pick], fill=(40, 40, 40), font=body_font)
        y += step
    draw.line((20, height - 14, width - 20, height - 14), fill=(210, 210, 210), width=1)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def minimal_pdf(lines: Sequence[str]) -> bytes:
    """A one-page PDF written by hand (Helvetica, ASCII text), with a correct xref table."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    shown = " ".join(f"({escape(line)}) '" for line in lines)
    stream = f"BT /F1 11 Tf 16 TL 56 800 Td {shown} ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@dataclass
class Scene:
    """What a piece of evidence shows: the order and who is involved."""

    order: Order
    buyer: User
    merchant: Merchant


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment or timezone.now()).strftime("%Y-%m-%d %H:%M:%S")


def _keys(order: Order) -> str:
    return ", ".join(k.masked for k in order.card_keys.order_by("id")) or "-"


def _phone(number: str) -> str:
    return f"{number[:3]}****{number[-4:]}" if len(number) >= 7 else number


def _order_picture(s: Scene) -> tuple[str, bytes]:
    o = s.order
    return "订单详情.png", screenshot_png(
        ("订单详情", "Order details"),
        [
            (f"订单号：{o.number}", f"Order: {o.number}"),
            (f"商品：{o.product.name} × {o.quantity}", f"Product #{o.product_id} x {o.quantity}"),
            (f"实付金额：¥{o.amount}", f"Paid: CNY {o.amount}"),
            (f"付款时间：{_when(o.paid_at)}", f"Paid at: {_when(o.paid_at)}"),
            (f"发货时间：{_when(o.delivered_at)}", f"Delivered at: {_when(o.delivered_at)}"),
            (
                f"卡密：{_keys(o)}"
                if not o.topup_target
                else f"充值号码：{_phone(o.topup_target)}",
                f"Card keys: {_keys(o)}"
                if not o.topup_target
                else f"Top-up number: {_phone(o.topup_target)}",
            ),
            (f"店铺：{s.merchant.shop_name}", f"Shop #{s.merchant.pk}"),
        ],
        accent=(230, 90, 40),
    )


def _payment_picture(s: Scene) -> tuple[str, bytes]:
    o = s.order
    return "付款凭证.png", screenshot_png(
        ("支付成功", "Payment successful"),
        [
            (f"¥{o.amount}", f"CNY {o.amount}"),
            ("收款方：卡盟平台（担保交易）", "Payee: Kamen marketplace (escrow)"),
            (f"交易单号：{o.payment_reference}", f"Transaction: {o.payment_reference}"),
            (f"商户订单号：{o.number}", f"Merchant order: {o.number}"),
            (f"支付时间：{_when(o.paid_at)}", f"Time: {_when(o.paid_at)}"),
        ],
        accent=(22, 119, 255),
    )


def _chat_picture(s: Scene) -> tuple[str, bytes]:
    return "聊天记录.png", screenshot_png(
        (f"{s.merchant.shop_name} 客服", f"Shop #{s.merchant.pk} customer service"),
        [
            ("我：你好，刚买的卡密兑换提示已被使用。", "Me: the key I just bought says redeemed."),
            ("客服：亲，请发一下兑换页面的截图哦。", "Shop: please send a screenshot."),
            ("我：截图已发，订单号在上面。", "Me: sent, the order number is above."),
            ("客服：已提交上游核实，请耐心等待。", "Shop: we asked our upstream, please wait."),
            ("我：已经等了一天了，还没有结果。", "Me: a day has passed, still no answer."),
        ],
        accent=(7, 193, 96),
    )


def _redeem_error_picture(s: Scene) -> tuple[str, bytes]:
    return "兑换失败.png", screenshot_png(
        ("兑换失败", "Redemption failed"),
        [
            (f"卡密：{_keys(s.order)}", f"Card key: {_keys(s.order)}"),
            ("提示：该卡密已被使用或无效", "Message: this key was already used or is invalid"),
            ("错误码：E1032", "Error code: E1032"),
            (f"时间：{_when(None)}", f"Time: {_when(None)}"),
        ],
        accent=(200, 40, 40),
    )


def _redeem_half_picture(s: Scene) -> tuple[str, bytes]:
    return "到账记录.png", screenshot_png(
        ("充值/余额记录", "Balance history"),
        [
            (f"卡密：{_keys(s.order)}", f"Card key: {_keys(s.order)}"),
            ("面值：100元", "Face value: CNY 100"),
            ("实际到账：50元", "Credited: CNY 50"),
            (f"时间：{_when(s.order.delivered_at)}", f"Time: {_when(s.order.delivered_at)}"),
        ],
        accent=(120, 80, 200),
    )


def _topup_bill_picture(s: Scene) -> tuple[str, bytes]:
    return "充值记录.png", screenshot_png(
        ("充值交费记录", "Top-up history"),
        [
            (f"号码：{_phone(s.order.topup_target)}", f"Number: {_phone(s.order.topup_target)}"),
            ("近7天充值记录：无", "Top-ups in the last 7 days: none"),
            (f"查询时间：{_when(None)}", f"Checked at: {_when(None)}"),
        ],
        accent=(0, 120, 200),
    )


def _carrier_success_picture(s: Scene) -> tuple[str, bytes]:
    o = s.order
    serial = hashlib.sha256(o.number.encode()).hexdigest()[:16].upper()
    return "上游充值回执.png", screenshot_png(
        ("直充接口回执", "Upstream top-up receipt"),
        [
            (f"号码：{_phone(o.topup_target)}", f"Number: {_phone(o.topup_target)}"),
            (f"金额：{o.product.face_value}元", f"Amount: CNY {o.product.face_value}"),
            ("状态：充值成功", "Status: SUCCESS"),
            (f"运营商流水号：{serial}", f"Carrier serial: {serial}"),
            (f"完成时间：{_when(o.delivered_at)}", f"Completed: {_when(o.delivered_at)}"),
        ],
        accent=(60, 60, 60),
    )


def _redeemed_to_buyer_picture(s: Scene) -> tuple[str, bytes]:
    account = hashlib.sha256(s.buyer.username.encode()).hexdigest()[:4]
    return "核销记录.png", screenshot_png(
        ("上游核销记录", "Upstream redemption record"),
        [
            (f"卡密：{_keys(s.order)}", f"Card key: {_keys(s.order)}"),
            ("状态：已核销", "Status: redeemed"),
            (f"核销账号：******{account}", f"Account: ******{account}"),
            (f"核销时间：{_when(None)}", f"Redeemed at: {_when(None)}"),
            ("核销IP：与买家查看卡密时的IP一致", "IP: the one the buyer viewed the key from"),
        ],
        accent=(60, 60, 60),
    )


def _upstream_pdf(s: Scene) -> tuple[str, bytes]:
    o = s.order
    return "upstream-record.pdf", minimal_pdf(
        [
            "Upstream supplier record",
            "",
            f"Order: {o.number}",
            f"Product id: {o.product_id}   Quantity: {o.quantity}",
            f"Card keys: {_keys(o)}",
            f"Delivered at: {_when(o.delivered_at)} (Asia/Shanghai)",
            "Status of each key at delivery: VALID, not redeemed",
            f"Issued at: {_when(None)}",
            "",
            "This record was issued by the upstream supplier at the shop's request.",
        ]
    )


PICTURES: dict[str, Callable[[Scene], tuple[str, bytes]]] = {
    "order": _order_picture,
    "payment": _payment_picture,
    "chat": _chat_picture,
    "redeem_error": _redeem_error_picture,
    "redeem_half": _redeem_half_picture,
    "topup_bill": _topup_bill_picture,
    "carrier_success": _carrier_success_picture,
    "redeemed_to_buyer": _redeemed_to_buyer_picture,
    "upstream_pdf": _upstream_pdf,
}


def evidence_file(picture: str, scene: Scene) -> SimpleUploadedFile:
    name, content = PICTURES[picture](scene)
    content_type = "application/pdf" if name.endswith(".pdf") else "image/png"
    return SimpleUploadedFile(name, content, content_type=content_type)


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


def seed_team() -> int:
    """星云's owner adds a team account, through the team page's service."""
    user, created = _ensure_user(TEAM_MEMBER)
    merchant = Merchant.objects.select_related("owner").get(shop_name=TEAM_SHOP)
    if MerchantMember.objects.filter(merchant=merchant, user=user).exists():
        return int(created)
    services.merchant_member_add(merchant=merchant, actor=merchant.owner, username=user.username)
    return int(created) + 1


# Everyday top-ups of 速达 that went through without a complaint, so its shop record has
# enough orders to show figures (disputes.selectors.SHOP_RECORD_MIN_ORDERS).
SALES_SHOP_PRODUCT = "中国移动话费 50元"
SALES_TARGET_PREFIX = "1355500"
SALES_COUNT = 36


def seed_sales() -> int:
    """Top-ups bought, paid and delivered through the services, spread over the demo buyers."""
    if Order.objects.filter(topup_target__startswith=SALES_TARGET_PREFIX).exists():
        return 0
    buyers = [User.objects.get(username=b.username) for b in BUYERS if b.username != "buyer5"]
    product = _demo_products()[SALES_SHOP_PRODUCT]
    for i in range(SALES_COUNT):
        _buy(buyers[i % len(buyers)], product, topup_target=f"{SALES_TARGET_PREFIX}{i + 1:04d}")
    return SALES_COUNT


# How the demo buyers rated complaints resolved in their favour (the shop record and the
# metrics average them).
RATINGS = {
    "refunded": (5, "商家当天就退款了，处理很快。"),
    "partially_refunded": (4, "协商退了一部分，可以接受。"),
    "replaced": (4, "换了新卡密，能用了。"),
}


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
            created += seed_team()
            created += seed_orders()
            created += seed_sales()
            created += seed_complaints()
            created += seed_ratings()
        if created:
            active = Merchant.objects.filter(status=MerchantStatus.ACTIVE).count()
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo marketplace seeded: {created} objects created "
                    f"({active} active shops, {Product.objects.count()} products, "
                    f"{Order.objects.count()} orders, {Dispute.objects.count()} complaints: "
                    f"{complaints_summary()})."
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
