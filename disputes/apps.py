from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _deadlines_health() -> tuple[str, dict[str, Any]]:
    from disputes.selectors import deadline_health

    try:
        return "deadlines", deadline_health()
    except Exception as exc:  # the health page answers even when this line cannot be read
        return "deadlines", {"ok": False, "error": exc.__class__.__name__}


def _clock_after_restore() -> tuple[list[str], list[str]]:
    """The restore's report line on the deadlines that passed while the platform was down."""
    from django.utils import timezone

    from disputes.selectors import deadlines_overdue

    overdue, oldest = deadlines_overdue(timezone.now())
    if not overdue:
        return ["clock: no deadline overdue"], []
    since = timezone.localtime(oldest).isoformat() if oldest else "?"
    return [
        f"clock: {overdue} deadline(s) passed while the platform was down (oldest {since}); the "
        "first sweep after the workers start enforces each of them once"
    ], []


def _package_public_key_id() -> str:
    from disputes.package_signing import key_id, platform_public_key

    return key_id(platform_public_key())


class DisputesConfig(AppConfig):
    """Complaints: filing, the state machine, deadlines, evidence, timeline, blacklist."""

    name = "disputes"
    verbose_name = _("Complaints")

    def ready(self) -> None:
        from disputes.services.clock import fast_track_if_eligible
        from disputes.services.filing import register_after_filing
        from disputes.services.notifications import notify_payout_sent
        from escrow.signals import payout_sent
        from kamen_complaints import health

        # The buyer is told when a complaint's money reached them (escrow cannot import us).
        payout_sent.connect(notify_payout_sent, dispatch_uid="disputes.notify_payout_sent")
        # The owner is told what happens to the shop: suspended, reinstated, owing, a
        # withdrawal decided (orders and escrow cannot import us).
        from disputes.services import shop_notices
        from escrow.signals import debt_recorded, withdrawal_decided
        from orders.signals import shop_status_changed

        shop_status_changed.connect(
            shop_notices.notify_shop_status, dispatch_uid="disputes.notify_shop_status"
        )
        debt_recorded.connect(shop_notices.notify_debt, dispatch_uid="disputes.notify_debt")
        withdrawal_decided.connect(
            shop_notices.notify_withdrawal, dispatch_uid="disputes.notify_withdrawal"
        )
        # A complaint the buyer filed on the payment channel joins the order's case
        # (docs/channel-complaints.md; orders cannot import us).
        from disputes.services.channel_complaints import channel_complaint_join
        from orders.signals import channel_complaint_received

        channel_complaint_received.connect(
            channel_complaint_join, dispatch_uid="disputes.channel_complaint_join"
        )
        # …and when a webhook or robot failing for a day is turned off (integrations is below).
        from integrations.signals import endpoint_disabled

        endpoint_disabled.connect(
            shop_notices.notify_webhook_disabled, dispatch_uid="disputes.notify_webhook_disabled"
        )

        # The order chat's files follow the evidence rules (orders cannot import us).
        from disputes.services.order_chat import chat_files_check
        from orders.services.chat import register_file_check

        register_file_check(chat_files_check)
        # …and the other side of the chat is told of a new message.
        from disputes.services.order_chat import notify_order_message
        from orders.signals import order_message_posted

        order_message_posted.connect(
            notify_order_message, dispatch_uid="disputes.notify_order_message"
        )

        # Small claims are fast tracked inside the filing transaction.
        register_after_filing(fast_track_if_eligible)
        # The automatic checks: their rows at filing, the upstreams asked on commit.
        from disputes.services.auto import checks_register

        register_after_filing(checks_register)
        # The order API tells a blacklisted buyer before paying (orders cannot import us).
        from disputes.services.blacklist import complaint_ban_until
        from orders.selectors import register_complaint_bar

        register_complaint_bar(complaint_ban_until)
        # The shop's sales orders link each order to its complaint (page and API alike).
        from disputes.selectors import order_complaint, orders_with_complaints
        from orders.selectors import ComplaintLink, register_complaint_link

        register_complaint_link(
            ComplaintLink(prefetch=orders_with_complaints, pick=order_complaint)
        )
        # The order API and page say how an order was refunded: a complaint, a collective case.
        from disputes.selectors import order_refund_reasons
        from orders.selectors import register_refund_reasons

        register_refund_reasons(order_refund_reasons)
        if _deadlines_health not in health.extra_checks:
            health.extra_checks.append(_deadlines_health)
        # What a second arbitrator's approval of a proposed ruling carries out
        # (kamen_complaints.approvals; the project package imports no app).
        from disputes import approvals

        approvals.register()
        # The deposit's holds name their complaints; check_ledger counts the replacement
        # keys handed over (escrow cannot import us).
        from disputes.selectors import complaint_numbers, replacement_values
        from escrow.selectors import ComplaintFacts, register_complaint_facts

        register_complaint_facts(
            ComplaintFacts(numbers=complaint_numbers, replaced_values=replacement_values)
        )
        # A backup records the evidence packages' public key id; a restore reports the clock
        # (kamen_complaints.backups; the project package imports no app).
        from kamen_complaints import backups

        backups.register_public_key_id("package_public_key_id", _package_public_key_id)
        backups.register_restore_check(backups.RestoreCheck("disputes.clock", _clock_after_restore))
        # The platform's gauges on /metrics: the promise and its queues, read at scrape time
        # (disputes/gauges.py; kamen_complaints.metrics_endpoint imports no app).
        from disputes import gauges

        gauges.register()
