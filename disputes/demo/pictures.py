"""The demo's evidence files, made here: phone-app-like screenshots drawn with Pillow (in
Chinese where a CJK font is installed) and one hand-written PDF."""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from orders.models import Merchant, Order

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
