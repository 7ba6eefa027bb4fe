"""WeChat Pay API v3 (微信支付, direct merchant) through wechatpayv3.

Every call and its documented shape (the gateway emulator in tests/payments/ answers the same):

- Native pay `POST /v3/pay/transactions/native` → `code_url` (a code the payer scans);
  H5 pay `POST /v3/pay/transactions/h5` with scene_info.payer_client_ip and h5_info → `h5_url`.
  Amounts in fen: `amount.total`.
  https://pay.weixin.qq.com/docs/merchant/apis/native-payment/direct-jsons/native-prepay.html,
  https://pay.weixin.qq.com/docs/merchant/apis/h5-payment/direct-jsons/h5-prepay.html
- every request is signed (`Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,serial_no=…`) with
  the merchant API certificate's key; every answer and notice is signed by the platform
  (`Wechatpay-Timestamp`, `-Nonce`, `-Signature`, `-Serial`), verified with the platform
  certificate of that serial.
  https://pay.weixin.qq.com/docs/merchant/development/interface-rules/signature-verification.html
- the payment notice: JSON with `resource` encrypted AEAD_AES_256_GCM under the APIv3 key
  (nonce, associated_data); answered 204, or 4xx with {"code": "FAIL", "message": …}.
  https://pay.weixin.qq.com/docs/merchant/apis/native-payment/payment-notice.html,
  https://pay.wechatpay.cn/docs/merchant/products/notification/decryption.html
- query `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…`: paid when trade_state
  is SUCCESS. https://pay.weixin.qq.com/docs/merchant/apis/native-payment/query-by-out-trade-no.html
- refund `POST /v3/refund/domestic/refunds` with out_refund_no = our idempotency key and
  amount {refund, total, currency}: the same number again is the same refund.
  https://pay.weixin.qq.com/docs/merchant/apis/native-payment/create.html
- the trade bill `GET /v3/bill/tradebill?bill_date=…` → download_url and hash_value, then
  `GET download_url` (gzip; its SHA1 is hash_value) (orders/channels/bills.py).
  https://pay.weixin.qq.com/docs/merchant/apis/native-payment/trade-bill.html

The platform certificates live in WECHATPAY_PLATFORM_CERT_DIR; a notice signed by a serial not
there makes the SDK download the current ones (GET /v3/certificates, decrypted with the APIv3
key) into it: a rotation by WeChat Pay needs no restart.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone
from wechatpayv3 import WeChatPay, WeChatPayType

from kamen_complaints.money import from_fen, to_fen
from orders.channels import notify_url, read_secret_file, require
from orders.channels.bills import BillError, BillRow, parse_wechat_bill
from orders.payments import (
    NoticeAnswer,
    NoticeRefused,
    PaymentError,
    PayStart,
    TradeState,
    out_refund_number,
)

logger = logging.getLogger(__name__)

# WeChat Pay's advice: refuse a notice whose timestamp is more than 5 minutes off (a replay).
NOTICE_MAX_SKEW_SECONDS = 300
PAID_STATE = "SUCCESS"


def _apiv3_key() -> str:
    if settings.WECHATPAY_APIV3_KEY:
        key = str(settings.WECHATPAY_APIV3_KEY)
    else:
        key = read_secret_file("WECHATPAY_APIV3_KEY_FILE").strip()
    if len(key.encode()) != 32:
        raise PaymentError("the WeChat Pay APIv3 key is 32 bytes")
    return key


class WechatPayProvider:
    channel = "wechatpay"
    scenes = ("native", "h5")

    def __init__(self) -> None:
        require(
            "WECHATPAY_APP_ID",
            "WECHATPAY_MCH_ID",
            "WECHATPAY_CERT_SERIAL_NO",
            "WECHATPAY_PLATFORM_CERT_DIR",
            "WECHATPAY_GATEWAY",
        )
        self.app_id = settings.WECHATPAY_APP_ID
        self.mch_id = settings.WECHATPAY_MCH_ID
        cert_dir = Path(settings.WECHATPAY_PLATFORM_CERT_DIR)
        # With no certificate there, the SDK would fetch them at construction from WeChat
        # Pay's own host, before the gateway setting applies: refuse instead (docs/payments.md
        # says how to fetch the first one).
        if not any(cert_dir.glob("*.pem")):
            raise PaymentError(f"no platform certificate (*.pem) in {cert_dir}")
        timeout = settings.PAYMENT_HTTP_TIMEOUT_SECONDS
        try:
            self.client = WeChatPay(
                wechatpay_type=WeChatPayType.NATIVE,
                mchid=self.mch_id,
                private_key=read_secret_file("WECHATPAY_PRIVATE_KEY_FILE"),
                cert_serial_no=settings.WECHATPAY_CERT_SERIAL_NO,
                appid=self.app_id,
                apiv3_key=_apiv3_key(),
                notify_url=None,
                cert_dir=str(cert_dir),
                timeout=(timeout, timeout),
            )
        except PaymentError:
            raise
        except Exception as exc:  # the SDK raises bare Exception for a bad key or certificate
            raise PaymentError(f"WeChat Pay keys do not load: {exc}") from exc
        self.client._core._gate_way = settings.WECHATPAY_GATEWAY

    # --- Calls ---------------------------------------------------------------------------

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> tuple[int, Any]:
        """One SDK call: (HTTP status, parsed JSON body). PaymentError on an outage or an
        answer whose platform signature does not verify."""
        try:
            status, text = call(*args, **kwargs)
        except requests.RequestException as exc:
            raise PaymentError(f"{what}: no answer ({exc.__class__.__name__})") from exc
        except Exception as exc:  # the SDK's "failed to verify the signature" is bare
            raise PaymentError(f"{what}: {exc}") from exc
        try:
            body = json.loads(text) if text else {}
        except (TypeError, ValueError):
            body = {}
        return status, body

    def start(
        self,
        *,
        out_trade_no: str,
        amount: Decimal,
        description: str,
        scene: str,
        return_url: str,
        client_ip: str,
    ) -> PayStart:
        params: dict[str, Any] = {
            # "description": at most 127 bytes.
            "description": description.encode()[:120].decode("utf-8", "ignore") or out_trade_no,
            "out_trade_no": out_trade_no,
            "amount": {"total": to_fen(amount), "currency": "CNY"},
            "notify_url": notify_url(self.channel),
        }
        if scene == "h5":
            params["pay_type"] = WeChatPayType.H5
            params["scene_info"] = {
                "payer_client_ip": client_ip or "127.0.0.1",
                "h5_info": {"type": "Wap"},
            }
        else:
            params["pay_type"] = WeChatPayType.NATIVE
        status, body = self._call("prepay", self.client.pay, **params)
        if status != 200:
            raise PaymentError(f"prepay: HTTP {status} {body.get('code', '')}")
        if scene == "h5":
            return PayStart(pay_url=str(body.get("h5_url", "")))
        return PayStart(code_url=str(body.get("code_url", "")))

    def _state(self, data: dict[str, Any], notice_id: str = "") -> TradeState:
        amount = data.get("amount") or {}
        total = amount.get("total")
        word = str(data.get("trade_state", ""))
        return TradeState(
            out_trade_no=str(data.get("out_trade_no", "")),
            reference=str(data.get("transaction_id", "")),
            amount=from_fen(total) if isinstance(total, int) else None,
            paid=word == PAID_STATE,
            state=word,
            app_id=str(data.get("appid", "")),
            merchant_id=str(data.get("mchid", "")),
            notice_id=notice_id,
            raw=data,
        )

    def query(self, *, out_trade_no: str) -> TradeState:
        status, body = self._call("query", self.client.query, out_trade_no=out_trade_no)
        if status == 404:  # ORDER_NOT_EXIST: the payer never scanned or opened it
            return TradeState(out_trade_no, "", None, False, "ORDER_NOT_EXIST", self.app_id)
        if status != 200:
            raise PaymentError(f"query: HTTP {status} {body.get('code', '')}")
        state = self._state(body)
        if (state.app_id, state.merchant_id) != (self.app_id, self.mch_id):
            raise PaymentError("query: the answer names another app or merchant")
        return state

    def parse_notice(self, *, headers: Any, body: bytes) -> TradeState:
        notice = self._verified_notice(headers=headers, body=body)
        resource = notice.get("resource")
        if not isinstance(resource, dict):
            raise NoticeRefused("no resource")
        state = self._state(resource, notice_id=str(notice.get("id", "")))
        if (state.app_id, state.merchant_id) != (self.app_id, self.mch_id):
            raise NoticeRefused("appid or mchid is not ours", state)
        if not (state.out_trade_no and state.reference and state.notice_id):
            raise NoticeRefused("out_trade_no, transaction_id or id missing", state)
        return state

    def _verified_notice(self, *, headers: Any, body: bytes) -> dict[str, Any]:
        """Any notice of WeChat Pay (payment, complaint): its timestamp within 5 minutes, its
        platform signature, its resource decrypted. NoticeRefused otherwise."""
        stamp = headers.get("Wechatpay-Timestamp", "")
        if not stamp.isdigit() or abs(timezone.now().timestamp() - int(stamp)) > (
            NOTICE_MAX_SKEW_SECONDS
        ):
            raise NoticeRefused("timestamp missing or more than 5 minutes off")
        plain = {
            name: headers.get(name, "")
            for name in (
                "Wechatpay-Signature",
                "Wechatpay-Timestamp",
                "Wechatpay-Nonce",
                "Wechatpay-Serial",
                "Wechatpay-Signature-Type",
            )
        }
        try:
            text = body.decode("utf-8")
            notice = self.client.callback(plain, text)
        except Exception as exc:  # the SDK raises bare Exception, ValueError for a bad serial
            raise NoticeRefused(f"signature or resource: {exc.__class__.__name__}") from exc
        if not notice:  # signature did not verify, or the resource did not decrypt
            raise NoticeRefused("signature does not verify, or the resource does not decrypt")
        return dict(notice)

    def answer(self, *, ok: bool, message: str = "") -> NoticeAnswer:
        if ok:
            return NoticeAnswer(204, b"", "text/plain")
        body = json.dumps({"code": "FAIL", "message": message or "失败"}, ensure_ascii=False)
        return NoticeAnswer(400, body.encode(), "application/json")

    def refund(
        self, *, reference: str, amount: Decimal, idempotency_key: str, total: Decimal | None = None
    ) -> str:
        if total is None:
            raise PaymentError("a WeChat Pay refund names the amount paid (total)")
        status, body = self._call(
            "refund",
            self.client.refund,
            out_refund_no=out_refund_number(idempotency_key),
            amount={"refund": to_fen(amount), "total": to_fen(total), "currency": "CNY"},
            transaction_id=reference,
        )
        if status != 200 or not body.get("refund_id"):
            raise PaymentError(f"refund: HTTP {status} {body.get('code', '')}")
        if body.get("status") in ("CLOSED", "ABNORMAL"):
            raise PaymentError(f"refund {body['refund_id']}: {body['status']}")
        return str(body["refund_id"])

    def bill_download_url(self, *, day: date) -> str:
        status, body = self._call("trade bill", self.client.trade_bill, bill_date=day.isoformat())
        if status != 200 or not body.get("download_url"):
            raise PaymentError(f"trade bill: HTTP {status} {body.get('code', '')}")
        return str(body["download_url"])

    def bill(self, *, day: date) -> list[BillRow]:
        """The day's trade bill (type ALL): applied for, downloaded (gzip), its SHA1 checked
        against the signed answer, read (orders/channels/bills.py)."""
        status, body = self._call("trade bill", self.client.trade_bill, bill_date=day.isoformat())
        if status != 200 or not body.get("download_url"):
            raise PaymentError(f"trade bill: HTTP {status} {body.get('code', '')}")
        try:
            status, content = self.client.download_bill(url=str(body["download_url"]))
        except requests.RequestException as exc:
            raise PaymentError(f"bill download: no answer ({exc.__class__.__name__})") from exc
        if status != 200 or not isinstance(content, bytes):
            raise PaymentError(f"bill download: HTTP {status}")
        plain = gzip.decompress(content) if content[:2] == b"\x1f\x8b" else content
        digest = hashlib.sha1(plain).hexdigest()  # noqa: S324 - the channel's own checksum
        if body.get("hash_type") == "SHA1" and body.get("hash_value", "").lower() != digest:
            raise PaymentError("bill download: the SHA1 does not match the signed answer")
        try:
            return parse_wechat_bill(plain)
        except BillError as exc:
            raise PaymentError(f"bill: {exc}") from exc

    # --- 消费者投诉 2.0 (docs/channel-complaints.md) ---------------------------------------

    def parse_complaint_notice(self, *, headers: Any, body: bytes) -> tuple[str, str, str]:
        """A complaint notice (the same signature and AEAD as a payment notice; resource:
        complaint_id, action_type): (notice id, complaint id, action type).
        https://pay.weixin.qq.com/docs/merchant/apis/consumer-complaint/complaint-notifications/complaint-notification.html"""
        notice = self._verified_notice(headers=headers, body=body)
        resource = notice.get("resource")
        if not isinstance(resource, dict) or not resource.get("complaint_id"):
            raise NoticeRefused("no complaint_id in the resource")
        return (
            str(notice.get("id", "")),
            str(resource["complaint_id"]),
            str(resource.get("action_type", "")),
        )

    def complaint_detail(self, *, complaint_id: str) -> dict[str, Any]:
        """`GET /v3/merchant-service/complaints-v2/{complaint_id}`, its answer verified."""
        status, body = self._call(
            "complaint detail", self.client.complaint_detail_query, complaint_id=complaint_id
        )
        if status != 200 or not isinstance(body, dict):
            raise PaymentError(f"complaint detail: HTTP {status}")
        if body.get("complainted_mchid", self.mch_id) != self.mch_id:
            raise PaymentError("complaint detail: another merchant's complaint")
        return body

    def complaint_history(self, *, complaint_id: str) -> list[dict[str, Any]]:
        """The negotiation history (`…/negotiation-historys`), oldest first."""
        status, body = self._call(
            "complaint history", self.client.complaint_history_query, complaint_id=complaint_id
        )
        if status != 200:
            raise PaymentError(f"complaint history: HTTP {status}")
        return list(body.get("data") or [])

    def complaint_image(self, *, media_url: str) -> bytes:
        """One of the complaint's images (`GET` its media_url, signed; a file, not signed)."""
        try:
            status, content = self.client.complaint_image_download(media_url=media_url)
        except requests.RequestException as exc:
            raise PaymentError(f"complaint image: no answer ({exc.__class__.__name__})") from exc
        if status != 200 or not isinstance(content, bytes):
            raise PaymentError(f"complaint image: HTTP {status}")
        return content

    def complaint_reply(self, *, complaint_id: str, text: str) -> None:
        """`POST …/{complaint_id}/response` (at most 200 characters)."""
        status, body = self._call(
            "complaint response",
            self.client.complaint_response,
            complaint_id=complaint_id,
            response_content=text[:200],
        )
        if status not in (200, 204):
            raise PaymentError(f"complaint response: HTTP {status} {body.get('code', '')}")

    def complaint_complete(self, *, complaint_id: str) -> None:
        """`POST …/{complaint_id}/complete`: the merchant says it is handled."""
        status, body = self._call(
            "complaint complete", self.client.complaint_complete, complaint_id=complaint_id
        )
        if status not in (200, 204):
            raise PaymentError(f"complaint complete: HTTP {status} {body.get('code', '')}")

    def complaint_refund_progress(self, *, complaint_id: str, approve: bool, remark: str) -> None:
        """`POST …/{complaint_id}/update-refund-progress`: the merchant's refund decision
        (APPROVE with launch_refund_day 0 — the platform refunds now through its own payout —,
        or REJECT with the reason)."""
        kwargs: dict[str, Any] = {"complaint_id": complaint_id, "remark": remark[:200]}
        if approve:
            kwargs.update(action="APPROVE", launch_refund_day=0)
        else:
            kwargs.update(action="REJECT", reject_reason=remark[:200] or "商家未同意退款")
        status, body = self._call(
            "complaint refund progress", self.client.complaint_update_refund, **kwargs
        )
        if status not in (200, 204):
            raise PaymentError(f"complaint refund progress: HTTP {status} {body.get('code', '')}")
