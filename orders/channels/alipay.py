"""Alipay (支付宝开放平台, public-key mode, RSA2) through python-alipay-sdk.

Every call and its documented shape (the gateway emulator in tests/payments/ answers the same):

- page pay `alipay.trade.page.pay` (product_code FAST_INSTANT_TRADE_PAY) and mobile-web pay
  `alipay.trade.wap.pay` (QUICK_WAP_PAY): a signed URL of the gateway the payer is sent to;
  nothing leaves the process. https://opendocs.alipay.com/apis/api_1/alipay.trade.page.pay,
  https://opendocs.alipay.com/apis/api_1/alipay.trade.wap.pay
- the asynchronous notice: a form POST to notify_url, signed RSA2 (SHA256withRSA) over the
  sorted `k=v` pairs without `sign` and `sign_type`; answered with the text `success`, else
  Alipay retries for 25 hours. https://opendocs.alipay.com/open/270/105902,
  https://opendocs.alipay.com/common/02mse7
- query `alipay.trade.query` by out_trade_no: paid when trade_status is TRADE_SUCCESS or
  TRADE_FINISHED. https://opendocs.alipay.com/apis/api_1/alipay.trade.query
- refund `alipay.trade.refund` with out_request_no = our idempotency key: the same number
  again refunds nothing more (fund_change "N"). https://opendocs.alipay.com/apis/api_1/alipay.trade.refund
- the day's bill `alipay.data.dataservice.bill.downloadurl.query` (bill_type trade), then a
  GET of its URL: a zip of GBK CSVs (orders/channels/bills.py).
  https://opendocs.alipay.com/apis/api_15/alipay.data.dataservice.bill.downloadurl.query

Every answer of the gateway is verified with Alipay's public key by the SDK before it is read.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.error import URLError
from urllib.parse import parse_qsl
from urllib.request import urlopen

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig
from django.conf import settings

from orders.channels import notify_url, read_secret_file, require
from orders.channels.bills import BillError, BillRow, parse_alipay_bill
from orders.payments import (
    NoticeAnswer,
    NoticeRefused,
    PaymentError,
    PayStart,
    TradeState,
    out_refund_number,
)

logger = logging.getLogger(__name__)

PAID_STATES = ("TRADE_SUCCESS", "TRADE_FINISHED")
SUCCESS_CODE = "10000"
NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
COMPLAINT_NOTICE = "alipay.merchant.tradecomplain.changed"
MAX_IMAGE_BYTES = 10 * 1024 * 1024


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


class AlipayProvider:
    channel = "alipay"
    scenes = ("page", "wap")

    def __init__(self) -> None:
        require("ALIPAY_APP_ID", "ALIPAY_GATEWAY")
        self.app_id = settings.ALIPAY_APP_ID
        try:
            self.client = AliPay(
                appid=self.app_id,
                app_notify_url=None,
                app_private_key_string=read_secret_file("ALIPAY_APP_PRIVATE_KEY_FILE"),
                alipay_public_key_string=read_secret_file("ALIPAY_PUBLIC_KEY_FILE"),
                sign_type="RSA2",
                config=AliPayConfig(timeout=settings.PAYMENT_HTTP_TIMEOUT_SECONDS),
            )
        except (ValueError, IndexError, TypeError) as exc:
            raise PaymentError(f"Alipay keys do not load: {exc}") from exc
        # The SDK chooses between Alipay's production and sandbox gateways by a flag; the
        # setting names it (Alipay's sandbox, or the tests' emulator).
        self.client._gateway = settings.ALIPAY_GATEWAY

    # --- Calls ---------------------------------------------------------------------------

    def _call(self, method: str, biz_content: dict[str, Any]) -> dict[str, Any]:
        """A signed server call; the answer's signature verified; PaymentError on an outage,
        a refusal the gateway did not sign, or a forged answer."""
        try:
            answer: dict[str, Any] = self.client.server_api(method, biz_content=biz_content)
        except AliPayValidationError as exc:
            raise PaymentError(f"{method}: the answer's signature is wrong") from exc
        except AliPayException as exc:
            raise PaymentError(f"{method}: {exc}") from exc
        except (URLError, TimeoutError, OSError, ValueError) as exc:
            raise PaymentError(f"{method}: no answer ({exc})") from exc
        return answer

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
        kwargs = {
            "subject": description[:128],
            "out_trade_no": out_trade_no,
            "total_amount": f"{amount:.2f}",
            "return_url": return_url or None,
            "notify_url": notify_url(self.channel),
        }
        if scene == "wap":
            query = self.client.api_alipay_trade_wap_pay(**kwargs)
        else:
            query = self.client.api_alipay_trade_page_pay(**kwargs)
        return PayStart(pay_url=f"{self.client._gateway}?{query}")

    def query(self, *, out_trade_no: str) -> TradeState:
        answer = self._call("alipay.trade.query", {"out_trade_no": out_trade_no})
        if answer.get("code") != SUCCESS_CODE:
            if answer.get("sub_code") == NOT_EXIST:  # the payer never opened the page
                return TradeState(out_trade_no, "", None, False, NOT_EXIST, self.app_id)
            raise PaymentError(f"alipay.trade.query: {answer.get('sub_code')}")
        state = str(answer.get("trade_status", ""))
        return TradeState(
            out_trade_no=str(answer.get("out_trade_no", out_trade_no)),
            reference=str(answer.get("trade_no", "")),
            amount=_amount(answer.get("total_amount")),
            paid=state in PAID_STATES,
            state=state,
            app_id=self.app_id,
            raw=answer,
        )

    def _verified_form(self, body: bytes) -> dict[str, str]:
        """A notice's form, its RSA2 signature verified by the SDK (over the sorted pairs
        without sign and sign_type); decoded in the charset it names (utf-8 or GBK)."""
        try:
            text = body.decode("utf-8")
            charset = dict(parse_qsl(text, encoding="latin-1")).get("charset", "utf-8")
            if charset.lower() not in ("utf-8", "gbk"):
                raise ValueError(charset)
            data = dict(
                parse_qsl(
                    text,
                    keep_blank_values=True,
                    strict_parsing=True,
                    encoding=charset,
                    errors="strict",
                )
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise NoticeRefused("not a form") from exc
        signature = data.pop("sign", "")
        if not signature or data.get("sign_type", "RSA2") != "RSA2":
            raise NoticeRefused("unsigned, or not RSA2")
        try:
            valid = self.client.verify(dict(data), signature)
        except (AliPayException, ValueError, TypeError) as exc:
            raise NoticeRefused(f"signature: {exc}") from exc
        if not valid:
            raise NoticeRefused("signature does not verify")
        data.pop("sign_type", None)
        return data

    def parse_notice(self, *, headers: Any, body: bytes) -> TradeState:
        data = self._verified_form(body)
        state_word = data.get("trade_status", "")
        state = TradeState(
            out_trade_no=data.get("out_trade_no", ""),
            reference=data.get("trade_no", ""),
            amount=_amount(data.get("total_amount")),
            paid=state_word in PAID_STATES,
            state=state_word,
            app_id=data.get("app_id", ""),
            notice_id=data.get("notify_id", ""),
            raw=data,
        )
        if state.app_id != self.app_id:
            raise NoticeRefused(f"app_id {state.app_id!r} is not ours", state)
        if not (state.out_trade_no and state.reference and state.notice_id):
            raise NoticeRefused("out_trade_no, trade_no or notify_id missing", state)
        return state

    def answer(self, *, ok: bool, message: str = "") -> NoticeAnswer:
        # Alipay reads the seven characters `success`; anything else means "send it again".
        return NoticeAnswer(200 if ok else 400, b"success" if ok else b"fail", "text/plain")

    def refund(
        self, *, reference: str, amount: Decimal, idempotency_key: str, total: Decimal | None = None
    ) -> str:
        number = out_refund_number(idempotency_key)
        answer = self._call(
            "alipay.trade.refund",
            {"trade_no": reference, "refund_amount": f"{amount:.2f}", "out_request_no": number},
        )
        if answer.get("code") != SUCCESS_CODE:
            raise PaymentError(
                f"alipay.trade.refund: {answer.get('sub_code')} {answer.get('sub_msg', '')}"
            )
        # Alipay names a refund by its trade and out_request_no; the number is ours and unique.
        return number

    # --- Trade complaints (交易投诉, docs/channel-complaints.md) ----------------------------
    #
    # The notice is a message of Alipay's open-platform message service posted to the app's
    # gateway URL: a form with msg_method=alipay.merchant.tradecomplain.changed,
    # biz_content={"complain_event_id": …}, notify_id, utc_timestamp, app_id, charset,
    # version, sign_type=RSA2, sign — signed like a payment notice (RSA2 over the sorted pairs
    # without sign and sign_type), answered `success` or `fail`.
    # https://opendocs.alipay.com/open/99c0bf7f_alipay.merchant.tradecomplain.changed (its
    # shape as quoted in https://www.apifox.cn/apidoc/docs-site/3618910/doc-3307376; the
    # official page itself was not in the library). The detail is alipay.merchant
    # .tradecomplain.query (named on the same page); its answer fields (status, trade_no,
    # merchant_order_no, gmt_create, gmt_overdue, content, images, trade_amount) and the
    # reply / feedback calls below are Alipay's names as we know them but could NOT be
    # confirmed against the documentation here: they are read defensively (a missing field
    # is left empty) and the emulator answers the same shape.

    def parse_complaint_notice(self, *, headers: Any, body: bytes) -> tuple[str, str, str]:
        """(notice id, complaint id, message method) of a verified trade-complaint notice."""
        data = self._verified_form(body)
        if data.get("app_id", "") != self.app_id:
            raise NoticeRefused(f"app_id {data.get('app_id', '')!r} is not ours")
        method = data.get("msg_method", "")
        if method != COMPLAINT_NOTICE:
            raise NoticeRefused(f"msg_method {method!r} is not a trade complaint")
        try:
            biz = json.loads(data.get("biz_content") or "{}")
        except ValueError as exc:
            raise NoticeRefused("biz_content is not JSON") from exc
        complaint_id = str(biz.get("complain_event_id") or "") if isinstance(biz, dict) else ""
        if not complaint_id or not data.get("notify_id"):
            raise NoticeRefused("complain_event_id or notify_id missing")
        return data["notify_id"], complaint_id, method

    def complaint_detail(self, *, complaint_id: str) -> dict[str, Any]:
        """`alipay.merchant.tradecomplain.query`, its answer verified by the SDK."""
        answer = self._call(
            "alipay.merchant.tradecomplain.query", {"complain_event_id": complaint_id}
        )
        if answer.get("code") != SUCCESS_CODE:
            raise PaymentError(f"tradecomplain.query: {answer.get('sub_code')}")
        return answer

    def complaint_image(self, *, media_url: str) -> bytes:
        """One of the complaint's images (a URL of Alipay's file service in the detail)."""
        if not media_url.startswith(("https://", "http://")):
            raise PaymentError("complaint image: not http(s)")
        try:
            with urlopen(media_url, timeout=settings.PAYMENT_HTTP_TIMEOUT_SECONDS) as answer:  # noqa: S310
                return answer.read(MAX_IMAGE_BYTES)  # type: ignore[no-any-return]
        except (URLError, TimeoutError, OSError) as exc:
            raise PaymentError(f"complaint image: no answer ({exc})") from exc

    def complaint_reply(self, *, complaint_id: str, text: str) -> None:
        """`alipay.merchant.tradecomplain.reply.submit`: the merchant's reply to the buyer."""
        answer = self._call(
            "alipay.merchant.tradecomplain.reply.submit",
            {"complain_event_id": complaint_id, "reply_content": text[:200]},
        )
        if answer.get("code") != SUCCESS_CODE:
            raise PaymentError(f"tradecomplain.reply.submit: {answer.get('sub_code')}")

    def complaint_refund_progress(self, *, complaint_id: str, approve: bool, remark: str) -> None:
        # Alipay has no refund decision of its own for a trade complaint: the buyer hears it
        # as a reply (the refund itself went through alipay.trade.refund).
        self.complaint_reply(complaint_id=complaint_id, text=remark)

    def complaint_complete(self, *, complaint_id: str) -> None:
        """`alipay.merchant.tradecomplain.feedback.submit`: the merchant's handling is done
        (feedback_code "04": handled otherwise — the platform's case decided it)."""
        answer = self._call(
            "alipay.merchant.tradecomplain.feedback.submit",
            {
                "complain_event_id": complaint_id,
                "feedback_code": "04",
                "feedback_content": "平台已按投诉处理完毕。",
            },
        )
        if answer.get("code") != SUCCESS_CODE:
            raise PaymentError(f"tradecomplain.feedback.submit: {answer.get('sub_code')}")

    def bill_download_url(self, *, day: date) -> str:
        answer = self._call(
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": day.isoformat()},
        )
        if answer.get("code") != SUCCESS_CODE or not answer.get("bill_download_url"):
            raise PaymentError(f"bill download url: {answer.get('sub_code')}")
        return str(answer["bill_download_url"])

    def bill(self, *, day: date) -> list[BillRow]:
        """The day's trade bill, downloaded from the URL Alipay signed, and read
        (orders/channels/bills.py). PaymentError when it cannot be had or read."""
        url = self.bill_download_url(day=day)
        if not url.startswith(("https://", "http://")):
            raise PaymentError("bill download url: not http(s)")
        try:
            with urlopen(url, timeout=settings.PAYMENT_HTTP_TIMEOUT_SECONDS) as answer:  # noqa: S310
                content = answer.read()
        except (URLError, TimeoutError, OSError) as exc:
            raise PaymentError(f"bill download: no answer ({exc})") from exc
        try:
            return parse_alipay_bill(content)
        except BillError as exc:
            raise PaymentError(f"bill: {exc}") from exc
