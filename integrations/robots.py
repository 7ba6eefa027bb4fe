"""Group robots: the message a robot posts in a shop's (or the arbitration team's) group chat,
and each robot's request and verdict (docs/integrations.md "Group robots").

The message is in Chinese: what happened, the complaint, the amount, the time left and a link.
Each robot is a webhook URL the merchant pastes (its access token in it), and for DingTalk and
Feishu a signing secret. What each platform documents:

- WeChat Work (企业微信) group robot — POST {"msgtype": "markdown", "markdown": {"content": …}};
  answer {"errcode": 0, "errmsg": "ok"}.
  https://developer.work.weixin.qq.com/document/path/91770
- DingTalk (钉钉) custom robot — sign = urlencode(base64(HMAC-SHA256(key=secret,
  msg=f"{timestamp}\\n{secret}"))), timestamp in milliseconds, appended to the URL as
  &timestamp=…&sign=…; POST {"msgtype": "markdown", "markdown": {"title", "text"}}; answer
  {"errcode": 0, "errmsg": "ok"}.
  https://open.dingtalk.com/document/robots/customize-robot-security-settings
  https://open.dingtalk.com/document/robots/custom-robot-access
- Feishu (飞书) custom bot — sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")),
  timestamp in seconds, both in the body: {"timestamp", "sign", "msg_type": "text",
  "content": {"text": …}}; answer {"code": 0, …} (older bots answer {"StatusCode": 0, …}).
  https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot

A non-zero errcode / code is a failure, retried like an HTTP error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote_plus

from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from integrations import events
from integrations.models import EndpointKind

# WeChat Work's limits (markdown 4096 bytes, text 2048), kept for all three; a digest lists
# at most this many complaints (the link shows the rest).
MAX_MARKDOWN_BYTES = 4000
MAX_TEXT_BYTES = 2000
MAX_LIST = 20


@dataclass(frozen=True, slots=True)
class Outgoing:
    url: str
    body: bytes
    headers: dict[str, str]


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- Signatures -------------------------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's `sign` parameter, already URL-encoded."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu's `sign`: the HMAC keyed with "<timestamp>\\n<secret>" over an empty message."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


# --- The message ----------------------------------------------------------------------------


def _time_left(due: datetime, now: datetime) -> str:
    seconds = int((due - now).total_seconds())
    if seconds <= 0:
        return _("the deadline has passed")
    hours, minutes = seconds // 3600, (seconds % 3600) // 60
    if hours:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": max(minutes, 1)}


def _amount(value: Any) -> str | None:
    try:
        return f"¥{Decimal(str(value)):.2f}"
    except (InvalidOperation, ValueError):
        return None


def _title(event_type: str, data: dict[str, Any]) -> str:
    figures = {
        "complaint": data.get("complaint", ""),
        "order": data.get("order", ""),
        "shop": data.get("shop", ""),
    }
    titles = {
        events.COMPLAINT_FILED: _("New complaint %(complaint)s"),
        events.COMPLAINT_UPDATED: _("Complaint %(complaint)s has news"),
        events.COMPLAINT_DEADLINE_REMINDER: _("Complaint %(complaint)s: the deadline is near"),
        # The arbitration team's robot (disputes/services/reminders.py, emit_staff).
        "complaint.review_reminder": _("Complaint %(complaint)s: the review deadline is near"),
        events.COMPLAINT_DIGEST: _("Open complaints by deadline"),
        events.ORDER_MESSAGE: _("New message on order %(order)s"),
        events.SHOP_SUSPENDED: _("Your shop was suspended"),
        events.SHOP_REINSTATED: _("Your shop is selling again"),
        events.PING: _("Test message from the complaint platform"),
    }
    return titles.get(event_type, _("Notice from the complaint platform")) % figures


def message(
    event_type: str, data: dict[str, Any], *, now: datetime | None = None
) -> dict[str, str]:
    """The robot message for an event, in Chinese: {"title", "markdown", "text"}."""
    moment = now or timezone.now()
    with translation.override("zh-hans"):
        title = _title(event_type, data)
        lines: list[str] = []
        if data.get("summary"):
            lines.append(str(data["summary"])[:200])
        if data.get("complaint") and data.get("order"):
            lines.append(_("Order: %(order)s") % {"order": data["order"]})
        if data.get("status_label"):
            lines.append(_("Status: %(status)s") % {"status": data["status_label"]})
        amount = _amount(data["amount"]) if data.get("amount") not in (None, "") else None
        if amount:
            lines.append(_("Claimed amount: %(amount)s") % {"amount": amount})
        due = parse_datetime(str(data["due"])) if data.get("due") else None
        if due is not None:
            lines.append(
                _("Time left: %(left)s (due %(due)s)")
                % {
                    "left": _time_left(due, moment),
                    "due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M"),
                }
            )
        if data.get("excerpt"):
            lines.append(_("Message: %(text)s") % {"text": str(data["excerpt"])[:200]})
        for item in (data.get("complaints") or [])[:MAX_LIST]:
            if not isinstance(item, dict):
                continue
            number = item.get("complaint") or item.get("number")
            if number:
                line = str(number)
                item_due = parse_datetime(str(item["due"])) if item.get("due") else None
                if item_due is not None:
                    line += " · " + _("%(left)s left") % {"left": _time_left(item_due, moment)}
                lines.append(line)
        url = str(data.get("url") or "")
        if url:
            lines.append(_("Open: %(url)s") % {"url": url})
        markdown_lines = [f"**{title}**", *lines]
        if url:
            markdown_lines[-1] = "[" + _("Open it on the platform") + f"]({url})"
    return {
        "title": title,
        "markdown": _cap("\n\n".join(markdown_lines), MAX_MARKDOWN_BYTES),
        "text": _cap("\n".join([title, *lines]), MAX_TEXT_BYTES),
    }


def _cap(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8 (WeChat Work refuses a longer markdown or text)."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode("utf-8", errors="ignore") + "…"


# --- Each robot's request and verdict -------------------------------------------------------


def prepare(
    kind: str, *, url: str, secret: str, event_type: str, data: dict[str, Any], now: datetime
) -> Outgoing:
    """The robot's request for an event at `now`."""
    text = message(event_type, data, now=now)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if kind == EndpointKind.WECOM:
        body = {"msgtype": "markdown", "markdown": {"content": text["markdown"]}}
        return Outgoing(url=url, body=_json(body), headers=headers)
    if kind == EndpointKind.DINGTALK:
        if secret:
            stamp = int(now.timestamp() * 1000)
            joiner = "&" if "?" in url else "?"
            url = f"{url}{joiner}timestamp={stamp}&sign={dingtalk_sign(secret, stamp)}"
        markdown = {"title": text["title"], "text": text["markdown"]}
        body = {"msgtype": "markdown", "markdown": markdown}
        return Outgoing(url=url, body=_json(body), headers=headers)
    if kind == EndpointKind.FEISHU:
        payload: dict[str, Any] = {"msg_type": "text", "content": {"text": text["text"]}}
        if secret:
            stamp = int(now.timestamp())
            payload = {"timestamp": str(stamp), "sign": feishu_sign(secret, stamp), **payload}
        return Outgoing(url=url, body=_json(payload), headers=headers)
    raise ValueError(f"not a robot: {kind}")


def verdict(kind: str, body: bytes) -> str | None:
    """None when the robot accepted the message (its HTTP status was 2xx), else why not."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return "the answer is not JSON"
    if not isinstance(answer, dict):
        return "the answer is not a JSON object"
    if kind == EndpointKind.FEISHU:
        code = answer.get("code", answer.get("StatusCode"))
        note = answer.get("msg", answer.get("StatusMessage", ""))
    else:
        code = answer.get("errcode")
        note = answer.get("errmsg", "")
    if code == 0:
        return None
    return f"code {code}: {note}"[:200]
