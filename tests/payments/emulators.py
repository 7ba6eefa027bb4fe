"""Gateway emulators for Alipay and WeChat Pay API v3, on tests/loopback.py servers.

Each one signs, verifies and encrypts exactly as its channel documents, with keys made here
(never a real key), so the adapters' real verification and parsing run against it:

- Alipay (https://opendocs.alipay.com/common/02mse7): requests arrive as GET query strings
  signed RSA2 (SHA256withRSA) by the app's key over the sorted `k=v` pairs without `sign`;
  answers are `{"<method>_response": {…}, "sign": "…"}`, the signature over the response
  object's exact JSON text, by Alipay's key; notices are forms signed by Alipay's key over the
  sorted pairs without `sign` and `sign_type`.
- WeChat Pay v3 (https://pay.weixin.qq.com/docs/merchant/development/interface-rules/
  signature-verification.html): requests carry `Authorization: WECHATPAY2-SHA256-RSA2048
  mchid=…,nonce_str=…,signature=…,timestamp=…,serial_no=…` over
  "METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n" by the merchant key; answers and notices carry
  Wechatpay-Timestamp/-Nonce/-Signature/-Serial by the platform key over
  "TIMESTAMP\\nNONCE\\nBODY\\n", the platform certificate self-signed here; notices' resource
  is AEAD_AES_256_GCM under the APIv3 key.

Every request is recorded with its decoded shape (`calls`), so the tests can hold each call to
the documented fields.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import secrets
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from tests.loopback import Answer, Recorded


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, message: str) -> str:
        signature = self.private.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def verify(self, message: str, signature: str) -> bool:
        try:
            self.private.public_key().verify(
                base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return False
        return True


def new_key() -> KeyPair:
    return KeyPair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def self_signed_certificate(key: KeyPair, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.private.public_key())
        .serial_number(x509.random_serial_number())
        # Valid ten years back as well as on: tests travel to fixed dates (2026-12-07), which
        # fell outside a validity that began a day before the real now once that day passed.
        .not_valid_before(now - timedelta(days=3650))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key.private, hashes.SHA256())
    )


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


# --- Alipay -------------------------------------------------------------------------------


@dataclass
class AlipayGateway:
    """Alipay's gateway (openapi.alipay.com/gateway.do) as far as the platform uses it."""

    app_id: str
    app_key: KeyPair  # the app's key: Alipay knows its public half
    alipay_key: KeyPair  # Alipay's own key: the app knows its public half
    url: str = ""
    trades: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    # Trade complaints (交易投诉) by complain_event_id, and their images by path.
    complaints: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    # Seconds the next refund answer waits AFTER the refund is made (a client timeout then).
    refund_delay: float = 0.0
    down: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # The app signs every request; Alipay checks it (sign_type included, sign excluded).
    def _request_valid(self, params: dict[str, str]) -> bool:
        unsigned = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v)
        return self.app_key.verify(unsigned, params.get("sign", ""))

    def handle(self, request: Recorded) -> Answer:
        if self.down:
            return 502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"}
        if request.method == "GET" and urlsplit(request.path).path.startswith("/bills/"):
            self.calls.append({"http": "GET", "path": request.path})
            return 200, self.bill_zip(), {"Content-Type": "application/zip"}
        if request.method == "GET" and urlsplit(request.path).path in self.images:
            self.calls.append({"http": "GET", "path": request.path})
            return 200, self.images[urlsplit(request.path).path], {"Content-Type": "image/jpeg"}
        params = dict(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))
        method = params.get("method", "")
        biz = json.loads(params.get("biz_content") or "{}")
        self.calls.append({"http": request.method, "params": params, "biz_content": biz})
        key = method.replace(".", "_") + "_response"
        if not self._request_valid(params) or params.get("app_id") != self.app_id:
            body = {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": "isv.invalid-signature",
            }
            return self._answer(key, body, signed=False)
        if params.get("sign_type") != "RSA2" or params.get("charset") != "utf-8":
            return self._answer(key, {"code": "40002", "sub_code": "isv.invalid-signature-type"})
        handler = {
            "alipay.trade.page.pay": self._page,
            "alipay.trade.wap.pay": self._page,
            "alipay.trade.query": self._query,
            "alipay.trade.refund": self._refund,
            "alipay.data.dataservice.bill.downloadurl.query": self._bill,
            "alipay.merchant.tradecomplain.query": self._complaint_query,
            "alipay.merchant.tradecomplain.reply.submit": self._complaint_submit,
            "alipay.merchant.tradecomplain.feedback.submit": self._complaint_submit,
        }.get(method)
        if handler is None:
            return self._answer(key, {"code": "40004", "sub_code": "isv.invalid-method"})
        return handler(key, biz, params)

    def _answer(self, key: str, body: dict[str, Any], *, signed: bool = True) -> Answer:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        if signed:
            raw = f'{{"{key}":{text},"sign":"{self.alipay_key.sign(text)}"}}'
        else:
            raw = f'{{"error_response":{text}}}'
        return 200, raw.encode(), {"Content-Type": "text/html;charset=utf-8"}

    def _page(self, key: str, biz: dict[str, Any], params: dict[str, str]) -> Answer:
        # What the payer's browser opens: the cashier page. The trade now exists, unpaid.
        with self._lock:
            self.trades.setdefault(
                biz["out_trade_no"],
                {
                    "total_amount": biz["total_amount"],
                    "trade_no": "2026" + secrets.token_hex(12)[:24],
                    "status": "WAIT_BUYER_PAY",
                    "notify_url": params.get("notify_url", ""),
                },
            )
        return 200, b"<html>Alipay cashier</html>", {"Content-Type": "text/html"}

    def _query(self, key: str, biz: dict[str, Any], params: dict[str, str]) -> Answer:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self._answer(
                key,
                {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_NOT_EXIST",
                    "sub_msg": "交易不存在",
                },
            )
        return self._answer(
            key,
            {
                "code": "10000",
                "msg": "Success",
                "trade_no": trade["trade_no"],
                "out_trade_no": biz["out_trade_no"],
                "trade_status": trade["status"],
                "total_amount": trade["total_amount"],
                "buyer_logon_id": "kam***@example.com",
            },
        )

    def _refund(self, key: str, biz: dict[str, Any], params: dict[str, str]) -> Answer:
        trade = next(
            ((no, t) for no, t in self.trades.items() if t["trade_no"] == biz.get("trade_no")),
            None,
        )
        if trade is None:
            return self._answer(key, {"code": "40004", "sub_code": "ACQ.TRADE_NOT_EXIST"})
        out_trade_no, info = trade
        number = biz["out_request_no"]
        with self._lock:
            known = (info["trade_no"], number) in self.refunds
            if not known:
                refunded = sum(
                    Decimal(r["refund_amount"])
                    for (trade_no, _n), r in self.refunds.items()
                    if trade_no == info["trade_no"]
                )
                if refunded + Decimal(biz["refund_amount"]) > Decimal(info["total_amount"]):
                    return self._answer(
                        key, {"code": "40004", "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"}
                    )
                self.refunds[(info["trade_no"], number)] = {"refund_amount": biz["refund_amount"]}
        answer = self._answer(
            key,
            {
                "code": "10000",
                "msg": "Success",
                "trade_no": info["trade_no"],
                "out_trade_no": out_trade_no,
                "buyer_logon_id": "kam***@example.com",
                # "N": this out_request_no was refunded before; nothing moved now.
                "fund_change": "N" if known else "Y",
                "refund_fee": self.refunds[(info["trade_no"], number)]["refund_amount"],
            },
        )
        if self.refund_delay:
            delay, self.refund_delay = self.refund_delay, 0.0
            time.sleep(delay)
        return answer

    def _bill(self, key: str, biz: dict[str, Any], params: dict[str, str]) -> Answer:
        return self._answer(
            key,
            {
                "code": "10000",
                "msg": "Success",
                "bill_download_url": (
                    f"{self.url}/bills/{biz['bill_type']}_{biz['bill_date']}.csv.zip"
                ),
            },
        )

    # --- Trade complaints (交易投诉; orders/channels/alipay.py names the sources) ------------

    def _complaint_query(self, key: str, biz: dict[str, Any], params: dict[str, str]) -> Answer:
        complaint = self.complaints.get(biz.get("complain_event_id", ""))
        if complaint is None:
            return self._answer(key, {"code": "40004", "sub_code": "COMPLAIN_NOT_EXIST"})
        return self._answer(key, {"code": "10000", "msg": "Success", **complaint})

    def _complaint_submit(self, key: str, biz: dict[str, Any], params: dict[str, str]) -> Answer:
        if biz.get("complain_event_id") not in self.complaints:
            return self._answer(key, {"code": "40004", "sub_code": "COMPLAIN_NOT_EXIST"})
        return self._answer(key, {"code": "10000", "msg": "Success"})

    def complain(
        self,
        out_trade_no: str,
        text: str,
        images: list[bytes],
        *,
        overdue: str | None = None,
    ) -> str:
        """The buyer complains about the trade on Alipay: its detail as the query answers it."""
        trade = self.trades[out_trade_no]
        event_id = "2026" + secrets.token_hex(12)[:24]
        urls = []
        for index, content in enumerate(images):
            path = f"/complaint-images/{event_id}-{index + 1}.jpg"
            self.images[path] = content
            urls.append(f"{self.url}{path}")
        self.complaints[event_id] = {
            "complain_event_id": event_id,
            "status": "MERCHANT_PROCESSING",
            "trade_no": trade["trade_no"],
            "merchant_order_no": out_trade_no,
            "gmt_create": "2026-12-07 18:00:00",
            "gmt_modified": "2026-12-07 18:00:00",
            "leaf_category_name": "虚拟卡券",
            "complain_reason": "卡密无法使用",
            "content": text,
            "images": urls,
            "phone_no": "138****0000",
            "trade_amount": trade["total_amount"],
            **({"gmt_overdue": overdue} if overdue else {}),
        }
        return event_id

    def complaint_notice(
        self,
        event_id: str,
        *,
        app_id: str | None = None,
        notify_id: str | None = None,
        key: KeyPair | None = None,
        msg_method: str = "alipay.merchant.tradecomplain.changed",
    ) -> bytes:
        """The message Alipay posts to the app's gateway URL, signed like a payment notice."""
        fields = {
            "charset": "utf-8",
            "biz_content": json.dumps({"complain_event_id": event_id}),
            "msg_method": msg_method,
            "utc_timestamp": str(int(time.time() * 1000)),
            "version": "1.1",
            "notify_id": notify_id or secrets.token_hex(16),
            "app_id": app_id or self.app_id,
        }
        unsigned = "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
        fields["sign"] = (key or self.alipay_key).sign(unsigned)
        fields["sign_type"] = "RSA2"
        return urlencode(fields, quote_via=quote_plus).encode()

    # --- The bill (https://opendocs.alipay.com/open/194/105166) -------------------------

    def bill_zip(self, day: str = "20261207") -> bytes:
        """The trade bill as Alipay serves it: a zip of two GBK CSVs, the detail rows (`#`
        title lines, the header, rows padded with tabs, the closing lines) and the totals."""
        header = (
            "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,"
            "操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,"
            "支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,"
            "卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
        )
        rows = []
        for out_trade_no, trade in self.trades.items():
            if trade["status"] not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
                continue
            amount = trade.get("bill_amount", trade["total_amount"])
            rows.append(
                [
                    trade["trade_no"],
                    out_trade_no,
                    "交易",
                    "卡密",
                    "2026-12-07 16:59:50",
                    "2026-12-07 16:59:58",
                    "",
                    "",
                    "",
                    "",
                    "kam***@example.com",
                    amount,
                    amount,
                    "0.00",
                    "0.00",
                    "0.00",
                    "0.00",
                    "0.00",
                    "",
                    "0.00",
                    "0.00",
                    "",
                    "0.00",
                    "0.00",
                    "",
                ]
            )
        for (trade_no, number), refund in self.refunds.items():
            out_trade_no = next(o for o, t in self.trades.items() if t["trade_no"] == trade_no)
            rows.append(
                [
                    trade_no,
                    out_trade_no,
                    "退款",
                    "卡密",
                    "2026-12-07 17:10:00",
                    "2026-12-07 17:10:01",
                    "",
                    "",
                    "",
                    "",
                    "kam***@example.com",
                    self.trades[out_trade_no]["total_amount"],
                    f"-{refund['refund_amount']}",
                    "0.00",
                    "0.00",
                    "0.00",
                    "0.00",
                    "0.00",
                    "",
                    "0.00",
                    "0.00",
                    number,
                    "0.00",
                    "0.00",
                    "",
                ]
            )
        lines = [
            "#支付宝业务明细查询",
            "#账号：[20881234567890120156]",
            "#起始日期：[2026年12月07日 00:00:00]   终止日期：[2026年12月08日 00:00:00]",
            "#-----------------------------------------业务明细列表----------------------------------------",
            header,
            *(",".join(f"{v}\t" for v in row) for row in rows),
            "#-----------------------------------------业务明细列表结束------------------------------------",
            f"#交易合计：{sum(1 for r in rows if r[2] == '交易')}笔，"
            f"退款合计：{sum(1 for r in rows if r[2] == '退款')}笔",
            "#导出时间：[2026年12月08日 10:00:00]",
        ]
        summary = "#支付宝业务汇总查询\n门店编号,门店名称,交易订单总笔数\n合计,,0\n"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(
                f"20881234567890120156_{day}_业务明细.csv", "\r\n".join(lines).encode("gbk")
            )
            archive.writestr(
                f"20881234567890120156_{day}_业务明细(汇总).csv", summary.encode("gbk")
            )
        return buffer.getvalue()

    def forced_refund(self, out_trade_no: str, amount: str, number: str) -> None:
        """Alipay gives money back by itself (a trade complaint it decided): a refund the
        platform never asked for, under Alipay's own request number."""
        self.refunds[(self.trades[out_trade_no]["trade_no"], number)] = {"refund_amount": amount}

    # --- What Alipay does by itself ---------------------------------------------------

    def pay(self, out_trade_no: str) -> dict[str, Any]:
        """The payer pays at the cashier."""
        trade = self.trades[out_trade_no]
        trade["status"] = "TRADE_SUCCESS"
        return trade

    def notice(
        self,
        out_trade_no: str,
        *,
        app_id: str | None = None,
        amount: str | None = None,
        status: str = "TRADE_SUCCESS",
        notify_id: str | None = None,
        key: KeyPair | None = None,
    ) -> bytes:
        """The asynchronous notice Alipay posts to notify_url, signed (by `key` to forge)."""
        trade = self.trades[out_trade_no]
        fields = {
            "notify_time": "2026-12-07 17:00:00",
            "notify_type": "trade_status_sync",
            "notify_id": notify_id or secrets.token_hex(16),
            "charset": "utf-8",
            "version": "1.0",
            "app_id": app_id or self.app_id,
            "trade_no": trade["trade_no"],
            "out_trade_no": out_trade_no,
            "trade_status": status,
            "total_amount": amount or trade["total_amount"],
            "receipt_amount": amount or trade["total_amount"],
            "buyer_id": "2088102177846880",
            "seller_id": "2088101117955611",
            "subject": "卡密",
            "gmt_payment": "2026-12-07 16:59:58",
        }
        unsigned = "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
        fields["sign"] = (key or self.alipay_key).sign(unsigned)
        fields["sign_type"] = "RSA2"
        return urlencode(fields, quote_via=quote_plus).encode()


# --- WeChat Pay API v3 --------------------------------------------------------------------


@dataclass
class WechatPayGateway:
    """api.mch.weixin.qq.com as far as the platform uses it."""

    app_id: str
    mch_id: str
    apiv3_key: str
    merchant_key: KeyPair  # the merchant API certificate's key: WeChat Pay knows its public half
    merchant_serial: str
    platform_key: KeyPair
    platform_cert: x509.Certificate
    url: str = ""
    trades: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    refund_delay: float = 0.0
    down: bool = False
    bills: dict[str, bytes] = field(default_factory=dict)
    complaints: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def platform_serial(self) -> str:
        return format(self.platform_cert.serial_number, "X")

    def _signed_headers(
        self, body: str, *, key: KeyPair | None = None, stamp: int | None = None
    ) -> dict[str, str]:
        timestamp = str(stamp if stamp is not None else int(time.time()))
        nonce = secrets.token_hex(16)
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": (key or self.platform_key).sign(
                f"{timestamp}\n{nonce}\n{body}\n"
            ),
            "Wechatpay-Serial": self.platform_serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def _answer(self, status: int, body: dict[str, Any] | None) -> Answer:
        text = json.dumps(body, ensure_ascii=False) if body is not None else ""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Request-ID": secrets.token_hex(8),
        }
        headers.update(self._signed_headers(text))
        return status, text.encode(), headers

    def _authorized(self, request: Recorded) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, rest = header.partition(" ")
        if scheme != "WECHATPAY2-SHA256-RSA2048":
            return False
        parts = dict(p.split("=", 1) for p in rest.split(",") if "=" in p)
        parts = {k.strip(): v.strip().strip('"') for k, v in parts.items()}
        if parts.get("mchid") != self.mch_id or parts.get("serial_no") != self.merchant_serial:
            return False
        message = (
            f"{request.method}\n{request.path}\n{parts.get('timestamp')}\n"
            f"{parts.get('nonce_str')}\n{request.body.decode()}\n"
        )
        return self.merchant_key.verify(message, parts.get("signature", ""))

    def handle(self, request: Recorded) -> Answer:
        if self.down:
            return 502, b"Bad Gateway", {"Content-Type": "text/html"}
        body = json.loads(request.body) if request.body else {}
        self.calls.append({"http": request.method, "path": request.path, "body": body})
        if not self._authorized(request):
            return self._answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        path = urlsplit(request.path).path
        query = dict(parse_qsl(urlsplit(request.path).query))
        if request.method == "POST" and path in (
            "/v3/pay/transactions/native",
            "/v3/pay/transactions/h5",
        ):
            return self._prepay(path, body)
        if request.method == "GET" and path.startswith("/v3/pay/transactions/out-trade-no/"):
            return self._query(path.rsplit("/", 1)[-1], query)
        if request.method == "POST" and path == "/v3/refund/domestic/refunds":
            return self._refund(body)
        if path.startswith("/v3/merchant-service/"):
            return self._complaints(request.method, path, body)
        if request.method == "GET" and path == "/v3/bill/tradebill":
            bill = self.bill_csv()
            token = secrets.token_hex(8)
            self.bills[token] = bill
            return self._answer(
                200,
                {
                    "hash_type": "SHA1",
                    "hash_value": hashlib.sha1(bill).hexdigest(),  # noqa: S324
                    "download_url": f"{self.url}/v3/billdownload/file?token={token}",
                },
            )
        if request.method == "GET" and path == "/v3/billdownload/file":
            bill = self.bills.get(query.get("token", ""))
            if bill is None:
                return self._answer(404, {"code": "NO_STATEMENT_EXIST", "message": "账单不存在"})
            # tar_type GZIP (the SDK's default): the file gzipped, not signed (a file).
            return 200, gzip.compress(bill), {"Content-Type": "application/octet-stream"}
        return self._answer(404, {"code": "NOT_FOUND", "message": path})

    def _prepay(self, path: str, body: dict[str, Any]) -> Answer:
        required = {"appid", "mchid", "description", "out_trade_no", "notify_url", "amount"}
        if (
            not required <= body.keys()
            or body["appid"] != self.app_id
            or body["mchid"] != self.mch_id
        ):
            return self._answer(400, {"code": "PARAM_ERROR", "message": "参数错误"})
        h5 = path.endswith("/h5")
        if h5 and not (body.get("scene_info") or {}).get("payer_client_ip"):
            return self._answer(400, {"code": "PARAM_ERROR", "message": "scene_info"})
        with self._lock:
            trade = self.trades.setdefault(
                body["out_trade_no"],
                {
                    "total": body["amount"]["total"],
                    "transaction_id": "4200" + secrets.token_hex(12)[:24],
                    "trade_state": "NOTPAY",
                    "trade_type": "MWEB" if h5 else "NATIVE",
                    "prepay": secrets.token_hex(8),
                },
            )
        if h5:
            return self._answer(
                200,
                {
                    "h5_url": f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx{trade['prepay']}"
                },
            )
        return self._answer(200, {"code_url": f"weixin://wxpay/bizpayurl?pr={trade['prepay']}"})

    def _transaction(
        self,
        out_trade_no: str,
        *,
        total: int | None = None,
        app_id: str | None = None,
        mch_id: str | None = None,
    ) -> dict[str, Any]:
        trade = self.trades[out_trade_no]
        return {
            "appid": app_id or self.app_id,
            "mchid": mch_id or self.mch_id,
            "out_trade_no": out_trade_no,
            "transaction_id": trade["transaction_id"],
            "trade_type": trade["trade_type"],
            "trade_state": trade["trade_state"],
            "trade_state_desc": "支付成功" if trade["trade_state"] == "SUCCESS" else "未支付",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": "2026-12-07T17:00:00+08:00",
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {
                "total": total if total is not None else trade["total"],
                "payer_total": total if total is not None else trade["total"],
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        }

    def _query(self, out_trade_no: str, query: dict[str, str]) -> Answer:
        if query.get("mchid") != self.mch_id:
            return self._answer(400, {"code": "PARAM_ERROR", "message": "mchid"})
        if out_trade_no not in self.trades:
            return self._answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        return self._answer(200, self._transaction(out_trade_no))

    def _refund(self, body: dict[str, Any]) -> Answer:
        number = body.get("out_refund_no", "")
        trade = next(
            (t for t in self.trades.values() if t["transaction_id"] == body.get("transaction_id")),
            None,
        )
        if trade is None or trade["trade_state"] != "SUCCESS":
            return self._answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"})
        amount = body["amount"]
        if amount["total"] != trade["total"]:
            return self._answer(400, {"code": "PARAM_ERROR", "message": "订单金额不一致"})
        with self._lock:
            if number not in self.refunds:
                refunded = sum(
                    r["refund"]
                    for r in self.refunds.values()
                    if r["transaction_id"] == trade["transaction_id"]
                )
                if refunded + amount["refund"] > trade["total"]:
                    return self._answer(
                        403, {"code": "NOT_ENOUGH", "message": "退款金额超过可退金额"}
                    )
                self.refunds[number] = {
                    "refund_id": "5030" + secrets.token_hex(12)[:24],
                    "refund": amount["refund"],
                    "transaction_id": trade["transaction_id"],
                }
            refund = self.refunds[number]
        answer = self._answer(
            200,
            {
                "refund_id": refund["refund_id"],
                "out_refund_no": number,
                "transaction_id": refund["transaction_id"],
                "channel": "ORIGINAL",
                "status": "PROCESSING",
                "amount": {"refund": refund["refund"], "total": trade["total"], "currency": "CNY"},
            },
        )
        if self.refund_delay:
            delay, self.refund_delay = self.refund_delay, 0.0
            time.sleep(delay)
        return answer

    # --- 消费者投诉 2.0 (https://pay.weixin.qq.com/docs/merchant/apis/consumer-complaint/) ---

    def complain(self, out_trade_no: str, text: str, images: list[bytes]) -> str:
        """A payer complains about a trade on the bill: the complaint exists at WeChat Pay,
        its images served at signed media URLs."""
        complaint_id = "2002018" + secrets.token_hex(10)
        urls = []
        for content in images:
            media = secrets.token_hex(8)
            self.images[media] = content
            urls.append(f"{self.url}/v3/merchant-service/images/{media}")
        trade = self.trades[out_trade_no]
        self.complaints[complaint_id] = {
            "complaint_id": complaint_id,
            "complaint_time": "2026-12-07T18:00:00+08:00",
            "complaint_detail": text,
            "complaint_state": "PENDING",
            "complainted_mchid": self.mch_id,
            "payer_phone": "",
            "complaint_order_info": [
                {
                    "transaction_id": trade["transaction_id"],
                    "out_trade_no": out_trade_no,
                    "amount": trade["total"],
                }
            ],
            "complaint_media_list": [{"media_type": "USER_COMPLAINT_IMAGE", "media_url": urls}],
            "problem_description": text,
            "problem_type": "REFUND",
            "apply_refund_amount": trade["total"],
            "user_complaint_times": 1,
            "incoming_user_response": False,
            "responses": [],
            "completed": False,
        }
        return complaint_id

    def _complaints(self, method: str, path: str, body: dict[str, Any]) -> Answer:
        parts = path.removeprefix("/v3/merchant-service/").split("/")
        if method == "GET" and parts[0] == "images" and len(parts) == 2:
            content = self.images.get(parts[1])
            if content is None:
                return self._answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "图片不存在"})
            return 200, content, {"Content-Type": "image/jpeg"}
        if parts[0] != "complaints-v2" or len(parts) < 2 or parts[1] not in self.complaints:
            return self._answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "投诉单不存在"})
        complaint = self.complaints[parts[1]]
        if method == "GET" and len(parts) == 2:
            return self._answer(200, complaint)
        if method == "GET" and parts[2] == "negotiation-historys":
            return self._answer(200, {"data": complaint["responses"], "total_count": 0})
        if method == "POST" and parts[2] == "response":
            if not body.get("response_content") or body.get("complainted_mchid") != self.mch_id:
                return self._answer(400, {"code": "PARAM_ERROR", "message": "参数错误"})
            complaint["responses"].append(body)
            complaint["complaint_state"] = "PROCESSING"
            return self._answer(204, None)
        if method == "POST" and parts[2] == "update-refund-progress":
            if body.get("action") not in ("APPROVE", "REJECT"):
                return self._answer(400, {"code": "PARAM_ERROR", "message": "参数错误"})
            complaint.setdefault("refund_progress", []).append(body)
            return self._answer(204, None)
        if method == "POST" and parts[2] == "complete":
            if body.get("complainted_mchid") != self.mch_id:
                return self._answer(400, {"code": "PARAM_ERROR", "message": "参数错误"})
            complaint["completed"] = True
            complaint["complaint_state"] = "PROCESSED"
            return self._answer(204, None)
        return self._answer(404, {"code": "NOT_FOUND", "message": path})

    def complaint_notice(
        self,
        complaint_id: str,
        *,
        action_type: str = "CREATE_COMPLAINT",
        key: KeyPair | None = None,
        stamp: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The complaint notice WeChat Pay posts to the complaint notification URL."""
        resource = json.dumps({"complaint_id": complaint_id, "action_type": action_type})
        nonce = secrets.token_hex(6)
        ciphertext = AESGCM(self.apiv3_key.encode()).encrypt(
            nonce.encode(), resource.encode(), b"complaint"
        )
        body = json.dumps(
            {
                "id": f"EV-{secrets.token_hex(10)}",
                "create_time": "2026-12-07T18:00:01+08:00",
                "resource_type": "encrypt-resource",
                "event_type": "COMPLAINT.CREATE",
                "summary": "产生新投诉",
                "resource": {
                    "original_type": "payment",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": "complaint",
                    "nonce": nonce,
                },
            },
            ensure_ascii=False,
        )
        return self._signed_headers(body, key=key, stamp=stamp), body.encode()

    # --- The trade bill (https://pay.weixin.qq.com/docs/merchant/apis/bill-download/) ---

    BILL_HEADER = (
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
        "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
        "费率备注"
    )

    def bill_csv(self) -> bytes:
        """The trade bill (ALL) as WeChat Pay writes it: every value backtick-prefixed, then
        the two summary lines."""

        def yuan(fen: int) -> str:
            return f"{Decimal(fen) / 100:.2f}"

        rows = []
        paid = [(o, t) for o, t in self.trades.items() if t["trade_state"] == "SUCCESS"]
        for out_trade_no, trade in paid:
            total = trade.get("bill_total", trade["total"])
            rows.append(
                [
                    "2026-12-07 17:00:00",
                    self.app_id,
                    self.mch_id,
                    "0",
                    "",
                    trade["transaction_id"],
                    out_trade_no,
                    "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                    trade["trade_type"],
                    "SUCCESS",
                    "OTHERS",
                    "CNY",
                    yuan(total),
                    "0.00",
                    "0",
                    "0",
                    "0.00",
                    "0.00",
                    "",
                    "",
                    "卡密",
                    "",
                    "0.00000",
                    "0.60%",
                    yuan(total),
                    "0.00",
                    "",
                ]
            )
        for number, refund in self.refunds.items():
            out_trade_no, trade = next(
                (o, t)
                for o, t in self.trades.items()
                if t["transaction_id"] == refund["transaction_id"]
            )
            rows.append(
                [
                    "2026-12-07 17:10:00",
                    self.app_id,
                    self.mch_id,
                    "0",
                    "",
                    trade["transaction_id"],
                    out_trade_no,
                    "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                    trade["trade_type"],
                    "REFUND",
                    "OTHERS",
                    "CNY",
                    "0.00",
                    "0.00",
                    refund["refund_id"],
                    number,
                    yuan(refund["refund"]),
                    "0.00",
                    "ORIGINAL",
                    "SUCCESS",
                    "卡密",
                    "",
                    "0.00000",
                    "0.60%",
                    yuan(trade["total"]),
                    yuan(refund["refund"]),
                    "",
                ]
            )
        settled = sum(t.get("bill_total", t["total"]) for _o, t in paid)
        refunded = sum(r["refund"] for r in self.refunds.values())
        lines = [
            self.BILL_HEADER,
            *(",".join(f"`{v}" for v in row) for row in rows),
            "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
            f"`{len(paid)},`{yuan(settled)},`{yuan(refunded)},`0.00,`0.00000,"
            f"`{yuan(settled)},`{yuan(refunded)}",
        ]
        return ("\r\n".join(lines) + "\r\n").encode()

    def forced_refund(self, out_trade_no: str, fen: int, number: str) -> str:
        """WeChat Pay gives money back by itself (a complaint it decided): a refund the
        platform never asked for, under WeChat Pay's own number."""
        trade = self.trades[out_trade_no]
        refund_id = "5030" + secrets.token_hex(12)[:24]
        self.refunds[number] = {
            "refund_id": refund_id,
            "refund": fen,
            "transaction_id": trade["transaction_id"],
        }
        return refund_id

    # --- What WeChat Pay does by itself -----------------------------------------------

    def pay(self, out_trade_no: str) -> dict[str, Any]:
        trade = self.trades[out_trade_no]
        trade["trade_state"] = "SUCCESS"
        return trade

    def notice(
        self,
        out_trade_no: str,
        *,
        notice_id: str | None = None,
        total: int | None = None,
        app_id: str | None = None,
        mch_id: str | None = None,
        key: KeyPair | None = None,
        stamp: int | None = None,
        apiv3_key: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The payment notice WeChat Pay posts to notify_url: (headers, body)."""
        resource = json.dumps(
            self._transaction(out_trade_no, total=total, app_id=app_id, mch_id=mch_id),
            ensure_ascii=False,
        )
        nonce = secrets.token_hex(6)  # 12 characters
        ciphertext = AESGCM((apiv3_key or self.apiv3_key).encode()).encrypt(
            nonce.encode(), resource.encode(), b"transaction"
        )
        body = json.dumps(
            {
                "id": notice_id or f"EV-{secrets.token_hex(10)}",
                "create_time": "2026-12-07T17:00:01+08:00",
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": "transaction",
                    "nonce": nonce,
                },
            },
            ensure_ascii=False,
        )
        return self._signed_headers(body, key=key, stamp=stamp), body.encode()
