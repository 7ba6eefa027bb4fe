"""The demo complaints: what each buyer files, with which evidence, and the steps the
parties, the arbitrator and the clock take to bring it to its state (run by
disputes.demo.seeding)."""

from __future__ import annotations

from dataclasses import dataclass

from disputes.models import Status

# --- Complaints: what is filed, and the steps that take each to its state ----------------


@dataclass(frozen=True)
class Step:
    """One thing a party, the arbitrator or the clock does on a complaint (seeding._run_step)."""

    action: str
    by: str = ""  # buyer | merchant | staff
    text: str = ""
    amount: str = ""
    remedy: str = ""
    outcome: str = ""
    kind: str = ""  # evidence kind
    picture: str = ""  # key of pictures.PICTURES
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
