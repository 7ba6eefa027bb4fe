"""The SMS notification channel (disputes/channels.py SmsChannel, docs/sms.md): only a
merchant's new complaint, the merchant's last reminder and a buyer's outcome go by SMS, to a
verified phone, as a template with the complaint number, amount, deadline or outcome — never
a card key, an identity number or free text. Delivered through the outbox like e-mail."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from accounts.models import AccountPhone
from disputes.channels import SmsChannel, sms_figures, sms_kind
from disputes.models import Notification, NotificationKind, Role
from disputes.services.notifications import notification_send
from disputes.services.outbox import notify_shop, outbox_insert, outbox_rows
from kamen_complaints.sms import messages
from tests.disputes.factories import agent_of, file, funded_order, resolved_by_refund

pytestmark = pytest.mark.django_db

K = NotificationKind
OUTCOMES = {
    K.ACCEPTED,
    K.OFFER_ACCEPTED,
    K.OFFER_LAPSED,
    K.DEFAULT_JUDGMENT,
    K.REVIEW_EXPIRED,
    K.RULED,
    K.AUTO_DECIDED,
}
CARD_KEY = "KMCD-7Q4X-29PA-MZ8R"
ID_NUMBER = "11010519491231002X"


def _phone(user: Any, phone: str) -> None:
    AccountPhone.objects.create(user=user, phone=phone, verified_at=timezone.now())


def _sms_rows(dispute: Any) -> list[tuple[int, str]]:
    rows = Notification.objects.filter(dispute=dispute, channel="sms").order_by("id")
    return list(rows.values_list("recipient_id", "kind"))


def _deliver(dispute: Any) -> None:
    for pk in Notification.objects.filter(dispute=dispute, channel="sms").values_list(
        "pk", flat=True
    ):
        notification_send(notification_id=pk)


def test_sms_carries_only_a_new_complaint_the_last_reminder_and_a_buyers_outcome():
    channel = SmsChannel()
    accepted = {
        (str(kind), role)
        for kind in K.values
        for role in (Role.BUYER, Role.MERCHANT, Role.STAFF)
        if channel.accepts(kind, role, {})
    }
    assert accepted == {
        (str(K.FILED), Role.MERCHANT),
        (str(K.REMINDER_MERCHANT), Role.MERCHANT),
        *((str(kind), Role.BUYER) for kind in OUTCOMES),
    }
    # Of the merchant's reminders, only the last stage (one without a stage is the only one).
    assert channel.accepts(K.REMINDER_MERCHANT, Role.MERCHANT, {"stage": "1h"})
    assert not channel.accepts(K.REMINDER_MERCHANT, Role.MERCHANT, {"stage": "4h"})
    assert not channel.accepts(K.REMINDER_MERCHANT, Role.MERCHANT, {"stage": "12h"})


def test_a_new_complaint_goes_by_sms_to_the_teams_verified_phones(sms_outbox):
    order = funded_order()
    merchant = order.product.merchant
    owner, agent, buyer = merchant.owner, agent_of(merchant), order.buyer
    _phone(owner, "+8613700137000")
    _phone(agent, "+8613600136000")
    _phone(buyer, "+8613900139000")
    complaint = file(order=order)
    # The shop's team, each on their verified phone; not the buyer (their receipt is in-app
    # and e-mail).
    assert _sms_rows(complaint) == [(owner.pk, K.FILED), (agent.pk, K.FILED)]
    _deliver(complaint)
    sent = sms_outbox()
    assert sorted(m["phone"] for m in sent) == ["+8613600136000", "+8613700137000"]
    message = sent[0]
    assert message["kind"] == "complaint_filed"
    due = timezone.localtime(complaint.merchant_response_due).strftime("%m-%d %H:%M")
    assert message["params"] == {
        "number": complaint.number,
        "amount": f"{complaint.claimed_amount:.2f}",
        "due": due,
    }
    assert message["text"].startswith(f"您有新投诉 {complaint.number}，申请金额")


def test_a_buyers_outcome_goes_by_sms_and_the_merchant_side_does_not(sms_outbox):
    order = funded_order()
    _phone(order.buyer, "+8613900139000")
    _phone(order.product.merchant.owner, "+8613700137000")
    dispute = resolved_by_refund(order=order)
    assert (order.buyer.pk, K.ACCEPTED) in _sms_rows(dispute)
    assert [k for r, k in _sms_rows(dispute) if r != order.buyer.pk] == [K.FILED]
    _deliver(dispute)
    outcome = [m for m in sms_outbox() if m["kind"] == "complaint_outcome"]
    assert [m["phone"] for m in outcome] == ["+8613900139000"]
    assert outcome[0]["params"] == {"number": dispute.number, "outcome": "已退款"}


def test_reminders_messages_and_shop_notices_do_not_go_by_sms():
    dispute = file()
    owner = dispute.merchant.owner
    _phone(owner, "+8613700137000")
    now = timezone.now()
    base = {"number": dispute.number, "due": now.isoformat()}

    def sms_rows(kind: str, params: dict[str, Any]) -> list[str]:
        rows = outbox_rows(
            dispute=dispute, key=f"t:{kind}:{params}", recipients=[owner], kind=kind,
            params=params, now=now,
        )  # fmt: skip
        return [row.channel for row in rows if row.channel == "sms"]

    assert sms_rows(K.REMINDER_MERCHANT, {**base, "stage": "4h"}) == []
    assert sms_rows(K.REMINDER_MERCHANT, {**base, "stage": "1h"}) == ["sms"]
    assert sms_rows(K.REMINDER_MERCHANT, base) == ["sms"]
    assert sms_rows(K.MESSAGE, {**base, "line": "hello"}) == []
    assert sms_rows(K.OFFER_REJECTED, base) == []
    notify_shop(dispute.merchant, key="t:suspended", kind=K.SHOP_SUSPENDED, reason="deposit")
    assert not Notification.objects.filter(dispute=None, channel="sms").exists()


def test_no_notification_sms_carries_a_card_key_or_an_identity_number(sms_outbox):
    noise = {
        "card_key": CARD_KEY,
        "keys": [CARD_KEY],
        "id_number": ID_NUMBER,
        "line": f"卡密 {CARD_KEY}，身份证 {ID_NUMBER}",
        "rule": CARD_KEY,
        "reason": ID_NUMBER,
    }
    figures = {
        "number": "TS261102ABCDEFGH23",
        "order": "KM261102ABCDEFGH23",
        "status": "awaiting_merchant",
        "due": "2026-11-03T10:00:00+08:00",
        "amount": "48.00",
        "outcome": "refunded",
        **noise,
    }
    built = 0
    for kind in K.values:
        for role in (Role.BUYER, Role.MERCHANT):
            message_kind = sms_kind(kind, role, figures)
            if message_kind is None:
                continue
            message = messages.build(message_kind, sms_figures(kind, figures))
            with translation.override("zh-hans"):
                sent = json.dumps(message.params, ensure_ascii=False) + message.text()
            assert CARD_KEY not in sent and ID_NUMBER not in sent, (kind, role)
            built += 1
    assert built == 2 + len(OUTCOMES)
    # And through the outbox to the sandbox: the row's figures hold the key, the SMS does not.
    dispute = file()
    _phone(dispute.buyer, "+8613900139000")
    rows = outbox_rows(
        dispute=dispute, key="t:ruled", recipients=[dispute.buyer], kind=K.RULED,
        params={**figures, "number": dispute.number}, now=timezone.now(),
    )  # fmt: skip
    for pk in outbox_insert(rows):
        notification_send(notification_id=pk)
    (message,) = sms_outbox()
    assert message["kind"] == "complaint_outcome"
    assert CARD_KEY not in json.dumps(message, ensure_ascii=False)
    assert ID_NUMBER not in json.dumps(message, ensure_ascii=False)


def test_a_notice_over_the_numbers_limit_waits_for_the_sweep(settings, sms_outbox):
    settings.SMS_RATE_LIMITS = {**settings.SMS_RATE_LIMITS, "notice": {3600: 0}}
    order = funded_order()
    _phone(order.product.merchant.owner, "+8613700137000")
    dispute = file(order=order)
    _deliver(dispute)
    row = Notification.objects.get(dispute=dispute, channel="sms")
    assert row.sent_at is None and row.attempts == 1 and row.last_error
    assert sms_outbox() == []


def test_a_number_removed_before_delivery_sends_nothing(sms_outbox):
    order = funded_order()
    _phone(order.product.merchant.owner, "+8613700137000")
    dispute = file(order=order, claimed_amount=Decimal("1.00"))
    AccountPhone.objects.all().delete()
    _deliver(dispute)
    assert Notification.objects.get(dispute=dispute, channel="sms").sent_at is not None
    assert sms_outbox() == []


def test_of_the_merchants_reminders_only_the_1h_one_goes_by_sms(sms_outbox, time_machine):
    from disputes.services import sweep

    # Filed at 20:00: the stages fall at 08:00, 16:00 and 19:00, outside the quiet hours.
    time_machine.move_to("2026-11-02 20:00:00 +08:00", tick=False)
    order = funded_order()
    _phone(order.product.merchant.owner, "+8613700137000")
    dispute = file(order=order)
    due = dispute.merchant_response_due
    sms_reminders = Notification.objects.filter(
        dispute=dispute, channel="sms", kind=K.REMINDER_MERCHANT
    )
    for lead in (12, 4):
        time_machine.move_to(due - timedelta(hours=lead), tick=False)
        sweep.deadlines_sweep()
        assert Notification.objects.filter(
            dispute=dispute, kind=K.REMINDER_MERCHANT, params__stage=f"{lead}h"
        ).exists()
        assert not sms_reminders.exists()
    time_machine.move_to(due - timedelta(hours=1), tick=False)
    sweep.deadlines_sweep()
    (row,) = sms_reminders
    assert row.params["stage"] == "1h" and row.recipient_id == order.product.merchant.owner_id
    _deliver(dispute)
    (message,) = [m for m in sms_outbox() if m["kind"] == "last_reminder"]
    assert message["params"]["number"] == dispute.number
    assert message["text"].startswith(f"最后提醒：投诉 {dispute.number} 须在")
