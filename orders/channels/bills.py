"""The channels' daily bills, read into rows the reconciliation compares with the ledger
(docs/reconciliation.md).

- Alipay `alipay.data.dataservice.bill.downloadurl.query` (bill_type trade) gives a URL of a
  zip of GBK CSV files: `<pid>_<yyyymmdd>_业务明细.csv` (the rows) and `…_业务明细(汇总).csv`
  (the totals). The rows file opens with `#` lines (title, account, dates, the
  `#-----…业务明细列表…-----` rule), then the header (支付宝交易号, 商户订单号, 业务类型, …,
  订单金额（元）, 商家实收（元）, …, 退款批次号/请求号, …), the rows (values padded with tabs),
  the closing rule and the `#交易合计：…` / `#导出时间：…` lines.
  https://opendocs.alipay.com/open/194/105166
- WeChat Pay v3 `GET /v3/bill/tradebill` gives a download_url (and a SHA1 of the bill);
  `GET download_url` gives the bill, gzipped when tar_type GZIP: a CSV whose header names the
  columns (交易时间, 公众账号ID, 商户号, …, 微信订单号, 商户订单号, …, 交易状态, …, 应结订单金额,
  …, 微信退款单号, 商户退款单号, 退款金额, …, 订单金额, 申请退款金额, …), every value prefixed
  with a backtick, then two summary lines (总交易单数,… and their values).
  https://pay.weixin.qq.com/docs/merchant/apis/bill-download/trade-bill.html,
  https://pay.weixin.qq.com/docs/merchant/apis/bill-download/download-bill.html
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation


class BillError(Exception):
    """The bill is not in the channel's documented shape."""


@dataclass(frozen=True)
class BillRow:
    """One payment or refund as the channel's bill states it; amounts in yuan, ≥ 0."""

    kind: str  # "payment" or "refund"
    out_trade_no: str
    reference: str  # the channel's trade number (支付宝交易号 / 微信订单号)
    amount: Decimal
    refund_number: str = ""  # our out_request_no / out_refund_no, for a refund
    raw: dict[str, str] = field(default_factory=dict)


def _yuan(text: str) -> Decimal:
    try:
        return abs(Decimal(text.strip() or "0")).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise BillError(f"not an amount: {text!r}") from exc


# --- Alipay ------------------------------------------------------------------------------

ALIPAY_DETAIL = "业务明细.csv"
ALIPAY_COLUMNS = ("支付宝交易号", "商户订单号", "业务类型", "订单金额（元）", "商家实收（元）")


def parse_alipay_bill(content: bytes) -> list[BillRow]:
    """The rows of Alipay's trade bill zip (its detail file, GBK)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as exc:
        raise BillError("the Alipay bill is not a zip") from exc
    names = [n for n in archive.namelist() if n.endswith(ALIPAY_DETAIL)]
    if len(names) != 1:
        raise BillError(f"the Alipay bill holds {len(names)} detail files")
    try:
        text = archive.read(names[0]).decode("gbk")
    except UnicodeDecodeError as exc:
        raise BillError("the Alipay bill is not GBK") from exc
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise BillError("the Alipay bill has no header")
    reader = csv.reader(lines)
    header = [name.strip() for name in next(reader)]
    if any(name not in header for name in ALIPAY_COLUMNS):
        raise BillError("the Alipay bill's header lacks a documented column")
    rows: list[BillRow] = []
    for values in reader:
        row = dict(zip(header, (v.strip() for v in values), strict=False))
        kind = row["业务类型"]
        if kind == "交易":
            rows.append(
                BillRow(
                    "payment",
                    row["商户订单号"],
                    row["支付宝交易号"],
                    _yuan(row["订单金额（元）"]),
                    raw=row,
                )
            )
        elif kind == "退款":
            rows.append(
                BillRow(
                    "refund",
                    row["商户订单号"],
                    row["支付宝交易号"],
                    _yuan(row["商家实收（元）"]),
                    refund_number=row.get("退款批次号/请求号", ""),
                    raw=row,
                )
            )
    return rows


# --- WeChat Pay --------------------------------------------------------------------------

WECHAT_COLUMNS = (
    "交易时间",
    "微信订单号",
    "商户订单号",
    "交易状态",
    "订单金额",
    "商户退款单号",
    "申请退款金额",
)


def parse_wechat_bill(content: bytes) -> list[BillRow]:
    """The rows of WeChat Pay's trade bill (type ALL), gzipped or not."""
    if content[:2] == b"\x1f\x8b":
        try:
            content = gzip.decompress(content)
        except OSError as exc:
            raise BillError("the WeChat Pay bill does not decompress") from exc
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BillError("the WeChat Pay bill is not UTF-8") from exc
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise BillError("the WeChat Pay bill is empty")
    reader = csv.reader(lines)
    header = [name.strip() for name in next(reader)]
    if any(name not in header for name in WECHAT_COLUMNS):
        raise BillError("the WeChat Pay bill's header lacks a documented column")
    rows: list[BillRow] = []
    for values in reader:
        if values and values[0].strip() == "总交易单数":
            break  # the summary lines
        row = dict(zip(header, (v.strip().removeprefix("`") for v in values), strict=False))
        if row.get("交易状态") == "REFUND":
            rows.append(
                BillRow(
                    "refund",
                    row["商户订单号"],
                    row["微信订单号"],
                    _yuan(row["申请退款金额"]),
                    refund_number=row["商户退款单号"],
                    raw=row,
                )
            )
        elif row.get("交易状态") == "SUCCESS":
            rows.append(
                BillRow(
                    "payment", row["商户订单号"], row["微信订单号"], _yuan(row["订单金额"]), raw=row
                )
            )
    return rows
