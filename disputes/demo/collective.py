"""The demo's collective case (docs/collective-cases.md), so `make run` shows every page of
one: 礼享卡券商城 imported a lot of 10 game-card keys whose first 4 its issuer never issued
(the sandbox verifier reports a key with UNKNOWN in it as unknown). Eight are sold; the three
buyers of bad keys complain and the automatic check upholds them; that is the policy's
threshold, so the case opens (the sale stops), the issuer is asked about every delivered key
and the fourth bad key's buyer, buyer1 (小明), is refunded without a complaint. buyer1 also
holds a good key of the lot, whose order page offers 我也遇到了. Everything through the
services the clock and the pages call, run here in turn instead of by the workers."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.utils import timezone

from disputes import services as disputes
from disputes.demo.catalogue import demo_card_key
from disputes.demo.pictures import Scene, evidence_file
from disputes.models import CollectiveCase
from disputes.services import collective
from disputes.services.auto import auto_checks_run
from disputes.services.evidence import EvidenceUpload
from orders import services
from orders.models import Merchant, Product, ProductKind

SHOP = "礼享卡券商城"
PRODUCT = "原神创世结晶×1980 兑换码"
PRICE = "198.00"
BAD_KEYS = 4
GOOD_KEYS = 6
# Who bought the lot's keys, in the order they were delivered (keys go out in import order):
# the first three complain; buyer1's first key is bad (refunded by the case), the second good.
BUYERS = ["buyer2", "buyer3", "buyer4", "buyer1", "buyer1", "buyer2", "buyer3", "buyer4"]
COMPLAINTS = 3


def seed_collective_case() -> int:
    """The product, its lot, the orders, the three complaints and the case; 0 if there."""
    merchant = Merchant.objects.get(shop_name=SHOP)
    if Product.objects.filter(merchant=merchant, name=PRODUCT).exists():
        return 0
    product = services.product_create(
        merchant=merchant,
        name=PRODUCT,
        kind=ProductKind.GAME_CARD,
        face_value=Decimal(PRICE),
        price=Decimal(PRICE),
        source="上游：某渠道商，批次 MH-2026-1207（演示：其中 4 个兑换码发行方查无此码）",
    )
    lines = [demo_card_key("UNKNOWN", PRODUCT, i) for i in range(BAD_KEYS)]
    lines += [demo_card_key("YSCJ", PRODUCT, i) for i in range(GOOD_KEYS)]
    services.card_keys_import(product=product, data="\n".join(lines), imported_by=merchant.owner)
    orders = []
    for username in BUYERS:
        buyer = User.objects.get(username=username)
        order = services.order_create(buyer=buyer, product=product, quantity=1)
        orders.append(services.order_pay(order=order, buyer=buyer))
    created = 1 + len(lines) + len(orders)
    for order in orders[:COMPLAINTS]:
        scene = Scene(order=order, buyer=order.buyer, merchant=merchant)
        dispute = disputes.dispute_file(
            buyer=order.buyer,
            order=order,
            reason="invalid_card_key",
            claimed_amount=order.amount,
            description="兑换时提示“兑换码不存在”，换了两台设备都不行。",
            evidence=[
                EvidenceUpload(
                    kind="order_screenshot",
                    file=evidence_file("order", scene),
                    note="订单详情页截图",
                ),
                EvidenceUpload(
                    kind="redemption_record",
                    file=evidence_file("redeem_error", scene),
                    note="官方兑换页的报错截图",
                ),
            ],
        )
        auto_checks_run(dispute_id=dispute.pk)
        created += 1
    now = timezone.now()
    collective.collective_cases_open_due(now=now)
    case = CollectiveCase.objects.get(product=product)
    collective.collective_case_check(case_id=case.pk, now=now)
    return created + 1
